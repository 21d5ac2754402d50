"""Answer behaviour on a gold file, in-process with histories replayed: hit@1 of the first cited
procedure, behaviour macro-recall, refuse precision/recall and the trade-off curve of the refuse
threshold (the fitted decision's), wrong-procedure rate, fact accuracy, answer length.

    python bench/answers.py --data-dir var [--gold ../shared/data/gold/dev.jsonl] [--corrections eval/gold/dev_corrections.jsonl]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from assistant.ranker import Models
from assistant.service import Assistant
from assistant.settings import Settings
from eval.gold import apply_corrections, load_gold
from eval.metrics import compute
from eval.runner import ask_turn

ROOT = Path(__file__).resolve().parents[1]
KEYS = ["hit@1", "hit@3", "behavior_accuracy", "behavior_macro_recall", "refuse_precision", "refuse_recall",
        "wrong_procedure_rate", "fact_accuracy", "citation_validity", "answer_length_p95", "latency_p50",
        "latency_p95"]


class Explaining:
    """Chat with --explain, keeping the reasoning beside the answer (for the threshold sweep)."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.last: dict[str, Any] = {}

    def chat(self, message: str, session_id: str | None = None, audience: str = "citizen") -> dict[str, Any]:
        out = self.assistant.chat(message, session_id=session_id, audience=audience, explain=True)
        self.last = out.pop("explain")
        return out


def sweep(records: list[dict[str, Any]], reasons: list[dict[str, Any]]) -> list[str]:
    """Refuse precision/recall if the decision's threshold were each value (turns decided by retrieval:
    not follow-ups, picks, questions in parts or small talk)."""
    rows = []
    for theta in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        tp = fp = fn = 0
        for rec, why in zip(records, reasons):
            if "answerable" not in why or any(w in why.get("reason", "") for w in ("follow-up", "option", "several procedures",
                                                                                   "after a clarify")):
                continue
            refuse = why["answerable"] < theta
            expected = rec["expected"]["expected_behavior"] == "refuse"
            tp += refuse and expected
            fp += refuse and not expected
            fn += expected and not refuse
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        rows.append(f"  threshold {theta:.2f}: refuse precision {p:.3f} recall {r:.3f} (false refusals {fp})")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gold", default=str(ROOT.parent / "shared/data/gold/dev.jsonl"))
    ap.add_argument("--data-dir", default="var")
    ap.add_argument("--corrections", default=None, help="a corrections file: report corrected figures")
    ap.add_argument("--today", default=None)
    ap.add_argument("--out", default=None, help="write results.jsonl here")
    args = ap.parse_args()
    turns = load_gold(Path(args.gold))
    turns, fixed = apply_corrections(turns, Path(args.corrections)) if args.corrections else (turns, 0)
    settings = Settings(data_dir=Path(args.data_dir), today=args.today)
    assistant = Assistant.open(settings, purpose="bench answers")
    client = Explaining(assistant)
    records, reasons = [], []
    try:
        for i, turn in enumerate(turns):
            records.append(ask_turn(client, turn, index=i))
            reasons.append(client.last)
    finally:
        assistant.close()
    m = compute(records)["metrics"]
    label = f"{args.gold}" + (f" with {fixed} corrections" if fixed else "")
    print(f"{label}: {len(records)} turns")
    for k in KEYS:
        v = m.get(k)
        print(f"  {k:24s} {v:.3f}" if isinstance(v, float) else f"  {k:24s} {v}")
    models = Models.packaged()
    print(f"ranker temperature {models.temperature:.3f}; refuse below the decision's threshold {models.threshold:.2f}"
          " (both fitted by eval/fit.py); trade-off:")
    print("\n".join(sweep(records, reasons)))
    print("confusion (expected -> got):", json.dumps(compute(records)["confusion"]))
    if args.out:
        Path(args.out).write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n")


if __name__ == "__main__":
    main()
