"""What officials review in the console (`/console`): `GET /v1/review` lists refused questions, answers
rated down and clarify questions nobody picked an option of, newest first, near-duplicates grouped
with their counts, each with the answer that was given and its citations, and whether it is taught.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from assistant.api.deps import AssistantDep, OfficialDep, SettingsDep
from assistant.api.examples import shown
from assistant.api.schemas import errors
from assistant.conversations import KINDS
from assistant.taught import Taught

router = APIRouter(prefix="/v1/review", tags=["examples"])


class ReviewItem(BaseModel):
    id: str = Field(description="The newest message of the item")
    question: str = Field(description="As stored: personal data redacted")
    count: int = Field(description="How many times it (or a near-duplicate) was asked")
    counts: dict[str, int] = Field(description="How many of them were refused (`refuse`), rated down (`down`), "
                                               "or asked back with no option picked (`clarify`)")
    first_seen: str
    last_seen: str
    variants: list[str] = Field(description="Other wordings grouped with it")
    message_ids: list[str]
    audiences: list[str]
    comments: list[str] = Field(description="Comments left with a rating down")
    last: dict[str, Any] = Field(description="What the newest one got: `behavior`, `answer`, `citations`, `options`")
    taught: dict[str, Any] | None = Field(description="The example officials taught for it, if any")
    open: bool = Field(description="Needs a look: not taught, or rated down (taught for a procedure: also refused "
                                   "or asked back) after it was taught")


class Review(BaseModel):
    items: list[ReviewItem]
    total: int = Field(description="Items matching the filters (before `limit`)")
    scanned: int = Field(description="Flagged messages read")


DAY = r"^\d{4}-\d{2}-\d{2}$"


def _day(name: str, text: str | None, end: bool = False) -> float | None:
    """The start of the day (UTC), or of the next one for the end of a range, as a Unix time."""
    if text is None:
        return None
    try:
        d = date.fromisoformat(text)
    except ValueError:
        raise HTTPException(422, f"{name}: {text!r} is not a day (YYYY-MM-DD)") from None
    return float(calendar.timegm((d + timedelta(days=1) if end else d).timetuple()))


@router.get("", response_model=Review, summary="Questions to review and teach from (official)", responses=errors(403))
async def review(assistant: AssistantDep, caller: OfficialDep, settings: SettingsDep,
                 kind: Literal["all", "refuse", "down", "clarify"] = Query("all", description="Which behaviour"),
                 since: str | None = Query(None, pattern=DAY, description="From this day (UTC), YYYY-MM-DD",
                                           examples=["2026-11-01"]),
                 until: str | None = Query(None, pattern=DAY, description="Up to and including this day (UTC)"),
                 q: str = Query("", max_length=200, description="Words the question contains (accents optional)"),
                 status: Literal["open", "taught", "all"] = Query("open", description="Not yet taught, taught, or both"),
                 limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    start, end = _day("since", since), _day("until", until, end=True)
    if start is not None and end is not None and start >= end:
        raise HTTPException(422, "since: the first day is after the last one")
    taught = {row["id"]: shown(assistant, row) for row in Taught(settings.data_dir).all()}
    return await run_in_threadpool(assistant.conversations.review, KINDS if kind == "all" else (kind,),
                                   start, end, q, taught, status, limit)
