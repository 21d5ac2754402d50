"""Is a citation's quote really in its source? Checked against the index's SQLite manifest.

Read-only: it opens `<data dir>/index/manifest.sqlite` with `mode=ro`, next to a running assistant
(SQLite in WAL mode allows that). A source's text is its title, its current chunks and the string
values of its parsed procedure. Comparison keeps letters and digits only (casefolded, NFC), because
the portal's flattened tables lose the spaces and punctuation that an answer's quote puts back; a
quote elided with "…" or "..." must have each of its pieces in the source.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import unicodedata
from pathlib import Path
from typing import Any, Iterator

_ELISION = re.compile(r"…|\.\.\.|\[\.\.\.\]")
MIN_PIECE = 3


def _squash(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFC", text).casefold() if c.isalnum())


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


class ManifestQuoteChecker:
    """Callable on a citation dict; True when its quote is found in the source it names."""

    def __init__(self, index_dir: Path, cache_size: int = 256) -> None:
        path = index_dir / "manifest.sqlite"
        if not path.exists():
            raise ValueError(f"no index at {index_dir} (manifest.sqlite missing): cannot check quotes")
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self._cache: dict[str, str | None] = {}
        self._cache_size = cache_size

    def source_text(self, source_id: str) -> str | None:
        """The squashed text of a source, None when the index does not hold it."""
        with self._lock:
            if source_id in self._cache:
                return self._cache[source_id]
            row = self._db.execute("SELECT title, procedure, generation FROM sources WHERE source_id=?",
                                   (source_id,)).fetchone()
            text: str | None = None
            if row is not None:
                title, procedure, generation = row
                parts = [title or ""]
                parts += [r[0] or "" for r in self._db.execute(
                    "SELECT text FROM chunks WHERE source_id=? AND generation=? ORDER BY ord",
                    (source_id, generation))]
                if procedure:
                    parts += list(_strings(json.loads(procedure)))
                text = _squash(" ".join(parts))
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[source_id] = text
            return text

    def __call__(self, citation: dict[str, Any]) -> bool:
        source_id = citation.get("source_id")
        quote = str(citation.get("quote") or "")
        if not source_id or not quote.strip():
            return False
        text = self.source_text(str(source_id))
        if text is None:
            return False
        pieces = [_squash(p) for p in _ELISION.split(quote)]
        pieces = [p for p in pieces if len(p) >= MIN_PIECE]
        return bool(pieces) and all(p in text for p in pieces)

    def close(self) -> None:
        self._db.close()
