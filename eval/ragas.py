"""Export a run to the RAGAS dataset layout, and import a RAGAS dataset as a gold file.

Export: one JSON line per answered turn with RAGAS's columns `question`, `answer`, `contexts` (the
citation quotes) and `ground_truth` (the facts joined with "; ", else the expected sources joined with
", "), plus a `gold` column holding the rest of our gold turn, so that an import gives back the very
same gold file. RAGAS ignores columns it does not know.

Import: reads the 0.1 layout (`question`, `ground_truth` or `ground_truths`) and the 0.2+ layout
(`user_input`, `reference`). Rows carrying our `gold` column come back exactly; for others the ground
truth is read as expected sources when every part looks like a procedure code, as facts when it is a
list of short parts, and is kept in `notes` otherwise (a reference answer is not a string the answer
must contain verbatim).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

from assistant.query import detect_lang
from eval.gold import GoldError, GoldTurn, json_lines, turn_from_dict, unique_turns
from eval.runner import load_results

CODE = re.compile(r"^\d+\.\d{6}$")  # national procedure codes: 1.001193, 2.000488
FACT_SEPARATOR = "; "
SOURCE_SEPARATOR = ", "
MAX_FACT_CHARS = 80


def export_rows(run_dir: Path) -> Iterator[dict[str, Any]]:
    """Rows for the answered turns of a run (failed requests have no answer to judge)."""
    path = run_dir / "results.jsonl"
    if not path.exists():
        raise ValueError(f"{run_dir} is not a run folder (no results.jsonl)")
    records = sorted(load_results(path).values(), key=lambda r: (r.get("index") is None, r.get("index") or 0))
    for rec in records:
        got = rec.get("got")
        if rec.get("error") or not got:
            continue
        exp = rec["expected"]
        facts, sources = exp.get("facts") or [], exp.get("expected_sources") or []
        yield {
            "question": rec["question"],
            "answer": got.get("answer") or "",
            "contexts": [str(c.get("quote") or "") for c in got.get("citations") or []],
            "ground_truth": FACT_SEPARATOR.join(facts) if facts else SOURCE_SEPARATOR.join(sources),
            "gold": {"id": rec["id"], "history": rec.get("history") or [], **exp},
        }


def export_run(run_dir: Path, out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with out.open("w", encoding="utf-8") as fh:
        for row in export_rows(run_dir):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def _ground_truth(row: dict[str, Any]) -> list[str]:
    value = row.get("ground_truth", row.get("reference", row.get("ground_truths")))
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if not text:
        return []
    parts = [p.strip() for p in re.split(r"\s*[;,]\s*", text) if p.strip()]
    if parts and all(CODE.match(p) for p in parts):
        return parts
    return [p.strip() for p in text.split(";") if p.strip()]


def turn_from_ragas(row: dict[str, Any], index: int, where: str) -> GoldTurn:
    """One gold turn from one RAGAS row; `index` (1-based) names rows that carry no id."""
    question = row.get("question", row.get("user_input"))
    if not isinstance(question, str) or not question.strip():
        raise GoldError(f"{where}: no `question` (or `user_input`)")
    gold = row.get("gold")
    if isinstance(gold, dict):
        return turn_from_dict({**gold, "question": question}, where)
    truth = _ground_truth(row)
    sources = truth if truth and all(CODE.match(t) for t in truth) else []
    facts: list[str] = []
    notes = ""
    if truth and not sources:
        if all(len(t) <= MAX_FACT_CHARS for t in truth):
            facts = truth
        else:
            notes = "ragas reference: " + " ".join(truth)
    return GoldTurn(id=str(row.get("id") or f"ragas-{index:04d}"), question=question.strip(),
                    expected_behavior="answer", expected_sources=sources, facts=facts,
                    lang=detect_lang(question), notes=notes)


def import_file(path: Path) -> list[GoldTurn]:
    rows = enumerate(json_lines(path), 1)
    return unique_turns((where, turn_from_ragas(row, i, where)) for i, (where, row) in rows)
