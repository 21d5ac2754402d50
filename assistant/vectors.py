"""The dense index: a Chroma collection (embedded PersistentClient, or HttpClient for a server).

We always pass our own embedding function (Chroma's default downloads a model), and we hand it
vectors we computed ourselves. The collection records the embedder that built it.

A Chroma server that is down, or stopped and not answering, raises `VectorStoreUnreachable` within
`SERVER_TIMEOUT` (the API answers 503); the client reconnects by itself once the server is back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from assistant.embeddings import Embedder

logging.getLogger("chromadb").setLevel(logging.ERROR)


# chromadb's HttpClient waits forever by default; one batch of 1,000 upserts takes well under a second
SERVER_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class EmbedderMismatch(RuntimeError):
    pass


class VectorStoreUnreachable(RuntimeError):
    """The Chroma server (ASSISTANT_CHROMA_URL) refused, dropped or timed out a request."""


def _embedding_function(embedder: Embedder) -> Any:
    return _ef_class()(embedder)


_EF_CLASS: Any = None


def _ef_class() -> Any:
    """Chroma's embedding-function protocol around our embedder (defined once, registered once)."""
    global _EF_CLASS
    if _EF_CLASS is not None:
        return _EF_CLASS
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

    class AssistantEmbeddingFunction(EmbeddingFunction[Documents]):
        def __init__(self, embedder: Embedder | None = None) -> None:
            self._embedder = embedder

        def _require(self) -> Embedder:
            if self._embedder is None:
                raise RuntimeError("open the index through the assistant, which passes its embedder")
            return self._embedder

        def __call__(self, input: Documents) -> Embeddings:
            return list(self._require().embed_documents(list(input)))

        def embed_query(self, input: Documents) -> Embeddings:
            return [self._require().embed_query(t) for t in input]

        @staticmethod
        def name() -> str:
            return "procedure-assistant"

        def get_config(self) -> dict[str, Any]:
            return {"embedder": self._embedder.name if self._embedder else None}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> "AssistantEmbeddingFunction":
            return AssistantEmbeddingFunction(None)

        def default_space(self) -> str:  # type: ignore[override]
            return "cosine"

    _EF_CLASS = AssistantEmbeddingFunction
    return _EF_CLASS


def make_client(index_dir: Path, chroma_url: str | None) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        from urllib.parse import urlparse

        u = urlparse(chroma_url)
        client = chromadb.HttpClient(
            host=u.hostname or "localhost",
            port=u.port or (443 if u.scheme == "https" else 8000),
            ssl=u.scheme == "https",
            settings=chroma_settings,
        )
        session = getattr(getattr(client, "_server", None), "_session", None)  # no public setting for it
        if isinstance(session, httpx.Client):
            session.timeout = SERVER_TIMEOUT
        return client
    index_dir.mkdir(parents=True, exist_ok=True)
    path = str(index_dir / "chroma")
    try:
        return chromadb.PersistentClient(path=path, settings=chroma_settings)
    except Exception:
        # chromadb caches one system per path before starting it; one that failed to start (a full disk)
        # would fail every later open of the path in this process, so forget it
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient._identifier_to_system.pop(path, None)
        raise


class VectorIndex:
    """Chunk vectors with the metadata filters we search with (audience, kind)."""

    def __init__(self, client: Any, name: str, embedder: Embedder, url: str | None = None) -> None:
        self.embedder = embedder
        self.url = url
        with self._reaching():
            self._col = client.get_or_create_collection(
                name=name,
                embedding_function=_embedding_function(embedder),
                metadata={"hnsw:space": "cosine", "embedder": embedder.name},
            )
        built_with = (self._col.metadata or {}).get("embedder")
        if built_with and built_with != embedder.name:
            raise EmbedderMismatch(
                f"the index was built with embedder {built_with!r} but {embedder.name!r} is configured; "
                f"re-ingest into a new data dir (or delete {name!r}) to switch embedders"
            )

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        try:
            yield
        except httpx.TransportError as exc:  # refused, reset, timed out: the server is down or stuck
            raise VectorStoreUnreachable(
                f"the vector store (Chroma server at {self.url}) is unreachable "
                f"({exc or type(exc).__name__}); answers resume when it is back"
            ) from exc

    def upsert(self, ids: list[str], texts: list[str], metadatas: list[dict[str, Any]], as_queries: bool = False) -> None:
        """Embed and store; `as_queries` embeds the texts as questions (e5's `query:` side)."""
        if not ids:
            return
        vectors = self.embedder.embed_queries(texts) if as_queries else self.embedder.embed_documents(texts)
        with self._reaching():
            for i in range(0, len(ids), 1000):
                sl = slice(i, i + 1000)
                self._col.upsert(ids=ids[sl], embeddings=vectors[sl], metadatas=metadatas[sl])

    def delete(self, ids: list[str]) -> None:
        with self._reaching():
            for i in range(0, len(ids), 1000):
                self._col.delete(ids=ids[i : i + 1000])

    def all_ids(self) -> set[str]:
        out: set[str] = set()
        offset = 0
        with self._reaching():
            while True:
                got = self._col.get(include=[], limit=5000, offset=offset)["ids"]
                out.update(got)
                if len(got) < 5000:
                    return out
                offset += len(got)

    def vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """The stored vectors of these ids (those that exist)."""
        out: dict[str, np.ndarray] = {}
        with self._reaching():
            for i in range(0, len(ids), 1000):
                got = self._col.get(ids=ids[i : i + 1000], include=["embeddings"])
                out.update({cid: np.asarray(v, dtype=np.float32) for cid, v in zip(got["ids"], got["embeddings"])})
        return out

    def count(self) -> int:
        with self._reaching():
            return int(self._col.count())
