"""The portal record parser against real National Public Service Portal records.

Expectations in tests/data/portal_hand_checked.jsonl were read off each record's raw_text by a person.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import date
from pathlib import Path

import pytest

from assistant.procedure import Procedure
from ingest.loaders import load_path
from ingest.portal import load, load_with_errors, parse_record
from ingest.source import LoadError

DATA = Path(__file__).parents[2] / "shared/data/procedures/dichvucong_2642.jsonl"
HAND = Path(__file__).parent / "data/portal_hand_checked.jsonl"
HAND_CHECKED = [json.loads(line) for line in HAND.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def records() -> dict[str, dict]:
    if not DATA.exists():
        pytest.skip(f"real portal data not found at {DATA}")
    return {r["ma_thu_tuc"]: r for r in map(json.loads, DATA.read_text(encoding="utf-8").splitlines())}


def parsed(records: dict[str, dict], code: str) -> Procedure:
    return parse_record(records[code])


def norm(text: str | None) -> str:
    return re.sub(r"^[-+*•–\s]+", "", re.sub(r"\s+", " ", text or "")).strip()


def fee_shown(channel) -> str:
    amounts = [f.text for f in channel.fees if f.amount]
    return amounts[0] if amounts else ("Miễn phí" if channel.free else "")


# ---- hand-checked records ------------------------------------------------------------------------

@pytest.mark.parametrize("expected", HAND_CHECKED, ids=[e["code"] for e in HAND_CHECKED])
def test_hand_checked_record(records, expected):
    p = parsed(records, expected["code"])
    assert [(c.channel, norm(c.time) or None, fee_shown(c)) for c in p.channels] == [
        (ch, norm(t) or None, fee) for ch, t, fee in expected["channels"]]
    names = [norm(d.name) for d in p.documents]
    assert names[:len(expected["documents"])] == [norm(n) for n in expected["documents"]]
    assert {b.number for b in p.legal_basis if b.number} == set(expected["legal_numbers"])
    assert bool(p.conditions) == expected["conditions"]
    assert set(p.flags) == set(expected["flags"])
    steps = expected.get("steps") or {}
    if "count" in steps:
        assert len(p.steps) == steps["count"]
    if "first" in steps:
        assert norm(p.steps[0]).startswith(norm(steps["first"]))


def test_hand_checked_set_spans_ministries_and_difficulties(records):
    ministries = {parsed(records, e["code"]).ministry for e in HAND_CHECKED}
    assert len(HAND_CHECKED) >= 50
    assert {"Bộ Công an", "Bộ Tài chính", "Bộ Tư pháp", "Bộ Xây dựng", "Bộ Nông nghiệp và Môi trường",
            "Ngân hàng Nhà nước Việt Nam", "Tòa án nhân dân"} <= ministries
    flags = {f for e in HAND_CHECKED for f in e["flags"]}
    assert {"time_without_unit", "fee_by_provincial_council", "fee_conflict", "fee_time_limited",
            "time_fee_run_together"} <= flags


# ---- ambiguity kept and marked -------------------------------------------------------------------

def test_time_without_unit_is_kept_as_written_and_flagged(records):
    birth = parsed(records, "1.001193")  # Thủ tục đăng ký khai sinh: "Trực tuyến1Miễn phí"
    assert [(c.time, c.time_value, c.time_unit) for c in birth.channels] == [("1", "1", None)] * 3
    assert all("time_without_unit" in c.flags for c in birth.channels)
    assert all(c.free for c in birth.channels)
    assert "time_without_unit" in birth.flags


def test_fee_set_by_provincial_council_keeps_the_wording(records):
    death = parsed(records, "1.000656")
    assert "fee_by_provincial_council" in death.flags
    note = death.channels[0].fees[0].note
    assert "Mức lệ phí cụ thể do Hội đồng nhân dân tỉnh, thành phố trực thuộc Trung ương quyết định" in note


def test_fee_contradicting_its_note_keeps_both_texts(records):
    online = parsed(records, "1.001200").channels[0]
    fee = online.fees[0]
    assert (fee.text, fee.amount, fee.unit) == ("40 Việt Nam Đồng", "40", "Việt Nam Đồng")
    assert fee.note.startswith("40.000đ/giấy thông hành")
    assert "fee_conflict" in online.flags


def test_fee_validity_dates_are_read_from_the_note(records):
    online = parsed(records, "1.001200").channels[0]  # "áp dụng đến hết ngày 31/12/2024"
    assert (online.fees[0].valid_from, online.fees[0].valid_until) == (None, date(2024, 12, 31))
    assert "fee_time_limited" in online.flags
    assert parsed(records, "1.001200").channels[1].fees[0].valid_until is None
    inspection = parsed(records, "1.002613").channels[0]  # "Từ ngày 01/7/2025 đến hết ngày 31/12/2026"
    assert (inspection.fees[0].valid_from, inspection.fees[0].valid_until) == (date(2025, 7, 1), date(2026, 12, 31))


def test_unit_less_time_run_into_the_fee_is_split_by_the_fee_note(records):
    channel = parsed(records, "1.000014").channels[0]  # "Trực tuyến120 VNĐ(20.000 vnđ /tờ khai)"
    assert (channel.time, channel.fees[0].text) == ("1", "20 VNĐ")
    assert {"time_without_unit", "time_fee_run_together", "fee_conflict"} <= set(channel.flags)


def test_time_given_as_words_is_kept(records):
    channel = parsed(records, "1.007689").channels[0]
    assert (channel.time, channel.time_value, channel.free) == ("Không phải trả kết quả cho người nộp thuế", None, True)


# ---- cleaning ------------------------------------------------------------------------------------

def test_text_is_nfc_even_when_the_record_is_not(records):
    decomposed = next(r for r in records.values() if unicodedata.normalize("NFC", r["ten_thu_tuc"]) != r["ten_thu_tuc"])
    p = parse_record(decomposed)
    assert p.name == unicodedata.normalize("NFC", decomposed["ten_thu_tuc"])
    texts = [p.name, p.field or "", *(d.name for d in p.documents), *(s for s in p.steps),
             *(b.title for b in p.legal_basis), *(c.note or "" for c in p.channels)]
    assert all(unicodedata.is_normalized("NFC", t) for t in texts)


def test_portal_ui_text_and_result_codes_are_stripped(records, tmp_path):
    assert parsed(records, "1.001193").results == ["Giấy khai sinh"]
    assert parsed(records, "1.001200").results == ["Giấy thông hành biên giới Việt Nam - Campuchia"]
    assert parsed(records, "1.000014").conditions is None  # only "Không có thông tin" + page widgets
    for source in load_slice(records, ["1.001193", "1.001200", "1.000014"], tmp_path):
        for section in source.sections:
            assert "Chọn cơ quan thực hiện" not in section.text
            assert "Mã: KQ" not in section.text


def test_empty_marker_becomes_none(records):
    birth = parsed(records, "1.001193")
    assert birth.agency is None and birth.related == [] and birth.conditions is None


def test_crawler_misaligned_record_is_recut_from_the_page_text(records):
    p = parsed(records, "3.000337")  # the crawler cut the fee note at "Căn cứ pháp lý:"
    assert [c.channel for c in p.channels] == ["online", "post", "in_person"]
    assert p.legal_basis == []


def test_fields_a_citizen_asks_about(records):
    p = parsed(records, "1.001200")
    assert p.ministry == "Bộ Công an" and p.level == "Cấp tỉnh" and p.agency == "Công an tỉnh"
    assert p.documents[-1].form == "Mẫu M01a-ND67-2024.docx" and p.documents[-1].quantity == "1 bản chính"
    assert p.legal_basis[0].title == "Luật 49/2019/QH14" and p.legal_basis[0].number == "49/2019/QH14"
    assert parsed(records, "1.001193").documents[0].group == "Giấy tờ phải nộp"
    assert parsed(records, "1.001193").ministry == "Bộ Tư pháp"


# ---- loading -------------------------------------------------------------------------------------

def load_slice(records: dict[str, dict], codes: list[str], folder: Path):
    path = folder / "slice.jsonl"
    path.write_text("\n".join(json.dumps(records[c], ensure_ascii=False) for c in codes), encoding="utf-8")
    return load(path)


def test_malformed_lines_are_reported_and_the_others_load(records, tmp_path):
    path = tmp_path / "mixed.jsonl"
    good = [json.dumps(records[c], ensure_ascii=False) for c in ("1.001193", "1.001200")]
    no_code = json.dumps({"ten_thu_tuc": "Thủ tục không mã"}, ensure_ascii=False)
    path.write_text("\n".join([good[0], '{"ma_thu_tuc": "9.9", broken', no_code, "", good[1]]), encoding="utf-8")
    sources, errors = load_with_errors(path)
    assert [s.source_id for s in sources] == ["1.001193", "1.001200"]
    assert len(errors) == 2
    assert errors[0].startswith("line 2: invalid JSON")
    assert errors[1].startswith("line 3:") and "ma_thu_tuc" in errors[1]
    assert [s.source_id for s in load(path)] == ["1.001193", "1.001200"]


def test_a_file_without_any_valid_record_raises_load_error(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("not json\n[1, 2]\n", encoding="utf-8")
    with pytest.raises(LoadError, match="no valid portal procedure record.*line 1"):
        load(path)


def test_json_file_with_one_record_or_a_list(records, tmp_path):
    one, many = tmp_path / "one.json", tmp_path / "many.json"
    one.write_text(json.dumps(records["1.001193"], ensure_ascii=False), encoding="utf-8")
    many.write_text(json.dumps([records["1.001193"], records["1.001200"]], ensure_ascii=False), encoding="utf-8")
    assert [s.source_id for s in load(one)] == ["1.001193"]
    assert [s.source_id for s in load(many)] == ["1.001193", "1.001200"]


def test_registered_loader_yields_one_source_per_record_with_sections(records, tmp_path):
    path = tmp_path / "portal.jsonl"
    path.write_text(json.dumps(records["1.001193"], ensure_ascii=False) + "\n", encoding="utf-8")
    [source] = list(load_path(path))
    assert (source.source_id, source.kind, source.title) == ("1.001193", "procedure", "Thủ tục đăng ký khai sinh")
    assert source.procedure_codes == ["1.001193"] and source.procedure.code == "1.001193"
    assert source.url.startswith("https://dichvucong.gov.vn/")
    assert source.meta == {"ministry": "Bộ Tư pháp", "level": "Cấp xã", "field": "Hộ tịch"}
    overview, *facets = source.sections
    assert (overview.section, overview.meta) == ("Tổng quan", {"embed": True})
    assert 40 <= len(overview.text.split()) <= 130
    assert "Thủ tục đăng ký khai sinh" in overview.text and "Giấy chứng sinh" in overview.text
    by_name = {s.section: s for s in facets}
    assert by_name["Cách thức thực hiện"].facet == "time"
    assert by_name["Cách thức thực hiện"].meta == {"facets": ["time", "fee"]}
    assert "Miễn phí" in by_name["Cách thức thực hiện"].text
    assert by_name["Thành phần hồ sơ"].facet == "documents"
    assert by_name["Căn cứ pháp lý"].facet == "legal_basis" and "123/2015/NĐ-CP" in by_name["Căn cứ pháp lý"].text
    assert by_name["Kết quả"].facet == "result" and "Giấy khai sinh" in by_name["Kết quả"].text
    assert by_name["Trình tự thực hiện"].facet == "steps"
    assert "Yêu cầu, điều kiện" not in by_name  # the record has none: no empty section


def test_every_real_record_parses_with_channels_and_an_overview(records, tmp_path):
    procedures = [parse_record(r) for r in records.values()]
    assert all(p.channels for p in procedures)
    sources = load_slice(records, list(records), tmp_path)
    assert len(sources) == len(records) == 2642
    for s in sources:  # compact: about 120 words at most, unless the procedure's name alone is longer
        assert s.sections[0].section == "Tổng quan"
        assert len(s.sections[0].text.split()) <= max(125, len(s.title.split()) + 15)
