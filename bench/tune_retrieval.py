"""Fit the fusion weights of `assistant.retrieve` on a gold file: compute every question's signals
once, then score a grid of weights (coordinate ascent) on hit@1 + macro hit@1.

    python bench/tune_retrieval.py --data-dir var [--gold ../shared/data/gold/dev.jsonl]
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

from assistant.retrieve import WEIGHTS, Retriever
from assistant.settings import Settings
from assistant.store import Store

ROOT = Path(__file__).resolve().parents[1]
GRID = {
    "name": [0.3, 0.45, 0.6, 0.8, 1.0],
    "chunks": [0.0, 0.2, 0.35, 0.5, 0.7, 0.9],
    "dense": [0.3, 0.5, 0.7, 0.9, 1.2],
    "coverage": [0.2, 0.4, 0.6, 0.8, 1.0, 1.3],
    "asked_covered": [0.0, 0.2, 0.4, 0.6],
    "level": [0.0, 0.1, 0.2, 0.3, 0.45, 0.6],
    "negated": [-0.3, -0.5, -1.0],
}


def evaluate(retriever: Retriever, cached: list, weights: dict[str, float]) -> tuple[float, float]:
    per_code: dict[str, list[float]] = defaultdict(list)
    hits = []
    for feats, expected in cached:
        ranked = [c.key for c in retriever.rank(feats, weights, k=1)]
        hit = float(bool(ranked) and ranked[0] in expected)
        hits.append(hit)
        per_code[sorted(expected)[0]].append(hit)
    return statistics.mean(hits), statistics.mean(statistics.mean(v) for v in per_code.values())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gold", default=str(ROOT.parent / "shared/data/gold/dev.jsonl"))
    ap.add_argument("--data-dir", default="var")
    args = ap.parse_args()
    store = Store(Settings(data_dir=Path(args.data_dir)), purpose="bench tune")
    retriever = Retriever(store)
    rows = [json.loads(line) for line in open(args.gold, encoding="utf-8")]
    rows = [r for r in rows if r["expected_behavior"] == "answer" and r["expected_sources"] and not r["history"]]
    cached = [(retriever.features(r["question"]), set(r["expected_sources"])) for r in rows]
    best = dict(WEIGHTS)
    best_score = sum(evaluate(retriever, cached, best))
    print(f"current {best} hit@1+macro={best_score:.3f}")
    for _round in range(3):
        for name, values in GRID.items():
            for v in values:
                trial = dict(best, **{name: v})
                s = sum(evaluate(retriever, cached, trial))
                if s > best_score + 1e-9:
                    best, best_score = trial, s
        print(f"round {_round}: {best} hit@1, macro = {evaluate(retriever, cached, best)}")
    store.close()


if __name__ == "__main__":
    main()
