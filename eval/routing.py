"""Fitting and honestly scoring the learned ranker and decision on the question bank.

Every bank question is searched once; its candidates' features are then read three ways, each a
situation the assistant meets:
- `own`: its own example left out (a new question about a procedure that has other examples),
- `procedure`: every example of its procedures left out (a newly ingested procedure, or one the
  bank does not cover),
- `none`: no examples at all (a corpus without example files).
- `small` (with `read_small`): searched on a small index (the 19 sources of `corpus/`), where a
  question about a procedure that index lacks must be refused;
- `sample` (`read_small` too): searched on an index of `corpus/` and whole fields of the portal
  records (`python -m eval.sample`), without examples: a deployment with its own few hundred
  procedures, where many questions are to be answered and the rest refused.
Folds are by procedure, so a question is scored by models fitted on other procedures' questions.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant import lexicon
from assistant.ranker import DECISION_FEATURES, FEATURES, Candidate, Gathered, candidates, decision_row, softmax
from assistant.retrieve import Retriever
from assistant.settings import Settings
from assistant.store import Store

VARIANTS = ("own", "procedure", "none", "small", "sample")
# What the models are fitted on. Not `procedure`: there the answer is always the one candidate
# without examples, a cue that holds for no real question about a procedure that has them.
TRAIN = ("own", "none", "small", "sample")
SMALL_SHARE = 20  # one bank question in this many about a procedure a small index lacks: a refusal there
FOLDS = 5
SEED = 7  # LightGBM's bagging seed for the packaged models
RANKER_PARAMS = {"objective": "lambdarank", "metric": "ndcg", "eval_at": [1, 3], "num_leaves": 15,
                 "min_data_in_leaf": 20, "learning_rate": 0.05, "feature_fraction": 0.9, "bagging_fraction": 0.8,
                 "bagging_freq": 1, "lambdarank_truncation_level": 10, "verbose": -1, "num_threads": 2}
RANKER_ROUNDS = 300
DECISION_PARAMS = {"objective": "binary", "num_leaves": 15, "min_data_in_leaf": 20, "learning_rate": 0.05,
                   "feature_fraction": 0.9, "bagging_fraction": 0.8, "bagging_freq": 1, "verbose": -1,
                   "num_threads": 2}
DECISION_ROUNDS = 200


@dataclass
class Read:
    """One question's candidates read one way (`variant`)."""

    keys: list[str]
    matrix: np.ndarray
    labels: np.ndarray  # 1 where the candidate is an expected procedure


@dataclass
class Item:
    id: str
    question: str
    style: str
    lang: str
    expected: list[str]
    behavior: str  # "answer" | "refuse"
    group: str  # what folds split on: the procedure it was written for, or the question for a refusal
    reads: dict[str, Read] = field(default_factory=dict)

    @property
    def fold(self) -> int:
        return int(hashlib.sha256(self.group.encode()).hexdigest(), 16) % FOLDS


