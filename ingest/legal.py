"""Structure of Vietnamese legal texts, shared by the PDF, DOCX and HTML loaders.

A legal text (Luật, Nghị định, Thông tư, …) is cut into articles ("Điều 23. Trình tự, thủ tục …"),
each a `Section` that knows its enclosing Phần/Chương/Mục; an article longer than `ARTICLE_LIMIT`
characters is cut further at its clauses ("1.", "2." at the start of a paragraph), every piece
keeping the article heading, so each chunk carries the article and (through the source) the document.
The document's type, name, number and dates are read from its first page and closing formula.

Input is a list of `Block`s: paragraphs (DOCX, HTML, reflowed PDF) or lines (plain text). A heading
is only recognised at the start of a block, and article numbers must run forward, so a reference such
as "theo quy định tại Điều 23 của Luật này" that a line wrap put at a line start cannot open an article.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from ingest.source import Section

ARTICLE_LIMIT = 1800  # characters; longer articles are split at their clauses
MAX_ARTICLE_JUMP = 5  # tolerate a few articles lost by extraction, not a jump to a cross-reference

# Longest first, so "Thông tư liên tịch" wins over "Thông tư" and "Bộ luật" over "Luật".
DOC_TYPES = (
    "Thông tư liên tịch", "Nghị quyết liên tịch", "Bộ luật", "Hiến pháp", "Pháp lệnh", "Nghị quyết",
    "Nghị định", "Thông tư", "Quyết định", "Chỉ thị", "Luật", "Lệnh",
)
_NAMED_TYPES = {"Luật", "Bộ luật", "Pháp lệnh", "Hiến pháp"}  # their names are capitalised: "Luật Căn cước"
_TYPE_BY_NUMBER = (("NĐ-CP", "Nghị định"), ("TTLT", "Thông tư liên tịch"), ("TT-", "Thông tư"),
                   ("QĐ-", "Quyết định"), ("NQ-", "Nghị quyết"), ("CT-", "Chỉ thị"), ("QH", "Luật"))

_ARTICLE = re.compile(r"^(?:Điều|ĐIỀU)\s+(\d+)([a-zđ]?)\s*\.\s*(.*)$", re.S)
_STRUCT = {
    "part": re.compile(r"^(?:Phần|PHẦN)\s+(thứ\s+\S+|THỨ\s+\S+|[IVXLC]+|\d+)\s*[.:–-]?\s*(.*)$", re.S),
    "chapter": re.compile(r"^(?:Chương|CHƯƠNG)\s+([IVXLC]+|\d+)\s*[.:–-]?\s*(.*)$", re.S),
    "chapter_section": re.compile(r"^(?:Mục|MỤC)\s+(\d+|[IVXLC]+)\s*[.:–-]?\s*(.*)$", re.S),
}
_LEVELS = ("part", "chapter", "chapter_section")
_CLAUSE = re.compile(r"^(\d+)\.\s+\S")
_CLOSING = re.compile(
    r"^(?:Nơi nhận\s*:|(?:Luật|Bộ luật|Pháp lệnh|Nghị quyết|Hiến pháp) này (?:đã )?được .{0,200}?thông qua)", re.S
)
_NUMBER = re.compile(r"\b[Ss]ố\s*:\s*(\d+[a-zA-Z]?/(?:\d{4}/)?[A-ZĐ][A-ZĐ0-9]*(?:-[A-ZĐ0-9]+)*)")
_NUMBER_LOOSE = re.compile(r"\b[Ss]ố\s+(\d+/\d{4}/[A-ZĐ][A-ZĐ0-9]*(?:-[A-ZĐ0-9]+)*)")
_DATE = r"ngày\s+(\d{1,2})\s*tháng\s+(\d{1,2})\s*năm\s+(\d{4})"
_ISSUED = re.compile(r"thông qua\s+" + _DATE)
_PLACE_DATE = re.compile(r"(?:^|\| )[A-ZĐ][^\s,|]*(?:\s+[^\s,|]+){0,4},\s*" + _DATE, re.M)
_EFFECTIVE = re.compile(
    r"(?:Luật|Bộ luật|Pháp lệnh|Nghị định|Nghị quyết|Thông tư|Quyết định|Chỉ thị|Văn bản) này có hiệu lực"
    r"(?:\s+thi hành)?\s+(?:kể\s+)?từ\s+" + _DATE
)
_FROM_SIGNING = re.compile(r"này có hiệu lực(?:\s+thi hành)?\s+(?:kể\s+)?từ\s+ngày\s+ký")
_NAME_STOP = re.compile(r"^(?:Căn cứ|Theo đề nghị|Trong (?:Luật|Nghị định|Thông tư)|Điều\s+\d|Chương\s)", re.I)


@dataclass
class Block:
    """A paragraph (or line) of text and the 1-based page it starts on, where known."""

    text: str
    page: int | None = None


@dataclass
class LegalDocument:
    title: str | None  # "Luật Căn cước số 26/2023/QH15"
    meta: dict[str, str]  # doc_type, doc_number, doc_name, issued, effective (ISO dates), when found
    sections: list[Section]


def clean(text: str) -> str:
    """NFC, one space between words: PDF justification and DOCX tabs leave runs of spaces."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


