"""CI gates on the project's gold sets, through the real `assistant eval run` command on the full
index: English questions, facts read from the records, and the dev set (with our label corrections)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from eval.gold import apply_corrections, load_gold, write_gold
from tests.conftest import DEV_GOLD, ROOT

pytestmark = pytest.mark.slow
GOLD = ROOT / "eval" / "gold"
THRESHOLDS = ROOT / "eval" / "thresholds"


def corrected_dev(target: Path) -> Path:
    """dev.jsonl with eval/gold/dev_corrections.jsonl applied (the shared file stays untouched)."""
    turns, _ = apply_corrections(load_gold(DEV_GOLD), GOLD / "dev_corrections.jsonl")
    write_gold(target, turns)
    return target


@pytest.mark.parametrize("gold,thresholds", [("en.jsonl", "en.json"), ("facts.jsonl", "facts.json"),
                                             ("dev", "dev.json")])
def test_gold_set_passes_its_gate(service_data: Path, tmp_path: Path, gold: str, thresholds: str) -> None:
    path = corrected_dev(tmp_path / "dev-corrected.jsonl") if gold == "dev" else GOLD / gold
    env = dict(os.environ, ASSISTANT_DATA_DIR=str(service_data), ASSISTANT_TODAY="2026-11-24")
    run = subprocess.run([str(ROOT / ".venv/bin/assistant"), "eval", "run", str(path), "--out", str(tmp_path / "run"),
                          "--thresholds", str(THRESHOLDS / thresholds), "--no-progress"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())["metrics"]
    print(gold, {k: metrics.get(k) for k in ("hit@1", "behavior_macro_recall", "fact_accuracy", "citation_validity")})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (tmp_path / "run" / "report.html").stat().st_size > 10_000
