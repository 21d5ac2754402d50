"""How routing does on questions it was not fitted on, by style (vi, vi_nodiac, narrative, en, vi_org,
refuse): hit@1, hit@3, wrong-procedure, refuse precision/recall and behaviour macro-recall.

    .venv/bin/python bench/generalisation.py --data-dir DIR [--small-data-dir SMALL] [--rules OLD.jsonl] [--dev]

- **bank, own example left out**: 5 folds by procedure; a question is scored by models fitted on the
  other folds, with the index holding every example but its own;
- **bank, its procedures' examples left out**: the same, with every example of its procedures left
  out too (what a newly ingested procedure gets);
- **dev.jsonl as a test** (`--dev`): the whole assistant (histories, follow-ups, clarify) with the
  packaged models, which never saw it;
- `--small-data-dir SMALL` (an index of `corpus/` alone): bank questions on a small index, where
  those about procedures it lacks must be refused; `--sample-data-dir SAMPLE` the same on an index of
  `corpus/` and a sample of whole fields of the records (`python -m eval.sample`);
- `--rules FILE`: answers of another version on the same bank questions (`bench/ask_all.py`), scored
  the same way, side by side;
- `--term TERM`: the own-read table again for the bank questions whose lexicon terms include TERM
  (what a lexicon change touches: run it at both commits);
- `--errors`: the own read's answers with another procedure, by style and by how many name words
  the cited and the expected procedure share (siblings, related, unrelated);
- `--seeds N`: the folds fitted again with N other LightGBM seeds: how far hit@1 moves and how many
  first answers change from the bagging seed alone. A change to routing has to move the figures by
  more than that spread to count.
DIR holds the portal records and the example files (`make portal`).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from assistant import lexicon
from assistant.settings import Settings
from eval.fit import QUESTIONS
from eval.routing import (SEED, Item, Scored, choose_threshold, cross_validate, format_table, load_questions, read_bank,
                          table)
from eval.sample import PORTAL

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared/data/gold/dev.jsonl"


def rules_table(path: Path, items: list) -> dict:
    """Another version's answers (one line each) scored like the folds: refusing is `answerable` 0."""
    got = {r["id"]: r for r in map(json.loads, path.read_text().splitlines())}
    scored = [Scored(it, "rules", got[it.id]["codes"][:3], 0.0 if got[it.id]["behavior"] == "refuse" else 1.0)
              for it in items if it.id in got]
    return table(scored, 0.5, "rules")


def errors(scored: list[Scored], threshold: float) -> str:
    """Wrong first procedures of the own read by style and by the word Jaccard of the two names:
    siblings (>= 0.5), related (>= 0.25), unrelated."""
    names = {}
    for line in PORTAL.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        names[r["ma_thu_tuc"]] = set(re.findall(r"\w+", r["ten_thu_tuc"].lower()))
    kinds: Counter = Counter()
    for s in scored:
        it = s.item
        wrong = bool(s.top) and s.top[0] not in it.expected and s.answerable >= threshold
        if s.variant != "own" or it.behavior != "answer" or not wrong:
            continue
        a, b = names.get(it.expected[0]), names.get(s.top[0])
        share = len(a & b) / len(a | b) if a and b else 0.0
        kinds[it.style, "siblings" if share >= 0.5 else "related" if share >= 0.25 else "unrelated"] += 1
    styles = sorted({st for st, _ in kinds})
    lines = ["| style | siblings | related | unrelated |", "|---|---|---|---|"]
    lines += [f"| {st} | " + " | ".join(str(kinds[st, k]) for k in ("siblings", "related", "unrelated")) + " |"
              for st in styles]
    return "\n".join(lines)


