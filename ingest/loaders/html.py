"""HTML pages via BeautifulSoup (the standard library's parser, no lxml needed).

Scripts, styles, navigation and other non-content elements are dropped; the page's `<main>` (or
`<article>`) is read when it has one. Headings start sections named by their heading path; a legal
text (a Gazette or vbpl.vn page) becomes one section per article (see `ingest.legal`). The title comes
from `<title>`, else the first `<h1>`; the url from `<link rel="canonical">` or `og:url`.
"""

from __future__ import annotations

from pathlib import Path

from bs4 import BeautifulSoup, Comment, Doctype, NavigableString, ProcessingInstruction, Tag

from ingest import legal
from ingest.ids import source_id_for
from ingest.legal import Block
from ingest.loaders.docx import sections_by_heading
from ingest.source import LoadError, Source

_DROP = ("script", "style", "nav", "noscript", "template", "svg", "iframe", "object", "button", "select")
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCKS = {
    "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "li", "main", "ol", "p",
    "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "ul",
}

Items = list[tuple[str, int | None]]


def _row(tr: Tag) -> str:
    cells: list[str] = []
    for cell in tr.find_all(["td", "th"], recursive=False):
        text = legal.clean(cell.get_text(" "))
        if text and (not cells or cells[-1] != text):
            cells.append(text)
    return " | ".join(cells)


def _walk(node: Tag, out: Items, buf: list[str]) -> None:
    def flush() -> None:
        text = legal.clean("".join(buf))
        buf.clear()
        if text:
            out.append((text, None))

    for child in node.children:
        if isinstance(child, (Comment, Doctype, ProcessingInstruction)):
            continue
        if isinstance(child, NavigableString):
            buf.append(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if name in _HEADINGS:
            flush()
            if text := legal.clean(child.get_text(" ")):
                out.append((text, _HEADINGS[name]))
        elif name == "tr":
            flush()
            if text := _row(child):
                out.append((text, None))
        elif name == "pre":
            flush()
            out.extend((t, None) for line in child.get_text().splitlines() if (t := legal.clean(line)))
        elif name == "br":
            flush()
        elif name in _BLOCKS:
            flush()
            _walk(child, out, buf)
            flush()
        else:
            _walk(child, out, buf)
    if node.name in _BLOCKS:
        flush()


def load(path: Path) -> list[Source]:
    soup = BeautifulSoup(path.read_bytes(), "html.parser")
    page_title = legal.clean(soup.title.get_text(" ")) if soup.title else ""
    link = soup.find("link", rel="canonical")
    og = soup.find("meta", attrs={"property": "og:url"})
    url = (link.get("href") if isinstance(link, Tag) else None) or (og.get("content") if isinstance(og, Tag) else None)
    for tag in soup.find_all(list(_DROP)):
        tag.decompose()
    if soup.head:
        soup.head.decompose()
    mains = soup.find_all("main") or soup.find_all("article")
    root = mains[0] if len(mains) == 1 else (soup.body or soup)
    items: Items = []
    buf: list[str] = []
    _walk(root, items, buf)
    if text := legal.clean("".join(buf)):
        items.append((text, None))
    if not items:
        raise LoadError("the HTML page has no text (after dropping scripts, styles and navigation)")
    h1 = next((text for text, level in items if level == 1), None)
    doc = legal.parse([Block(text) for text, _ in items])
    if doc is not None:
        title, kind, sections, meta = doc.title, "legal", doc.sections, dict(doc.meta)
    else:
        title, kind, sections, meta = None, "document", sections_by_heading(items, h1), {}
    title = title or page_title or h1 or items[0][0][:200]
    return [Source(source_id=source_id_for(path), title=title, kind=kind, origin=str(path),
                   sections=sections, url=str(url) if url else None, meta=meta)]
