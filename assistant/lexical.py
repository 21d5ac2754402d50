"""BM25 (bm25s) over our own tokens (folded syllables + bigrams, see `assistant.text`).

An index is derived data: built from the manifest's live chunks, saved next to it with the
manifest's index version, and rebuilt when that version moves on.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

logging.getLogger("bm25s").setLevel(logging.ERROR)
log = logging.getLogger("assistant.lexical")


class LexicalIndex:
    def __init__(self, ids: list[str], retriever: object | None) -> None:
        self.ids = ids
        self._retriever = retriever
        self._vocab: dict[str, int] = getattr(retriever, "vocab_dict", {}) if retriever else {}

    @classmethod
    def build(cls, ids: list[str], token_lists: list[list[str]], k1: float = 1.2, b: float = 0.75) -> "LexicalIndex":
        import bm25s

        if not ids:
            return cls([], None)
        retriever = bm25s.BM25(k1=k1, b=b)
        retriever.index(token_lists, show_progress=False)
        return cls(ids, retriever)

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every document, in `ids` order (zeros when nothing matches)."""
        known = [t for t in tokens if t in self._vocab]
        if not known or self._retriever is None:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._retriever.get_scores(known), dtype=np.float32)  # type: ignore[attr-defined]

    def save(self, folder: Path, version: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self._retriever is not None:
            self._retriever.save(str(folder), show_progress=False)  # type: ignore[attr-defined]
        (folder / "ids.json").write_text(json.dumps({"version": version, "ids": self.ids}))

    @classmethod
    def load(cls, folder: Path, version: int) -> "LexicalIndex | None":
        """The saved index if it was built for `version`, else None."""
        import bm25s

        try:
            saved = json.loads((folder / "ids.json").read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(saved, dict) or saved.get("version") != version or not isinstance(saved.get("ids"), list):
            return None
        if not saved["ids"]:
            return cls([], None)
        try:
            retriever = bm25s.BM25.load(str(folder), show_progress=False)
        except Exception as exc:  # a truncated or missing file: the manifest has everything to rebuild it
            log.warning("lexical index %s is unreadable (%s: %s): rebuilding it from the manifest",
                        folder, type(exc).__name__, exc)
            return None
        if retriever.scores.get("num_docs") != len(saved["ids"]):
            log.warning("lexical index %s holds %s documents, its ids %d: rebuilding it from the manifest",
                        folder, retriever.scores.get("num_docs"), len(saved["ids"]))
            return None
        return cls(saved["ids"], retriever)
