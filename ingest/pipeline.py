"""The idempotent ingestion pipeline: load, hash, skip unchanged, replace changed, prune, report."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from tqdm import tqdm

from assistant.manifest import SourceRecord
from assistant.store import DiskFull, Indexed, Store
from ingest.chunking import chunk_source
from ingest.loaders import expected_sources, iter_files, load_path
from ingest.source import AUDIENCES, LoadError, Source

BATCH = 64


@dataclass
class Summary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0  # chunks written by this run
    failed: list[dict[str, str]] = field(default_factory=list)
    disk_full: bool = False  # the run stopped because the disk holding the index is full (its failure says so)

    def as_dict(self) -> dict:
        """The JSON `assistant ingest --json` prints (a full disk is among the failures)."""
        return {k: v for k, v in asdict(self).items() if k != "disk_full"}


def resolve_audience(declared: str | None, requested: str | None) -> str:
    """The stricter of what the file declares and what the ingest asks: `official` wins."""
    values = {v for v in (declared, requested) if v}
    for v in values:
        if v not in AUDIENCES:
            raise LoadError(f"audience must be one of {AUDIENCES}, not {v!r}")
    return "official" if "official" in values else "citizen"


def to_indexed(source: Source, audience: str) -> Indexed:
    record = SourceRecord(
        source_id=source.source_id, origin=source.origin, kind=source.kind, title=source.title,
        audience=audience, url=source.url, procedure_codes=list(source.procedure_codes), meta=dict(source.meta),
        procedure=source.procedure.model_dump(mode="json") if source.procedure else None,
        content_hash=f"{source.content_hash}:{audience}",
    )
    return Indexed(record=record, chunks=chunk_source(source))


def ingest(store: Store, paths: Iterable[Path], audience: str | None = None, prune: bool = False,
           progress: bool = True) -> Summary:
    """Index `paths`; a full disk stops the run and is reported as a failure of the index dir."""
    summary = Summary()
    try:
        _ingest(store, paths, audience, prune, progress, summary)
    except DiskFull as exc:
        summary.failed.append({"path": str(store.dir), "error": str(exc)})
        summary.disk_full = True
    return summary


def _ingest(store: Store, paths: Iterable[Path], audience: str | None, prune: bool, progress: bool,
            summary: Summary) -> None:
    store.recover()
    known = store.manifest.hashes()
    seen: dict[str, str] = {}
    failed_origins: set[str] = set()
    pending: list[Indexed] = []
    files = list(iter_files(paths))
    expected = {path: expected_sources(path) for path in files} if progress else {}
    # sources done of sources expected, with rate and time left; a file's count is corrected once it is read
    bar = tqdm(total=sum(expected.values()), desc="ingest", unit=" sources", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)

    def recount(path: Path, found: int) -> None:
        if progress and found != expected[path]:
            bar.total += found - expected[path]
            bar.refresh()

    def flush() -> None:
        store.replace(pending)
        updated = sum(1 for item in pending if item.record.source_id in known)
        summary.added += len(pending) - updated
        summary.updated += updated
        summary.chunks += sum(len(item.chunks) for item in pending)
        bar.update(len(pending))
        pending.clear()

    for path in files:
        try:
            sources = load_path(path)
            if not sources:
                raise LoadError("no content found")
            summary.failed += [{"path": f"{path} ({err.split(':')[0]})", "error": err} for err in sources.errors]
            items = []
            for src in sources:
                if src.source_id in seen:
                    raise LoadError(f"source id {src.source_id!r} is also produced by {seen[src.source_id]}; "
                                    "rename one file or set `id:` in its front matter")
                items.append((src, resolve_audience(src.audience, audience)))
        except LoadError as exc:
            summary.failed.append({"path": str(path), "error": str(exc)})
            failed_origins.add(str(path))
            recount(path, 0)
            continue
        except Exception as exc:  # a broken file must never stop the batch
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
            summary.failed.append({"path": str(path), "error": f"cannot read the file: {reason}"})
            failed_origins.add(str(path))
            recount(path, 0)
            continue
        recount(path, len(items))
        for src, aud in items:
            seen[src.source_id] = str(path)
            if known.get(src.source_id) == f"{src.content_hash}:{aud}":
                summary.unchanged += 1
                bar.update(1)
                continue
            pending.append(to_indexed(src, aud))
            if len(pending) >= BATCH:
                flush()
    flush()
    bar.close()
    if summary.added or summary.updated:
        with store.disk_full_as_error():
            store.manifest.set_meta("data_date", date.today().isoformat())
    if prune:
        origins = {s.source_id: s.origin for s in store.manifest.sources()}
        gone = [sid for sid, origin in origins.items() if sid not in seen and origin not in failed_origins]
        store.remove(gone)
        summary.removed = len(gone)
