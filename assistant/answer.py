"""Composing answers without a generative model: answer, clarify or refuse, with citations.

Every factual line ends with `[n]`, and citation n quotes the source text the line comes from.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from assistant.facts import Block, blocks_for, clip, template
from assistant.gloss import gloss
from assistant.lexicon import case_words
from assistant.manifest import Chunk, SourceRecord
from assistant.query import Query, facet_of_heading
from assistant.ranker import Candidate
from assistant.retrieve import Lookup
from assistant.text import fold

MAX_PROCEDURES = 3
LIST_ITEMS = 8  # a document's list longer than this shows its first items and says how many more
_WORDS = re.compile(r"\w+")
_LIST_ENTRY = re.compile(r"^(?:[-•*+]|\d{1,2}[.)])\s")

_INJECTION = re.compile(
    r"(bo qua|quen|phot lo) (het |moi |tat ca )?(cac )?(huong dan|lenh|chi dan)|prompt|system prompt|"
    r"huong dan he thong|(quen|bo|doi) vai tro|ignore (all |the )?(previous|above)|you are now|tu gio ban la"
)
_SMALLTALK = {
    "smalltalk_hello": re.compile(r"^(xin )?(chao|hello|hi|hey|alo|good (morning|afternoon|evening))\b[\w\s!,.]{0,20}$"),
    "smalltalk_thanks": re.compile(r"^(cam on|thanks?( you)?|thank u|ok cam on|tks|thanks a lot)\b[\w\s!,.]{0,20}$"),
    "smalltalk_who": re.compile(r"^(ban|em|you) (la ai|lam duoc gi|giup duoc gi|are you|can you do)\b.{0,20}$|^who are you"),
}


@dataclass
class Composed:
    answer: str
    behavior: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    options: list[dict[str, str]] = field(default_factory=list)
    procedure_codes: list[str] = field(default_factory=list)  # what the conversation is now about
    data_date: str | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)  # full text of each citation, for an LLM
    reason: str = ""


def special(message: str, lang: str) -> Composed | None:
    """Small talk and attempts to change the assistant's role, read from the message as typed."""
    t = template(lang)
    text = fold(message).strip(" ?!.")
    if _INJECTION.search(text):
        return Composed(t["refuse_injection"], "refuse", reason="the message tries to change the assistant's instructions")
    for key, rx in _SMALLTALK.items():
        if rx.search(text):
            return Composed(t[key], "answer", reason="small talk")
    return None


