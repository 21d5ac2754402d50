"""Retrieval: the candidate sources (`assistant.sources`) over one index snapshot, then the learned
ranker and decision (`assistant.ranker`).

`gather` runs every source once; `rank` turns what they found into ranked candidates and the
probability that the question is answerable. Keeping the two apart lets `eval/fit.py` and
`bench/generalisation.py` score a bank question with its own example left out (or all examples of
its procedure) without searching again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from assistant.embeddings import query_cache
from assistant.manifest import Chunk, SourceRecord
from assistant.query import Query, analyse, detect_lang, is_filler, written_short
from assistant.ranker import Candidate, Gathered, Models, candidates
from assistant.snapshot import Snapshot, build, pairs
from assistant.sources import DenseSource, ExampleSource, Hit, NameSource, SectionSource, allowed
from assistant.store import Store
from assistant.text import fold
from assistant.vectors import VectorStoreUnreachable

NAME_K = 200  # names scored by the lexical name search ("cấp lại" and "bảo hiểm xã hội" are in hundreds)
SECTION_K = 300
DENSE_K = 40
EXAMPLE_K = 50
log = logging.getLogger("assistant.retrieve")


@dataclass(frozen=True)
class View:
    """A snapshot and the sources reading it, swapped in together."""

    snap: Snapshot
    names: NameSource
    sections: SectionSource
    dense: DenseSource
    examples: ExampleSource


@dataclass
class Retrieval:
    query: Query
    candidates: list[Candidate]
    answerable: float  # the decision's probability that the corpus answers the question


class Retriever:
    """Reloads when the manifest's index version changes: `refresh()` right after a write in this
    process (the writer's thread builds the new view, then swaps it in one assignment), else the
    first request that sees the change while no other thread is building (the others go on with the
    view they have). Within `pinned()` a thread reads one view throughout, so a turn never mixes
    two index versions."""

    def __init__(self, store: Store, models: Models | None = None) -> None:
        self.store = store
        self._models = models
        self._reload = threading.Lock()
        self._local = threading.local()
        self._embed = query_cache(store.embedder)
        self._view = self._build()
        self.rebuilds = 0  # views built since start, for /metrics and the load bench

    def _build(self, previous: View | None = None) -> View:
        snap = build(self.store, previous.snap if previous else None)
        return View(snap, NameSource(snap), SectionSource(snap), DenseSource(snap, self._embed),
                    ExampleSource(snap, self._embed))

    @property
    def models(self) -> Models:
        """The fitted ranker and decision (the package's, unless others were given)."""
        if self._models is None:
            self._models = Models.packaged()
        return self._models

    @property
    def view(self) -> View:
        """The thread's pinned view, else the current one (rebuilt first if the index changed and no
        other thread is rebuilding it)."""
        pinned = getattr(self._local, "view", None)
        if pinned is not None:
            return pinned
        if self._view.snap.version != self.store.manifest.index_version and self._reload.acquire(blocking=False):
            try:
                self._swap()
            except VectorStoreUnreachable as exc:  # answer from the view we have; the next request tries again
                log.warning("index view not rebuilt", extra={"error": str(exc)})
            finally:
                self._reload.release()
        return self._view

    def refresh(self) -> None:
        """Build the view of the index as it is now and swap it in (waits for a rebuild under way)."""
        with self._reload:
            self._swap()

    def _swap(self) -> None:
        if self._view.snap.version != self.store.manifest.index_version:
            self._view = self._build(self._view)
            self.rebuilds += 1

    @contextmanager
    def pinned(self) -> Iterator[View]:
        """One view for everything the calling thread reads until the block ends."""
        outer = getattr(self._local, "view", None)
        self._local.view = view = outer or self.view
        try:
            yield view
        finally:
            self._local.view = outer

    @property
    def snapshot(self) -> Snapshot:
        return self.view.snap

    # --- the question -----------------------------------------------------------------------------
    def unglue(self, question: str) -> str:
        """The question with glued Vietnamese words split ('dangkytamtru' -> 'dang ky tam tru')."""
        return question if detect_lang(question) == "en" else self.snapshot.vocab.unglue(question)

    def analyse(self, question: str) -> Query:
        """`query.analyse` on the unglued question, keeping the pairs of the names whole."""
        text = self.unglue(question)
        q = analyse(text, self.keep_for(text))
        q.terms += written_short(q.folded, self.snapshot.title_df)
        return q

    def keep_for(self, text: str) -> frozenset[tuple[str, str]]:
        """The name pairs to keep whole in this question: a pair written with diacritics counts only
        as the names write it ('cho hỏi' is not 'cho Hội'); one without, that is itself a filler phrase
        ('cho hoi'), is read as the filler."""
        snap = self.snapshot
        found = set(pairs(text))
        written = {pair for pair in found if pair != (fold(pair[0]), fold(pair[1]))}
        plain = {pair for pair in found - written if is_filler(" ".join(pair))}
        return snap.keep - {(fold(a), fold(b)) for a, b in (written - snap.keep_marked) | plain}

    # --- search -----------------------------------------------------------------------------------
    def gather(self, question: str, audience: str = "citizen", query: Query | None = None) -> Gathered:
        """Every source's findings; `query` is the question already analysed, when the caller has it."""
        view = self.view
        q = query or self.analyse(question)
        return Gathered(q, audience, view.names.search(q, audience, NAME_K), view.sections.search(q, audience, SECTION_K),
                        view.dense.search(q, audience, DENSE_K), view.examples.search(q, audience, EXAMPLE_K))

    def rank(self, g: Gathered, k: int = 8, exclude: frozenset[int] = frozenset()) -> Retrieval:
        """The ranked candidates and the answerable probability; example rows in `exclude` unseen."""
        cands, matrix = candidates(self.snapshot, g, exclude)
        ranked, scores = self.models.rank(cands, matrix)
        return Retrieval(g.query, ranked[:k], self.models.answerable(ranked, scores))

    def search(self, question: str, audience: str = "citizen", k: int = 5) -> Retrieval:
        return self.rank(self.gather(question, audience), k=k)

    # --- looking procedures up --------------------------------------------------------------------
    def candidate(self, key: str, audience: str = "citizen") -> Candidate | None:
        """A candidate for a known procedure code or document id (a follow-up, a picked option)."""
        return Lookup(self.snapshot).candidate(key, audience)


class Lookup:
    """Procedures and their sections by code, for the answer composer and the API."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def source(self, source_id: str) -> SourceRecord | None:
        return self.snap.sources.get(source_id)

    def section_chunks(self, source_id: str) -> list[Chunk]:
        """All live chunks of a source, in order (for composing an answer from its fields)."""
        return self.snap.by_source.get(source_id, [])

    def candidate(self, key: str, audience: str = "citizen") -> Candidate | None:
        sources = [s for s in self.snap.sources_of.get(key, ()) if s.audience in allowed(audience)]
        if not sources:
            return None
        main = next((s for s in sources if s.source_id == key), sources[0])
        hits = [Hit(c, s, 0.0) for s in sources for c in self.snap.by_source.get(s.source_id, [])]
        return Candidate(key=key, title=main.title, score=0.0, signals={}, hits=hits,
                         procedure=main.procedure, source_ids=[s.source_id for s in sources])
