"""Two API workers (two real `assistant serve` processes) on one data dir and one real `chroma run`
server, as a deployment that outgrew one process runs them: an example taught through one worker is
used by the other from its next question, and undone through the other, without a restart.
The default embedder: whether a paraphrase is routed is the fitted models' call.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid

import httpx
import pytest

from assistant.auth import hash_key
from assistant.settings import Settings
from assistant.store import Store
from ingest.pipeline import ingest
from tests.conftest import CORPUS, ROOT, free_port, wait_for_port

pytestmark = pytest.mark.slow

OFFICIAL_KEY = "two-workers-official-key"
OFFICIAL = {"Authorization": f"Bearer {OFFICIAL_KEY}"}
BIRTH = "1.001193"
NEWBORN = "nha minh moi co em be, phai lam giay to gi cho chau"
PARAPHRASE = "Con tôi mới chào đời tuần trước, cần đi làm giấy gì cho cháu?"


@pytest.fixture(scope="module")
def workers(chroma_server: str, tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("two-workers") / "var"
    collection = f"teach{uuid.uuid4().hex[:10]}"
    store = Store(Settings(data_dir=data, chroma_url=chroma_server, collection=collection), purpose="test ingest")
    try:
        assert ingest(store, [CORPUS], progress=False).failed == []
    finally:
        store.close()
    env = dict(os.environ, ASSISTANT_DATA_DIR=str(data), ASSISTANT_CHROMA_URL=chroma_server,
               ASSISTANT_COLLECTION=collection, ASSISTANT_API_KEYS=f"official:{hash_key(OFFICIAL_KEY)}",
               ASSISTANT_TOKEN_SECRET="two-workers-secret", ASSISTANT_TODAY="2026-11-24")
    procs, urls = [], []
    try:
        for _ in range(2):
            port = free_port()
            procs.append(subprocess.Popen([str(ROOT / ".venv/bin/assistant"), "serve", "--port", str(port)], cwd=ROOT,
                                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True))
            urls.append(f"http://127.0.0.1:{port}")
            wait_for_port(port, timeout=120, proc=procs[-1])
        yield urls, procs
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def ask(url: str, message: str) -> dict:
    r = httpx.post(url + "/v1/chat", json={"message": message}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def first(out: dict) -> str | None:
    return (out["citations"][0]["procedure_code"] or out["citations"][0]["source_id"]) if out["citations"] else None


def test_a_taught_example_is_used_by_the_other_worker_without_restart(workers) -> None:
    (a, b), procs = workers
    assert ask(b, NEWBORN)["behavior"] == "refuse" and ask(a, PARAPHRASE)["behavior"] == "refuse"
    generation = httpx.get(b + "/healthz").json()["generation"]

    taught = httpx.post(a + "/v1/examples", json={"question": NEWBORN, "expected_sources": [BIRTH]}, headers=OFFICIAL)
    assert taught.status_code == 201, taught.text
    for question in (NEWBORN, PARAPHRASE):  # the other worker, its next questions
        out = ask(b, question)
        assert (out["behavior"], first(out)) == ("answer", BIRTH), question
    assert httpx.get(b + "/healthz").json()["generation"] > generation
    listed = httpx.get(b + "/v1/examples", headers=OFFICIAL).json()["examples"]
    assert [e["id"] for e in listed] == [taught.json()["id"]]

    undone = httpx.delete(f"{b}/v1/examples/{taught.json()['id']}", headers=OFFICIAL)
    assert undone.status_code == 200
    for question in (NEWBORN, PARAPHRASE):  # and the first worker sees the undo
        assert ask(a, question)["behavior"] == "refuse", question
    assert [p.poll() for p in procs] == [None, None]  # neither was restarted
    log = httpx.get(a + "/v1/examples", headers=OFFICIAL).json()["audit"]
    assert [entry["action"] for entry in log] == ["undone", "taught"]
