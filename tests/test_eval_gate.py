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


def test_bundled_corpus_questions_pass_their_gate(corpus_data: Path, tmp_path: Path) -> None:
    env = dict(os.environ, ASSISTANT_DATA_DIR=str(corpus_data), ASSISTANT_TODAY="2026-11-24")
    run = subprocess.run([str(ROOT / ".venv/bin/assistant"), "eval", "run", str(GOLD / "corpus.jsonl"), "--out",
                          str(tmp_path / "run"), "--thresholds", str(THRESHOLDS / "corpus.json"), "--no-progress"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())["metrics"]
    print("corpus", {k: metrics.get(k) for k in ("hit@1", "behavior_macro_recall", "refuse_precision", "refuse_recall")})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


def test_conversations_over_http_pass_their_gate(corpus_data: Path, tmp_path: Path) -> None:
    """Histories replayed in one session through a real `assistant serve`: follow-ups, topic switches,
    out-of-scope questions asked second, clarify answers."""
    from tests.conftest import free_port, wait_for_port

    port = free_port()
    # the eval runner is one client asking many questions: a server for evaluation runs without the rate limit
    env = dict(os.environ, ASSISTANT_DATA_DIR=str(corpus_data), ASSISTANT_TODAY="2026-11-24", ASSISTANT_RATE_LIMIT="off")
    server = subprocess.Popen([str(ROOT / ".venv/bin/assistant"), "serve", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=120, proc=server)
        run = subprocess.run([str(ROOT / ".venv/bin/assistant"), "eval", "run", str(GOLD / "conversations.jsonl"),
                              "--url", f"http://127.0.0.1:{port}", "--out", str(tmp_path / "run"),
                              "--thresholds", str(THRESHOLDS / "conversations.json"), "--no-progress"],
                             cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=900)
    finally:
        server.terminate()
        server.wait(timeout=30)
    result = json.loads((tmp_path / "run" / "metrics.json").read_text())
    kinds = {k: v["hit@1"] if v["hit@1"] is not None else v["behavior_accuracy"]
             for k, v in result["breakdowns"]["kind"].items()}
    print("conversations", result["metrics"].get("hit@1"), kinds)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
