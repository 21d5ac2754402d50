"""The kill switch: an admin turns answering off and on again without stopping the server. While it
is off, `POST /v1/chat` and `/v1/chat/stream` answer 503 with the maintenance message (the widget
shows it); search, procedures and documents keep working. The state is a small JSON file in the
data dir, so it survives a restart and every process on the data dir sees it.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from assistant.api.deps import AdminDep, SettingsDep
from assistant.api.documents import audit
from assistant.api.schemas import errors
from assistant.settings import Settings

DEFAULT_MESSAGE = ("Trợ lý đang tạm ngừng để bảo trì. Vui lòng thử lại sau, hoặc tra cứu thủ tục tại "
                   "https://dichvucong.gov.vn. (The assistant is paused for maintenance.)")

router = APIRouter(prefix="/v1/maintenance", tags=["ops"])


class MaintenanceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [
        {"enabled": True, "message": "Trợ lý tạm ngừng đến 14:00 để cập nhật dữ liệu."}, {"enabled": False}]})
    enabled: bool = Field(description="True turns answering off.")
    message: str | None = Field(None, max_length=500, description="What users are told; a default when omitted.")


class MaintenanceState(BaseModel):
    enabled: bool
    message: str


def _path(settings: Settings) -> Path:
    return Path(settings.data_dir) / "maintenance.json"


def current(settings: Settings) -> MaintenanceState:
    try:
        return MaintenanceState.model_validate_json(_path(settings).read_bytes())
    except FileNotFoundError:
        return MaintenanceState(enabled=False, message=DEFAULT_MESSAGE)


def check_answering(settings: Settings) -> None:
    """503 with the maintenance message while answering is off."""
    state = current(settings)
    if state.enabled:
        raise HTTPException(503, state.message)


@router.get("", response_model=MaintenanceState, summary="Whether answering is off, and the message users see",
            responses=errors())
async def get_state(settings: SettingsDep) -> MaintenanceState:
    return current(settings)


@router.put("", response_model=MaintenanceState, summary="Turn answering off or on (admin)",
            responses=errors(403))
async def set_state(body: MaintenanceRequest, caller: AdminDep, settings: SettingsDep) -> MaintenanceState:
    state = MaintenanceState(enabled=body.enabled, message=(body.message or "").strip() or DEFAULT_MESSAGE)
    path = _path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    part.write_text(state.model_dump_json(), encoding="utf-8")
    os.replace(part, path)  # readers see the old state or the new one, never half
    audit(settings, caller, "maintenance", enabled=state.enabled, message=state.message)
    return state
