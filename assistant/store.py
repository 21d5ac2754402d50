"""The index as one object: manifest (truth) + Chroma (dense) + bm25s (lexical), and the data-dir lock.

Embedded Chroma is used by one process: whoever opens the store with `exclusive=True` (the ingester,
the server, the CLI) holds a lock on the data dir, and a second one gets a message saying who holds it.
With `ASSISTANT_CHROMA_URL` the vectors live in a server; only writers then take the lock.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.embeddings import Embedder, make_embedder
from assistant.lexical import LexicalIndex
from assistant.manifest import Chunk, Manifest, SourceRecord
from assistant.settings import Settings
from assistant.text import lexical_tokens
from assistant.vectors import EmbedderMismatch, VectorIndex, make_client


EXAMPLES = "examples"  # the kind of an example-question source (`ingest.examples`)
LEXICAL_INDEXES = ("chunks", "titles", "examples")


class DataDirLocked(RuntimeError):
    pass


class DiskFull(OSError):
    """The disk holding the index is full; the write that hit it was rolled back."""


def _is_disk_full(exc: BaseException) -> bool:
    """SQLite's SQLITE_FULL, an OSError ENOSPC, or Chroma's wrapping of either."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    text = str(exc)
    return "database or disk is full" in text or "No space left on device" in text


class DataDirLock:
    def __init__(self, path: Path, purpose: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "a+")
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.seek(0)
            holder = self._fh.read().strip() or "another process"
            self._fh.close()
            raise DataDirLocked(
                f"{path.parent} is in use by {holder}. Embedded Chroma allows one process per data dir: "
                "ask a running server instead with --url http://127.0.0.1:8000 (`assistant ask`, `search`, "
                "`eval run`), upload through its POST /v1/documents, stop it, or set ASSISTANT_CHROMA_URL "
                "to share a Chroma server."
            ) from None
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(f"{purpose} (pid {os.getpid()})")
        self._fh.flush()

    def release(self) -> None:
        if not self._fh.closed:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()


@dataclass
class Indexed:
    """A source ready to be switched in: its record and its chunks."""

    record: SourceRecord
    chunks: list[Chunk]


