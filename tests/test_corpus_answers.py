"""Answers on the bundled corpus/ as a newcomer reads them (default embedder, what `make run` serves):
the section asked and only it, whole; English answers in English around the quoted Vietnamese; the
data date of each file; a new topic in a session is its own question."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from assistant.service import Assistant
from assistant.settings import Settings
from ingest.pipeline import ingest
from tests.conftest import write

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def assistant(corpus_data: Path, tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("corpus-answers") / "var"
    shutil.copytree(corpus_data, data)
    a = Assistant.open(Settings(data_dir=data, today="2026-11-24"), purpose="test corpus answers")
    yield a
    a.close()


def headings(answer: str) -> list[str]:
    """The section headings an answer shows (not its link and date lines)."""
    found = [ln.split(":")[0].split(" [")[0] for ln in answer.splitlines()[1:]
             if re.match(r"^[A-ZĐÀ-Ỹ][^-:]{2,40}( \[\d+\])?:", ln)]
    return [h for h in found if h not in ("Nguồn chính thức", "Dữ liệu cập nhật")]


@pytest.mark.parametrize("question, section", [
    ("lý lịch tư pháp làm ở đâu", "Nơi nộp"),
    ("đăng ký kết hôn mất bao lâu", "Thời gian giải quyết"),
    ("đăng ký tạm trú hết bao nhiêu tiền", "Lệ phí"),
    ("đổi bằng lái xe cần giấy tờ gì", "Hồ sơ cần chuẩn bị"),
])
def test_the_section_asked_and_only_it(assistant: Assistant, question: str, section: str) -> None:
    out = assistant.chat(question)
    assert out["behavior"] == "answer"
    assert [c["section"] for c in out["citations"]] == [section]
    assert headings(out["answer"]) == [section]  # no steps, legal basis or overview added


def test_a_section_is_shown_whole(assistant: Assistant) -> None:
    out = assistant.chat("hồ sơ đăng ký kết hôn gồm những gì")
    chunk = next(c for c in assistant.lookup().section_chunks(out["citations"][0]["source_id"])
                 if c.section == "Hồ sơ cần chuẩn bị")
    for line in chunk.text.splitlines():
        assert line.strip() in out["answer"]
    assert "…" not in out["answer"].replace("căn cước điện tử…", "")  # the handbook's own ellipsis only


def test_nothing_specific_asked_gets_the_overview(assistant: Assistant) -> None:
    out = assistant.chat("thủ tục đăng ký khai sinh")
    assert out["behavior"] == "answer" and out["citations"][0]["procedure_code"] == "1.001193"
    assert "Cẩm nang này tóm tắt" in out["answer"] or "Thủ tục **đăng ký khai sinh**" in out["answer"]


def test_english_question_gets_english_around_the_vietnamese_source(assistant: Assistant) -> None:
    out = assistant.chat("How much does a passport cost?")
    assert out["citations"][0]["procedure_code"] == "1.001456"
    first = out["answer"].splitlines()[1]
    assert first.startswith("Fees [1]: amounts stated: 200,000 VND") and "quoted in Vietnamese" in first
    assert "Official procedure page" in out["answer"] and "Data as of" in out["answer"]
    docs = assistant.chat("What documents do I need to register a birth?")
    assert docs["citations"][0]["procedure_code"] == "1.001193"
    line = docs["answer"].splitlines()[1]
    assert line.startswith("Documents to prepare") and "6 items" in line and "the application form" in line


def test_a_pdf_handbook_is_cited_by_its_headings_in_whole_sentences(assistant: Assistant) -> None:
    pdf = next(s for s in assistant.lookup().snap.sources.values() if s.origin.endswith(".pdf"))
    chunks = assistant.lookup().section_chunks(pdf.source_id)
    assert {"Hồ sơ cần chuẩn bị", "Nơi nộp", "Lệ phí"} <= {c.section for c in chunks}
    assert all(c.facet for c in chunks if c.section)
    assert "lĩnh vực Hộ tịch, cấp xã" in chunks[0].text  # a line the PDF wraps after "Hộ"


def test_the_data_date_is_the_files_own_or_says_it_is_the_ingest_date(assistant: Assistant, tmp_path: Path) -> None:
    dated = assistant.chat("đăng ký kết hôn mất bao lâu")
    assert dated["data_date"] == "2026" and dated["answer"].endswith("Dữ liệu cập nhật: 2026.")
    note = write(tmp_path / "nuoi-ong.md", "---\ntitle: Hướng dẫn đăng ký nuôi ong mật\naudience: citizen\n---\n"
                 "# Đăng ký nuôi ong mật\n## Lệ phí\nKhông thu lệ phí đăng ký nuôi ong mật.\n")
    with assistant.writing():
        assert ingest(assistant.store, [note], progress=False).failed == []
    undated = assistant.chat("đăng ký nuôi ong mật lệ phí bao nhiêu")
    assert undated["citations"][0]["title"] == "Hướng dẫn đăng ký nuôi ong mật"
    assert "Nguồn không ghi ngày cập nhật; dữ liệu được nạp ngày" in undated["answer"]


def test_an_abbreviated_new_topic_in_a_session_is_its_own_question(assistant: Assistant) -> None:
    first = assistant.chat("Làm giấy khai sinh cho con cần giấy tờ gì?")
    second = assistant.chat("lam cccd bao lau", first["session_id"])
    assert second["citations"][0]["procedure_code"] in ("1.014061", "1.014062")
    follow = assistant.chat("xem đủ giấy tờ", second["session_id"])
    assert follow["citations"][0]["procedure_code"] in ("1.014061", "1.014062")
