"""PDF via pypdf: a legal text becomes one section per article (see `ingest.legal`), anything else
one section per page; `page` is 1-based.

Text comes from pypdf's layout mode: its plain mode splits Vietnamese words before accented
letters ("Vi ệt Nam", "áp d ụng") in Gazette PDFs, layout mode does not, and its indentation tells
a new paragraph (indented) from a wrapped line (flush left), so paragraphs are rebuilt before the
legal parser sees them. Running headers/footers ("CÔNG BÁO/Số 35 + 36/Ngày 08-01-2024 33") and
bare page numbers are dropped.

Document info keys `/ProcedureCodes` (comma-separated), `/Audience` and `/SourceURL`, when present,
fill the source's procedure codes, audience and url (our own handbook PDFs carry them).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError

from ingest import legal
from ingest.ids import source_id_for
from ingest.legal import Block
from ingest.source import AUDIENCES, LoadError, Section, Source
from assistant.text import fold

MIN_PAGE_CHARS = 20  # fewer non-blank characters on every page: no text layer
_PAGE_NUMBER = re.compile(r"^[-–—\s]*(?:Trang|Page)?\s*#(?:\s*/\s*#)?[-–—\s]*$", re.I)
_CONTINUED = re.compile(r"^\(\s*(?:Xem tiếp|Tiếp theo) Công báo.*\)$")
_BAD_TITLES = re.compile(r"^(?:untitled|microsoft word\b|document\d*$|\s*$)", re.I)


@contextmanager
def _quiet() -> Iterator[None]:
    """pypdf logs a warning for every odd byte of a real-world PDF; keep them out of the user's terminal."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR + 10)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _open(path: Path) -> PdfReader:
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except (DependencyError, LoadError):
                raise
            except Exception as exc:
                raise LoadError(f"the PDF is encrypted with a method that cannot be read here ({exc}); "
                                "save an unprotected copy and ingest that") from None
            if opened == PasswordType.NOT_DECRYPTED:
                raise LoadError(
                    "the PDF is password-protected: open it with its password and save an unprotected copy "
                    f"(e.g. `qpdf --password=PASSWORD --decrypt {path.name} unlocked.pdf`), then ingest that"
                )
        if len(reader.pages) == 0:
            raise LoadError("the PDF has no pages")
        return reader
    except LoadError:
        raise
    except DependencyError:
        raise LoadError("the PDF is encrypted with AES; reading it needs the 'cryptography' package "
                        "(pip install cryptography), or save an unprotected copy") from None
    except Exception as exc:  # pypdf raises many types on broken files
        raise LoadError(f"the PDF is damaged or truncated ({type(exc).__name__}: {exc}); "
                        "download or export it again") from None


def _page_text(page: object) -> tuple[str, bool]:
    """(text, layout): layout mode when it works, else plain mode."""
    try:
        return page.extract_text(extraction_mode="layout"), True  # type: ignore[attr-defined]
    except Exception:
        pass
    try:
        return page.extract_text(), False  # type: ignore[attr-defined]
    except Exception:
        return "", False


def _key(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.split()))