class Store:
    def __init__(self, settings: Settings, embedder: Embedder | None = None, purpose: str = "assistant",
                 exclusive: bool = True) -> None:
        self.settings = settings
        self.dir = settings.index_dir
        embedded = not settings.chroma_url
        self._lock = DataDirLock(self.dir / "lock", purpose) if (exclusive or embedded) else None
        try:
            with self.disk_full_as_error():  # SQLite and embedded Chroma both write as they open
                self.manifest = Manifest(self.dir / "manifest.sqlite")
                self.embedder = embedder or make_embedder(settings.embedder, threads=settings.threads)
                recorded = self.manifest.get_meta("embedder")
                if recorded and recorded != self.embedder.name:
                    raise EmbedderMismatch(
                        f"this index was built with embedder {recorded!r}, but {self.embedder.name!r} is "
                        f"configured (ASSISTANT_EMBEDDER). Re-ingest into an empty ASSISTANT_DATA_DIR to switch, "
                        f"or set ASSISTANT_EMBEDDER back."
                    )
                client = make_client(self.dir, settings.chroma_url)
                self.vectors = VectorIndex(client, settings.collection, self.embedder, settings.chroma_url)
        except Exception:
            self.close()
            raise
        self._lexical: dict[str, LexicalIndex] = {}
        self._lexical_version = -1
        self._tokens: dict[str, list[str]] = {}  # chunk id -> its tokens, from the last build (ids change with content)

    def close(self) -> None:
        if getattr(self, "manifest", None) is not None:
            self.manifest.close()
        if self._lock is not None:
            self._lock.release()

    # --- writing ----------------------------------------------------------------------------------
    @contextmanager
    def disk_full_as_error(self) -> Iterator[None]:
        """Writes inside raise DiskFull, with one message saying what to do, when the disk is full."""
        try:
            yield
        except DiskFull:
            raise
        except Exception as exc:
            if not _is_disk_full(exc):
                raise
            raise DiskFull(f"the disk holding {self.dir} is full ({exc}). The index is unharmed (an ingest "
                           "switches each batch in whole or not at all); free space there and run the command "
                           "again (an ingest goes on where it stopped)") from exc

    def recover(self) -> int:
        """Drop what an interrupted ingest left behind; returns the number of stray chunks removed."""
        with self.disk_full_as_error():
            dropped = self.manifest.discard_staged()
            stray = self.vectors.all_ids() - self.manifest.live_chunk_ids(embedded_only=True)
            self.vectors.delete(sorted(stray))
        return dropped + len(stray)

    def replace(self, batch: list[Indexed]) -> None:
        """Switch each source of the batch to its new chunks; all-or-nothing per batch."""
        if not batch:
            return
        with self.disk_full_as_error():
            self._replace(batch)

    def _replace(self, batch: list[Indexed]) -> None:
        self.manifest.set_meta("embedder", self.embedder.name)
        gen = self.manifest.next_generation()
        all_chunks: list[Chunk] = []
        for item in batch:
            item.record.generation = gen
            for i, c in enumerate(item.chunks):
                c.id, c.ord = f"{item.record.source_id}#{gen}.{i}", i
            all_chunks += item.chunks
        self.manifest.stage_chunks(all_chunks, gen)
        by_source = {item.record.source_id: item.record for item in batch}
        for as_queries in (False, True):
            dense = [c for c in all_chunks if c.embedded and (c.meta.get("embed_as") == "query") == as_queries]
            self.vectors.upsert(
                [c.id for c in dense],
                [c.meta.get("embed_text") or c.text for c in dense],
                [_vector_meta(c, by_source[c.source_id]) for c in dense],
                as_queries=as_queries,
            )
        old = self.manifest.switch([item.record for item in batch])
        self.vectors.delete(old)

    def remove(self, source_ids: list[str]) -> None:
        with self.disk_full_as_error():
            self.vectors.delete(self.manifest.remove(source_ids))

    # --- reading ----------------------------------------------------------------------------------
    def lexical(self) -> dict[str, LexicalIndex]:
        """The lexical indexes for the manifest's current version, loading or building them."""
        version = self.manifest.index_version
        if version == self._lexical_version:
            return self._lexical
        folder = self.dir / "lexical"
        loaded = {name: LexicalIndex.load(folder / name, version) for name in LEXICAL_INDEXES}
        if any(v is None for v in loaded.values()):
            loaded = self._build_lexical(folder, version)
        self._lexical, self._lexical_version = loaded, version  # type: ignore[assignment]
        return self._lexical

    def _build_lexical(self, folder: Path, version: int) -> dict[str, LexicalIndex]:
        """The three indexes of the chunks live now. Tokens of the chunks the last build saw are
        reused (a chunk id names one content), so an upload tokenizes only what it added."""
        ids: list[str] = []
        toks: list[list[str]] = []
        title_ids: list[str] = []
        title_toks: list[list[str]] = []
        example_ids: list[str] = []
        example_toks: list[list[str]] = []
        known, self._tokens = self._tokens, {}

        def tokens(key: str, text: str) -> list[str]:
            got = known.get(key)
            self._tokens[key] = got = got if got is not None else [sys.intern(t) for t in lexical_tokens(text)]
            return got

        for chunk, src in self.manifest.current_chunks():
            if src.kind == EXAMPLES:
                example_ids.append(chunk.id)
                example_toks.append(tokens(chunk.id, chunk.meta.get("embed_text") or chunk.text))
                continue
            ids.append(chunk.id)
            toks.append(tokens(chunk.id, " ".join(filter(None, [src.title, chunk.section, chunk.text]))))
            if chunk.ord == 0:
                title_ids.append(src.source_id)
                title_toks.append(tokens(f"title:{chunk.id}", title_text(src)))
        built = {"chunks": LexicalIndex.build(ids, toks), "titles": LexicalIndex.build(title_ids, title_toks),
                 "examples": LexicalIndex.build(example_ids, example_toks)}
        for name, index in built.items():
            index.save(folder / name, version)
        return built


def title_text(src: SourceRecord) -> str:
    """What the per-source name index holds: the title and a few identifying fields."""
    meta = src.meta
    return " ".join(filter(None, [src.title, meta.get("field"), meta.get("aliases")]))


def _vector_meta(chunk: Chunk, src: SourceRecord) -> dict[str, Any]:
    return {
        "source_id": src.source_id,
        "audience": src.audience,
        "kind": src.kind,
        "facet": chunk.facet or "",
    }