class Composer:
    def __init__(self, lookup: Callable[[], Lookup], offices: dict[str, dict] | None = None) -> None:
        self.lookup = lookup  # the procedures of the index as it is now
        self.offices = offices or {}

    def refuse(self, q: Query, reason: str) -> Composed:
        return Composed(template(q.lang)["refuse"], "refuse", reason=reason)

    def clarify(self, q: Query, candidates: list[Candidate], reason: str) -> Composed:
        titles = [c.title for c in candidates[:4]]
        options = [{"label": f"{c.title} ({c.key})" if titles.count(c.title) > 1 else c.title, "source_id": c.key}
                   for c in candidates[:4]]
        lines = [template(q.lang)["clarify"]] + [f"{i}. {o['label']}" for i, o in enumerate(options, 1)]
        return Composed("\n".join(lines), "clarify", options=options, reason=reason)

    def answer(self, q: Query, candidates: list[Candidate], today: date, facets: list[str] | None = None,
               each: list[list[str]] | None = None) -> Composed:
        """Answer about `candidates` (1 to 3 procedures or documents), the first being the main one;
        `each` gives what is asked about each candidate when the question asks different things."""
        t = template(q.lang)
        facets = facets if facets is not None else q.facets
        out = Composed("", "answer", procedure_codes=[c.key for c in candidates])
        parts: list[str] = []
        chosen = candidates[:MAX_PROCEDURES]
        for i, cand in enumerate(chosen):
            parts.append(self._one(cand, each[i] if each else facets, today, q, out, len(chosen)))
        out.answer = "\n\n".join(p for p in parts if p)
        own = [c["data_date"] for c in out.sources if c.get("data_date") and not c.get("ingested")]
        ingested = [c["data_date"] for c in out.sources if c.get("data_date") and c.get("ingested")]
        out.data_date = max(own or ingested) if own or ingested else None
        if out.data_date:
            key = "data_date" if own else "data_ingested"
            out.answer += "\n" + t[key].format(date=_dmy(out.data_date))
        return out

    # --- one procedure or document ------------------------------------------------------------------
    def _one(self, cand: Candidate, facets: list[str], today: date, q: Query, out: Composed, crowd: int = 1) -> str:
        lang = q.lang
        t = template(lang)
        lookup = self.lookup()
        record = lookup.source(cand.key) if cand.procedure else None
        handbooks = [h for h in cand.hits if h.source.kind != "procedure"]
        if record is None:
            return self._extractive(cand, facets, q, out)
        local = self._local_place(cand, handbooks, "place" in (facets or ["place"]), lang, out)
        lines = [f"**{clip(cand.title, 140)}** ({cand.key})"]
        chunks = lookup.section_chunks(record.source_id)
        situation = case_words(q.expanded)
        asked = tuple(_WORDS.findall(f"{q.folded} {situation}"))
        if situation and facets and "documents" not in facets and set(facets) <= {"conditions", "steps"}:
            facets = ["documents", *facets]  # "nhà thuê thì … được không?": which papers that case needs
        for block in blocks_for(cand.procedure or {}, facets, today, lang, self.offices, local, asked, crowd, q.full):
            chunk = _chunk_for(block, chunks)
            n = self._cite(out, record, chunk, block, cand.key) if chunk else None
            mark = f" [{n}]" if n else ""
            english = gloss(block.facet, "\n".join(block.lines)) if lang == "en" else ""
            if len(block.lines) == 1 and not english:
                lines.append(f"{block.heading}: {block.lines[0]}{mark}")
            else:
                lines.append(f"{block.heading}{mark}:" + (f" ({english})" if english else ""))
                lines.extend(block.lines)
        if _web(record.url):
            lines.append(t["official_link"].format(url=record.url))
        return "\n".join(lines)

    def _local_place(self, cand: Candidate, handbooks: list, wanted: bool, lang: str, out: Composed) -> str | None:
        """A document that declares this procedure and says where to submit outranks the national record."""
        if not wanted:
            return None
        for hit in handbooks:
            chunk = hit.chunk
            if _facet(chunk) == "place":
                n = self._cite(out, hit.source, chunk, None, cand.key)
                return f"{complete(chunk.text, chunk.section)[0]} [{n}]"
        return None

    def _extractive(self, cand: Candidate, facets: list[str], q: Query, out: Composed) -> str:
        """A document without a parsed record: the sections about the facets asked, whole, from the
        document the best passage is in (else that passage: the overview when nothing specific was
        asked). English questions get each section's gist in English, the Vietnamese quoted."""
        t = template(q.lang)
        hits = sorted(cand.hits, key=lambda h: -h.score)
        if not hits:
            return f"**{cand.title}**"
        source = hits[0].source
        chunks = self.lookup().section_chunks(source.source_id) or [h.chunk for h in hits if h.source is source]
        picked = [c for f in facets for c in chunks if _facet(c) == f] if facets else []
        picked = picked or [hits[0].chunk]
        lines = [f"**{cand.title}**" + (f" ({cand.code})" if cand.code else "")]
        shown: set[str | None] = set()
        for chunk in picked:
            n = self._cite(out, source, chunk, None, cand.code)
            body, more = complete(chunk.text, chunk.section, None if q.full else LIST_ITEMS)
            facet = _facet(chunk)
            heading = chunk.section.split(" > ")[-1] if chunk.section else None
            if q.lang == "en":
                heading = t[facet] if facet in t else heading
                english = gloss(facet, chunk.text)
                lines.append((f"{heading} " if heading else "") + f"[{n}]: " + (english or "") +
                             (" — " if english else "") + t["quoted_vi"])
            elif heading not in shown and heading:
                lines.append(f"{heading}:")
            shown.add(heading)
            lines.append(body if q.lang == "en" else f"{body} [{n}]")
            if more:
                lines.append(t["more_items"].format(n=more))
        if _web(source.url):
            lines.append(t["official_link"].format(url=source.url))
        return "\n".join(lines)

    def _cite(self, out: Composed, src: SourceRecord, chunk: Chunk, block: Block | None, code: str | None) -> int:
        for c in out.citations:
            if c["source_id"] == src.source_id and c["section"] == chunk.section and c["procedure_code"] == code:
                return int(c["n"])
        n = len(out.citations) + 1
        quote = _quote(chunk.text, block.needles if block else [])
        out.citations.append({
            "n": n, "source_id": src.source_id,
            "procedure_code": code if src.kind == "procedure" or code in src.procedure_codes else None,
            "title": src.title, "section": chunk.section, "url": src.url if _web(src.url) else None,
            "page": chunk.page, "quote": quote,
        })
        own = src.meta.get("data_date")
        out.sources.append({"n": n, "title": src.title, "section": chunk.section, "text": chunk.text,
                            "data_date": own or (src.updated_at or "")[:10] or None, "ingested": not own})
        return n


