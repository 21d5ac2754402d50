"""Viewing cited sources (filtered by audience), and admin upload / delete through the ingest pipeline."""

from __future__ import annotations

import errno
import json
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool

from assistant.api.deps import AdminDep, AssistantDep, CallerDep, SettingsDep
from assistant.api.schemas import errors
from assistant.api.uploads import safe_name, screen
from assistant.auth import Caller
from assistant.manifest import Chunk, SourceRecord

if TYPE_CHECKING:
    from ingest.pipeline import Summary

router = APIRouter(prefix="/v1/documents", tags=["documents"])


def audit(settings: Any, caller: Caller, action: str, **details: Any) -> None:
    """Append an admin action to the audit log (JSON lines under the data dir)."""
    path = Path(settings.data_dir) / "audit.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "actor": caller.key_id,
             "role": caller.role, "action": action, **details}
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")


@router.get("/{source_id}", summary="View an indexed source (what a citation points at)", responses=errors(404))
async def view(assistant: AssistantDep, caller: CallerDep,
               source_id: str = PathParam(description="A citation's source_id", examples=["doc:dang-ky-khai-sinh"])
               ) -> dict[str, Any]:
    src = assistant.store.manifest.source(source_id)
    if src is None or not visible(src, caller):
        raise HTTPException(404, f"no source {source_id!r}")
    return describe(src, assistant.lookup().section_chunks(source_id))


def visible(src: SourceRecord, caller: Caller) -> bool:
    """Whether the caller may see the source: to a citizen an official-only one does not exist (the
    same 404 as an unknown id)."""
    return src.audience != "official" or caller.audience == "official"


def describe(src: SourceRecord, chunks: list[Chunk]) -> dict[str, Any]:
    """A source and its sections, as `GET /v1/documents/{source_id}` returns it."""
    return {
        "source_id": src.source_id, "title": src.title, "kind": src.kind, "url": src.url,
        "audience": src.audience, "procedure_codes": src.procedure_codes, "meta": src.meta,
        "updated_at": src.updated_at,
        "sections": [{"section": c.section, "page": c.page, "text": c.text} for c in chunks],
    }


@router.post("", summary="Upload a document (admin): indexed through the same pipeline as the CLI",
             responses=errors(403, 415, 507))
async def upload(assistant: AssistantDep, caller: AdminDep, settings: SettingsDep,
                 file: UploadFile = File(...), audience: Literal["citizen", "official"] | None = Form(None)
                 ) -> dict[str, Any]:
    folder = Path(settings.data_dir) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f".{uuid.uuid4().hex}.part"  # this request's own file: concurrent uploads never share one
    try:
        name = safe_name(file.filename)
        size = 0
        try:
            with part.open("wb") as fh:
                while chunk := await file.read(1 << 20):
                    size += len(chunk)
                    if size > settings.max_upload_bytes:
                        raise HTTPException(413, f"the upload is larger than {settings.max_upload_bytes} bytes")
                    fh.write(chunk)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            raise HTTPException(507, f"the disk holding {folder} is full: free space there and upload again") from None
        await run_in_threadpool(screen, part, name, settings.max_upload_pages)
        result = await run_in_threadpool(_ingest, assistant, part, folder / name, audience)
    except HTTPException as exc:
        audit(settings, caller, "upload refused", file=file.filename, status=exc.status_code, reason=exc.detail)
        raise
    finally:
        part.unlink(missing_ok=True)
    summary = result.as_dict()
    audit(settings, caller, "upload", file=name, audience=audience, summary=summary)
    if result.failed:
        raise HTTPException(507 if result.disk_full else 422, result.failed[0]["error"])
    return summary


def _ingest(assistant: Any, part: Path, target: Path, audience: str | None) -> Summary:
    """Index `part` under `target`'s name, one upload at a time; a failed upload leaves the previous
    file (and the index) as they were."""
    from ingest.pipeline import ingest

    with assistant.writing():
        previous = part.with_suffix(".previous")
        if target.exists():
            os.replace(target, previous)
        os.replace(part, target)
        ok = False
        try:
            summary = ingest(assistant.store, [target], audience=audience, progress=False)
            ok = not summary.failed
            return summary
        finally:
            if ok:
                previous.unlink(missing_ok=True)
            else:
                target.unlink(missing_ok=True)
                if previous.exists():
                    os.replace(previous, target)


@router.delete("/{source_id}", summary="Remove a source from the index (admin)", responses=errors(403, 404))
async def delete(source_id: str, assistant: AssistantDep, caller: AdminDep, settings: SettingsDep) -> dict[str, Any]:
    if assistant.store.manifest.source(source_id) is None:
        raise HTTPException(404, f"no source {source_id!r}")
    await run_in_threadpool(_remove, assistant, source_id)
    audit(settings, caller, "delete", source_id=source_id)
    return {"removed": source_id}


def _remove(assistant: Any, source_id: str) -> None:
    with assistant.writing():
        assistant.store.remove([source_id])
