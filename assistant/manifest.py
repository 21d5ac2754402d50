"""The SQLite manifest: the source of truth for what is indexed.

Each source points at one generation of its chunks. Replacing a source writes the new chunks under
a new generation, then switches the source's pointer and drops the old rows in one transaction, so a
crash leaves either the old or the new version, never half of one. Chroma and the lexical index are
derived from the chunk rows whose generation is current.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS sources(
  source_id TEXT PRIMARY KEY, origin TEXT, kind TEXT, title TEXT, audience TEXT, url TEXT,
  procedure_codes TEXT, meta TEXT, procedure TEXT, content_hash TEXT, generation INTEGER,
  updated_at TEXT);
CREATE TABLE IF NOT EXISTS chunks(
  id TEXT PRIMARY KEY, source_id TEXT, generation INTEGER, ord INTEGER, text TEXT, section TEXT,
  page INTEGER, facet TEXT, embedded INTEGER, meta TEXT);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source_id, generation);
"""


@dataclass
class Chunk:
    id: str
    source_id: str
    text: str
    ord: int = 0
    section: str | None = None
    page: int | None = None
    facet: str | None = None
    embedded: bool = False  # also in the dense index
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class SourceRecord:
    source_id: str
    origin: str
    kind: str
    title: str
    audience: str
    url: str | None
    procedure_codes: list[str]
    meta: dict[str, Any]
    procedure: dict[str, Any] | None
    content_hash: str
    generation: int = 0
    updated_at: str = ""


class Manifest:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # --- meta -----------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", (key, value))

    def next_generation(self) -> int:
        gen = int(self.get_meta("last_generation", "0") or 0) + 1
        self.set_meta("last_generation", str(gen))
        return gen

    @property
    def index_version(self) -> int:
        """Changes whenever the set of current chunks changes; readers reload on change."""
        return int(self.get_meta("index_version", "0") or 0)

    # --- sources ----------------------------------------------------------------------------------
    def hashes(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT source_id, content_hash FROM sources"))

    def source(self, source_id: str) -> SourceRecord | None:
        row = self.db.execute("SELECT * FROM sources WHERE source_id=?", (source_id,)).fetchone()
        return _source_from_row(row) if row else None

    def sources(self) -> Iterator[SourceRecord]:
        for row in self.db.execute("SELECT * FROM sources ORDER BY source_id"):
            yield _source_from_row(row)

    def covering(self, code: str) -> list[SourceRecord]:
        """The sources about a procedure code or document id: the one with that id, then those that
        declare the code in their `procedure_codes`."""
        rows = self.db.execute(
            "SELECT * FROM sources WHERE source_id=? OR EXISTS (SELECT 1 FROM json_each(sources.procedure_codes) "
            "WHERE value=?) ORDER BY source_id<>?, source_id", (code, code, code))
        return [_source_from_row(row) for row in rows]

    def keys(self) -> set[str]:
        """Every source id and every procedure code a source declares: what a gold file may expect."""
        out: set[str] = set()
        for sid, codes in self.db.execute("SELECT source_id, procedure_codes FROM sources"):
            out.add(sid)
            out.update(json.loads(codes or "[]"))
        return out

    def stage_chunks(self, chunks: list[Chunk], generation: int) -> None:
        """Write chunks under a generation no source points at yet (invisible to readers)."""
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO chunks VALUES(?,?,?,?,?,?,?,?,?,?)",
                [
                    (c.id, c.source_id, generation, c.ord, c.text, c.section, c.page, c.facet,
                     int(c.embedded), json.dumps(c.meta, ensure_ascii=False))
                    for c in chunks
                ],
            )

    def switch(self, records: list[SourceRecord]) -> list[str]:
        """Point each source at its staged generation; return the ids of the chunks replaced."""
        old: list[str] = []
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for r in records:
                old += [row[0] for row in self.db.execute(
                    "SELECT id FROM chunks WHERE source_id=? AND generation<>?", (r.source_id, r.generation))]
                self.db.execute("DELETE FROM chunks WHERE source_id=? AND generation<>?",
                                (r.source_id, r.generation))
                d = asdict(r)
                d["updated_at"] = now
                for key in ("procedure_codes", "meta", "procedure"):
                    d[key] = json.dumps(d[key], ensure_ascii=False) if d[key] is not None else None
                self.db.execute(
                    "INSERT OR REPLACE INTO sources VALUES(:source_id,:origin,:kind,:title,:audience,:url,"
                    ":procedure_codes,:meta,:procedure,:content_hash,:generation,:updated_at)", d)
            self._bump()
        return old

    def remove(self, source_ids: list[str]) -> list[str]:
        old: list[str] = []
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for sid in source_ids:
                old += [row[0] for row in self.db.execute("SELECT id FROM chunks WHERE source_id=?", (sid,))]
                self.db.execute("DELETE FROM chunks WHERE source_id=?", (sid,))
                self.db.execute("DELETE FROM sources WHERE source_id=?", (sid,))
            self._bump()
        return old

    def discard_staged(self) -> int:
        """Drop chunk rows left by an interrupted ingest (no source points at their generation)."""
        with self.db:
            cur = self.db.execute(
                "DELETE FROM chunks WHERE NOT EXISTS (SELECT 1 FROM sources s WHERE "
                "s.source_id=chunks.source_id AND s.generation=chunks.generation)")
        return cur.rowcount

    def _bump(self) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES('index_version', "
            "CAST(COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key='index_version'), 0) + 1 AS TEXT))")

    # --- chunks -----------------------------------------------------------------------------------
    def current_chunks(self) -> Iterator[tuple[Chunk, SourceRecord]]:
        """Every live chunk with its source, in a stable order."""
        sources = {s.source_id: s for s in self.sources()}
        rows = self.db.execute(
            "SELECT c.id, c.source_id, c.text, c.ord, c.section, c.page, c.facet, c.embedded, c.meta "
            "FROM chunks c JOIN sources s ON s.source_id=c.source_id AND s.generation=c.generation "
            "ORDER BY c.source_id, c.ord")
        for cid, sid, text, ord_, section, page, facet, embedded, meta in rows:
            yield Chunk(cid, sid, text, ord_, section, page, facet, bool(embedded), json.loads(meta)), sources[sid]

    def live_chunk_ids(self, embedded_only: bool = False) -> set[str]:
        sql = ("SELECT c.id FROM chunks c JOIN sources s ON s.source_id=c.source_id "
               "AND s.generation=c.generation")
        if embedded_only:
            sql += " WHERE c.embedded=1"
        return {row[0] for row in self.db.execute(sql)}


def _source_from_row(row: tuple) -> SourceRecord:
    (sid, origin, kind, title, audience, url, codes, meta, procedure, content_hash, gen, updated) = row
    return SourceRecord(
        source_id=sid, origin=origin, kind=kind, title=title, audience=audience, url=url,
        procedure_codes=json.loads(codes or "[]"), meta=json.loads(meta or "{}"),
        procedure=json.loads(procedure) if procedure else None, content_hash=content_hash,
        generation=gen, updated_at=updated)
