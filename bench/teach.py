"""How many taught examples it takes to fix a missed paraphrase family, measured on the question bank.

    .venv/bin/python bench/teach.py --data-dir DIR [--families 40] [--scan 500] [--seed 0]

DIR is an index of corpus/, the portal records and the bank's examples (`make portal`, README
"Evaluation and benchmarks"); it is copied to a temporary folder and never changed.

1. Scan: for `--scan` procedures with three bank questions (a seeded sample), each question is ranked
   with every example naming its procedure left out; a family is *missed* when at least two of its three
   questions are (refused, or another procedure first).
2. The copy is re-indexed without those examples for `--families` missed families (the bank file
   ingested again without them): an index where officials have not taught anything about them yet.
3. k = 1, 2: k questions of each family are taught through the same code as `POST /v1/examples`
   (`ingest/taught.py`, one example file each) and the family's other questions asked, each question
   held out in turn (3 rotations); k = 3: all three taught, and dev.jsonl's questions about those
   procedures asked, and the taught questions themselves. Each question is a new conversation of the
   whole assistant (`Assistant.chat`, as a citizen); a hit is the first cited procedure being one
   the question expects (the scoring rule of DESIGN.md).
4. Control: dev.jsonl's first turns about other procedures and its refusals, before any teaching and
   with every family's three questions taught.
Prints markdown tables (stage times on stderr).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from assistant.service import Assistant
from assistant.settings import Settings
from assistant.store import Store
from assistant.taught import Taught, example_row
from ingest.pipeline import ingest
from ingest.taught import forget, teach

ROOT = Path(__file__).resolve().parents[1]
BANK = ROOT.parent / "shared/data/questions/bank.jsonl"
DEV = ROOT.parent / "shared/data/gold/dev.jsonl"


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def stage(name: str, since: float) -> float:
    print(f"[+{time.perf_counter() - since:4.0f} s] {name}", file=sys.stderr, flush=True)
    return time.perf_counter()


def scan(assistant: Assistant, families: dict[str, list[dict]]) -> list[str]:
    """The families at least two of whose three questions are missed with their procedure's examples left out."""
    retriever = assistant.retriever
    ex = retriever.snapshot.examples
    missed = []
    for code, questions in families.items():
        exclude = frozenset(ex.by_code.get(code, ()))
        misses = hits = 0
        for q in questions:  # until two of three decide it
            res = retriever.rank(retriever.gather(q["question"], "citizen"), k=3, exclude=exclude)
            ok = bool(res.candidates) and res.answerable >= retriever.models.threshold and \
                res.candidates[0].key in q["expected_sources"]
            hits, misses = hits + ok, misses + (not ok)
            if 2 in (hits, misses):
                break
        if misses == 2:
            missed.append(code)
    return missed


def outcome(assistant: Assistant, question: str, expected: list[str]) -> str:
    out = assistant.chat(question)
    if out["behavior"] == "refuse":
        return "refused"
    codes = [c["procedure_code"] or c["source_id"] for c in out["citations"]]
    if out["behavior"] == "clarify":
        return "asked back"
    return "hit" if codes and codes[0] in expected else "wrong"