def _web(url: str | None) -> bool:
    """Only http(s) links are shown or cited (a front matter could say `javascript:`)."""
    return bool(url) and url.lower().startswith(("https://", "http://"))


def complete(text: str, skip: str | None = None, items: int | None = None) -> tuple[str, int]:
    """A passage whole, its line breaks kept (lists stay lists), a first line that repeats the section
    heading left out; with `items`, a list longer than that shows its first `items` entries. Returns
    the text and how many list entries were left out (nothing is cut inside a line)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if skip and len(lines) > 1 and skip.split(" > ")[-1].startswith(lines[0]):
        lines = lines[1:]
    entries = [i for i, ln in enumerate(lines) if _LIST_ENTRY.match(ln)]
    if items is None or len(entries) <= items:
        return "\n".join(lines), 0
    kept = lines[:entries[items]] + lines[entries[-1] + 1:]  # the first entries, then what follows the list
    return "\n".join(kept), len(entries) - items


def _facet(chunk: Chunk) -> str | None:
    return chunk.facet or facet_of_heading(chunk.section or "")


def _chunk_for(block: Block, chunks: list[Chunk]) -> Chunk | None:
    """The section a block comes from: by facet, else the one holding its text (a place read from
    the steps), else for a place the channels table."""
    for c in chunks:
        if c.facet == block.facet or block.facet in (c.meta.get("facets") or []):
            return c
    for c in chunks:
        if any(n and n in " ".join(c.text.split()) for n in block.needles[:1]):
            return c
    if block.facet == "place":
        return next((c for c in chunks if c.facet == "time"), None)
    return None


def _quote(text: str, needles: list[str]) -> str:
    """The source lines that hold what the answer says, verbatim, at most ~300 characters; lines
    that are not next to each other in the source are joined with " … "."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    body = lines[1:] if len(lines) > 2 else lines  # the first line of a portal section repeats the title
    picked = [i for i, ln in enumerate(body) if any(n and n in ln for n in needles)] or list(range(min(2, len(body))))
    out = ""
    for k, i in enumerate(picked):
        sep = "" if k == 0 else (" " if i == picked[k - 1] + 1 else " … ")
        if len(out) + len(sep) + len(body[i]) > 300:
            if not out:
                out = _window(body[i], needles)
            break
        out += sep + body[i]
    return out


def _window(line: str, needles: list[str], size: int = 300) -> str:
    """About `size` characters of a long source line, around the first needle it holds, cut at
    spaces and elided with "…" where it does not start or end the line."""
    at = min((line.find(n) for n in needles if n and n in line), default=0)
    start = 0 if at < size // 3 else line.rfind(" ", 0, at - size // 3) + 1
    end = start + size
    piece = line[start:end] if end >= len(line) else line[start:end].rsplit(" ", 1)[0]
    return ("… " if start else "") + piece + (" …" if start + len(piece) < len(line) else "")


def _dmy(iso: str) -> str:
    try:
        return date.fromisoformat(iso[:10]).strftime("%d/%m/%Y")
    except ValueError:
        return iso
