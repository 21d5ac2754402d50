"""The learned ranking and decision: features of each candidate procedure, and two small models
fitted on the question bank (`eval/fit.py`) that weigh them.

- The **ranker** (LightGBM lambdarank) orders the candidates every source proposed.
- The **decision** (LightGBM binary) gives the probability that the question is one the corpus
  answers, from the best candidate's features, the ranker's margin and the question's own; below
  the fitted threshold the assistant refuses.

Features are relative (a score over the best score of its source, a rank, a share of the question)
so that they mean the same on the 19 handbooks of `corpus/` as on 2,642 portal records. Example
features are zero where a procedure has no examples, as for a newly ingested one; the models are
fitted on questions read with their own example left out and with no examples at all
(`eval/routing.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np

from assistant.manifest import SourceRecord
from assistant.query import Query
from assistant.signals import (CONVERSATIONAL, Said, head_coverage, level_prior, name_words, other_thing,
                               salient_coverage, unsaid_operations)
from assistant.snapshot import Snapshot, words
from assistant.sources import Examples, Found, Hit, allowed
from assistant.text import fold

PER_SOURCE = 15  # candidates taken from the top of each source
VOTES = 10  # nearest examples that vote
FEATURES = (
    "name", "name_rank", "chunks", "chunks_rank", "dense", "dense_gap", "dense_rank",
    "ex_lex", "ex_lex_rank", "ex_lex_votes", "ex_dense", "ex_dense_gap", "ex_dense_rank", "ex_dense_votes",
    "ex_across", "ex_across_rank", "ex_across_votes", "coverage", "asked_covered", "salient", "head", "other_thing", "level", "unsaid_ops",
    "name_len", "is_document", "marked_coverage", "at_commune", "at_province", "at_ministry",
    "coverage_gap", "asked_gap", "head_gap", "salient_gap", "marked_gap", "unsaid_words", "base_of",
    "q_en", "q_diacritics", "q_words", "q_facets", "q_province", "q_commune", "ex_refuse", "ex_refuse_votes", "ex_refuse_lex",
    "ex_best", "ex_any",
)
GAPS = (("coverage", "coverage_gap"), ("asked_covered", "asked_gap"), ("head", "head_gap"), ("salient", "salient_gap"),
        ("marked_coverage", "marked_gap"))
DECISION_FEATURES = (*FEATURES, "score", "margin", "prob")


@dataclass
class Gathered:
    """What the sources found for one question, before any example is excluded."""

    query: Query
    audience: str
    name: Found
    chunks: Found
    dense: Found
    examples: Examples
    said: dict[str, dict[str, float]] = field(default_factory=dict)  # what the question says of each name, once


@dataclass
class Candidate:
    key: str  # procedure code, or source id for a document about no procedure
    title: str
    score: float  # the ranker's probability among the candidates (0..1)
    signals: dict[str, float]
    hits: list[Hit] = field(default_factory=list)
    procedure: dict | None = None
    source_ids: list[str] = field(default_factory=list)

    @property
    def code(self) -> str | None:
        return None if self.key.startswith("doc:") else self.key


def _ranks(values: dict[str, float]) -> dict[str, float]:
    order = sorted(values, key=lambda k: -values[k])
    return {k: 1.0 / (1 + i) for i, k in enumerate(order)}


def _by_key(snap: Snapshot, found: Found) -> dict[str, float]:
    out: dict[str, float] = {}
    for sid, s in found.scores.items():
        for key in snap.keys_of(snap.sources[sid]):
            out[key] = max(out.get(key, float("-inf")), s)
    return out


@dataclass
class Near:
    """What the nearest examples say: best score and share of the votes per procedure, the best score
    of a refusal example and of an answer example, and the refusals' share of the votes."""

    best: dict[str, float]
    votes: dict[str, float]
    refuse: float
    answer: float
    refuse_votes: float


def _near(snap: Snapshot, rows: list[tuple[int, float]], visible: frozenset[str], exclude: frozenset[int]) -> Near:
    near = Near({}, {}, 0.0, 0.0, 0.0)
    n = 0
    for row, s in rows:
        if row in exclude:
            continue
        codes = [c for c in snap.examples.codes[row] if c in visible]
        if not snap.examples.codes[row]:
            near.refuse = max(near.refuse, s)
            near.refuse_votes += 1.0 / VOTES if n < VOTES else 0.0
        elif codes:
            near.answer = max(near.answer, s)
        for c in codes:
            near.best[c] = max(near.best.get(c, 0.0), s)
            if n < VOTES:
                near.votes[c] = near.votes.get(c, 0.0) + 1.0 / VOTES
        n += 1
    return near