def is_upper(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


def _iso(m: re.Match[str] | None) -> str | None:
    if not m:
        return None
    try:
        return date(int(m.group(3)), int(m.group(2)), int(m.group(1))).isoformat()
    except ValueError:
        return None


def _structure(text: str) -> tuple[str, str, str] | None:
    """("chapter", "II", rest) for a Phần/Chương/Mục heading; rest must be empty or upper case."""
    for level, rx in _STRUCT.items():
        m = rx.match(text)
        if m and (not m.group(2) or is_upper(m.group(2))) and len(text) < 300:
            return level, m.group(1), m.group(2)
    return None


def _label(level: str, number: str) -> str:
    word = {"part": "Phần", "chapter": "Chương", "chapter_section": "Mục"}[level]
    return f"{word} {number.lower() if number.lower().startswith('thứ') else number}"


def _proper_name(doc_type: str, name: str, flat: str) -> str:
    """The name as the text itself writes it ("ban hành Luật Căn cước"), else in sentence case."""
    if is_upper(name):
        cased = (m.group(0)[len(doc_type) + 1:] for m in re.finditer(re.escape(f"{doc_type} {name}"), flat, re.I))
        found = next((c for c in cased if not is_upper(c)), None)
        if found:
            name = found
        else:
            name = name[:1] + name[1:].lower()
            name = re.sub(r"\bviệt nam\b", "Việt Nam", name)
    if doc_type in _NAMED_TYPES:
        return name[:1].upper() + name[1:]
    return name[:1].lower() + name[1:] if not is_upper(name[:2]) else name


def document_info(blocks: list[Block], head_end: int) -> tuple[str | None, dict[str, str]]:
    """Type, name, number, issue and effective dates, from the head (blocks before `head_end`)."""
    head = blocks[:head_end][:60]
    head_text = "\n".join(b.text for b in head)
    flat = " ".join(b.text for b in blocks)
    meta: dict[str, str] = {}
    m = _NUMBER.search(head_text) or _NUMBER_LOOSE.search("\n".join(b.text for b in head[:8]))
    if m:
        meta["doc_number"] = m.group(1)
    doc_type, name_parts = None, []
    for i, b in enumerate(head):
        t = next((t for t in DOC_TYPES if b.text.upper() == t.upper() or b.text.upper().startswith(t.upper() + " ")), None)
        if t and is_upper(b.text[: len(t)]):
            doc_type = t
            rest = b.text[len(t):].strip()
            name_parts = [rest] if rest else []
            for nb in head[i + 1: i + 4]:
                if _NAME_STOP.match(nb.text) or _PLACE_DATE.match(nb.text) or len(nb.text) > 250:
                    break
                if name_parts and is_upper(" ".join(name_parts)) != is_upper(nb.text):
                    break
                name_parts.append(nb.text)
            break
    if doc_type is None and "doc_number" in meta:
        doc_type = next((t for key, t in _TYPE_BY_NUMBER if key in meta["doc_number"]), None)
    if doc_type:
        meta["doc_type"] = doc_type
    name = _proper_name(doc_type, " ".join(name_parts), flat) if doc_type and name_parts else ""
    if name:
        meta["doc_name"] = f"{doc_type} {name}"
    issued = _iso(_ISSUED.search(flat))
    if not issued:
        issued = _iso(next((m for b in head if not b.text.startswith("Căn cứ") and (m := _PLACE_DATE.search(b.text))), None))
    if issued:
        meta["issued"] = issued
    effective = _iso(_EFFECTIVE.search(flat)) or (issued if _FROM_SIGNING.search(flat) else None)
    if effective:
        meta["effective"] = effective
    title = meta.get("doc_name") or doc_type
    if title and "doc_number" in meta:
        title = f"{title} số {meta['doc_number']}"
    return title, meta


@dataclass
class _Article:
    number: str
    title: str
    blocks: list[Block]
    context: dict[str, str]


def _article_sections(a: _Article) -> list[Section]:
    title = a.title if len(a.title) <= 160 else a.title[:120].rsplit(" ", 1)[0] + "…"
    heading = f"Điều {a.number}. {title}".rstrip(". ") if title else f"Điều {a.number}"
    meta = {"article": a.number, **({"article_title": title} if title else {}), **a.context}
    text = "\n".join(b.text for b in a.blocks)
    body = a.blocks[1:]
    starts, expected = [], 1
    for k, b in enumerate(body):
        m = _CLAUSE.match(b.text)
        if m and int(m.group(1)) == expected:
            starts.append(k)
            expected += 1
    if len(text) <= ARTICLE_LIMIT or len(starts) < 2:
        return [Section(text=text, section=heading, page=a.blocks[0].page, meta=meta)]
    head_line = a.blocks[0].text
    clauses = [body[s:e] for s, e in zip(starts, starts[1:] + [len(body)])]
    groups: list[tuple[list[Block], list[str]]] = [(a.blocks[:1] + body[: starts[0]], [])]
    for number, clause in enumerate(clauses, 1):
        size = sum(len(b.text) + 1 for b in groups[-1][0] + clause) + (len(head_line) + 1) * (len(groups) > 1)
        if groups[-1][1] and size > ARTICLE_LIMIT:
            groups.append(([], []))
        groups[-1][0].extend(clause)
        groups[-1][1].append(str(number))
    sections = []
    for first, (blocks, numbers) in enumerate(groups):
        label = numbers[0] if len(numbers) == 1 else f"{numbers[0]}–{numbers[-1]}"
        lines = [b.text for b in blocks] if first == 0 else [head_line] + [b.text for b in blocks]
        sections.append(Section(text="\n".join(lines), section=f"{heading} — khoản {label}",
                                page=blocks[0].page if first else a.blocks[0].page,
                                meta={**meta, "clause": label.replace("–", "-")}))
    return sections


def _opens_article(number: tuple[int, str], last: tuple[int, str], previous: str, started: bool) -> bool:
    """The next number opens an article; a jump, an inserted article ("Điều 10a" after "Điều 10") or a
    restart at 1 (an annexed regulation) only after a finished sentence or a heading, since a wrapped
    reference ("… quy định tại" / "Điều 7. …") follows neither."""
    if not started or number == (last[0] + 1, ""):
        return True
    inserted = number[0] == last[0] and number[1] > last[1]
    if not (inserted or last[0] < number[0] <= last[0] + MAX_ARTICLE_JUMP or number[0] == 1):
        return False
    return previous.rstrip().endswith((".", ";", ":", "!", "?", "”", '"', ")")) or is_upper(previous)


def parse(raw_blocks: list[Block]) -> LegalDocument | None:
    """Articles of a legal text, or None when fewer than two articles are found (not a legal text)."""
    blocks = [Block(t, b.page) for b in raw_blocks if (t := clean(b.text))]
    context: dict[str, str] = {}
    preamble: list[Block] = []
    articles: list[_Article] = []
    last, head_end = (0, ""), 0
    i = 0
    while i < len(blocks):
        b = blocks[i]
        m = _ARTICLE.match(b.text)
        number = (int(m.group(1)), m.group(2)) if m else (0, "")
        if m and _opens_article(number, last, blocks[i - 1].text if i else "", bool(articles)):
            last = number
            head_end = head_end or i
            articles.append(_Article(m.group(1) + m.group(2), m.group(3).strip(), [b], dict(context)))
            i += 1
            continue
        struct = _structure(b.text)
        if struct:
            level, number, rest = struct
            parts = [rest] if rest else []
            j = i + 1
            while j < len(blocks) and len(parts) < 4 and is_upper(blocks[j].text) and not _structure(blocks[j].text) \
                    and not _ARTICLE.match(blocks[j].text):
                parts.append(blocks[j].text)
                j += 1
            for lower in _LEVELS[_LEVELS.index(level):]:
                context.pop(lower, None)
            context[level] = _label(level, number) + (f". {' '.join(parts)}" if parts else "")
            i = j
            continue
        (articles[-1].blocks if articles else preamble).append(b)
        i += 1
    if len(articles) < 2:
        return None
    title, meta = document_info(blocks, head_end)
    closing: list[Block] = []
    tail = articles[-1].blocks
    cut = next((k for k in range(1, len(tail)) if _CLOSING.match(tail[k].text)), None)
    if cut is not None:
        closing, articles[-1].blocks = tail[cut:], tail[:cut]
    sections: list[Section] = []
    if preamble:
        sections.append(Section(text="\n".join(b.text for b in preamble), section="Phần mở đầu",
                                page=preamble[0].page))
    for a in articles:
        sections.extend(_article_sections(a))
    if closing:
        sections.append(Section(text="\n".join(b.text for b in closing), section="Phần kết", page=closing[0].page))
    return LegalDocument(title=title, meta=meta, sections=sections)