def _drop_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Remove page numbers and headers/footers repeated (digits aside) on many pages."""
    def edges(lines: list[str]) -> list[int]:
        filled = [k for k, line in enumerate(lines) if line.strip()]
        return filled[:2] + filled[-2:]

    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({re.sub(r"^#\s+|\s+#$", "", _key(lines[k])) for k in edges(lines)})
    threshold = max(2, 0.4 * len(pages)) if len(pages) >= 3 else float("inf")
    out = []
    for lines in pages:
        drop = set()
        for k in edges(lines):
            key = _key(lines[k])
            if _PAGE_NUMBER.match(key) or _CONTINUED.match(key) or counts[re.sub(r"^#\s+|\s+#$", "", key)] >= threshold:
                drop.add(k)
        out.append([line for k, line in enumerate(lines) if k not in drop])
    return out


def _blocks(pages: list[list[str]], layout: list[bool]) -> list[Block]:
    """Paragraphs: in layout text an indented line starts one, a flush-left line continues the last."""
    blocks: list[Block] = []
    for number, (lines, reflow) in enumerate(zip(pages, layout), 1):
        fresh = True
        for line in lines:
            if not line.strip():
                fresh = True
                continue
            continues = reflow and blocks and not line[:1].isspace() and (not fresh or blocks[-1].page != number)
            if continues:
                blocks[-1].text += " " + line.strip()
            else:
                blocks.append(Block(line.strip(), number))
            fresh = False
    for b in blocks:
        b.text = legal.clean(b.text)
    return blocks


_BULLET = re.compile(r"^(?:[•●▪◦‣∙·\-–+*]|\d{1,2}[.)])\s+")
_HEADING_CHARS = 80
_ENDS_SENTENCE = re.compile(r"[.,;:!?…)]$")


def _item(line: str) -> str:
    """A list line with its bullet written as "- " (numbered items keep their numbers)."""
    m = _BULLET.match(line)
    return line if m is None or m.group(0)[0].isdigit() else "- " + line[m.end():]


def reflowed(pages: list[list[str]], title: str = "") -> list[Section]:
    """A PDF that is not a legal text as sections under its headings, its hard line breaks joined back
    into sentences: a blank line or a bullet starts a new line of the section, a wrapped line continues
    it (also across a page break when the next page goes on in lower case). A heading is a short line
    standing alone that does not end a sentence; one repeating the title is the title. Without
    headings, one section per page."""
    paragraphs: list[tuple[int, list[str]]] = []  # (page, lines of one paragraph)
    for number, page in enumerate(pages, 1):
        fresh = True
        for raw in page:
            line = " ".join(legal.clean(raw).split())
            if not line:
                fresh = True
                continue
            joins = paragraphs and (not fresh or (paragraphs[-1][0] < number and line[0].islower()
                                                    and fresh and not paragraphs[-1][1][-1].endswith(".")))
            if joins and not _BULLET.match(line):
                paragraphs[-1][1][-1] += " " + line
            elif joins:
                paragraphs[-1][1].append(_item(line))
            else:
                paragraphs.append((number, [_item(line)]))
            fresh = False
        fresh = True
    sections: list[Section] = []
    heading: str | None = None
    body: list[str] = []
    start = 1
    headings = 0

    def flush() -> None:
        if body:
            sections.append(Section(text="\n".join(body), section=heading, page=start))

    for number, para in paragraphs:
        text = para[0]
        if len(para) == 1 and len(text) <= _HEADING_CHARS and not _ENDS_SENTENCE.search(text) \
                and not _BULLET.match(text) and not text.isdigit():
            if not sections and not body and title and fold(text) in fold(title):
                continue  # the title printed on the first page
            flush()
            heading, body, start, headings = text, [], number, headings + 1
            continue
        if not body:
            start = number
        body.extend(para)
    flush()
    if headings:
        return sections
    return [Section(text="\n".join(line for n, para in paragraphs if n == page for line in para), page=page)
            for page in sorted({n for n, _ in paragraphs})]


def _pdf_date(value: str) -> str | None:
    """'D:20260101000000Z' -> '2026-01-01'."""
    m = re.match(r"D:(\d{4})(\d{2})(\d{2})", value)
    return f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else None


def _info(reader: PdfReader) -> dict[str, str]:
    try:
        return {str(k): str(v) for k, v in (reader.metadata or {}).items()}
    except Exception:
        return {}


def load(path: Path) -> list[Source]:
    with _quiet():
        reader = _open(path)
        texts = [_page_text(page) for page in reader.pages]
        info = _info(reader)
    if not any(len("".join(t.split())) >= MIN_PAGE_CHARS for t, _ in texts):
        raise LoadError(
            f"the PDF has no text layer ({len(texts)} pages, no extractable text): it is probably a scan and needs OCR "
            f"before ingesting (e.g. `ocrmypdf -l vie {path.name} {path.stem}-ocr.pdf`)"
        )
    pages = _drop_running_lines([t.splitlines() for t, _ in texts])
    lines = [Block(text, n) for n, page in enumerate(pages, 1) for line in page if (text := legal.clean(line))]
    # Paragraphs rebuilt from indentation suit Gazette typography; a PDF laid out otherwise may still
    # parse as a legal text line by line. Anything else keeps its lines, one section per page.
    doc = legal.parse(_blocks(pages, [lay for _, lay in texts])) or legal.parse(lines)
    audience = info.get("/Audience")
    if audience is not None and audience not in AUDIENCES:
        raise LoadError(f"PDF info /Audience must be one of {AUDIENCES}, not {audience!r}")
    codes = [c.strip() for c in info.get("/ProcedureCodes", "").split(",") if c.strip()]
    pdf_title = info.get("/Title", "").strip()
    if doc is not None:
        title, kind, sections, meta = doc.title, "legal", doc.sections, dict(doc.meta)
    else:
        kind, meta, title = "document", {}, None
        sections = reflowed(pages, pdf_title)
    if not title:
        title = pdf_title if not _BAD_TITLES.match(pdf_title) else (lines[0].text[:200] if lines else path.stem)
    meta["pages"] = str(len(texts))
    dated = info.get("/DataDate") or _pdf_date(info.get("/ModDate") or info.get("/CreationDate") or "")
    if dated:
        meta["data_date"] = dated
    return [Source(source_id=source_id_for(path), title=title, kind=kind, origin=str(path), sections=sections,
                   audience=audience, procedure_codes=codes, url=info.get("/SourceURL") or None, meta=meta)]
