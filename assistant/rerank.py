"""An optional second-stage reranker, chosen by `ASSISTANT_RERANKER`: `none` (default) or
`st-rerank:NAME_OR_PATH`, a sentence-transformers CrossEncoder available locally (no weights are
downloaded at run time; none ship offline here, so it is off by default).
"""

from __future__ import annotations

import os
from typing import Protocol


class Reranker(Protocol):
    name: str

    def scores(self, query: str, passages: list[str]) -> list[float]: ...


class CrossEncoderReranker:
    def __init__(self, model: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import CrossEncoder

        try:
            self._model = CrossEncoder(model, device="cpu")
        except OSError as exc:
            raise RuntimeError(f"cannot load CrossEncoder {model!r} offline: give a local path") from exc
        self.name = f"st-rerank:{model}"

    def scores(self, query: str, passages: list[str]) -> list[float]:
        return [float(s) for s in self._model.predict([(query, p) for p in passages])]


def make_reranker(spec: str) -> Reranker | None:
    provider, _, model = spec.partition(":")
    if provider == "none":
        return None
    if provider == "st-rerank" and model:
        return CrossEncoderReranker(model)
    raise ValueError(f"unknown reranker {spec!r}: use none or st-rerank:NAME_OR_PATH")
