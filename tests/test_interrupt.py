"""A real ingest process killed mid-way leaves a consistent index, and the next run completes it."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from assistant.settings import Settings
from assistant.store import Store
from ingest.pipeline import ingest
from tests.conftest import PORTAL, assert_consistent, assistant_process, indexed_sources


@pytest.mark.slow
def test_killed_ingest_leaves_consistent_index(tmp_path: Path) -> None:
    data = tmp_path / "var"
    proc = assistant_process(["ingest", str(PORTAL), "--json"], data)
    deadline = time.time() + 120
    indexed = 0
    while time.time() < deadline and indexed < 200:
        time.sleep(0.05)
        indexed = indexed_sources(data)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < indexed < 2642, "the ingest must be killed part-way"

    store = Store(Settings(data_dir=data, embedder="hash"))
    try:
        # every source the manifest lists has all of its chunks, from one generation
        with_chunks = {s.source_id for _, s in store.manifest.current_chunks()}
        listed = {s.source_id for s in store.manifest.sources()}
        assert listed == with_chunks, "a source lost its chunks"
        summary = ingest(store, [PORTAL], progress=False)
        assert summary.failed == []
        assert summary.added + summary.unchanged == 2642
        assert summary.unchanged >= indexed
        assert_consistent(store)  # nothing an interrupted run staged survives
        print(json.dumps({"killed_after": indexed, "resumed": summary.as_dict()["added"]}))
    finally:
        store.close()
