"""Candidate sources: each finds, for an analysed question, what in one part of the index matches it.

- `NameSource`: BM25 over the procedure names (folded syllables and bigrams);
- `SectionSource`: BM25 over every section of every source;
- `DenseSource`: the embedder over the embedded passages (portal overviews, every chunk of a file);
- `ExampleSource`: the example questions, lexically and by embedding (question to question).

Each has one `search(query, audience, k)`; the learned ranker (`assistant.ranker`) weighs what they
find. They read one `Snapshot`, so a reload never changes what a search in flight sees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from assistant.manifest import Chunk, SourceRecord
from assistant.query import Query, topic
from assistant.snapshot import Snapshot
from assistant.text import lexical_tokens

Embed = Callable[[str], np.ndarray]  # a question-side text to its unit vector (`embeddings.query_cache`)
AUDIENCE_SEES = {"citizen": ("citizen",), "official": ("citizen", "official")}


def allowed(audience: str) -> tuple[str, ...]:
    return AUDIENCE_SEES.get(audience, ("citizen",))


@dataclass
class Hit:
    chunk: Chunk
    source: SourceRecord
    score: float


@dataclass
class Found:
    """Scores by source id (or, for examples, by example row), and the passages behind them."""

    scores: dict[str, float] = field(default_factory=dict)
    hits: dict[str, list[Hit]] = field(default_factory=dict)

    def put(self, key: str, score: float, hit: Hit | None = None) -> None:
        self.scores[key] = max(self.scores.get(key, float("-inf")), score)
        if hit is not None:
            self.hits.setdefault(key, []).append(hit)


def routing_text(q: Query) -> str:
    """What names the procedure, folded, with the lexicon's official terms. An English question routes
    on its terms alone: its own words match no name, only the few English examples, among which
    refusals are over-represented."""
    return q.folded_terms if q.names_by_terms else f"{q.routing} {q.folded_terms}"


class NameSource:
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def search(self, q: Query, audience: str, k: int) -> Found:
        index, out = self.snap.lexical["titles"], Found()
        scores = index.scores(lexical_tokens(routing_text(q)))
        for i in np.argsort(-scores)[:k]:
            if scores[i] <= 0:
                break
            src = self.snap.sources.get(index.ids[i])
            if src and src.audience in allowed(audience):
                out.put(src.source_id, float(scores[i]))
        return out


class SectionSource:
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def search(self, q: Query, audience: str, k: int) -> Found:
        index, out = self.snap.lexical["chunks"], Found()
        scores = index.scores(lexical_tokens(f"{q.folded} {q.folded_terms}"))
        for i in np.argsort(-scores)[:k]:
            if scores[i] <= 0:
                break
            row = self.snap.chunks.get(index.ids[i])
            if row and row[1].audience in allowed(audience):
                out.put(row[1].source_id, float(scores[i]), Hit(row[0], row[1], float(scores[i])))
        return out


class DenseSource:
    def __init__(self, snap: Snapshot, embed: Embed) -> None:
        self.snap, self.embed = snap, embed

    def search(self, q: Query, audience: str, k: int) -> Found:
        text = q.expanded if q.diacritics else self.snap.vocab.restore(q.folded)
        if q.terms:
            text = f"{text} ({', '.join(q.terms)})"
        dense, out = self.snap.dense, Found()
        sims = np.where(np.isin(dense.audience, allowed(audience)), dense.vectors @ self.embed(text), -np.inf)
        for i in np.argsort(-sims)[:k]:
            if sims[i] == -np.inf:
                break
            chunk, src = self.snap.chunks[dense.ids[i]]
            out.put(src.source_id, float(sims[i]), Hit(chunk, src, float(sims[i])))
        return out


@dataclass
class Examples:
    """Nearest example rows with their scores, best first."""

    lexical: list[tuple[int, float]]
    dense: list[tuple[int, float]]
    across: list[tuple[int, float]]  # among examples in the other language


class ExampleSource:
    """Example questions; `lexical` and `dense` are two searches over the same examples. Scores are
    by example row (`Snapshot.examples`); rows the caller excludes (a question's own example, when
    it is being scored) are left out after the search."""

    def __init__(self, snap: Snapshot, embed: Embed) -> None:
        self.snap, self.embed = snap, embed

    def search(self, q: Query, audience: str, k: int) -> Examples:
        """Nearest examples lexically, by embedding, and by embedding among those in the other language
        (an English question is nearest to English ones of any procedure; its procedure's
        examples are mostly Vietnamese)."""
        ex = self.snap.examples
        if not ex.ids:
            return Examples([], [], [])
        scores = ex.lexical.scores(lexical_tokens(routing_text(q)))
        lexical = [(int(ex.lexical_rows[i]), float(scores[i])) for i in np.argsort(-scores)[:k]
                   if scores[i] > 0 and ex.lexical_rows[i] >= 0]
        sims = ex.vectors @ self.embed(topic(q))
        order = np.argsort(-sims)
        other = ex.english != (q.lang == "en")
        dense = [(int(i), float(sims[i])) for i in order[:k]]
        across = [(int(i), float(sims[i])) for i in order[other[order]][:k]]
        return Examples(lexical, dense, across)