def row_of(label: str, results: list[str], families: int | None = None) -> str:
    n = len(results)
    share = {k: sum(r == k for r in results) / n if n else 0.0 for k in ("hit", "refused", "wrong", "asked back")}
    fam = "" if families is None else f"{families}"
    return (f"| {label} | {fam} | {n} | {share['hit']:.2f} | {share['refused']:.2f} | {share['wrong']:.2f} | "
            f"{share['asked back']:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", required=True, type=Path, help="an index built by `make portal` (copied, not changed)")
    ap.add_argument("--families", type=int, default=40, help="missed families to teach (default 40)")
    ap.add_argument("--scan", type=int, default=500, help="families scanned to find missed ones (default 500)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    started = t = time.perf_counter()
    rng = random.Random(args.seed)
    bank = rows(BANK)
    by_code: dict[str, list[dict]] = defaultdict(list)
    for r in bank:
        by_code[r["written_for"]].append(r)
    threes = sorted(c for c, qs in by_code.items() if len(qs) == 3)
    scanned = {c: by_code[c] for c in rng.sample(threes, min(args.scan, len(threes)))}

    with tempfile.TemporaryDirectory(prefix="bench-teach-") as tmp:
        work = Path(tmp) / "var"
        shutil.copytree(args.data_dir, work, ignore=shutil.ignore_patterns("lock", "routing-gathered.pkl"))
        settings = Settings(data_dir=work, today="2026-11-24")
        t = stage("copied the index", t)
        assistant = Assistant.open(settings, purpose="bench teach")
        try:
            missed = scan(assistant, scanned)
        finally:
            assistant.close()
        chosen = sorted(rng.sample(missed, min(args.families, len(missed))))
        t = stage(f"scanned {len(scanned)} families: {len(missed)} missed, {len(chosen)} taught", t)

        (Path(tmp) / "bank").mkdir()
        kept = [r for r in bank if not set(chosen) & set(r["expected_sources"])]
        (Path(tmp) / "bank" / BANK.name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept),
                                                    encoding="utf-8")
        store = Store(settings, purpose="bench teach")
        try:
            assert not ingest(store, [Path(tmp) / "bank" / BANK.name], progress=False).failed
        finally:
            store.close()
        t = stage(f"re-indexed the bank without {len(bank) - len(kept)} examples naming those procedures", t)

        families = {c: by_code[c] for c in chosen}
        dev = [r for r in rows(DEV) if not r.get("history")]
        dev_of = [r for r in dev if set(chosen) & set(r["expected_sources"])]
        control = [r for r in dev if not set(chosen) & set(r["expected_sources"])]
        control = rng.sample(control, min(150, len(control)))
        taught = Taught(work)
        assistant = Assistant.open(settings, purpose="bench teach")
        table, fixed = [], {}
        try:
            def ask_all(items: list[dict]) -> list[str]:
                return [outcome(assistant, r["question"], r["expected_sources"]) for r in items]

            def teach_all(items: list[dict]) -> list[str]:
                ids = []
                for r in items:
                    row = example_row(r["question"], [r["written_for"]], "bench:teach")
                    teach(assistant.store, taught, row)
                    ids.append(row["id"])
                return ids

            base = ask_all([q for qs in families.values() for q in qs])
            table.append(row_of("0 (the family, nothing taught)", base, len(families)))
            control_before = ask_all(control)
            t = stage("asked the families and the control set before teaching", t)
            for k in (1, 2):
                results: list[str] = []
                whole = defaultdict(list)
                for rotation in range(3):
                    taught_now, asked = [], []
                    for code, qs in families.items():
                        picked = [qs[(rotation + i) % 3] for i in range(k)]
                        taught_now += picked
                        asked += [(code, q) for q in qs if q not in picked]
                    ids = teach_all(taught_now)
                    for code, q in asked:
                        got = outcome(assistant, q["question"], q["expected_sources"])
                        results.append(got)
                        whole[(code, rotation)].append(got == "hit")
                    for eid in ids:
                        forget(assistant.store, taught, eid)
                fixed[k] = sum(all(v) for v in whole.values()) / len(whole)
                table.append(row_of(f"{k} (the family's other {3 - k})", results, len(families)))
                t = stage(f"k={k}", t)
            ids = teach_all([q for qs in families.values() for q in qs])
            table.append(row_of("3 (dev.jsonl's questions about them)", ask_all(dev_of),
                                len({c for r in dev_of for c in r['expected_sources'] if c in families})))
            table.append(row_of("3 (the taught questions themselves)", ask_all([q for qs in families.values() for q in qs]),
                                len(families)))
            control_after = ask_all(control)
            for eid in ids:
                forget(assistant.store, taught, eid)
            t = stage("k=3 and the control set", t)
        finally:
            assistant.close()

    print(f"\nIndex: {args.data_dir} (copied). {len(scanned)} families of three bank questions scanned (seed {args.seed}); "
          f"{len(missed)} missed (2 or 3 of 3) with their procedure's examples left out; {len(chosen)} of them taught.\n")
    print("| examples taught per family (asked) | families | questions | hit@1 | refused | wrong procedure | asked back |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(table))
    print("\nFamilies whose held-out questions all hit: " +
          ", ".join(f"k={k}: {share:.2f}" for k, share in fixed.items()))
    answer_before = [o for o, r in zip(control_before, control) if r["expected_behavior"] == "answer"]
    answer_after = [o for o, r in zip(control_after, control) if r["expected_behavior"] == "answer"]
    refuse_before = [o for o, r in zip(control_before, control) if r["expected_behavior"] == "refuse"]
    refuse_after = [o for o, r in zip(control_after, control) if r["expected_behavior"] == "refuse"]
    print(f"\nControl, dev.jsonl first turns about other procedures ({len(answer_before)}): hit@1 "
          f"{sum(o == 'hit' for o in answer_before) / max(1, len(answer_before)):.3f} before teaching, "
          f"{sum(o == 'hit' for o in answer_after) / max(1, len(answer_after)):.3f} with all {3 * len(chosen)} taught; "
          f"its refusals ({len(refuse_before)}) refused {sum(o == 'refused' for o in refuse_before)} before, "
          f"{sum(o == 'refused' for o in refuse_after)} after.")
    print(f"Total time {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
