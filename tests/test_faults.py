"""Faults a deployment meets, made with real processes and checked the way an operator would: an
ingester SIGKILLed at random moments, a server SIGKILLed mid-conversation, the Chroma server gone,
the disk full while ingesting. (A broken lexical index file: `tests/test_store.py`.)
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest

from assistant.auth import hash_key
from assistant.settings import Settings
from assistant.store import LEXICAL_INDEXES, DiskFull, Store
from assistant.text import lexical_tokens
from ingest.pipeline import ingest
from tests.conftest import (ASSISTANT, CORPUS, PORTAL, ROOT, assert_consistent, assistant_env, assistant_process,
                            free_port, indexed_sources, start_chroma, wait_for_port)

pytestmark = pytest.mark.slow

TODAY = "2026-11-24"
OFFICIAL_KEY, ADMIN_KEY = "faults-official-key", "faults-admin-key"
OFFICIAL, ADMIN = {"Authorization": f"Bearer {OFFICIAL_KEY}"}, {"Authorization": f"Bearer {ADMIN_KEY}"}
HANDBOOK = """---
title: "Cẩm nang: Đăng ký nuôi con nuôi trong nước"
audience: citizen
---

# Đăng ký nuôi con nuôi trong nước

## Hồ sơ

Đơn xin nhận con nuôi, bản sao hộ chiếu hoặc thẻ căn cước của người nhận con nuôi, phiếu lý lịch tư pháp.
"""
MARRIAGE = "1.000894"
QUESTIONS = [  # about the first 300 portal records and corpus/: answers, a refusal, small talk, English
    "Đăng ký kết hôn cần giấy tờ gì?", "lam giay khai sinh can gi", "cấp lại thẻ căn cước mất bao lâu",
    "thu hồi giấy phép lái xe ở đâu", "đổi thẻ bảo hiểm y tế cần gì", "lệ phí cấp thẻ tạm trú cho người nước ngoài",
    "đăng ký xe lần đầu trực tuyến", "hỗ trợ phát triển sản xuất cộng đồng căn cứ pháp lý", "xin chào",
    "nuôi chó mèo cần giấy phép gì", "How much does a passport cost?",
]


def run_assistant(command: list[str], data: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([ASSISTANT, *command], cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=300,
                          env=assistant_env(data, today=TODAY))


def answers(data: Path) -> list[dict]:
    """`assistant ask - --json` to QUESTIONS: what a user sees, less the per-turn ids."""
    done = run_assistant(["ask", "-", "--json"], data, stdin="\n".join(QUESTIONS))
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    return [{k: v for k, v in a.items() if k not in ("session_id", "message_id")} for a in out]


def cited(answer: dict) -> list[str]:
    return [c["procedure_code"] or c["source_id"] for c in answer["citations"]]


def index_state(data: Path) -> dict:
    """The index of a data dir as a comparable value, chunk ids named by (source, position) since their
    generation numbers depend on how many runs wrote them; checks it is consistent on the way."""
    store = Store(Settings(data_dir=data, embedder="hash"), purpose="test check")
    try:
        assert_consistent(store)
        rows = list(store.manifest.current_chunks())
        key = {c.id: f"{c.source_id}#{c.ord}" for c, _ in rows}
        chunks = [(key[c.id], c.text, c.section, c.facet, c.embedded, c.meta) for c, _ in rows]
        assert len({k for k, *_ in chunks}) == len(chunks), "a source has two chunks at one position"
        vectors = store.vectors.vectors(sorted(key))
        lexical = store.lexical()
        hits = {}
        for name in LEXICAL_INDEXES:
            index = lexical[name]
            for q in QUESTIONS:
                scores = index.scores(lexical_tokens(q))
                best = np.argsort(-scores, kind="stable")[:10]
                hits[name, q] = [(key.get(index.ids[i], index.ids[i]), round(float(scores[i]), 4)) for i in best]
        return {"sources": store.manifest.hashes(), "chunks": chunks, "lexical": hits,
                "vectors": {key[cid]: v for cid, v in vectors.items()}}
    finally:
        store.close()


def portal_records(path: Path, n: int = 300, renamed: int = 0) -> Path:
    """The first `n` portal records; the first `renamed` of them with another name, as an older
    version of the portal would have them."""
    with PORTAL.open(encoding="utf-8") as f:
        records = [json.loads(next(f)) for _ in range(n)]
    for record in records[:renamed]:
        record["ten_thu_tuc"] += " (bản cũ)"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_an_ingest_killed_at_random_moments_then_rerun_equals_a_clean_ingest(tmp_path: Path) -> None:
    inputs = [str(portal_records(tmp_path / "portal-300.jsonl")), str(CORPUS)]
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    assert run_assistant(["ingest", *inputs, "--json"], clean).returncode == 0
    total = indexed_sources(clean)
    # the killed runs update an index of an older version (280 records renamed, 20 missing), so they
    # add, replace (new chunks, the switch, then deleting the old vectors) and skip
    older = portal_records(tmp_path / "portal-older.jsonl", n=280, renamed=280)
    assert run_assistant(["ingest", str(older), str(CORPUS), "--json"], killed).returncode == 0
    base = Store(Settings(data_dir=killed, embedder="hash"), purpose="test check")
    generation = int(base.manifest.get_meta("last_generation") or 0)
    base.close()

    rng = random.Random(19)
    # each kill waits until the runs have written a random number of sources, then a random moment
    # more, so it lands anywhere in a batch: loading, chunking, embedding, upserts, switch, deletes
    targets = sorted(rng.sample(range(1, 300 - 128), 3))
    at_kill, codes = [], []
    for target in targets:
        proc = assistant_process(["ingest", *inputs, "--json"], killed)
        deadline = time.time() + 120
        while proc.poll() is None and indexed_sources(killed, generation) < target and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.2))
        proc.send_signal(signal.SIGKILL)
        codes.append(proc.wait())
        at_kill.append(indexed_sources(killed, generation))
    # every run was killed before it ended (a late one may land after its last batch, in the lexical build)
    assert codes == [-signal.SIGKILL] * 3 and 0 < at_kill[0] < 300, (codes, at_kill)
    resumed = run_assistant(["ingest", *inputs, "--json"], killed)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["added"] + summary["updated"] + summary["unchanged"] == total
    assert summary["unchanged"] >= at_kill[-1] + 19

    want, got = index_state(clean), index_state(killed)
    assert got["sources"] == want["sources"]
    assert got["chunks"] == want["chunks"]
    assert got["lexical"] == want["lexical"]
    assert got["vectors"].keys() == want["vectors"].keys()
    assert all(np.allclose(got["vectors"][k], v) for k, v in want["vectors"].items())
    expected = answers(clean)
    assert [a["behavior"] for a in expected].count("answer") >= 8
    assert answers(killed) == expected
    print(json.dumps({"kill_targets": targets, "sources_at_kills": at_kill, "resumed": summary}))


def serve(data: Path, port: int, **env: str) -> subprocess.Popen:
    proc = assistant_process(["serve", "--port", str(port)], data, today=TODAY, rate_limit="off",
                             api_keys=f"official:{hash_key(OFFICIAL_KEY)},admin:{hash_key(ADMIN_KEY)}", **env)
    wait_for_port(port, timeout=120, proc=proc)
    return proc


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
    proc.wait(timeout=30)


def test_a_server_killed_mid_conversation_comes_back_with_its_sessions_and_feedback(
        hash_corpus: Path, tmp_path: Path) -> None:
    data = tmp_path / "var"
    shutil.copytree(hash_corpus, data)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = serve(data, port)
    try:
        first = httpx.post(url + "/v1/chat", json={"message": "Đăng ký kết hôn cần giấy tờ gì?"}, timeout=30).json()
        assert (first["behavior"], cited(first)[:1]) == ("answer", [MARRIAGE])
        rated = httpx.post(url + "/v1/feedback", timeout=30, json={
            "message_id": first["message_id"], "rating": "down", "comment": "thiếu lệ phí"})
        assert rated.status_code == 200, rated.text

        stop(proc, signal.SIGKILL)  # no shutdown: the data-dir lock and SQLite are left as a crash leaves them
        proc = serve(data, port)  # the lock went with the process: the same data dir opens again

        follow = httpx.post(url + "/v1/chat", timeout=30,
                            json={"message": "thế có mất phí không?", "session_id": first["session_id"]})
        assert follow.status_code == 200, follow.text
        out = follow.json()
        assert (out["behavior"], out["session_id"], cited(out)[:1]) == ("answer", first["session_id"], [MARRIAGE])
        assert "phí" in out["answer"].lower()
        listed = httpx.get(url + "/v1/feedback", headers=OFFICIAL, timeout=30).json()["feedback"]
        assert {(f["message_id"], f["rating"], f["comment"]) for f in listed} == \
            {(first["message_id"], "down", "thiếu lệ phí")}
    finally:
        stop(proc)


def test_chroma_server_down_keeps_answering_says_503_for_writes_and_recovers(tmp_path: Path) -> None:
    """Questions are answered from the in-memory view while the Chroma server is down or stuck;
    /healthz and uploads, which need it, answer a clear 503 with Retry-After (a stuck server is given
    up on after the client timeout, never a hang); once it is back, uploads work again, no restart."""
    chroma_path, chroma_port = tmp_path / "chroma", free_port()
    chroma_url = f"http://127.0.0.1:{chroma_port}"
    chroma = start_chroma(chroma_path, chroma_port)
    data, collection = tmp_path / "var", f"faults{uuid.uuid4().hex[:10]}"
    server = None
    try:
        store = Store(Settings(data_dir=data, embedder="hash", chroma_url=chroma_url, collection=collection))
        try:
            assert ingest(store, [CORPUS], progress=False).failed == []
        finally:
            store.close()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = serve(data, port, chroma_url=chroma_url, collection=collection)
        question = {"message": "Đăng ký kết hôn cần giấy tờ gì?"}
        before = httpx.post(url + "/v1/chat", json=question, timeout=30).json()
        assert (before["behavior"], cited(before)[:1]) == ("answer", [MARRIAGE])

        def upload(name: str) -> httpx.Response:
            return httpx.post(url + "/v1/documents", headers=ADMIN, timeout=120,
                              files={"file": (name, HANDBOOK.encode(), "text/markdown")})

        def unreachable(r: httpx.Response, path: str) -> None:
            assert r.status_code == 503, (path, r.status_code, r.text)
            assert "vector store" in r.json()["detail"] and "unreachable" in r.json()["detail"], r.text
            assert r.headers["retry-after"] == "5", path

        chroma.send_signal(signal.SIGSTOP)  # stuck: it accepts connections and never answers
        try:
            chat = httpx.post(url + "/v1/chat", json=question, timeout=30)
            assert (chat.status_code, chat.json()["answer"]) == (200, before["answer"])
            unreachable(httpx.get(url + "/healthz", timeout=120), "/healthz (stuck)")
        finally:
            chroma.send_signal(signal.SIGCONT)

        stop(chroma, signal.SIGKILL)
        for path, call in (("/v1/chat", lambda: httpx.post(url + "/v1/chat", json=question, timeout=60)),
                           ("/v1/search", lambda: httpx.get(url + "/v1/search", params={"q": "kết hôn"}, timeout=60))):
            r = call()
            assert r.status_code == 200, (path, r.status_code, r.text)
        assert httpx.post(url + "/v1/chat", json=question, timeout=60).json()["citations"] == before["citations"]
        unreachable(httpx.get(url + "/healthz", timeout=60), "/healthz")
        unreachable(upload("con-nuoi.md"), "/v1/documents")

        chroma = start_chroma(chroma_path, chroma_port)  # the same path and port; `assistant serve` runs on
        health = httpx.get(url + "/healthz", timeout=30)
        assert (health.status_code, health.json()["status"]) == (200, "ok")
        assert upload("con-nuoi.md").status_code == 200
        adopted = httpx.post(url + "/v1/chat", json={"message": "Cẩm nang nuôi con nuôi trong nước: hồ sơ gồm gì?"},
                             timeout=30).json()
        assert "doc:con-nuoi" in [c["source_id"] for c in adopted["citations"]], adopted
        after = httpx.post(url + "/v1/chat", json=question, timeout=30)
        assert (after.status_code, after.json()["citations"]) == (200, before["citations"])
    finally:
        if server is not None:
            stop(server)
        stop(chroma)


@pytest.fixture
def small_disk(tmp_path: Path):
    """A data dir whose index is on a 12 MB tmpfs of its own (sessions stay on the test's disk)."""
    data = tmp_path / "var"
    mount = data / "index"
    mount.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root and CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield data
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path, leave_kb: int) -> Path:
    """Take all but `leave_kb` of the free space of the filesystem holding `folder`."""
    filler = folder / "filler"
    free = shutil.disk_usage(folder).free
    with filler.open("wb") as f:
        chunk = b"\0" * (1 << 20)
        left = free - leave_kb * 1024
        while left > 0:
            left -= f.write(chunk[: min(len(chunk), left)])
    return filler


