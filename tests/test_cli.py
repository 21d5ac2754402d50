"""The `assistant` command as a user meets it: help for every option, ingest progress, `--url` to
ask a running server (a real uvicorn process), and eval's warning about sources not in the index."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import httpx
import pytest

from assistant.cli import build_parser, main
from assistant.settings import Settings, get_settings
from assistant.store import Store
from eval.gold import GoldTurn, write_gold
from ingest.pipeline import ingest
from tests.conftest import CORPUS, PORTAL, ROOT, free_port, wait_for_port, write

BIRTH = """---
title: Đăng ký khai sinh
procedure_codes: [1.001193]
---
# Đăng ký khai sinh
## Hồ sơ cần chuẩn bị
Giấy chứng sinh do cơ sở y tế cấp; tờ khai đăng ký khai sinh.
"""
MARRIAGE = """---
title: Đăng ký kết hôn
procedure_codes: [1.000894]
---
# Đăng ký kết hôn
## Hồ sơ cần chuẩn bị
Tờ khai đăng ký kết hôn; hai bên nam nữ có mặt.
"""


@pytest.fixture
def env(embedded_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The CLI's settings (read from the environment) on a fresh data dir with the hashing embedder."""
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(embedded_settings.data_dir))
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "hash")
    get_settings.cache_clear()
    yield embedded_settings
    get_settings.cache_clear()


# --- help ------------------------------------------------------------------------------------------------
def commands(parser: argparse.ArgumentParser, name: str = "assistant") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from commands(sub, f"{name} {sub_name}")


def test_every_option_of_every_command_has_help() -> None:
    found = dict(commands(build_parser()))
    expected = {"ingest", "search", "ask", "serve", "hash-key", "eval", "eval run", "eval compare",
                "eval export-ragas", "eval import-ragas"}
    assert {f"assistant {name}" for name in expected} <= set(found)
    lacking = []
    for name, parser in found.items():
        assert parser.format_help()  # renders (a bad %-placeholder in a help string would raise)
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                lacking.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert lacking == []


# --- ingest ----------------------------------------------------------------------------------------------
@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two handbooks and a portal JSONL file of 3 records, a blank line and a malformed line."""
    folder = tmp_path / "docs"
    write(folder / "khai-sinh.md", BIRTH)
    write(folder / "ket-hon.md", MARRIAGE)
    with PORTAL.open(encoding="utf-8") as fh:
        records = [next(fh) for _ in range(3)]
    write(folder / "records.jsonl", "".join(records) + "\n{not json\n")
    return folder


def frames(stderr: str) -> list[str]:
    """What the progress bar drew, one redraw per item."""
    return [f.strip() for f in re.split(r"[\r\n]", stderr) if f.strip().startswith("ingest")]


def test_ingest_progress_knows_its_total_rate_and_time_left(embedded_settings: Settings, folder: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    store = Store(embedded_settings)
    try:
        first = ingest(store, [folder], progress=True)
        drawn = frames(capsys.readouterr().err)
        again = ingest(store, [folder], progress=True)
        redrawn = frames(capsys.readouterr().err)
    finally:
        store.close()
    assert (first.added, len(first.failed)) == (5, 1)  # the malformed line is reported
    assert re.search(r"\b0/6\b", drawn[0]), drawn[0]  # 2 files + 4 non-empty lines, counted before reading
    assert re.search(r"100%.*\b5/5 \[.*<.*sources/s", drawn[-1]), drawn[-1]  # corrected; rate and time left
    assert again.unchanged == 5
    assert re.search(r"\b5/5\b", redrawn[-1]), redrawn[-1]  # skipped sources count too


def test_ingest_json_output_is_one_line_and_no_bar(env: Settings, folder: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", str(folder), "--json"]) == 1  # the malformed line fails
    out, err = capsys.readouterr()
    [line] = out.splitlines()
    summary = json.loads(line)
    assert list(summary) == ["added", "updated", "unchanged", "removed", "chunks", "failed"]
    assert summary["added"] == 5 and summary["failed"][0]["error"].startswith("line 5")
    assert "ingest" not in err  # progress goes to stderr, and only when asked or on a terminal


# --- eval: expected sources not in the index ---------------------------------------------------------------
def gold(path: Path, codes: list[str]) -> Path:
    turns = [GoldTurn(f"t{i}", f"Thủ tục {code} cần giấy tờ gì?", "answer", expected_sources=[code])
             for i, code in enumerate(codes)]
    write_gold(path, turns)
    return path


MISSING = ["2.000488", "1.004194", "1.003197", "2.001023", "1.000656", "1.999999"]


def test_eval_warns_about_expected_sources_not_in_the_index(env: Settings, folder: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    store = Store(env)
    try:
        ingest(store, [folder / "khai-sinh.md", folder / "ket-hon.md"], progress=False)
    finally:
        store.close()
    path = gold(tmp_path / "gold.jsonl", ["1.001193", "1.000894", *MISSING])
    assert main(["eval", "run", str(path), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "not in the index" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: 6 of the 8 sources this gold file expects are not in the index (")
    assert ", ".join(sorted(MISSING)[:5]) + ", …)" in warnings[0]
    assert "1.001193" not in warnings[0] and "1.000894" not in warnings[0]


def test_eval_says_nothing_when_every_source_is_indexed(env: Settings, folder: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    store = Store(env)
    try:
        ingest(store, [folder / "khai-sinh.md"], progress=False)
    finally:
        store.close()
    path = gold(tmp_path / "gold.jsonl", ["1.001193"])
    assert main(["eval", "run", str(path), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    assert "not in the index" not in capsys.readouterr().err


# --- --url: a running server instead of the data dir -------------------------------------------------------
QUESTION = "Đăng ký kết hôn cần giấy tờ gì?"
QUERY = "lam cccd bao lau"
PER_TURN = {"session_id", "message_id"}


def run(*args: str) -> tuple[int, str, str]:
    """`assistant ARGS` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """corpus/ indexed with the hashing embedder; the environment points the CLI at it."""
    data = tmp_path_factory.mktemp("cli-server") / "var"
    values = {"ASSISTANT_DATA_DIR": str(data), "ASSISTANT_EMBEDDER": "hash", "ASSISTANT_TODAY": "2026-11-24"}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in values.items():
            mp.setenv(key, value)
        get_settings.cache_clear()
        store = Store(get_settings())
        try:
            assert ingest(store, [CORPUS], progress=False).failed == []
        finally:
            store.close()
        yield data
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def in_process(data: Path) -> dict[str, dict]:
    """The in-process answers, taken before the server holds the data dir."""
    outputs = {}
    for name, args in {"ask": ("ask", QUESTION, "--json"), "search": ("search", QUERY, "--json")}.items():
        code, out, err = run(*args)
        assert code == 0, err
        outputs[name] = json.loads(out)
    return outputs


