"""Retrieval quality on a gold file: hit@1, hit@5, MRR@10 over `answer` turns, overall, macro over
procedures, and split by diacritics and language; plus search latency.

    python bench/retrieval.py [--gold ../shared/data/gold/dev.jsonl] [--data-dir var]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path

from assistant.retrieve import Retriever
from assistant.settings import Settings
from assistant.store import Store
from assistant.text import has_diacritics

ROOT = Path(__file__).resolve().parents[1]


def score(ranked: list[str], expected: set[str]) -> tuple[float, float, float]:
    rr = next((1.0 / (i + 1) for i, c in enumerate(ranked[:10]) if c in expected), 0.0)
    return float(ranked[:1] != [] and ranked[0] in expected), float(bool(set(ranked[:5]) & expected)), rr


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gold", default=str(ROOT.parent / "shared/data/gold/dev.jsonl"))
    ap.add_argument("--data-dir", default="var")
    ap.add_argument("--failures", action="store_true")
    args = ap.parse_args()
    store = Store(Settings(data_dir=Path(args.data_dir)), purpose="bench retrieval")
    retriever = Retriever(store)
    rows = [json.loads(line) for line in open(args.gold, encoding="utf-8")]
    rows = [r for r in rows if r["expected_behavior"] == "answer" and r["expected_sources"]]
    groups: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    per_code: dict[str, list[float]] = defaultdict(list)
    latencies = []
    for r in rows:
        question = " ".join(r["history"][-1:] + [r["question"]]) if r["history"] else r["question"]
        t = time.perf_counter()
        res = retriever.search(question, k=10)
        latencies.append(time.perf_counter() - t)
        ranked = [c.key for c in res.candidates]
        s = score(ranked, set(r["expected_sources"]))
        groups["all"].append(s)
        groups["diacritics" if has_diacritics(r["question"]) else "no-diacritics"].append(s)
        groups[f"lang={r.get('lang', 'vi')}"].append(s)
        groups["with-history" if r["history"] else "first-turn"].append(s)
        for code in r["expected_sources"][:1]:
            per_code[code].append(s[0])
        if args.failures and not s[0]:
            print(f"MISS {r['id']}: {r['question']!r} expected {r['expected_sources']} got "
                  f"{[(c.key, c.title[:50], round(c.score, 2)) for c in res.candidates[:3]]}")
    for name, vals in groups.items():
        n = len(vals)
        print(f"{name:15s} n={n:4d} hit@1={sum(v[0] for v in vals) / n:.3f} hit@5={sum(v[1] for v in vals) / n:.3f} "
              f"MRR@10={sum(v[2] for v in vals) / n:.3f}")
    macro = statistics.mean(statistics.mean(v) for v in per_code.values())
    print(f"macro hit@1 over {len(per_code)} procedures: {macro:.3f}")
    latencies.sort()
    print(f"latency p50={latencies[len(latencies) // 2] * 1000:.1f} ms p95={latencies[int(len(latencies) * 0.95)] * 1000:.1f} ms")
    store.close()


if __name__ == "__main__":
    main()
