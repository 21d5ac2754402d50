"""Sections to chunks. Portal records embed only their overview passage (the rest is lexical);
files embed every chunk; example questions are one chunk each. Long sections are split on paragraph and sentence boundaries.
"""

from __future__ import annotations

from langchain_text_splitters import RecursiveCharacterTextSplitter

from assistant.manifest import Chunk
from assistant.query import facet_of_heading
from ingest.source import Source

MAX_CHARS = 2000
_splitter = RecursiveCharacterTextSplitter(
    chunk_size=MAX_CHARS, chunk_overlap=120, separators=["\n\n", "\n", ". ", "; ", ", ", " ", ""]
)


def chunk_source(source: Source) -> list[Chunk]:
    if source.kind == "examples":
        return example_chunks(source)
    chunks: list[Chunk] = []
    for section in source.sections:
        text = section.text.strip()
        if not text:
            continue
        if source.kind == "procedure":
            pieces, embedded = [text], bool(section.meta.get("embed"))
        else:
            pieces, embedded = (_splitter.split_text(text) if len(text) > MAX_CHARS else [text]), True
        for piece in pieces:
            meta = dict(section.meta)
            meta.pop("embed", None)
            if embedded:
                meta["embed_text"] = " | ".join(filter(None, [source.title, section.section, piece]))
            chunks.append(Chunk(id="", source_id=source.source_id, text=piece, section=section.section,
                                page=section.page, facet=section.facet or facet_of_heading(section.section or ""),
                                embedded=embedded, meta=meta))
    return chunks


def example_chunks(source: Source) -> list[Chunk]:
    """One chunk per example question, embedded as a query (e5's `query:` side, like the questions it
    is matched with) from its topic (`query.topic`: the question without facet and chat words)."""
    out = []
    for section in source.sections:
        meta = dict(section.meta, embed_text=section.meta["topic"], embed_as="query")
        out.append(Chunk(id="", source_id=source.source_id, text=section.text, embedded=True, meta=meta))
    return out
