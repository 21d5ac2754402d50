"""Fit the ranker and the decision on the question bank and write them into the package.

    .venv/bin/python -m eval.fit --data-dir DIR [--small-data-dir SMALL] [--sample-data-dir SAMPLE]

DIR is an index with the portal records and the example files ingested (`make portal`); with
`--small-data-dir SMALL` (an index of `corpus/` alone) the models also learn to refuse on a small
index what it lacks, and with `--sample-data-dir SAMPLE` (`corpus/` and whole fields of the records,
`python -m eval.sample`) to answer and refuse on an index of a few hundred procedures without
examples. Writes
`assistant/models/{ranker,decision}.txt` and `routing.json` (features, threshold, folds, the data's
hash and the out-of-fold figures), and prints the out-of-fold tables.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

from assistant.ranker import FEATURES
from eval.routing import (FOLDS, SEED, VARIANTS, choose_threshold, cross_validate, data_hash, fit_decision,
                          fit_ranker, format_table, load_questions, read_bank, table)

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [ROOT.parent / "shared/data/questions/bank.jsonl", ROOT.parent / "shared/data/questions/refuse.jsonl"]
MODELS = ROOT / "assistant" / "models"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--questions", nargs="+", type=Path, default=QUESTIONS)
    ap.add_argument("--small-data-dir", type=Path, help="an index of corpus/ alone: also fit and score on a small index")
    ap.add_argument("--sample-data-dir", type=Path,
                    help="an index of corpus/ and a sample of the records (python -m eval.sample)")
    ap.add_argument("--seed", type=int, default=SEED, help="LightGBM's bagging seed")
    ap.add_argument("--out", type=Path, default=MODELS)
    args = ap.parse_args(argv)
    rows = load_questions(args.questions)
    print(f"reading {len(rows)} questions …", flush=True)
    items = read_bank(rows, args.data_dir, args.small_data_dir, "fit routing", args.sample_data_dir)
    cv = cross_validate(items, seed=args.seed)
    scored = cv.scored
    threshold = choose_threshold(scored)
    figures = {v: table(scored, threshold, v) for v in VARIANTS if any(s.variant == v for s in scored)}
    for v in figures:
        print(f"\nout-of-fold, examples left out: {v}\n{format_table(figures[v])}")
    ranker = fit_ranker(items, args.seed)
    decision = fit_decision(*map(list, zip(*cv.rows)), seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ranker.txt").write_text(ranker.model_to_string())
    (args.out / "decision.txt").write_text(decision.model_to_string())
    meta = {"features": list(FEATURES), "threshold": round(threshold, 3), "temperature": round(cv.temperature, 4),
            "folds": FOLDS,
            "split": "folds by sha256(written_for) % 5 (refusals by id); each question read with its own example, "
                     "its procedures' examples, and all examples left out",
            "questions": [p.name for p in args.questions], "data_sha256": data_hash(args.questions),
            "n_questions": len(items), "fitted": date.today().isoformat(), "seed": args.seed,
            "small_index": str(args.small_data_dir or ""), "sample_index": str(args.sample_data_dir or ""),
            "out_of_fold": {v: figures[v]["all"] for v in figures}}
    (args.out / "routing.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    print(f"\nwrote {args.out} (threshold {threshold:.3f}, temperature {cv.temperature:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
