"""Word .docx via python-docx: paragraphs and tables (a row per line, cells joined by " | "), in
document order. A legal text becomes one section per article (see `ingest.legal`); anything else one
section per heading (Word's Heading/Title styles), or a single section when there are none. Word
files carry no page layout, so `page` stays empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import docx
from docx.document import Document
from docx.table import Table
from docx.text.paragraph import Paragraph

from ingest import legal
from ingest.ids import source_id_for
from ingest.legal import Block
from ingest.loaders import sniff
from ingest.source import LoadError, Section, Source

_HEADING_STYLE = re.compile(r"^(?:Heading|Title)\s*(\d?)$", re.I)


def _heading_level(p: Paragraph) -> int | None:
    try:
        name = p.style.name if p.style is not None else ""
    except (KeyError, AttributeError):
        return None
    m = _HEADING_STYLE.match(name or "")
    if not m:
        return None
    return int(m.group(1)) if m.group(1) else 0  # "Title" is above "Heading 1"


def _row_text(row: object) -> str:
    cells: list[str] = []
    for cell in row.cells:  # type: ignore[attr-defined]
        text = legal.clean(cell.text)
        if text and (not cells or cells[-1] != text):  # merged cells repeat their text
            cells.append(text)
    return " | ".join(cells)


def _items(document: Document) -> Iterator[tuple[str, int | None]]:
    """(text, heading level or None) for each paragraph line and table row, in order."""
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                if text := _row_text(row):
                    yield text, None
            continue
        level = _heading_level(item)
        for line in item.text.split("\n"):
            if text := legal.clean(line):
                yield text, level


def _open(path: Path) -> Document:
    try:
        return docx.Document(str(path))
    except Exception as exc:  # python-docx raises zip, XML and package errors on broken files
        sniff.check(path, {".docx"})  # a .doc, a PDF or a plain ZIP under this name: say so
        raise LoadError(f"the Word file is damaged ({type(exc).__name__}: {exc}); "
                        "open it in Word/LibreOffice and save it again as .docx") from None


def sections_by_heading(items: list[tuple[str, int | None]], title: str | None = None) -> list[Section]:
    """Sections named by their heading path ("Hồ sơ > Giấy tờ"); the document title is left out of it.

    Shared with the HTML loader: `items` are (text, heading level or None) in document order.
    """
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            name = " > ".join(h for _, h in path if h != title) or None
            sections.append(Section(text="\n".join(buf), section=name))
            buf.clear()

    for text, level in items:
        if level is None:
            buf.append(text)
            continue
        flush()
        path = [(lv, h) for lv, h in path if lv < level] + [(level, text)]
    flush()
    return sections or [Section(text="\n".join(text for text, _ in items))]


def load(path: Path) -> list[Source]:
    document = _open(path)
    items = list(_items(document))
    if not items:
        raise LoadError("the Word file has no text")
    doc = legal.parse([Block(text) for text, _ in items])
    core_title = (document.core_properties.title or "").strip()
    heading = next((text for text, level in items if level is not None and level <= 1), None)
    if doc is not None:
        title, kind, sections, meta = doc.title, "legal", doc.sections, dict(doc.meta)
    else:
        title, kind, meta = None, "document", {}
        sections = sections_by_heading(items, heading)
    title = title or core_title or heading or items[0][0][:200]
    modified = document.core_properties.modified or document.core_properties.created
    if modified is not None:
        meta["data_date"] = modified.date().isoformat()
    return [Source(source_id=source_id_for(path), title=title, kind=kind, origin=str(path),
                   sections=sections, meta=meta)]
