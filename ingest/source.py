"""What loaders produce: a `Source` (one indexable unit, replaced as a whole) made of `Section`s.

A file is usually one source; a portal JSONL file yields one source per procedure record.
Loaders raise `LoadError` with a message a person can act on; the pipeline reports it and goes on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from assistant.procedure import Procedure

AUDIENCES = ("citizen", "official")


class LoadError(Exception):
    """A file that cannot be read; the message says why and what to do."""


class Loaded(list):
    """The sources of one file, plus a message for each record inside it that had to be skipped."""

    def __init__(self, sources: "list[Source] | tuple" = (), errors: list[str] | None = None) -> None:
        super().__init__(sources)
        self.errors = list(errors or [])


@dataclass
class Section:
    text: str
    section: str | None = None  # heading, article ("Điều 23. …") or portal field ("Thành phần hồ sơ")
    page: int | None = None  # 1-based page in a PDF
    facet: str | None = None  # documents|fee|time|place|conditions|legal_basis|steps|result
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. {"article": "23", "clause": "2"}


@dataclass
class Source:
    source_id: str
    title: str
    kind: str  # "procedure" | "handbook" | "legal" | "document"
    origin: str  # the file it came from
    sections: list[Section]
    audience: str | None = None  # None: take the ingest default
    procedure_codes: list[str] = field(default_factory=list)
    url: str | None = None
    procedure: Procedure | None = None  # set for portal records
    meta: dict[str, Any] = field(default_factory=dict)  # doc number, issued/effective dates, summary
    content_hash: str = ""

    def __post_init__(self) -> None:
        if not self.content_hash:
            h = hashlib.sha256()
            for s in self.sections:
                h.update((s.section or "").encode())
                h.update(b"\0")
                h.update(s.text.encode())
                h.update(b"\1")
            h.update(repr(sorted(self.meta.items())).encode())
            h.update(repr((self.title, self.audience, self.procedure_codes, self.url)).encode())
            self.content_hash = h.hexdigest()
