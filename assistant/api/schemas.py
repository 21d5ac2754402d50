"""Request and response bodies of the HTTP API (the contract in DESIGN.md), with OpenAPI examples."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EXAMPLE_CITATION = {
    "n": 1, "source_id": "1.00xxxx", "procedure_code": "1.00xxxx", "title": "Thủ tục đăng ký khai sinh",
    "section": "Thành phần hồ sơ", "url": "https://dichvucong.gov.vn/thu-tuc-hanh-chinh/...", "page": None,
    "quote": "- Giấy chứng sinh; trường hợp không có Giấy chứng sinh thì nộp văn bản của người làm chứng…",
}


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [
        {"message": "Làm giấy khai sinh cho con cần giấy tờ gì?"},
        {"message": "thế có mất phí không?", "session_id": "6f1c…"},
    ]})
    message: str = Field(min_length=1, description="The question, in Vietnamese (with or without diacritics) or English.")
    session_id: str | None = Field(None, description="Continue a conversation; omit to start one.")


class Citation(BaseModel):
    n: int
    source_id: str
    procedure_code: str | None
    title: str
    section: str | None
    url: str | None
    page: int | None
    quote: str


class Option(BaseModel):
    label: str
    source_id: str


class ChatResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "answer": "**Thủ tục đăng ký khai sinh** (1.00xxxx)\nHồ sơ cần chuẩn bị [1]:\n- Giấy chứng sinh… (1 bản chính)",
        "behavior": "answer", "citations": [EXAMPLE_CITATION], "options": [],
        "session_id": "6f1c…", "message_id": "a2b9…", "data_date": "2026-11-24"}]})
    answer: str
    behavior: Literal["answer", "clarify", "refuse"]
    citations: list[Citation]
    options: list[Option] = []
    session_id: str
    message_id: str
    data_date: str


class SearchResult(BaseModel):
    source_id: str
    procedure_code: str | None
    title: str
    score: float
    facet: str | None
    section: str | None


class SearchResponse(BaseModel):
    query: str
    results: list[SearchResult]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [
        {"message_id": "a2b9…", "rating": "down", "comment": "Thiếu phí bản sao"}]})
    message_id: str
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=2000)


class TokenResponse(BaseModel):
    token: str
    expires_at: int = Field(description="Unix time after which the token is refused.")


class Health(BaseModel):
    status: Literal["ok"]
    sources: int
    chunks_embedded: int
    embedder: str
    generation: int
    data_date: str | None
    llm: str
    maintenance: bool = Field(description="Answering is turned off (the kill switch, `PUT /v1/maintenance`).")


class Problem(BaseModel):
    """Every error: a message a person can act on (never a stack trace)."""

    detail: str
    errors: list[dict[str, Any]] = Field([], description="Each invalid field (`loc`, `msg`), for 422.")


_WHY = {
    400: "The body cannot be parsed (not UTF-8, not JSON)",
    401: "The API key or token is not valid or has expired",
    403: "The caller's role may not do this",
    404: "Nothing visible to the caller has this id (or the session is unknown, expired or another caller's)",
    409: "It conflicts with what is there: the question is already taught otherwise, or too many examples are",
    413: "The question, body or upload is over its limit",
    415: "The uploaded file's type cannot be indexed",
    422: "A field is missing, of the wrong type or invalid",
    429: "Too many requests from this address (see Retry-After)",
    431: "The request headers are too large",
    503: "Answering is turned off for maintenance or the assistant is busy (see Retry-After); the detail is the "
         "message for users",
    507: "The disk holding the data dir is full; nothing was changed",
}
COMMON = (400, 401, 413, 422, 429, 431)


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses an operation can answer, besides the common ones
    (always JSON, also where the operation's own answer is an event stream)."""
    content = {"application/json": {"schema": Problem.model_json_schema()}}
    return {code: {"description": _WHY[code], "content": content} for code in sorted({*COMMON, *codes})}