def candidates(snap: Snapshot, g: Gathered, exclude: frozenset[int] = frozenset()) -> tuple[list[Candidate], np.ndarray]:
    """The candidates the sources propose and their feature matrix (rows in candidate order);
    example rows in `exclude` are not seen."""
    q = g.query
    visible = snap.visible[g.audience if g.audience in snap.visible else "citizen"]
    name, chunks, dense = _by_key(snap, g.name), _by_key(snap, g.chunks), _by_key(snap, g.dense)
    lexical, near, across = (_near(snap, rows, visible, exclude)
                             for rows in (g.examples.lexical, g.examples.dense, g.examples.across))
    exl, exl_votes, exd, exd_votes, exa, exa_votes = (lexical.best, lexical.votes, near.best, near.votes, across.best,
                                                      across.votes)
    keys: dict[str, None] = {}
    for table in (name, chunks, dense, exl, exd, exa):
        for k in sorted(table, key=lambda k: -table[k])[:PER_SOURCE]:
            keys[k] = None
    tops = {s: max(t.values(), default=0.0) for s, t in (("name", name), ("chunks", chunks), ("dense", dense),
                                                         ("exl", exl), ("exd", exd))}
    ranks = {s: _ranks(t) for s, t in (("name", name), ("chunks", chunks), ("dense", dense), ("exl", exl), ("exd", exd),
                                      ("exa", exa))}
    asked = set((q.folded_terms if q.names_by_terms else q.routing).split())
    terms = " ".join(t.lower() for t in q.terms)
    content = [w for w in (q.folded_terms if q.names_by_terms else f"{q.routing} {terms}").split() if w.isalnum()]
    query_row = {"q_en": float(q.lang == "en"), "q_diacritics": float(q.diacritics),
                 "q_words": float(len([w for w in q.routing.split() if w.isalpha() and w not in CONVERSATIONAL])),
                 "q_facets": float(len(q.facets)), "q_province": float("province" in q.levels),
                 "q_commune": float("commune" in q.levels), "ex_refuse": near.refuse - near.answer,
                 "ex_refuse_votes": near.refuse_votes, "ex_refuse_lex": lexical.refuse_votes, "ex_best": near.answer, "ex_any": float(len(snap.examples.ids) > len(exclude))}
    said = Said.of(snap, q)
    hits_of = {**g.chunks.hits}
    for sid, hs in g.dense.hits.items():
        hits_of.setdefault(sid, []).extend(hs)
    out: list[Candidate] = []
    for key in keys:
        sids = [s.source_id for s in snap.sources_of.get(key, ()) if s.audience in allowed(g.audience)]
        if not sids:
            continue
        main = snap.sources.get(key) if key in sids else snap.sources[sids[0]]
        if key not in g.said:
            words = snap.title_words.get(main.source_id) or set()
            g.said[key] = {
                "coverage": len(words & asked) / len(words) if words else 0.0,
                "asked_covered": sum(w in words for w in content) / len(content) if content else 0.0,
                "salient": salient_coverage(snap, q, sids, said),
                "head": head_coverage(snap, q, main.title, said),
                "other_thing": float(q.lang == "vi" and other_thing(snap, q, main.title, said)),
                "level": level_prior(main, q),
                "unsaid_ops": float(len(unsaid_operations(said, main.title))),
                "name_len": float(len(words)), "is_document": float(main.kind != "procedure"),
                "marked_coverage": marked_coverage(q, main.title), **levels(main),
            }
        sig = {
            "name": name.get(key, 0.0) / tops["name"] if tops["name"] > 0 else 0.0,
            "name_rank": ranks["name"].get(key, 0.0),
            "chunks": chunks.get(key, 0.0) / tops["chunks"] if tops["chunks"] > 0 else 0.0,
            "chunks_rank": ranks["chunks"].get(key, 0.0),
            "dense": dense.get(key, 0.0), "dense_gap": tops["dense"] - dense.get(key, 0.0) if key in dense else 1.0,
            "dense_rank": ranks["dense"].get(key, 0.0),
            "ex_lex": exl.get(key, 0.0) / tops["exl"] if tops["exl"] > 0 else 0.0,
            "ex_lex_rank": ranks["exl"].get(key, 0.0), "ex_lex_votes": exl_votes.get(key, 0.0),
            "ex_dense": exd.get(key, 0.0), "ex_dense_gap": tops["exd"] - exd.get(key, 0.0) if key in exd else 1.0,
            "ex_dense_rank": ranks["exd"].get(key, 0.0), "ex_dense_votes": exd_votes.get(key, 0.0),
            "ex_across": exa.get(key, 0.0), "ex_across_rank": ranks["exa"].get(key, 0.0),
            "ex_across_votes": exa_votes.get(key, 0.0),
            **g.said[key], **query_row,
        }
        hits = sorted((h for sid in sids for h in hits_of.get(sid, [])), key=lambda h: -h.score)
        out.append(Candidate(key=key, title=main.title, score=0.0, signals=sig, hits=hits[:8],
                             procedure=main.procedure, source_ids=sids))
    names = [name_words(c.title) for c in out]
    for c, own in zip(out, names):
        c.signals["unsaid_words"] = float(len(own - said.words))  # what the name adds that the question does not say
        c.signals["base_of"] = float(sum(own < other for other in names))  # the plain procedure of this many others
    for signal, gap in GAPS:  # how far each candidate is from the best of the others on what the question says
        best = max((c.signals[signal] for c in out), default=0.0)
        for c in out:
            c.signals[gap] = best - c.signals[signal]
    matrix = np.array([[c.signals[f] for f in FEATURES] for c in out], dtype=np.float64).reshape(len(out), len(FEATURES))
    return out, matrix