def seed_spread(items: list[Item], first: list[Scored], seeds: int) -> str:
    """hit@1 by style under each seed, the spread, and the answer questions whose first procedure
    differs from the packaged seed's, per read."""
    runs = {SEED: first}
    for seed in range(SEED + 1, SEED + 1 + seeds):
        runs[seed] = cross_validate(items, progress=False, seed=seed).scored
    lines = []
    for variant in ("own", "small", "sample"):
        figures = {}
        for seed, scored in runs.items():
            rows = table(scored, choose_threshold(scored), variant)
            figures[seed] = {style: r["hit@1"] for style, r in rows.items() if "hit@1" in r}
        if not any(figures.values()):
            continue
        styles = sorted(figures[SEED], key=lambda st: (st != "all", st))
        top = {seed: {s.item.id: s.top[:1] for s in scored if s.variant == variant and s.item.behavior == "answer"}
               for seed, scored in runs.items()}
        changed = {seed: str(sum(top[seed][i] != top[SEED][i] for i in top[SEED])) for seed in runs if seed != SEED}
        lines += [f"\n### hit@1 by seed, read: {variant} ({len(top[SEED])} questions to answer)",
                  "| seed | " + " | ".join(styles) + " | first answer changed |", "|---" * (len(styles) + 2) + "|"]
        for seed in runs:
            cells = " | ".join(f"{figures[seed][st]:.3f}" for st in styles)
            lines.append(f"| {seed} | {cells} | {changed.get(seed, '')} |")
        spread = {st: max(f[st] for f in figures.values()) - min(f[st] for f in figures.values()) for st in styles}
        lines.append("| spread | " + " | ".join(f"{spread[st]:.3f}" for st in styles) + " | |")
    return "\n".join(lines)


def dev_test(data_dir: Path) -> str:
    from assistant.service import Assistant
    from eval.gold import load_gold
    from eval.metrics import compute
    from eval.runner import ask_turn

    assistant = Assistant.open(Settings(data_dir=data_dir, today="2026-11-24"), purpose="bench generalisation")
    try:
        records = [ask_turn(assistant, t, index=i) for i, t in enumerate(load_gold(DEV))]
    finally:
        assistant.close()
    m = compute(records)["metrics"]
    keys = ["hit@1", "hit@3", "wrong_procedure_rate", "refuse_precision", "refuse_recall", "behavior_macro_recall",
            "citation_validity", "latency_p95"]
    return "\n".join(f"  {k}: {m.get(k):.3f}" if isinstance(m.get(k), float) else f"  {k}: {m.get(k)}" for k in keys)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--small-data-dir", type=Path, help="an index of corpus/ alone (as for eval/fit.py)")
    ap.add_argument("--sample-data-dir", type=Path,
                    help="an index of corpus/ and a sample of the records (eval/fit.py)")
    ap.add_argument("--rules", type=Path, help="bench/ask_all.py output of another version on the bank")
    ap.add_argument("--dev", action="store_true", help="also run dev.jsonl through the whole assistant")
    ap.add_argument("--term", help="also the own-read table for the questions whose lexicon terms include this")
    ap.add_argument("--errors", action="store_true", help="wrong first procedures by style and name overlap")
    ap.add_argument("--seeds", type=int, default=0, help="refit the folds with this many other seeds: the spread")
    args = ap.parse_args()
    items = read_bank(load_questions(QUESTIONS), args.data_dir, args.small_data_dir, "bench generalisation",
                      args.sample_data_dir)
    scored = cross_validate(items, progress=False).scored
    threshold = choose_threshold(scored)
    print(f"refuse threshold chosen on the out-of-fold reads: {threshold:.3f}")
    for variant, title in (("own", "bank, own example left out"), ("procedure", "bank, its procedures' examples left out"),
                           ("none", "bank, no examples indexed"), ("small", "bank, on an index of corpus/ alone"),
                           ("sample", "bank, on an index of corpus/ and a sample of fields")):
        if not any(s.variant == variant for s in scored):
            continue
        print(f"\n### {title}\n{format_table(table(scored, threshold, variant))}")
    if args.term:
        touched = {it.id for it in items if args.term in lexicon.official_terms(it.question, it.lang)}
        said = [s for s in scored if s.item.id in touched]
        print(f"\n### bank, own example left out, the questions whose terms include {args.term!r}\n"
              f"{format_table(table(said, threshold, 'own'))}")
    if args.errors:
        print(f"\n### bank, own example left out: answered with another procedure\n{errors(scored, threshold)}")
    if args.seeds:
        print(seed_spread(items, scored, args.seeds))
    if args.rules:
        print(f"\n### the same questions, {args.rules.name}\n{format_table(rules_table(args.rules, items))}")
    if args.dev:
        print(f"\n### dev.jsonl as a test (whole assistant, packaged models)\n{dev_test(args.data_dir)}")


if __name__ == "__main__":
    main()
