"""Loaders on the real Gazette files in ../shared/data/documents, and on broken or misnamed files."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import unicodedata
import zipfile
from pathlib import Path

import docx
import pytest
from pypdf import PdfWriter

from ingest.loaders import load_path
from ingest.source import LoadError, Source

DOCS = Path(__file__).resolve().parents[2] / "shared/data/documents"
ID_LAW = DOCS / "luat-can-cuoc-26-2023-QH15.pdf"
E_TRANSACTIONS_LAW = DOCS / "luat-giao-dich-dien-tu-20-2023-QH15.pdf"
TRAFFIC_LAW = DOCS / "luat-trat-tu-an-toan-giao-thong-duong-bo-36-2024-QH15.pdf"


def load_one(path: Path) -> Source:
    sources = list(load_path(path))
    assert len(sources) == 1
    return sources[0]


def error_of(path: Path) -> str:
    with pytest.raises(LoadError) as info:
        list(load_path(path))
    return str(info.value)


def article(source: Source, number: str) -> list:
    return [s for s in source.sections if s.meta.get("article") == number]


@pytest.fixture(scope="module")
def id_law() -> Source:
    return load_one(ID_LAW)


# --- the ID Card Law (Luật Căn cước 26/2023/QH15), 30 Gazette pages -------------------------------

def test_id_law_document_title_number_and_dates(id_law: Source) -> None:
    assert id_law.kind == "legal"
    assert id_law.title == "Luật Căn cước số 26/2023/QH15"
    assert id_law.meta["doc_type"] == "Luật"
    assert id_law.meta["doc_number"] == "26/2023/QH15"
    assert id_law.meta["issued"] == "2023-11-27"
    assert id_law.meta["effective"] == "2024-07-01"


def test_id_law_has_every_article_once_in_order(id_law: Source) -> None:
    numbers = list(dict.fromkeys(s.meta["article"] for s in id_law.sections if "article" in s.meta))
    assert numbers == [str(n) for n in range(1, 47)]


@pytest.mark.parametrize(("number", "title", "page", "chapter"), [
    ("19", "Người được cấp thẻ căn cước", 15, "Chương III. THẺ CĂN CƯỚC, GIẤY CHỨNG NHẬN CĂN CƯỚC"),
    ("23", "Trình tự, thủ tục cấp thẻ căn cước", 17, "Chương III. THẺ CĂN CƯỚC, GIẤY CHỨNG NHẬN CĂN CƯỚC"),
    ("26", "Thời hạn cấp, cấp đổi, cấp lại thẻ căn cước", 19, "Chương III. THẺ CĂN CƯỚC, GIẤY CHỨNG NHẬN CĂN CƯỚC"),
    ("45", "Hiệu lực thi hành", 29, "Chương VII. ĐIỀU KHOẢN THI HÀNH"),
])
def test_id_law_articles_title_page_and_chapter(id_law: Source, number: str, title: str, page: int,
                                                 chapter: str) -> None:
    first = article(id_law, number)[0]
    assert first.section.startswith(f"Điều {number}. {title}")
    assert first.meta["article_title"] == title
    assert first.page == page  # 1-based PDF page where the article starts
    assert first.meta["chapter"] == chapter


def test_id_law_article_text_is_clean(id_law: Source) -> None:
    art26 = article(id_law, "26")
    assert len(art26) == 1
    assert "Trong thời hạn 07 ngày làm việc kể từ ngày nhận đủ hồ sơ" in art26[0].text
    everything = "\n".join(s.text for s in id_law.sections)
    assert "CÔNG BÁO" not in everything  # running headers dropped
    assert "Việt Nam" in everything and "Vi ệt" not in everything  # no split syllables (pypdf plain mode)
    art4 = article(id_law, "4")[0]  # a title wrapped over two lines is rebuilt
    assert art4.meta["article_title"] == ("Nguyên tắc quản lý căn cước, Cơ sở dữ liệu quốc gia về dân cư và "
                                          "Cơ sở dữ liệu căn cước")


def test_id_law_long_article_split_by_clause_keeps_heading(id_law: Source) -> None:
    parts = article(id_law, "23")
    assert [p.section for p in parts] == ["Điều 23. Trình tự, thủ tục cấp thẻ căn cước — khoản 1",
                                          "Điều 23. Trình tự, thủ tục cấp thẻ căn cước — khoản 2–5"]
    assert [p.meta["clause"] for p in parts] == ["1", "2-5"]
    assert [p.page for p in parts] == [17, 17]
    assert parts[1].text.startswith("Điều 23. Trình tự, thủ tục cấp thẻ căn cước\n2. Người dưới 14 tuổi")
    assert all(len(s.text) <= 1800 for s in id_law.sections)


def test_id_law_sections_of_a_chapter(id_law: Source) -> None:
    art8, art14 = article(id_law, "8")[0], article(id_law, "14")[0]
    assert art8.meta["chapter_section"] == "Mục 1. CƠ SỞ DỮ LIỆU QUỐC GIA VỀ DÂN CƯ"
    assert art14.meta["chapter_section"] == "Mục 2. CƠ SỞ DỮ LIỆU CĂN CƯỚC"
    assert "chapter_section" not in article(id_law, "18")[0].meta  # a new chapter closes the Mục


def test_id_law_reference_to_article_stays_in_its_article(id_law: Source) -> None:
    # Điều 25 khoản 1 ends "... thực hiện theo quy định tại" / "Điều 23 của Luật này." across a line wrap
    art25 = "\n".join(s.text for s in article(id_law, "25"))
    assert "thực hiện theo quy định tại Điều 23 của Luật này" in art25


def test_other_real_laws() -> None:
    e_law = load_one(E_TRANSACTIONS_LAW)
    assert e_law.title == "Luật Giao dịch điện tử số 20/2023/QH15"
    assert (e_law.meta["issued"], e_law.meta["effective"]) == ("2023-06-22", "2024-07-01")
    assert article(e_law, "52")[0].section == "Điều 52. Hiệu lực thi hành"
    traffic = load_one(TRAFFIC_LAW)  # the first Gazette issue of two: articles 1-23
    assert traffic.title == "Luật Trật tự, an toàn giao thông đường bộ số 36/2024/QH15"
    assert traffic.sections[-1].meta["article"] == "23"
    assert "Xem tiếp Công báo" not in traffic.sections[-1].text


# --- files that cannot be read: the message says why and what to do ----------------------------------

def test_scanned_pdf_without_text_layer() -> None:
    message = error_of(DOCS / "scan-no-text-layer.pdf")
    assert "no text layer" in message and "scan" in message and "OCR" in message and "ocrmypdf" in message


def test_legacy_word_97_file_named_docx() -> None:
    message = error_of(DOCS / "luat-pccc-27-2001-QH10.docx")
    assert message.startswith("this is a legacy Word 97-2003 .doc file saved with a .docx name; "
                              "open it in Word/LibreOffice and save as .docx")
    assert "libreoffice --headless --convert-to docx" in message


def test_legacy_word_file_named_doc_is_explained(tmp_path: Path) -> None:
    doc = shutil.copy(DOCS / "luat-pccc-27-2001-QH10.docx", tmp_path / "luat-pccc.doc")
    message = error_of(Path(doc))
    assert "unsupported file type .doc" in message and "legacy Word 97-2003" in message
    assert "save as .docx" in message


def test_password_protected_pdf(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=ID_LAW)
    writer.encrypt(user_password="secret", owner_password="owner")
    writer.write(tmp_path / "locked.pdf")
    message = error_of(tmp_path / "locked.pdf")
    assert "password-protected" in message and "unprotected copy" in message


def test_pdf_encrypted_with_empty_password_loads(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=ID_LAW)
    writer.encrypt(user_password="", owner_password="owner")  # "no copying" PDFs are like this
    writer.write(tmp_path / "restricted.pdf")
    assert load_one(tmp_path / "restricted.pdf").title == "Luật Căn cước số 26/2023/QH15"


def test_truncated_pdf(tmp_path: Path) -> None:
    data = ID_LAW.read_bytes()
    (tmp_path / "cut.pdf").write_bytes(data[: len(data) // 2])
    assert error_of(tmp_path / "cut.pdf").startswith("the PDF is damaged or truncated (")


def test_empty_files(tmp_path: Path) -> None:
    for name in ("empty.pdf", "empty.docx", "empty.html"):
        (tmp_path / name).write_bytes(b"")
        assert error_of(tmp_path / name) == "the file is empty"
    writer = PdfWriter()
    writer.write(tmp_path / "no-pages.pdf")
    assert error_of(tmp_path / "no-pages.pdf") == "the PDF has no pages"


def test_pdf_named_docx(tmp_path: Path) -> None:
    misnamed = Path(shutil.copy(ID_LAW, tmp_path / "luat.docx"))
    assert error_of(misnamed) == "this is a PDF document, but it is named .docx; rename it to .pdf"


def test_zip_that_is_not_a_word_file(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "hoso.docx", "w") as z:
        z.writestr("to-khai.txt", "Tờ khai đăng ký khai sinh")
    message = error_of(tmp_path / "hoso.docx")
    assert "ZIP archive, not a Word document" in message and "extract it" in message


def test_damaged_word_file(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "hong.docx", "w") as z:
        z.writestr("word/document.xml", "<w:document><w:body><w:p>")  # cut off, no package parts
    assert error_of(tmp_path / "hong.docx").startswith("the Word file is damaged (")


def test_binary_named_txt(tmp_path: Path) -> None:
    (tmp_path / "anh.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    message = error_of(tmp_path / "anh.txt")
    assert message.startswith("this is a PNG image, but it is named .txt") and "OCR" in message
    (tmp_path / "blob.txt").write_bytes(bytes(range(256)) * 8)
    assert error_of(tmp_path / "blob.txt").startswith("this is binary data, not text, but it is named .txt")


def test_pdf_named_txt_and_html_error_page_named_pdf(tmp_path: Path) -> None:
    pdf_as_txt = Path(shutil.copy(ID_LAW, tmp_path / "luat.txt"))
    assert error_of(pdf_as_txt) == "this is a PDF document, but it is named .txt; rename it to .pdf"
    (tmp_path / "luat.pdf").write_text("<!DOCTYPE html><html><body>403 Forbidden</body></html>")
    message = error_of(tmp_path / "luat.pdf")
    assert message.startswith("this is an HTML page, but it is named .pdf") and "error or login page" in message


# --- DOCX and HTML --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def id_law_docx(tmp_path_factory: pytest.TempPathFactory, id_law: Source) -> Path:
    """A Word copy of Chương III of the real law, laid out as the Gazette's Word files are."""
    document = docx.Document()
    header = document.add_table(rows=2, cols=2)
    for row, cells in zip(header.rows, [("QUỐC HỘI", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc"),
                                        ("Luật số: 26/2023/QH15", "Hà Nội, ngày 27 tháng 11 năm 2023")]):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    for text in ("LUẬT", "CĂN CƯỚC", "Căn cứ Hiến pháp nước Cộng hòa xã hội chủ nghĩa Việt Nam;",
                 "Quốc hội ban hành Luật Căn cước.", "Chương III", "THẺ CĂN CƯỚC, GIẤY CHỨNG NHẬN CĂN CƯỚC"):
        document.add_paragraph(text)
    seen = set()
    for section in id_law.sections:
        number = section.meta.get("article", "")
        if number in {"23", "24", "25", "26"}:
            lines = section.text.splitlines()
            for line in lines[1:] if number in seen else lines:  # the heading once per article
                document.add_paragraph(line)
            seen.add(number)
    path = tmp_path_factory.mktemp("docx") / "luat-can-cuoc.docx"
    document.save(str(path))
    return path


def test_legal_docx(id_law_docx: Path) -> None:
    source = load_one(id_law_docx)
    assert source.kind == "legal"
    assert source.title == "Luật Căn cước số 26/2023/QH15"
    assert source.meta["issued"] == "2023-11-27"  # "Hà Nội, ngày 27 tháng 11 năm 2023" in the header table
    assert [s.section for s in article(source, "23")] == [
        "Điều 23. Trình tự, thủ tục cấp thẻ căn cước — khoản 1", "Điều 23. Trình tự, thủ tục cấp thẻ căn cước — khoản 2–5"]
    assert article(source, "26")[0].meta["chapter"] == "Chương III. THẺ CĂN CƯỚC, GIẤY CHỨNG NHẬN CĂN CƯỚC"
    assert all(s.page is None for s in source.sections)


def test_plain_docx_by_headings_with_table(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Hướng dẫn đăng ký khai sinh", level=1)
    document.add_paragraph("Áp dụng cho trẻ sinh ra tại Việt Nam.")
    document.add_heading("Lệ phí", level=2)
    table = document.add_table(rows=2, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Trường hợp", "Mức thu"
    table.rows[1].cells[0].text, table.rows[1].cells[1].text = "Đăng ký đúng hạn", "Miễn lệ phí"
    document.save(str(tmp_path / "huong-dan.docx"))
    source = load_one(tmp_path / "huong-dan.docx")
    assert source.kind == "document" and source.title == "Hướng dẫn đăng ký khai sinh"
    assert [(s.section, s.text) for s in source.sections] == [
        (None, "Áp dụng cho trẻ sinh ra tại Việt Nam."),
        ("Lệ phí", "Trường hợp | Mức thu\nĐăng ký đúng hạn | Miễn lệ phí"),
    ]


def test_html_drops_scripts_and_navigation(tmp_path: Path) -> None:
    (tmp_path / "trang.html").write_text(
        "<!DOCTYPE html><html><head><title>Cấp thẻ căn cước</title><style>p{color:red}</style>"
        '<link rel="canonical" href="https://example.gov.vn/can-cuoc"></head><body>'
        "<nav><a href='/'>Trang chủ</a> | <a href='/tin'>Tin tức</a></nav>"
        "<h1>Cấp thẻ căn cước</h1><p>Công dân từ đủ 14 tuổi <b>phải</b> làm thủ tục.</p>"
        "<h2>Lệ phí</h2><table><tr><th>Trường hợp</th><th>Mức</th></tr><tr><td>Cấp đổi</td><td>50.000 đồng</td></tr></table>"
        "<script>var tracking = 1;</script><h2>Nơi nộp</h2><ul><li>Công an cấp xã</li><li>Trực tuyến</li></ul>"
        "</body></html>", encoding="utf-8")
    source = load_one(tmp_path / "trang.html")
    assert source.title == "Cấp thẻ căn cước" and source.url == "https://example.gov.vn/can-cuoc"
    assert [(s.section, s.text) for s in source.sections] == [
        (None, "Công dân từ đủ 14 tuổi phải làm thủ tục."),
        ("Lệ phí", "Trường hợp | Mức\nCấp đổi | 50.000 đồng"),
        ("Nơi nộp", "Công an cấp xã\nTrực tuyến"),
    ]
    everything = " ".join(s.text for s in source.sections)
    assert not re.search(r"tracking|Trang chủ|color", everything)


def test_legal_html(tmp_path: Path, id_law: Source) -> None:
    paragraphs = ["Luật số: 26/2023/QH15", "LUẬT", "CĂN CƯỚC", "Quốc hội ban hành Luật Căn cước."]
    paragraphs += [line for s in id_law.sections if s.meta.get("article") in {"26", "27", "28"}
                   for line in s.text.splitlines()]
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    (tmp_path / "luat.htm").write_text(f"<html><head><title>vbpl</title></head><body>{body}</body></html>")
    source = load_one(tmp_path / "luat.htm")
    assert source.kind == "legal" and source.title == "Luật Căn cước số 26/2023/QH15"
    assert [s.section for s in source.sections if "article" in s.meta] == [
        "Điều 26. Thời hạn cấp, cấp đổi, cấp lại thẻ căn cước",
        "Điều 27. Nơi làm thủ tục cấp, cấp đổi, cấp lại thẻ căn cước",
        "Điều 28. Thẩm quyền cấp, cấp đổi, cấp lại thẻ căn cước"]


# --- the project's own corpus ------------------------------------------------------------------------

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
PORTAL = Path(__file__).resolve().parents[2] / "shared/data/procedures/dichvucong_2642.jsonl"
HANDBOOKS = sorted(CORPUS.rglob("*.md"))
_QUOTED_FACT = re.compile(r"\*\*([\d.,]+ (?:Việt Nam Đồng|VNĐ|USD|Ngày làm việc|Ngày))\*\*")


@pytest.fixture(scope="module")
def portal() -> dict[str, dict]:
    records = {}
    with PORTAL.open(encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            records[record["ma_thu_tuc"]] = {k: unicodedata.normalize("NFC", str(v)) for k, v in record.items()}
    return records


def test_corpus_has_handbooks_for_the_common_procedures() -> None:
    citizen = [p for p in HANDBOOKS if "internal" not in p.parts]
    assert 15 <= len(citizen) <= 20


@pytest.mark.parametrize("path", HANDBOOKS, ids=lambda p: p.stem)
def test_handbook_loads_and_matches_its_portal_record(path: Path, portal: dict[str, dict]) -> None:
    source = load_one(path)
    assert source.kind == "handbook" and source.title and source.meta.get("data_date")
    assert source.audience in ("citizen", "official")
    assert source.procedure_codes and all(code in portal for code in source.procedure_codes)
    sections = {s.section for s in source.sections}
    if source.audience == "citizen":
        assert source.url in {portal[c]["detail_url"] for c in source.procedure_codes}
        assert {"Hồ sơ cần chuẩn bị", "Thời gian giải quyết", "Lệ phí", "Nơi nộp", "Căn cứ pháp lý"} <= sections
        assert any(s and s.startswith("Trình tự") for s in sections)
    # every fee or time the handbook puts in bold is quoted exactly as one of its records has it
    text = path.read_text(encoding="utf-8")
    channels = " ".join(portal[c]["cach_thuc_thuc_hien"] for c in source.procedure_codes)
    for fact in _QUOTED_FACT.findall(text):
        assert fact in channels, f"{fact!r} is not in the portal record's channels table"


def test_internal_note_is_for_officials_only() -> None:
    notes = [p for p in HANDBOOKS if "internal" in p.parts]
    assert notes
    for path in notes:
        source = load_one(path)
        assert source.audience == "official"
        assert "không cung cấp cho công dân" in path.read_text(encoding="utf-8").lower()


def test_corpus_pdf_ingests_with_vietnamese_text_and_its_codes() -> None:
    pdfs = sorted(CORPUS.rglob("*.pdf"))
    assert pdfs
    for path in pdfs:
        source = load_one(path)
        markdown = load_one(CORPUS / "handbooks" / (path.stem.removeprefix("cam-nang-") + ".md"))
        assert source.source_id != markdown.source_id
        assert (source.title, source.procedure_codes, source.audience, source.url) == (
            markdown.title, markdown.procedure_codes, markdown.audience, markdown.url)
        text = "\n".join(s.text for s in source.sections)
        # the handbook's headings are the PDF's sections, its wrapped lines joined back into sentences
        assert [s.section for s in source.sections] == [s.section for s in markdown.sections]
        assert all(line.endswith((".", ";", ":", ")")) for line in text.splitlines()), text
        assert source.meta["data_date"] == markdown.meta["data_date"]
        assert all(s.page for s in source.sections)


def test_corpus_pdf_is_built_from_its_handbook(tmp_path: Path) -> None:
    pytest.importorskip("fpdf", reason="building PDFs needs fpdf2 (a build-time tool)")
    spec = importlib.util.spec_from_file_location("build_pdf", CORPUS / "build_pdf.py")
    assert spec and spec.loader
    build_pdf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_pdf)
    pdfs = sorted(CORPUS.rglob("*.pdf"))
    sources = [CORPUS / "handbooks" / (p.stem.removeprefix("cam-nang-") + ".md") for p in pdfs]
    build_pdf.main([str(s) for s in sources] + ["--out", str(tmp_path)])
    for committed in pdfs:
        fresh = load_one(tmp_path / committed.name)
        assert [s.text for s in fresh.sections] == [s.text for s in load_one(committed).sections], (
            f"{committed.name} is stale: run .venv/bin/python corpus/build_pdf.py")
