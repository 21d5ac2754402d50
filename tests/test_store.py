"""Contract tests for the index, run against embedded Chroma and a real `chroma run` server."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.retrieve import Retriever
from assistant.settings import Settings
from assistant.store import DataDirLocked, Store
from assistant.vectors import EmbedderMismatch
from ingest.pipeline import ingest
from tests.conftest import write

BIRTH = """---
title: Đăng ký khai sinh
procedure_codes: [1.001193]
url: https://dichvucong.gov.vn/khai-sinh
---
# Đăng ký khai sinh
## Hồ sơ cần chuẩn bị
Giấy chứng sinh do cơ sở y tế cấp; tờ khai đăng ký khai sinh.
## Lệ phí
Miễn phí khi đăng ký đúng hạn.
"""
MARRIAGE = """---
title: Đăng ký kết hôn
procedure_codes: [1.000894]
---
# Đăng ký kết hôn
## Hồ sơ cần chuẩn bị
Tờ khai đăng ký kết hôn; hai bên nam nữ có mặt.
"""
INTERNAL = """---
title: Hướng dẫn nội bộ tiếp nhận hồ sơ
audience: official
---
# Hướng dẫn nội bộ
## Kiểm tra hồ sơ
Mã nội bộ XK-7741: kiểm tra kỹ tờ khai khai sinh trước khi nhận.
"""


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    write(folder / "khai-sinh.md", BIRTH)
    write(folder / "ket-hon.md", MARRIAGE)
    write(folder / "internal" / "noi-bo.md", INTERNAL)
    return folder


def test_ingest_search_reingest_is_noop(settings: Settings, corpus: Path) -> None:
    store = Store(settings)
    try:
        first = ingest(store, [corpus], progress=False)
        assert (first.added, first.updated, first.unchanged, first.failed) == (3, 0, 0, [])
        retriever = Retriever(store)
        top = retriever.search("khai sinh can giay to gi").candidates[0]
        assert top.key == "1.001193"
        vectors_before = store.vectors.count()
        again = ingest(store, [corpus], progress=False)
        assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 3, 0)
        assert store.vectors.count() == vectors_before
    finally:
        store.close()


def test_changed_source_is_replaced_and_prune_removes(settings: Settings, corpus: Path) -> None:
    store = Store(settings)
    try:
        ingest(store, [corpus], progress=False)
        write(corpus / "khai-sinh.md", BIRTH.replace("Miễn phí khi đăng ký đúng hạn.", "Lệ phí 8.000 đồng cho bản sao."))
        (corpus / "ket-hon.md").unlink()
        summary = ingest(store, [corpus], prune=True, progress=False)
        assert (summary.updated, summary.unchanged, summary.removed) == (1, 1, 1)
        texts = " ".join(c.text for c, _ in store.manifest.current_chunks())
        assert "8.000 đồng" in texts and "Miễn phí khi đăng ký" not in texts
        assert store.manifest.source("doc:ket-hon") is None
        # the old generation's vectors are gone from Chroma too
        assert store.vectors.all_ids() == store.manifest.live_chunk_ids(embedded_only=True)
    finally:
        store.close()


def test_official_sources_are_invisible_to_citizens(settings: Settings, corpus: Path) -> None:
    store = Store(settings)
    try:
        ingest(store, [corpus], progress=False)
        retriever = Retriever(store)
        citizen = retriever.search("mã nội bộ XK-7741 kiểm tra tờ khai", audience="citizen", k=10)
        official = retriever.search("mã nội bộ XK-7741 kiểm tra tờ khai", audience="official", k=10)
        assert "doc:noi-bo" not in [c.key for c in citizen.candidates]
        assert official.candidates[0].key == "doc:noi-bo"
    finally:
        store.close()


def test_a_broken_file_is_reported_and_the_batch_goes_on(settings: Settings, corpus: Path) -> None:
    write(corpus / "hong.md", "---\ntitle: [unclosed\n---\n# x\ntext\n")
    (corpus / "rong.txt").write_bytes(b"")
    store = Store(settings)
    try:
        summary = ingest(store, [corpus], progress=False)
        failed = {Path(f["path"]).name: f["error"] for f in summary.failed}
        assert summary.added == 3
        assert "front matter" in failed["hong.md"]
        assert "empty" in failed["rong.txt"]
    finally:
        store.close()


def test_second_process_is_refused_with_a_message(embedded_settings: Settings, corpus: Path) -> None:
    store = Store(embedded_settings, purpose="assistant ingest")
    try:
        with pytest.raises(DataDirLocked, match="in use by assistant ingest"):
            Store(embedded_settings)
    finally:
        store.close()
    Store(embedded_settings).close()  # free again once the first one closed


def test_opening_with_another_embedder_is_refused(embedded_settings: Settings, corpus: Path) -> None:
    store = Store(embedded_settings)
    ingest(store, [corpus], progress=False)
    store.close()
    other = embedded_settings.model_copy(update={"embedder": "hash:128"})
    with pytest.raises(EmbedderMismatch, match="re-ingest|Re-ingest"):
        Store(other)


def test_a_reload_swaps_the_whole_snapshot_while_searches_go_on(embedded_settings: Settings, corpus: Path) -> None:
    """Searches running on other threads while a source is replaced never fail and always see one
    whole generation: the fee text they find is the old one or the new one."""
    import threading

    store = Store(embedded_settings)
    try:
        ingest(store, [corpus], progress=False)
        retriever = Retriever(store)
        first = retriever.snapshot
        errors: list[BaseException] = []
        seen: set[str] = set()
        stop = threading.Event()

        def search() -> None:
            while not stop.is_set():
                try:
                    snap = retriever.snapshot
                    top = retriever.search("khai sinh lệ phí").candidates[0]
                    fee = [c.text for c in snap.by_source.get("doc:khai-sinh", []) if "Lệ phí" in (c.section or "")]
                    assert top.key == "1.001193" and len(fee) == 1
                    seen.add(fee[0])
                except BaseException as exc:  # noqa: BLE001 - the test reports any failure
                    errors.append(exc)

        threads = [threading.Thread(target=search) for _ in range(3)]
        for t in threads:
            t.start()
        write(corpus / "khai-sinh.md", BIRTH.replace("Miễn phí khi đăng ký đúng hạn.", "Lệ phí 8.000 đồng cho bản sao."))
        ingest(store, [corpus], progress=False)
        while retriever.snapshot is first:
            pass
        stop.set()
        for t in threads:
            t.join()
        assert errors == []
        assert seen <= {"Miễn phí khi đăng ký đúng hạn.", "Lệ phí 8.000 đồng cho bản sao."} and seen
        assert "8.000" in " ".join(c.text for c in retriever.snapshot.by_source["doc:khai-sinh"])
    finally:
        store.close()


def test_a_pinned_turn_reads_one_version_while_a_writer_refreshes(embedded_settings: Settings, corpus: Path) -> None:
    """A thread inside `pinned()` keeps its view though the index changed and the writer already
    swapped the new one in; the next turn reads the new one, and nobody but the writer built it."""
    import threading

    store = Store(embedded_settings)
    try:
        ingest(store, [corpus], progress=False)
        retriever = Retriever(store)
        with retriever.pinned() as view:
            write(corpus / "khai-sinh.md", BIRTH.replace("Miễn phí khi đăng ký đúng hạn.", "Lệ phí 8.000 đồng."))
            writer = threading.Thread(target=lambda: (ingest(store, [corpus], progress=False), retriever.refresh()))
            writer.start()
            writer.join()
            assert retriever.snapshot is view.snap and retriever.view is view
            assert "8.000" not in " ".join(c.text for c in retriever.snapshot.by_source["doc:khai-sinh"])
        assert retriever.rebuilds == 1 and retriever.snapshot is not view.snap
        assert "8.000" in " ".join(c.text for c in retriever.snapshot.by_source["doc:khai-sinh"])
        assert retriever.rebuilds == 1  # the request after the write found the view ready
    finally:
        store.close()


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_a_broken_lexical_index_file_is_rebuilt_from_the_manifest(embedded_settings: Settings, corpus: Path,
                                                                 damage: str, caplog: pytest.LogCaptureFixture) -> None:
    store = Store(embedded_settings)
    try:
        ingest(store, [corpus], progress=False)
        before = [c.key for c in Retriever(store).search("khai sinh lệ phí").candidates]
    finally:
        store.close()
    broken = embedded_settings.index_dir / "lexical" / "chunks" / "data.csc.index.npy"
    if damage == "truncate":
        broken.write_bytes(broken.read_bytes()[:20])
    else:
        broken.unlink()
    store = Store(embedded_settings)
    try:
        with caplog.at_level("WARNING", logger="assistant.lexical"):
            after = [c.key for c in Retriever(store).search("khai sinh lệ phí").candidates]
        assert after == before and before
        assert any("rebuilding it from the manifest" in r.getMessage() for r in caplog.records)
        assert broken.exists() and broken.stat().st_size > 20
    finally:
        store.close()
