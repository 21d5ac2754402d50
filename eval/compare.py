"""Compare two runs: metric deltas and the turns that flipped (hit@1 or behaviour)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval.metrics import DEFINITIONS, LOWER_IS_BETTER, TurnScore, score_turn, summary
from eval.report import fmt
from eval.runner import load_results


def load_run(run_dir: Path) -> dict[str, dict[str, Any]]:
    path = run_dir / "results.jsonl"
    if not path.exists():
        raise ValueError(f"{run_dir} is not a run folder (no results.jsonl)")
    return load_results(path)


def _flips(a: dict[str, TurnScore], b: dict[str, TurnScore], right: str) -> dict[str, list[str]]:
    """Ids whose `right` ('hit1' or 'behavior_ok') went from right to wrong and from wrong to right."""
    out: dict[str, list[str]] = {"right_to_wrong": [], "wrong_to_right": []}
    for tid in a.keys() & b.keys():
        ra, rb = getattr(a[tid], right), getattr(b[tid], right)
        if ra is None or rb is None or ra == rb:
            continue
        out["right_to_wrong" if ra else "wrong_to_right"].append(tid)
    for ids in out.values():
        ids.sort()
    return out


def compare(run_a: Path, run_b: Path) -> dict[str, Any]:
    """Metrics of both runs over the turns both hold, deltas (b - a), and the flipped turns."""
    rec_a, rec_b = load_run(run_a), load_run(run_b)
    common = [tid for tid in rec_a if tid in rec_b]
    scores_a = {tid: score_turn(rec_a[tid]) for tid in common}
    scores_b = {tid: score_turn(rec_b[tid]) for tid in common}
    ma, mb = summary(list(scores_a.values())), summary(list(scores_b.values()))
    metrics = {}
    for name in DEFINITIONS:
        va, vb = ma.get(name), mb.get(name)
        delta = vb - va if va is not None and vb is not None else None
        better = None if not delta else (delta < 0) == (name in LOWER_IS_BETTER)
        metrics[name] = {"a": va, "b": vb, "delta": delta, "better": better}
    turns = {tid: {"question": rec_b[tid].get("question"), "expected": rec_b[tid].get("expected"),
                   "a": _brief(scores_a[tid]), "b": _brief(scores_b[tid])} for tid in common}
    return {
        "a": str(run_a), "b": str(run_b), "common_turns": len(common),
        "only_in_a": sorted(set(rec_a) - set(rec_b)), "only_in_b": sorted(set(rec_b) - set(rec_a)),
        "metrics": metrics,
        "flips": {"hit@1": _flips(scores_a, scores_b, "hit1"), "behavior": _flips(scores_a, scores_b, "behavior_ok")},
        "turns": turns,
    }


def _brief(s: TurnScore) -> str:
    return "error" if s.error else f"{s.got_behavior} {', '.join(s.codes) or '(no citation)'}"


def _delta(name: str, delta: float) -> str:
    if name.startswith("latency"):
        return f"{delta * 1000:+.0f} ms" if abs(delta) < 1 else f"{delta:+.2f} s"
    if name.startswith("answer_length") or name == "errors":
        return f"{delta:+.0f}"
    return f"{delta:+.3f}"


def render(result: dict[str, Any]) -> str:
    """The comparison as Markdown, for a terminal or a pull-request comment."""
    lines = [f"# Compare A = {result['a']}  vs  B = {result['b']}", "",
             f"{result['common_turns']} turns in both runs"
             f" ({len(result['only_in_a'])} only in A, {len(result['only_in_b'])} only in B).", "",
             "| metric | A | B | B - A |", "|---|---|---|---|"]
    for name, m in result["metrics"].items():
        delta = "n/a" if m["delta"] is None else _delta(name, m["delta"]) + {
            True: " ▲ better", False: " ▼ worse", None: ""}[m["better"]]
        lines.append(f"| {name} | {fmt(name, m['a'])} | {fmt(name, m['b'])} | {delta} |")
    if not any(ids for flips in result["flips"].values() for ids in flips.values()):
        lines += ["", "No turn flipped (hit@1 or behaviour)."]
    for metric, flips in result["flips"].items():
        for direction, ids in flips.items():
            if not ids:
                continue
            title = "right → wrong" if direction == "right_to_wrong" else "wrong → right"
            lines += ["", f"## {metric}: {title} ({len(ids)})"]
            for tid in ids:
                t = result["turns"][tid]
                exp = t["expected"] or {}
                lines.append(f"- `{tid}` {t['question']} — expected {exp.get('expected_behavior', '')} "
                             f"{', '.join(exp.get('expected_sources', []))}; A: {t['a']}; B: {t['b']}")
    return "\n".join(lines) + "\n"
