"""The legal-structure parser (`ingest.legal`) on real Gazette text and on the shapes of other texts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from ingest import legal
from ingest.legal import Block

DOCS = Path(__file__).resolve().parents[2] / "shared/data/documents"
ID_LAW = DOCS / "luat-can-cuoc-26-2023-QH15.pdf"


@pytest.fixture(scope="module")
def id_law_lines() -> list[Block]:
    """The ID Card Law as raw lines, NOT rebuilt into paragraphs: wrapped lines start with anything."""
    reader = PdfReader(ID_LAW)
    return [Block(line, n) for n, page in enumerate(reader.pages, 1)
            for line in page.extract_text(extraction_mode="layout").splitlines() if line.strip()]


def test_wrapped_reference_at_line_start_does_not_open_an_article(id_law_lines: list[Block]) -> None:
    # the real text wraps "... quy định tại" / "Điều 23 của Luật này." (Điều 25, khoản 1)
    assert any(b.text.strip().startswith("Điều 23 của Luật này") for b in id_law_lines)
    doc = legal.parse(id_law_lines)
    assert doc is not None
    numbers = [s.meta["article"] for s in doc.sections if "article" in s.meta]
    assert list(dict.fromkeys(numbers)) == [str(n) for n in range(1, 47)]
    art25 = [s for s in doc.sections if s.meta.get("article") == "25"]
    assert "Điều 23 của Luật này" in "\n".join(s.text for s in art25)


def test_document_info_from_raw_lines(id_law_lines: list[Block]) -> None:
    doc = legal.parse(id_law_lines)
    assert doc is not None
    assert doc.title == "Luật Căn cước số 26/2023/QH15"
    assert doc.meta["doc_type"] == "Luật"
    assert doc.meta["doc_number"] == "26/2023/QH15"
    assert doc.meta["issued"] == "2023-11-27"  # "thông qua ngày 27 tháng 11 năm 2023"
    assert doc.meta["effective"] == "2024-07-01"  # "có hiệu lực thi hành từ ngày 01 tháng 7 năm 2024"


DECREE = """CHÍNH PHỦ | CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
Số: 70/2024/NĐ-CP | Độc lập - Tự do - Hạnh phúc
Hà Nội, ngày 25 tháng 6 năm 2024
NGHỊ ĐỊNH
Quy định chi tiết một số điều và biện pháp thi hành Luật Căn cước
Căn cứ Luật Tổ chức Chính phủ ngày 19 tháng 6 năm 2015;
Chính phủ ban hành Nghị định quy định chi tiết một số điều và biện pháp thi hành Luật Căn cước.
Chương I
QUY ĐỊNH CHUNG
Điều 1. Phạm vi điều chỉnh
Nghị định này quy định chi tiết một số điều của Luật Căn cước.
Điều 2. Đối tượng áp dụng
Nghị định này áp dụng đối với cơ quan, tổ chức, cá nhân có liên quan, theo quy định tại
Điều 5. Nội dung này là một dòng bị ngắt, không phải điều mới: câu trước chưa hết, theo
Điều 1. Số điều lùi về 1 giữa câu cũng không mở điều mới, và
Điều 2. số trùng lặp cũng vậy.
Chương II
QUY ĐỊNH CỤ THỂ
Mục 1
THẺ CĂN CƯỚC
Điều 3. Hiệu lực thi hành
Nghị định này có hiệu lực thi hành kể từ ngày ký ban hành.
Nơi nhận:
- Ban Bí thư Trung ương Đảng;"""


def _blocks(text: str) -> list[Block]:
    return [Block(line) for line in text.splitlines()]


def test_decree_title_number_and_dates() -> None:
    doc = legal.parse(_blocks(DECREE))
    assert doc is not None
    assert doc.title == "Nghị định quy định chi tiết một số điều và biện pháp thi hành Luật Căn cước số 70/2024/NĐ-CP"
    assert doc.meta["doc_type"] == "Nghị định"
    assert doc.meta["issued"] == "2024-06-25"  # the place-date line, not the "Căn cứ ... ngày 19 tháng 6 năm 2015"
    assert doc.meta["effective"] == "2024-06-25"  # "có hiệu lực thi hành kể từ ngày ký"


def test_articles_carry_chapter_and_section_and_closing_is_apart() -> None:
    doc = legal.parse(_blocks(DECREE))
    assert doc is not None
    by_section = {s.section: s for s in doc.sections}
    assert list(by_section) == ["Phần mở đầu", "Điều 1. Phạm vi điều chỉnh", "Điều 2. Đối tượng áp dụng",
                                "Điều 3. Hiệu lực thi hành", "Phần kết"]
    art3 = by_section["Điều 3. Hiệu lực thi hành"]
    assert art3.meta == {"article": "3", "article_title": "Hiệu lực thi hành", "chapter": "Chương II. QUY ĐỊNH CỤ THỂ",
                         "chapter_section": "Mục 1. THẺ CĂN CƯỚC"}
    assert by_section["Điều 1. Phạm vi điều chỉnh"].meta["chapter"] == "Chương I. QUY ĐỊNH CHUNG"
    # the wrapped "Điều 5.", "Điều 1." and "Điều 2." lines stay inside Điều 2
    assert "không phải điều mới" in by_section["Điều 2. Đối tượng áp dụng"].text
    assert "số trùng lặp" in by_section["Điều 2. Đối tượng áp dụng"].text
    assert by_section["Phần kết"].text.startswith("Nơi nhận:")


def test_long_article_is_split_by_clause_and_keeps_its_heading() -> None:
    clauses = [f"{n}. " + f"Nội dung khoản {n} về hồ sơ cấp thẻ căn cước. " * 12 for n in range(1, 6)]
    blocks = _blocks("LUẬT\nTHỬ NGHIỆM\nĐiều 1. Ngắn\nNội dung.\nĐiều 2. Trình tự, thủ tục cấp thẻ căn cước\n"
                     "Việc cấp thẻ được thực hiện như sau:\n" + "\n".join(clauses) + "\na) Điểm a thuộc khoản 5;")
    doc = legal.parse(blocks)
    assert doc is not None
    parts = [s for s in doc.sections if s.meta.get("article") == "2"]
    assert len(parts) > 1
    assert all(s.section.startswith("Điều 2. Trình tự, thủ tục cấp thẻ căn cước — khoản ") for s in parts)
    assert all(s.text.startswith("Điều 2. Trình tự, thủ tục cấp thẻ căn cước\n") for s in parts)
    assert all(len(s.text) <= legal.ARTICLE_LIMIT + 200 for s in parts)
    assert parts[0].text.splitlines()[1] == "Việc cấp thẻ được thực hiện như sau:"  # intro with the first clause
    assert parts[-1].text.endswith("a) Điểm a thuộc khoản 5;")  # points stay with their clause
    joined = [c for s in parts for c in s.meta["clause"].split("-")]
    assert joined[0] == "1" and joined[-1] == "5"


def test_quoted_and_mid_sentence_articles_are_not_headings() -> None:
    text = ("Điều 1. Sửa đổi Luật khác\n“Điều 2. Điều được trích dẫn\nđược sửa như sau”.\n"
            "Việc này theo quy định tại Điều 2. Không phải đầu dòng.\nĐiều 2. Hiệu lực thi hành\nCó hiệu lực.")
    doc = legal.parse(_blocks(text))
    assert doc is not None
    assert [s.section for s in doc.sections] == ["Điều 1. Sửa đổi Luật khác", "Điều 2. Hiệu lực thi hành"]


def test_not_a_legal_text() -> None:
    assert legal.parse(_blocks("Cẩm nang\nĐăng ký khai sinh cho con\nHồ sơ gồm tờ khai.")) is None
    assert legal.parse(_blocks("Điều 1. Chỉ một điều thì chưa đủ\nNội dung.")) is None


def test_clean_folds_decomposed_text_and_spaces() -> None:
    decomposed = "Vie\u0302\u0323t  Nam\u00a0\tca\u0306n cu\u031bo\u031b\u0301c"
    assert legal.clean(decomposed) == "Việt Nam căn cước"
    assert re.fullmatch(r"[^\s]+( [^\s]+)*", legal.clean("  a \n b  "))


def test_inserted_article_with_letter_suffix() -> None:
    doc = legal.parse(_blocks("Điều 10. Một\nNội dung.\nĐiều 10a. Điều được bổ sung\nNội dung.\nĐiều 11. Hai\nNội dung."))
    assert doc is not None
    assert [s.meta["article"] for s in doc.sections] == ["10", "10a", "11"]
