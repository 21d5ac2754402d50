"""Viewing cited sources (filtered by audience), and admin upload / delete through the ingest pipeline."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from assistant.api.deps import AdminDep, AssistantDep, CallerDep, SettingsDep
from assistant.auth import Caller
from assistant.manifest import Chunk, SourceRecord

router = APIRouter(prefix="/v1/documents", tags=["documents"])


def audit(settings: Any, caller: Caller, action: str, **details: Any) -> None:
    """Append an admin action to the audit log (JSON lines under the data dir)."""
    path = Path(settings.data_dir) / "audit.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "actor": caller.key_id,
             "role": caller.role, "action": action, **details}
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")


@router.get("/{source_id}", summary="View an indexed source (what a citation points at)")
async def view(source_id: str, assistant: AssistantDep, caller: CallerDep) -> dict[str, Any]:
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


_SAFE = re.compile(r"[^\w.\-]+", re.U)


@router.post("", summary="Upload a document (admin): indexed through the same pipeline as the CLI")
async def upload(request: Request, assistant: AssistantDep, caller: AdminDep, settings: SettingsDep,
                 file: UploadFile = File(...), audience: str | None = Form(None)) -> dict[str, Any]:
    if audience not in (None, "citizen", "official"):
        raise HTTPException(422, "audience must be citizen or official")
    declared = request.headers.get("content-length")
    if declared and int(declared) > settings.max_upload_bytes + 64 * 1024:
        raise HTTPException(413, f"the upload is larger than {settings.max_upload_bytes} bytes")
    name = _SAFE.sub("-", Path(file.filename or "upload").name).strip("-.") or "upload"
    folder = Path(settings.data_dir) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    size = 0
    with target.open("wb") as fh:
        while chunk := await file.read(1 << 20):
            size += len(chunk)
            if size > settings.max_upload_bytes:
                fh.close()
                target.unlink(missing_ok=True)
                raise HTTPException(413, f"the upload is larger than {settings.max_upload_bytes} bytes")
            fh.write(chunk)
    summary = await run_in_threadpool(_ingest, assistant, target, audience)
    audit(settings, caller, "upload", file=name, audience=audience, summary=summary)
    if summary["failed"]:
        target.unlink(missing_ok=True)
        raise HTTPException(422, summary["failed"][0]["error"])
    return summary


def _ingest(assistant: Any, path: Path, audience: str | None) -> dict[str, Any]:
    from ingest.pipeline import ingest

    with assistant.write_lock:
        return ingest(assistant.store, [path], audience=audience, progress=False).as_dict()


@router.delete("/{source_id}", summary="Remove a source from the index (admin)")
async def delete(source_id: str, assistant: AssistantDep, caller: AdminDep, settings: SettingsDep) -> dict[str, Any]:
    if assistant.store.manifest.source(source_id) is None:
        raise HTTPException(404, f"no source {source_id!r}")
    with assistant.write_lock:
        await run_in_threadpool(assistant.store.remove, [source_id])
    audit(settings, caller, "delete", source_id=source_id)
    return {"removed": source_id}
