"""Example-question files as indexed data: ingested like any source (idempotent, replaced as a whole,
bad lines reported), routing questions like them to their procedure, never cited, and invisible to
citizens; run against embedded Chroma and a real `chroma run` server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.retrieve import Retriever
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.store import Store
from ingest.pipeline import ingest
from tests.conftest import CORPUS, write

# Narratives that never name the procedure (the deceased's family, a newborn at home).
DEATH = "1.000656"
EXAMPLES = [
    {"id": "e1", "question": "Ông nội tôi vừa qua đời ở nhà, gia đình cần làm giấy tờ gì với xã?", "expected_sources": [DEATH]},
    {"id": "e2", "question": "Bà ngoại mình mới mất hôm qua, nhà mình phải báo với phường thế nào?", "expected_sources": [DEATH]},
    {"id": "r1", "question": "Hàng xóm để chó sủa cả đêm thì kiện ở đâu?", "expected_sources": [], "expected_behavior": "refuse"},
]


def gold(path: Path, rows: list[dict]) -> Path:
    return write(path, "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")


def test_example_files_are_ingested_idempotently(settings: Settings, tmp_path: Path) -> None:
    path = gold(tmp_path / "examples.jsonl", EXAMPLES + [{"id": "bad", "question": "", "expected_sources": [DEATH]}])
    store = Store(settings)
    try:
        first = ingest(store, [CORPUS, path], progress=False)
        assert first.failed == [{"path": f"{path} (line 4)", "error": "line 4: no `question`"}]
        examples = Retriever(store).snapshot.examples
        assert examples.ids == ("e1", "e2", "r1") and examples.codes[2] == ()
        assert ingest(store, [path], progress=False).unchanged == 1
        gold(path, EXAMPLES[:2])
        again = ingest(store, [path], progress=False)
        assert (again.updated, again.chunks) == (1, 2)
        assert Retriever(store).snapshot.examples.ids == ("e1", "e2")
    finally:
        store.close()


def test_an_example_file_without_usable_lines_is_a_clear_error(embedded_settings: Settings, tmp_path: Path) -> None:
    path = gold(tmp_path / "bad.jsonl", [{"id": "x", "question": "đăng ký khai sinh", "expected_sources": "1.001193"}])
    store = Store(embedded_settings)
    try:
        summary = ingest(store, [path], progress=False)
        assert summary.failed[0]["error"].startswith("no usable example question")
    finally:
        store.close()


@pytest.mark.slow
def test_examples_route_a_narrative_and_are_never_cited(tmp_path: Path) -> None:
    """With the default embedder: a narrative like the examples puts the death registration among the
    first three; the examples themselves are neither cited nor viewable by a citizen."""
    settings = Settings(data_dir=tmp_path / "var", today="2026-11-24")
    store = Store(settings)
    try:
        ingest(store, [CORPUS, gold(tmp_path / "examples.jsonl", EXAMPLES)], progress=False)
    finally:
        store.close()
    assistant = Assistant.open(settings)
    try:
        question = "Cụ nhà tôi mất ở nhà sáng nay, con cháu phải làm thủ tục gì ở xã ạ?"
        assert DEATH in [c.key for c in assistant.retriever.search(question, k=3).candidates]
        out = assistant.chat(question)
        assert all(not c["source_id"].startswith("examples:") for c in out["citations"])
        assert assistant.lookup().source("examples:examples.jsonl") is None
    finally:
        assistant.close()
