"""Examples officials teach (the review console, `POST /v1/examples`): what they are and where they live.

Each taught example is one gold-format JSON Lines file of one line under `DATA_DIR/taught/`
(`taught-<id>.jsonl`: `question`, `expected_sources`, `expected_behavior`, plus who taught it, when,
and for "not covered" where to send people). `ingest/taught.py` indexes each file as its own example
source (`examples:taught-<id>.jsonl`), so teaching or undoing one writes a new manifest generation
that every worker's retriever picks up on its next question, and costs one embedding whatever the
number of examples taught. The folder is the record to rebuild from: `assistant ingest DATA_DIR/taught`.

An example routes questions like it (the ranker weighs it with the other example questions); a
question that *repeats* a taught one (the same words, ignoring case, diacritics, punctuation, spacing
and chat particles) gets what the official chose (`correction`): with one example among thousands
the fitted ranker does not reliably put its procedure first even for that very question. Examples
are never cited or quoted.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.facts import template
from assistant.query import detect_lang
from assistant.text import fold

if TYPE_CHECKING:
    from assistant.snapshot import Snapshot

PREFIX = "taught-"
GOLD_FIELDS = ("id", "question", "history", "expected_sources", "expected_behavior", "facts", "facets", "lang", "notes")


# chat particles that never change what is asked (folded: ạ/à, ơi, nhé, nhỉ, texting 'z' for vậy, 'ad' for admin)
_PARTICLES = frozenset({"a", "ah", "ak", "oi", "nhe", "nhi", "z", "ad"})


def repeat_key(text: str) -> str:
    """What makes two questions the same question: their words, folded, without chat particles
    ('Cụ nhà tôi mất rồi ạ?' and 'cu nha toi mat roi' are one)."""
    return " ".join(w for w in re.findall(r"\w+", fold(text)) if w not in _PARTICLES)


def example_id(question: str) -> str:
    """A taught example's id, from its question: the same question taught twice is one example."""
    return PREFIX + hashlib.sha256(repeat_key(question).encode()).hexdigest()[:12]


def source_id(eid: str) -> str:
    """The example source a taught example is indexed as (`ingest.examples`: `examples:<file name>`)."""
    return f"examples:{eid}.jsonl"


def example_row(question: str, codes: list[str], taught_by: str, refer_to: str | None = None,
                message_ids: list[str] | None = None) -> dict[str, Any]:
    """A taught example as its file holds it: a gold turn (no codes: not covered) plus who, when, and
    for not covered where to send people."""
    return {"id": example_id(question), "question": question, "history": [], "expected_sources": codes,
            "expected_behavior": "answer" if codes else "refuse", "facts": [], "facets": [],
            "lang": detect_lang(question), "notes": "taught", "style": "taught", "refer_to": refer_to,
            "taught_by": taught_by, "taught_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "message_ids": message_ids or []}


class Taught:
    """The folder of taught examples under a data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = Path(data_dir) / "taught"

    def path(self, eid: str) -> Path:
        if not re.fullmatch(rf"{PREFIX}[0-9a-f]{{12}}", eid):
            raise KeyError(eid)
        return self.dir / f"{eid}.jsonl"

    def get(self, eid: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.path(eid).read_text(encoding="utf-8"))
        except (KeyError, FileNotFoundError, ValueError):
            return None

    def all(self) -> list[dict[str, Any]]:
        """Every taught example, newest first."""
        rows = [row for p in sorted(self.dir.glob(f"{PREFIX}*.jsonl")) if (row := self.get(p.stem)) is not None]
        return sorted(rows, key=lambda r: r.get("taught_at") or "", reverse=True)

    def write(self, row: dict[str, Any]) -> Path:
        """Write one example's file whole (readers see the old file or the new one, never half)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.path(row["id"])
        part = self.dir / f".{row['id']}.{uuid.uuid4().hex}.part"
        part.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(part, path)
        return path

    @contextmanager
    def locked(self) -> Iterator[None]:
        """One teacher at a time across every worker on the data dir (waits for the others)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def gold(self) -> list[dict[str, Any]]:
        """The taught examples as gold turns (DESIGN.md), oldest first: a regression set for `assistant eval run`."""
        return [{k: row.get(k, [] if k in ("history", "facts", "facets") else "") for k in GOLD_FIELDS}
                for row in reversed(self.all())]


@dataclass(frozen=True)
class Correction:
    """What an official taught for the very question asked: its procedures (empty: not covered)."""

    example_id: str
    codes: tuple[str, ...]
    refer_to: str | None


def correction(snap: "Snapshot", data_dir: Path, message: str) -> Correction | None:
    """The taught example the message repeats, if the index as the snapshot sees it holds one."""
    eid = example_id(message)
    try:
        row = snap.examples.ids.index(eid)
    except ValueError:
        return None
    taught = Taught(data_dir).get(eid) or {}
    return Correction(eid, snap.examples.codes[row], taught.get("refer_to") or None)


def refusal_text(lang: str, refer_to: str | None) -> str:
    """The refusal for a question officials marked as not covered, with where they send people."""
    t = template(lang)
    return t["refuse"] + ("\n" + t["refuse_refer"].format(refer_to=refer_to) if refer_to else "")