def marked_coverage(q: Query, title: str) -> float:
    """Share of the name's words (before its first bracket) the question writes with the same diacritics
    ('cấp lại' is not 'cấp đổi'); -1 for a question typed without them."""
    if not q.diacritics:
        return -1.0
    name = set(words(title.split("(", 1)[0])) - {"thủ", "tục"}
    said = set(words(q.expanded))
    return len(name & said) / len(name) if name else 0.0


def levels(src: SourceRecord) -> dict[str, float]:
    """The levels the procedure is done at, as the record says ('Cấp tỉnh, Cấp xã')."""
    level = fold(src.meta.get("level") or "")
    return {"at_commune": float("cap xa" in level), "at_province": float("cap tinh" in level),
            "at_ministry": float("cap bo" in level or "trung uong" in level)}


def softmax(raw: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """The ranker's probabilities among one question's candidates, at `temperature`."""
    probs = np.exp((raw - raw.max()) / temperature)
    return probs / probs.sum()


def decision_row(ranked: list[Candidate], scores: np.ndarray) -> np.ndarray:
    """The decision's features: the best candidate's, the ranker's score, margin and probability."""
    top = ranked[0]
    margin = float(scores[0] - scores[1]) if len(scores) > 1 else 5.0
    return np.array([[*(top.signals[f] for f in FEATURES), float(scores[0]), margin, top.score]])


class Models:
    """The fitted ranker and decision, with the threshold, the ranker's softmax temperature (fitted
    so that its probabilities are honest) and what they were fitted on (`meta`)."""

    def __init__(self, ranker: object, decision: object, meta: dict) -> None:
        self.ranker, self.decision, self.meta = ranker, decision, meta
        self.threshold = float(meta["threshold"])
        self.temperature = float(meta["temperature"])

    @classmethod
    @lru_cache(maxsize=1)
    def packaged(cls) -> "Models":
        import lightgbm as lgb

        folder = resources.files("assistant") / "models"
        meta = json.loads((folder / "routing.json").read_text(encoding="utf-8"))
        if tuple(meta["features"]) != FEATURES:
            raise RuntimeError("assistant/models was fitted on other features: re-run `python -m eval.fit`")
        return cls(lgb.Booster(model_str=(folder / "ranker.txt").read_text()),
                   lgb.Booster(model_str=(folder / "decision.txt").read_text()), meta)

    def rank(self, cands: list[Candidate], matrix: np.ndarray) -> tuple[list[Candidate], np.ndarray]:
        """The candidates best first, each `score` its probability (the softmax of the raw scores at the
        fitted temperature); and the raw scores."""
        if not cands:
            return [], np.zeros(0)
        raw = np.asarray(self.ranker.predict(matrix), dtype=np.float64)  # type: ignore[attr-defined]
        order = np.argsort(-raw, kind="stable")
        probs = softmax(raw, self.temperature)
        for i in order:
            cands[i].score = float(probs[i])
            cands[i].signals["rank_score"] = float(raw[i])
        return [cands[i] for i in order], raw[order]

    def answerable(self, ranked: list[Candidate], scores: np.ndarray) -> float:
        """The probability that the question is one the best candidate (or the corpus) answers."""
        if not ranked:
            return 0.0
        return float(self.decision.predict(decision_row(ranked, scores))[0])  # type: ignore[attr-defined]