@pytest.fixture(scope="module")
def served(in_process: dict[str, dict]) -> Iterator[str]:
    """`assistant serve` (real uvicorn, a subprocess) on the same data dir."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)], cwd=ROOT,
                            env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, timeout=120, proc=proc)
        assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.slow
def test_ask_and_search_over_url_print_the_same_json(in_process: dict[str, dict], served: str) -> None:
    code, asked, _ = run("ask", QUESTION, "--json", "--url", served)
    assert code == 0
    local, remote = in_process["ask"], json.loads(asked)
    assert set(remote) == set(local)
    assert {k: v for k, v in remote.items() if k not in PER_TURN} == {k: local[k] for k in local if k not in PER_TURN}
    code, found, _ = run("search", QUERY, "--json", "--url", served)
    assert code == 0 and json.loads(found) == in_process["search"]
    # a follow-up continues the server's session
    session = remote["session_id"]
    code, follow, _ = run("ask", "thế có mất phí không?", "--json", "--url", served, "--session", session)
    assert code == 0 and json.loads(follow)["session_id"] == session
    code, _, err = run("ask", QUESTION, "--url", served, "--session", "no-such-session")
    assert code == 2 and err.startswith("error: HTTP 404") and "session" in err


@pytest.mark.slow
def test_a_locked_data_dir_points_to_url(served: str) -> None:
    code, _, err = run("ask", QUESTION)
    assert code == 2 and "in use by assistant serve" in err and "--url http://127.0.0.1:8000" in err
    code, _, err = run("search", "khai sinh", "--url", f"http://127.0.0.1:{free_port()}")
    assert code == 2 and "cannot reach" in err


@pytest.mark.slow
def test_eval_over_url_checks_expected_sources_on_the_server(served: str, tmp_path: Path) -> None:
    # 1.014064 is declared only by a handbook's front matter, 1.000894 by a handbook and the internal note
    path = gold(tmp_path / "gold.jsonl", ["1.014064", "1.000894", "2.000488", "1.003197"])
    code, _, err = run("eval", "run", str(path), "--url", served, "--out", str(tmp_path / "run"), "--no-progress")
    assert code == 0
    [warning] = [line for line in err.splitlines() if "not in the index" in line]
    assert warning.startswith(f"warning: 2 of the 4 sources this gold file expects are not in the index at {served} "
                              "(1.003197, 2.000488)")
