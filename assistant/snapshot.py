"""One immutable view of the index for one manifest version: what every request reads.

A reload builds a new `Snapshot` off to the side and the retriever swaps it in with one assignment,
so a request that started on the old one finishes on it (no half-swapped state), and the next one
sees the new one whole.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.lexical import LexicalIndex
from assistant.manifest import Chunk, SourceRecord
from assistant.query import is_filler
from assistant.store import EXAMPLES, Store
from assistant.text import fold, normalize
from assistant.vocabulary import Vocabulary

TITLE_NOISE = re.compile(r"^thu tuc\s+")


@dataclass(frozen=True)
class Examples:
    """The example questions: row i is `ids[i]`, answered by `codes[i]` (empty: to refuse)."""

    ids: tuple[str, ...]  # example ids as the files give them ("b0-0001")
    codes: tuple[tuple[str, ...], ...]
    english: np.ndarray  # bool per row: the example is in English
    vectors: np.ndarray  # (n, dim), unit length; rows in `ids` order
    lexical: LexicalIndex
    lexical_rows: np.ndarray  # row of each document of `lexical`
    by_code: dict[str, tuple[int, ...]]

    @classmethod
    def empty(cls, dim: int) -> "Examples":
        return cls((), (), np.zeros(0, bool), np.zeros((0, dim), np.float32), LexicalIndex([], None), np.zeros(0, int), {})


@dataclass(frozen=True)
class Dense:
    """The embedded chunks that can be cited (an overview per procedure, a handbook's sections): row
    i is chunk `ids[i]`, read by `audience[i]`. Searched exactly in memory: a few thousand rows take
    well under a millisecond, where a filtered Chroma query took 20 ms (bench/RESULTS.md)."""

    ids: tuple[str, ...]
    audience: np.ndarray  # str per row
    vectors: np.ndarray  # (n, dim), unit length


@dataclass(frozen=True)
class Snapshot:
    version: int
    chunks: dict[str, tuple[Chunk, SourceRecord]]  # live chunks of the sources that can be cited
    sources: dict[str, SourceRecord]
    by_source: dict[str, list[Chunk]]
    lexical: dict[str, LexicalIndex]
    vocab: Vocabulary
    keep: frozenset[tuple[str, str]]  # folded pairs of the names with a filler word in them
    keep_marked: frozenset[tuple[str, str]]  # the same pairs as the names write them
    title_words: dict[str, set[str]]
    title_df: Counter
    marked_df: Counter
    words_of: dict[str, frozenset[str]]
    df: Counter
    examples: Examples
    dense: Dense
    sources_of: dict[str, tuple[SourceRecord, ...]]  # procedure code (or document id) -> the sources about it
    visible: dict[str, frozenset[str]]  # audience -> the procedure codes and document ids it may see

    def keys_of(self, src: SourceRecord) -> list[str]:
        """The procedures a source counts for: its own code, or the codes a document declares (those
        indexed as records; else its first one, so one handbook makes one candidate)."""
        return _keys_of(src, self.sources)


def _keys_of(src: SourceRecord, sources: dict[str, SourceRecord]) -> list[str]:
    if src.kind == "procedure":
        return [src.source_id]
    known = [c for c in src.procedure_codes if c in sources]
    return known or src.procedure_codes[:1] or [src.source_id]


def build(store: Store, previous: Snapshot | None = None) -> Snapshot:
    """The snapshot of the index as it is now; what `previous` worked out for a source whose chunks
    are the same ones (same ids) is taken over, so an upload does not re-read the whole corpus."""
    version = store.manifest.index_version
    lex = store.lexical()
    rows = list(store.manifest.current_chunks())
    example_rows = [(c, s) for c, s in rows if s.kind == EXAMPLES]
    rows = [(c, s) for c, s in rows if s.kind != EXAMPLES]
    sources = {s.source_id: s for _, s in rows}
    by_source: dict[str, list[Chunk]] = {}
    for c, s in rows:
        by_source.setdefault(s.source_id, []).append(c)
    title_words = {sid: set(re.findall(r"\w+", TITLE_NOISE.sub("", fold(s.title)))) for sid, s in sources.items()}
    vocab = Vocabulary.build(s.title for s in sources.values())
    keep = frozenset(pair for pair in vocab.bigrams if is_filler(pair[0]) or is_filler(pair[1]))
    keep_marked = frozenset(pair for s in sources.values() for pair in pairs(s.title) if (fold(pair[0]), fold(pair[1])) in keep)

    def text_words(sid: str, chunks: list[Chunk]) -> frozenset[str]:
        if previous is not None and [c.id for c in previous.by_source.get(sid, ())] == [c.id for c in chunks]:
            return previous.words_of[sid]
        return frozenset(re.findall(r"\w+", fold(" ".join([sources[sid].title, *(c.text for c in chunks)]))))

    words_of = {sid: text_words(sid, chunks) for sid, chunks in by_source.items()}
    sources_of: dict[str, list[SourceRecord]] = {}
    for src in sources.values():
        for key in _keys_of(src, sources):
            sources_of.setdefault(key, []).append(src)
    visible = {audience: frozenset(k for k, srcs in sources_of.items() if any(s.audience in seen for s in srcs))
               for audience, seen in (("citizen", ("citizen",)), ("official", ("citizen", "official")))}
    return Snapshot(
        version=version, sources_of={k: tuple(v) for k, v in sources_of.items()}, visible=visible, chunks={c.id: (c, s) for c, s in rows}, sources=sources, by_source=by_source, lexical=lex,
        vocab=vocab, keep=keep, keep_marked=keep_marked, title_words=title_words,
        title_df=Counter(w for ws in title_words.values() for w in ws),
        marked_df=Counter(w for s in sources.values() for w in set(words(s.title))),
        words_of=words_of, df=Counter(w for ws in words_of.values() for w in ws),
        examples=_examples(store, example_rows, lex.get("examples")),
        dense=_dense(store, [(c, s) for c, s in rows if c.embedded]),
    )


def _stored(store: Store, rows: list[tuple[Chunk, Any]]) -> tuple[list[tuple[Chunk, Any]], np.ndarray]:
    """The rows that have a vector (an interrupted ingest may leave one without) and their vectors,
    scaled to unit length."""
    stored = store.vectors.vectors([c.id for c, _ in rows])
    rows = [(c, s) for c, s in rows if c.id in stored]
    vectors = np.vstack([stored[c.id] for c, _ in rows]) if rows else np.zeros((0, store.embedder.dim), np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    return rows, vectors.astype(np.float32)


def _dense(store: Store, rows: list[tuple[Chunk, SourceRecord]]) -> Dense:
    rows, vectors = _stored(store, rows)
    return Dense(tuple(c.id for c, _ in rows), np.array([s.audience for _, s in rows], dtype=object), vectors)


def _examples(store: Store, rows: list[tuple[Chunk, Any]], lexical: LexicalIndex | None) -> Examples:
    if not rows:
        return Examples.empty(store.embedder.dim)
    rows, vectors = _stored(store, rows)
    row_of = {c.id: i for i, (c, _) in enumerate(rows)}
    lexical = lexical or LexicalIndex([], None)
    lexical_rows = np.array([row_of.get(cid, -1) for cid in lexical.ids], dtype=int)
    codes = tuple(tuple(c.meta.get("codes") or ()) for c, _ in rows)
    by_code: dict[str, list[int]] = {}
    for i, cs in enumerate(codes):
        for code in cs:
            by_code.setdefault(code, []).append(i)
    return Examples(ids=tuple(str(c.meta.get("example_id") or c.id) for c, _ in rows), codes=codes,
                    english=np.array([c.meta.get("lang") == "en" for c, _ in rows], dtype=bool),
                    vectors=vectors, lexical=lexical, lexical_rows=lexical_rows,
                    by_code={k: tuple(v) for k, v in by_code.items()})


def words(text: str) -> list[str]:
    """The words, lowercased, diacritics kept."""
    return re.findall(r"\w+", normalize(text))


def pairs(text: str) -> list[tuple[str, str]]:
    """Adjacent words, lowercased, diacritics kept."""
    ws = words(text)
    return list(zip(ws, ws[1:]))
