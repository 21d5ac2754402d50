"""What a run leaves in its folder besides results.jsonl: metrics.json, report.md and report.html."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from eval.metrics import DEFINITIONS, TurnScore, compute, fact_found, score_turn

MAX_FAILED_SHOWN = 200
RATE_METRICS: tuple[str, ...] = (
    "hit@1", "hit@3", "hit@5", "mrr", "procedure_macro_hit@1", "behavior_accuracy", "behavior_macro_recall",
    "refuse_precision", "refuse_recall", "wrong_procedure_rate", "fact_accuracy", "citation_validity")


@dataclass
class FailedTurn:
    record: dict[str, Any]
    score: TurnScore
    reasons: list[str]


def fmt(name: str, value: Any) -> str:
    """A metric value for people: rates with 3 decimals, seconds with 2, counts as integers."""
    if value is None:
        return "n/a"
    if name.startswith("latency"):
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if name.startswith("answer_length") or name in ("errors", "n", "n_scored"):
        return f"{value:.0f}"
    return f"{value:.3f}"


def reasons(score: TurnScore, record: dict[str, Any]) -> list[str]:
    """Why a turn counts as failed, in words."""
    out: list[str] = []
    if score.error:
        out.append(f"request failed: {score.error}")
        return out
    if not score.behavior_ok:
        out.append(f"behaviour {score.got_behavior}, expected {score.expected_behavior}")
    if score.hit1 is False:
        cited = ", ".join(score.codes) or "nothing"
        out.append(f"hit@1 miss: cited {cited}; expected {', '.join(score.expected_sources)}")
    if score.facts_total and score.facts_found < score.facts_total:
        text = (record.get("got") or {}).get("answer") or ""
        missing = [f for f in record["expected"].get("facts", []) if not fact_found(f, text)]
        out.append("facts missing: " + "; ".join(missing))
    if score.citation_valid is False:
        bad = record.get("quote_failures") or []
        out.append("citations invalid" + (f" (quotes not in source: {bad})" if bad else
                                          " (unresolved [n] marker or empty quote)"))
    return out


def failed_turns(records: Sequence[dict[str, Any]]) -> list[FailedTurn]:
    out = []
    for rec in records:
        s = score_turn(rec)
        if s.failed:
            out.append(FailedTurn(rec, s, reasons(s, rec)))
    return out


def build(records: Sequence[dict[str, Any]], run: dict[str, Any]) -> dict[str, Any]:
    """The metrics.json document (a gate verdict goes under "gate" when thresholds are set)."""
    return {"run": run, **compute(records)}


def write(out_dir: Path, doc: dict[str, Any], records: Sequence[dict[str, Any]]) -> None:
    """Write metrics.json, report.md and report.html for a document from `build`."""
    from eval import html as html_report  # html.py builds on this module's helpers

    failed = failed_turns(records)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out_dir / "report.md").write_text(markdown(doc, failed), encoding="utf-8")
    (out_dir / "report.html").write_text(html_report.render(doc, failed), encoding="utf-8")


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(doc: dict[str, Any], failed: Sequence[FailedTurn]) -> str:
    run, metrics = doc["run"], doc["metrics"]
    lines = [f"# Eval report: {run.get('tag', '')}", ""]
    lines += [f"- gold: `{run.get('gold', '')}` ({doc['n_turns']} turns scored)",
              f"- target: {run.get('target', '')}", f"- finished: {run.get('finished_at', '')}", ""]
    gate = doc.get("gate")
    if gate:
        verdict = "PASSED" if not gate["failures"] else "FAILED"
        lines += [f"## Gate: {verdict}", ""] + [f"- {f}" for f in gate["failures"]] + [""]
    lines += ["## Metrics", "", "| metric | value | definition |", "|---|---|---|"]
    lines += [f"| {name} | {fmt(name, metrics.get(name))} | {DEFINITIONS[name]} |" for name in DEFINITIONS]
    lines += ["", "## Behaviour confusion matrix (rows: expected, columns: got)", ""]
    cols = list(next(iter(doc["confusion"].values())).keys())
    lines += ["| expected \\ got | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for exp, row in doc["confusion"].items():
        lines.append(f"| {exp} | " + " | ".join(str(row[c]) for c in cols) + " |")
    heads = ("n", "n_scored", "hit@1", "hit@5", "mrr", "behavior_accuracy", "wrong_procedure_rate", "fact_accuracy")
    for key, groups in doc["breakdowns"].items():
        lines += ["", f"## By {key.replace('_', ' ')}", "", "| group | " + " | ".join(heads) + " |",
                  "|---" * (len(heads) + 1) + "|"]
        for group, vals in groups.items():
            lines.append(f"| {_cell(group)} | " + " | ".join(fmt(h, vals.get(h)) for h in heads) + " |")
    worst = sorted(doc["procedures"].items(), key=lambda kv: (kv[1]["hit@1"], -kv[1]["n"]))[:20]
    if worst:
        lines += ["", "## Procedures with the lowest hit@1", "", "| code | n | hit@1 |", "|---|---|---|"]
        lines += [f"| {code} | {v['n']} | {fmt('hit@1', v['hit@1'])} |" for code, v in worst]
    lines += ["", f"## Failed turns ({len(failed)})", ""]
    if len(failed) > MAX_FAILED_SHOWN:
        lines += [f"The first {MAX_FAILED_SHOWN} are shown; results.jsonl holds them all.", ""]
    lines += ["| id | question | expected | got | why |", "|---|---|---|---|---|"]
    for f in failed[:MAX_FAILED_SHOWN]:
        exp = f.record["expected"]
        question = " → ".join([*f.record.get("history", []), f.record["question"]])
        expected = f"{exp['expected_behavior']} {', '.join(exp['expected_sources'])}".strip()
        got = "error" if f.score.error else f"{f.score.got_behavior} {', '.join(f.score.codes)}".strip()
        lines.append(f"| {_cell(f.record['id'])} | {_cell(question)} | {_cell(expected)} | {_cell(got)} | "
                     f"{_cell('; '.join(f.reasons))} |")
    return "\n".join(lines) + "\n"
