"""Ask every gold turn, in-process or over HTTP, and append each result to `results.jsonl` as it lands.

A turn with `history` is asked in one fresh session: each earlier question first, then the turn's
question with the session id the assistant returned. Only the final question is timed.

Resuming: a rerun into the same folder skips the turns already answered (same question, history and
expectations); turns that failed are asked again. The last line for an id wins.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from tqdm import tqdm

from eval.gold import BEHAVIORS, GoldTurn

QuoteChecker = Callable[[dict[str, Any]], bool]
"""Takes one citation, says whether its quote is found in its source."""


class ChatClient(Protocol):
    """What the runner needs of the assistant: `assistant.service.Assistant` and, over HTTP,
    `assistant.client.HttpAssistant` fit."""

    def chat(self, message: str, session_id: str | None = None, audience: str = "citizen") -> dict[str, Any]: ...


def check_answer(answer: Any) -> dict[str, Any]:
    """The answer JSON must have the fields scoring reads; raises ValueError naming what is wrong."""
    if not isinstance(answer, dict):
        raise ValueError(f"answer is a {type(answer).__name__}, not a JSON object")
    if not isinstance(answer.get("answer"), str):
        raise ValueError("answer JSON has no string `answer`")
    if answer.get("behavior") not in BEHAVIORS:
        raise ValueError(f"answer JSON has behavior {answer.get('behavior')!r}")
    citations = answer.get("citations")
    if not isinstance(citations, list) or not all(isinstance(c, dict) for c in citations):
        raise ValueError("answer JSON `citations` is not a list of objects")
    return answer


def ask_turn(client: ChatClient, turn: GoldTurn, audience: str = "citizen",
             quote_checker: QuoteChecker | None = None, index: int | None = None) -> dict[str, Any]:
    """One result record (see eval.metrics); never raises for a failing assistant.
    `index` is the turn's position in its gold file, so readers can restore gold order."""
    got: dict[str, Any] | None = None
    error: str | None = None
    latency: float | None = None
    quote_failures: list[int] | None = None
    session: str | None = None
    try:
        for earlier in turn.history:
            prior = check_answer(client.chat(earlier, session_id=session, audience=audience))
            session = prior.get("session_id") or session
        start = time.perf_counter()
        raw = client.chat(turn.question, session_id=session, audience=audience)
        latency = time.perf_counter() - start
        got = check_answer(raw)
        if quote_checker is not None:
            quote_failures = [c.get("n") for c in got["citations"] if not quote_checker(c)]
    except Exception as exc:  # the run goes on; the turn is recorded as an error
        error = f"{type(exc).__name__}: {exc}"
        got = None
    return {
        "id": turn.id, "index": index, "question": turn.question, "history": turn.history, "expected": turn.expected(),
        "got": got, "latency_s": latency, "error": error, "quote_failures": quote_failures,
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def load_results(path: Path) -> dict[str, dict[str, Any]]:
    """Records by id, the last line for an id winning; a torn last line (interrupted write) is skipped."""
    out: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return out
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and "id" in rec:
                out[str(rec["id"])] = rec
    return out


def is_done(record: dict[str, Any] | None, turn: GoldTurn) -> bool:
    return (record is not None and not record.get("error") and record.get("question") == turn.question
            and record.get("history") == turn.history and record.get("expected") == turn.expected())


class _Appender:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torn = path.exists() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
        self._fh = path.open("a", encoding="utf-8")
        if torn:  # an interrupted write left half a line: end it, so the next record starts clean
            self._fh.write("\n")
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def run_turns(turns: Sequence[GoldTurn], client: ChatClient, out_dir: Path, *, concurrency: int = 1,
              audience: str = "citizen", quote_checker: QuoteChecker | None = None,
              progress: bool = True) -> list[dict[str, Any]]:
    """Ask the turns not yet done in `out_dir/results.jsonl`; returns one record per turn, in gold order."""
    path = out_dir / "results.jsonl"
    records = load_results(path)
    todo = [(i, t) for i, t in enumerate(turns) if not is_done(records.get(t.id), t)]
    bar = tqdm(total=len(turns), initial=len(turns) - len(todo), unit="turn", desc="eval",
               disable=not progress, file=sys.stderr, dynamic_ncols=True)
    appender = _Appender(path)

    errors = 0

    def land(rec: dict[str, Any]) -> None:
        nonlocal errors
        appender.write(rec)
        records[rec["id"]] = rec
        if rec["error"]:
            errors += 1
            bar.set_postfix_str(f"errors {errors}", refresh=False)
        bar.update(1)

    try:
        if concurrency <= 1:
            for index, turn in todo:
                land(ask_turn(client, turn, audience, quote_checker, index))
        else:
            _run_pool(todo, client, concurrency, audience, quote_checker, land)
    finally:
        appender.close()
        bar.close()
    return [records[t.id] for t in turns if t.id in records]


def _run_pool(todo: Sequence[tuple[int, GoldTurn]], client: ChatClient, concurrency: int, audience: str,
              quote_checker: QuoteChecker | None, land: Callable[[dict[str, Any]], None]) -> None:
    """At most `concurrency` turns in flight; on Ctrl-C the queued ones are dropped, finished ones kept."""
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="eval")
    pending: set[Future[dict[str, Any]]] = set()
    queue = iter(todo)
    try:
        for index, turn in queue:
            pending.add(pool.submit(ask_turn, client, turn, audience, quote_checker, index))
            if len(pending) >= concurrency:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    land(fut.result())
        for fut in as_completed(pending):
            land(fut.result())
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