def test_a_full_disk_stops_the_ingest_with_a_clear_error_and_the_index_still_serves(
        small_disk: Path, tmp_path: Path) -> None:
    data = small_disk
    records = portal_records(tmp_path / "portal-300.jsonl")
    assert run_assistant(["ingest", str(CORPUS), "--json"], data).returncode == 0
    before = answers(data)
    sources = indexed_sources(data)

    # a running server: an upload onto the full disk is refused, the questions still answered
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = serve(data, port)
    try:
        question = {"message": QUESTIONS[0]}
        asked = httpx.post(url + "/v1/chat", json=question, timeout=30).json()
        filler = fill(data / "index", leave_kb=0)
        upload = httpx.post(url + "/v1/documents", headers=ADMIN, timeout=60,
                            files={"file": ("nuoi-con-nuoi.md", HANDBOOK.encode(), "text/markdown")})
        assert upload.status_code == 507 and "is full" in upload.json()["detail"], upload.text
        again = httpx.post(url + "/v1/chat", json=question, timeout=30).json()
        assert (again["answer"], again["citations"]) == (asked["answer"], asked["citations"])
    finally:
        stop(server)
    # nothing left at all: embedded Chroma cannot even open (it writes as it opens)
    with pytest.raises(DiskFull, match="is full .* free space there"):
        Store(Settings(data_dir=data, embedder="hash"), purpose="test check")

    # the command line, with a little room left: one clear message, no traceback
    filler.unlink()
    filler = fill(data / "index", leave_kb=500)
    failed = run_assistant(["ingest", str(records)], data)
    assert failed.returncode == 1
    said = failed.stdout + failed.stderr
    assert "Traceback" not in said and f"the disk holding {data / 'index'} is full" in said, said
    assert "free space there" in said

    filler.unlink()  # what the operator does: free space
    assert indexed_sources(data) == sources
    assert answers(data) == before  # the previous version, whole
    resumed = run_assistant(["ingest", str(records), "--json"], data)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert json.loads(resumed.stdout)["added"] == 300
    store = Store(Settings(data_dir=data, embedder="hash"), purpose="test check")
    try:
        assert_consistent(store)
    finally:
        store.close()
