"""The parsed procedure: what the portal parser produces and the answer composer reads.

Every text field keeps the source's wording (NFC-normalised). Where the source is ambiguous the row
carries a flag instead of a guessed value (see `FLAGS`).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

# Flags a parser may set on a channel or a procedure when the source is ambiguous.
FLAGS = {
    "time_without_unit": "the source gives a processing time with no unit",
    "fee_by_provincial_council": "the fee is set by the provincial People's Council (HĐND tỉnh)",
    "fee_conflict": "the structured fee contradicts the fee described in the text",
    "fee_time_limited": "the fee (or a reduction) is valid only until a date",
    "time_fee_run_together": "the source runs a unit-less time into the fee amount; the split is inferred",
}

ChannelKind = Literal["online", "post", "in_person", "other"]


class Fee(BaseModel):
    """One fee as the source states it, with the dates it is valid between when the text says so."""

    text: str = Field(description="The fee exactly as the source has it, e.g. '50.000 Đồng'.")
    amount: str | None = Field(None, description="The number as written, e.g. '50.000'.")
    unit: str | None = Field(None, description="The unit as written, e.g. 'Đồng', 'đồng/bản'.")
    note: str | None = Field(None, description="The fee's bracketed description as written, e.g. '40.000đ/giấy'.")
    valid_from: date | None = None
    valid_until: date | None = None


class Channel(BaseModel):
    """One row of the portal's 'Cách thức thực hiện' table."""

    channel: ChannelKind
    label: str = Field(description="The channel as the source names it, e.g. 'Trực tuyến'.")
    time: str | None = Field(None, description="Processing time as written, e.g. '5 Ngày làm việc'.")
    time_value: str | None = None
    time_unit: str | None = Field(None, description="None when the source gives no unit.")
    fees: list[Fee] = Field(default_factory=list)
    free: bool = Field(False, description="The source says 'Miễn phí' / no fee.")
    note: str | None = None
    flags: list[str] = Field(default_factory=list)


class RequiredDocument(BaseModel):
    name: str
    form: str | None = Field(None, description="Template / form name, e.g. 'Tờ khai ... (Mẫu CT01)'.")
    quantity: str | None = Field(None, description="As written, e.g. '1 bản chính'.")
    group: str | None = Field(None, description="Heading it falls under, e.g. 'Giấy tờ phải nộp'.")


class LegalBasis(BaseModel):
    title: str
    number: str | None = Field(None, description="Document number, e.g. '123/2015/NĐ-CP'.")


class Procedure(BaseModel):
    code: str
    name: str
    url: str | None = None
    field: str | None = None
    level: str | None = Field(None, description="'Cấp xã', 'Cấp tỉnh', 'Cấp Bộ'… as written.")
    procedure_type: str | None = None
    subjects: str | None = Field(None, description="Đối tượng thực hiện.")
    agency: str | None = Field(None, description="Cơ quan thực hiện / có thẩm quyền.")
    address: str | None = Field(None, description="Địa chỉ tiếp nhận hồ sơ (mostly empty).")
    ministry: str | None = None
    decision: str | None = Field(None, description="Số quyết định công bố.")
    steps: list[str] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)
    documents: list[RequiredDocument] = Field(default_factory=list)
    conditions: str | None = None
    results: list[str] = Field(default_factory=list)
    legal_basis: list[LegalBasis] = Field(default_factory=list)
    related: list[str] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