def data_hash(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def load_questions(paths: list[Path]) -> list[dict]:
    rows = []
    for p in paths:
        rows += [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if not r.get("history")]


def gather_all(retriever: Retriever, rows: list[dict], cache: Path | None = None,
               progress: bool = True) -> list[Gathered]:
    """Every question searched once (cached beside the index, without the passages, for this index
    version and these questions)."""
    # what the search reads a question with (the lexicon) changes the cache too
    said = json.dumps([[r["id"] for r in rows], lexicon.EVERYDAY, lexicon.ENGLISH, lexicon.COUNTRIES],
                      ensure_ascii=False)
    key = f"{retriever.snapshot.version}:{hashlib.sha256(said.encode()).hexdigest()[:12]}"
    if cache is not None and cache.exists():
        saved = pickle.loads(cache.read_bytes())
        if saved.get("key") == key:
            return saved["gathered"]
    out = []
    for n, r in enumerate(rows):
        g = retriever.gather(r["question"])
        for found in (g.name, g.chunks, g.dense):
            found.hits = {}
        out.append(g)
        if progress and n % 500 == 0:
            print(f"  searched {n}/{len(rows)}", flush=True)
    if cache is not None:
        cache.write_bytes(pickle.dumps({"key": key, "gathered": out}))
    return out


def read_all(retriever: Retriever, rows: list[dict], cache: Path | None = None, progress: bool = True) -> list[Item]:
    """Every question's candidates read the three ways."""
    snap = retriever.snapshot
    ex = snap.examples
    row_of = {eid: i for i, eid in enumerate(ex.ids)}
    everything = frozenset(range(len(ex.ids)))
    items = []
    for r, g in zip(rows, gather_all(retriever, rows, cache, progress)):
        g.said = {}
        expected = list(r.get("expected_sources") or [])
        behavior = "refuse" if r["expected_behavior"] == "refuse" else "answer"
        item = Item(r["id"], r["question"], r.get("style") or r.get("lang") or "", r.get("lang") or "vi", expected,
                    behavior, r.get("written_for") or (expected[0] if expected else r["id"]))
        own = frozenset({row_of[r["id"]]} if r["id"] in row_of else ())
        sibling = frozenset(i for c in expected for i in ex.by_code.get(c, ()))
        for variant, exclude in (("own", own), ("procedure", own | sibling), ("none", everything)):
            cands, matrix = candidates(snap, g, exclude)
            item.reads[variant] = Read([c.key for c in cands], matrix,
                                       np.array([float(c.key in expected) for c in cands]))
        items.append(item)
    return items


def read_small(retriever: Retriever, rows: list[dict], variant: str = "small") -> list[Item]:
    """Bank questions searched on a small index: those about its procedures (to answer), refusals, and
    a share of the others (to refuse: the index lacks their procedure)."""
    snap = retriever.snapshot
    known = snap.visible["citizen"]
    items = []
    for r in rows:
        expected = [c for c in r.get("expected_sources") or [] if c in known]
        other = int(hashlib.sha256(r["id"].encode()).hexdigest(), 16) % SMALL_SHARE == 0
        if not expected and r["expected_behavior"] != "refuse" and not other:
            continue
        item = Item(f"{variant}:{r['id']}", r["question"], r.get("style") or "", r.get("lang") or "vi", expected,
                    "answer" if expected else "refuse", r.get("written_for") or r["id"])
        cands, matrix = candidates(snap, retriever.gather(r["question"]))
        item.reads[variant] = Read([c.key for c in cands], matrix, np.array([float(c.key in expected) for c in cands]))
        items.append(item)
    return items


def read_bank(rows: list[dict], data_dir: Path, small_dir: Path | None, purpose: str,
              sample_dir: Path | None = None) -> list[Item]:
    """The bank's reads on the full index at `data_dir` (searches cached beside it), plus, with
    `small_dir` and `sample_dir`, the reads on those smaller indexes."""
    items: list[Item] = []
    for folder, read in ((data_dir, lambda r: read_all(r, rows, cache=data_dir / "routing-gathered.pkl")),
                         (small_dir, lambda r: read_small(r, rows)),
                         (sample_dir, lambda r: read_small(r, rows, "sample"))):
        if folder is None:
            continue
        store = Store(Settings(data_dir=folder), purpose=purpose)
        try:
            items += read(Retriever(store))
        finally:
            store.close()
    return items


def _ranking_set(items: list[Item], variants: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    xs, ys, groups = [], [], []
    for it in items:
        for v in variants:
            read = it.reads.get(v)
            if read is None or it.behavior != "answer" or not read.labels.any() or len(read.keys) < 2:
                continue
            xs.append(read.matrix)
            ys.append(read.labels)
            groups.append(len(read.keys))
    return np.vstack(xs), np.concatenate(ys), groups


def fit_ranker(items: list[Item], seed: int = SEED):
    import lightgbm as lgb

    x, y, groups = _ranking_set(items, TRAIN)
    return lgb.train({**RANKER_PARAMS, "seed": seed}, lgb.Dataset(x, y, group=groups, feature_name=list(FEATURES)),
                     RANKER_ROUNDS)


def fit_temperature(reads: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """The softmax temperature that makes the ranker's probabilities honest on out-of-fold reads (raw
    scores and labels of questions to answer whose procedure is among the candidates): the one with
    the least log loss of the expected procedures' share. A refit's probabilities then mean the same,
    so what reads them (the clarify margin) does not move with the refit's scale."""
    grid = np.exp(np.linspace(np.log(0.2), np.log(10.0), 81))
    losses = [-sum(np.log(softmax(raw, t)[labels > 0].sum() + 1e-12) for raw, labels in reads) for t in grid]
    return float(grid[int(np.argmin(losses))])


def decision_rows(read: Read, raw: np.ndarray, temperature: float) -> np.ndarray:
    """The decision's features for one read with candidates, from the ranker's raw scores."""
    order = np.argsort(-raw, kind="stable")
    probs = softmax(raw, temperature)
    top = [Candidate(read.keys[i], "", float(probs[i]), dict(zip(FEATURES, read.matrix[i]))) for i in order]
    return decision_row(top, raw[order])


def fit_decision(rows: list[np.ndarray], labels: list[float], variants: list[str], seed: int = SEED):
    """Both classes weigh the same within each way of reading (a small index has few questions to
    answer, the bank few to refuse)."""
    import lightgbm as lgb

    y, v = np.array(labels), np.array(variants)
    weights = np.ones(len(y))
    for name in set(variants):
        for cls in (0.0, 1.0):
            mask = (v == name) & (y == cls)
            if mask.any():
                weights[mask] = len(y) / (2 * len(set(variants)) * mask.sum())
    data = lgb.Dataset(np.vstack(rows), y, weight=weights, feature_name=list(DECISION_FEATURES))
    return lgb.train({**DECISION_PARAMS, "seed": seed}, data, DECISION_ROUNDS)


@dataclass
class Scored:
    item: Item
    variant: str
    top: list[str]  # ranked keys
    answerable: float


@dataclass
class CrossValidated:
    scored: list[Scored]  # every item and read, out of fold
    rows: list[tuple[np.ndarray, float, str]]  # the out-of-fold decision rows, to fit the final decision on
    temperature: float  # the ranker's softmax temperature, fitted on the out-of-fold scores


def cross_validate(items: list[Item], progress: bool = True, seed: int = SEED) -> CrossValidated:
    """Out-of-fold scores of every item and read: the ranker and decision that score a fold never
    saw its procedures' questions. `seed` drives LightGBM's bagging (`bench/generalisation.py
    --seeds` shows how far the figures move with it alone)."""
    rankers = {}
    for f in range(FOLDS):
        rankers[f] = fit_ranker([it for it in items if it.fold != f], seed)
        if progress:
            print(f"  ranker fold {f} fitted", flush=True)
    raws = {(it.id, v): np.asarray(rankers[it.fold].predict(read.matrix), dtype=np.float64)
            for it in items for v, read in it.reads.items() if read.keys}
    temperature = fit_temperature([(raws[it.id, v], read.labels) for it in items for v, read in it.reads.items()
                                   if v in TRAIN and it.behavior == "answer" and read.labels.any()])
    oof: dict[int, list[tuple[Item, str, np.ndarray]]] = defaultdict(list)
    for it in items:
        for v, read in it.reads.items():
            if read.keys:
                oof[it.fold].append((it, v, decision_rows(read, raws[it.id, v], temperature)))
    scored, final_rows = [], []
    for f in range(FOLDS):
        train = [(row, float(it.behavior == "answer"), v) for g in range(FOLDS) if g != f for it, v, row in oof[g]
                 if v in TRAIN]
        decision = fit_decision(*map(list, zip(*train)), seed=seed)
        for it, v, row in oof[f]:
            top = [it.reads[v].keys[i] for i in np.argsort(-raws[it.id, v], kind="stable")[:3]]
            scored.append(Scored(it, v, top, float(decision.predict(row)[0])))
            if v in TRAIN:
                final_rows.append((row, float(it.behavior == "answer"), v))
    return CrossValidated(scored, final_rows, temperature)


def choose_threshold(scored: list[Scored], variant: str = "own") -> float:
    """The refuse threshold with the best refuse F1 on the out-of-fold reads (precision weighs more
    than recall because refusals are rare)."""
    rows = [(s.answerable, s.item.behavior == "refuse") for s in scored if s.variant == variant]
    best, best_f = 0.5, -1.0
    for t in np.linspace(0.02, 0.98, 97):
        tp = sum(p < t and r for p, r in rows)
        fp = sum(p < t and not r for p, r in rows)
        fn = sum(p >= t and r for p, r in rows)
        f = 2 * tp / max(1, 2 * tp + fp + fn)
        if f > best_f:
            best, best_f = float(t), f
    return best


def table(scored: list[Scored], threshold: float, variant: str) -> dict[str, dict[str, float]]:
    """hit@1, hit@3, wrong-procedure, refuse precision/recall and behaviour macro-recall by style."""
    groups: dict[str, list[Scored]] = defaultdict(list)
    for s in scored:
        if s.variant == variant:
            groups[s.item.style if s.item.behavior == "answer" else "refuse"].append(s)
            groups["all"].append(s)
    out = {}
    for name, ss in groups.items():
        ans = [s for s in ss if s.item.behavior == "answer"]
        ref = [s for s in ss if s.item.behavior == "refuse"]
        answered = [s for s in ans if s.answerable >= threshold]
        refused = [s for s in ss if s.answerable < threshold]
        row = {"n": float(len(ss))}
        if ans:
            row["hit@1"] = sum(bool(s.top) and s.top[0] in s.item.expected for s in answered) / len(ans)
            row["hit@3"] = sum(bool(set(s.top[:3]) & set(s.item.expected)) for s in ans) / len(ans)
            row["wrong"] = sum(bool(s.top) and s.top[0] not in s.item.expected for s in answered) / len(ans)
        if refused and ref:
            row["refuse_p"] = sum(s.item.behavior == "refuse" for s in refused) / len(refused)
        if ref:
            row["refuse_r"] = sum(s.answerable < threshold for s in ref) / len(ref)
        recalls = ([len(answered) / len(ans)] if ans else []) + ([row["refuse_r"]] if ref else [])
        row["macro"] = sum(recalls) / len(recalls)
        out[name] = row
    return out


def format_table(rows: dict[str, dict[str, float]]) -> str:
    cols = ["n", "hit@1", "hit@3", "wrong", "refuse_p", "refuse_r", "macro"]
    lines = ["| style | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    order = ["all", "vi", "vi_nodiac", "narrative", "en", "vi_org", "refuse"]
    for name in sorted(rows, key=lambda n: order.index(n) if n in order else 99):
        r = rows[name]
        cells = [f"{int(r['n'])}"] + [f"{r[c]:.3f}" if c in r else "" for c in cols[1:]]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
