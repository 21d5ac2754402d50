"""Officials teach the assistant: `POST /v1/examples` adds a question as an example for a procedure
(or as one of what is not covered), `GET /v1/examples` lists what was taught with the audit log,
`DELETE /v1/examples/{id}` undoes one. Each change is indexed at once under the write locks, a new
manifest generation: this worker builds its new index view before it answers (`Assistant.writing`),
every other worker on its next question. Each change is audit-logged.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from assistant.api.deps import AssistantDep, OfficialDep, SettingsDep
from assistant.api.schemas import errors
from assistant.auth import Caller
from assistant.taught import PREFIX, Taught, example_row

router = APIRouter(prefix="/v1/examples", tags=["examples"])
MAX_TAUGHT = 10_000  # taught examples in all
MAX_SOURCES = 3  # procedures one example may name (an answer cites at most 3)
# control characters, zero-width and bidirectional-override marks: read as spaces (as in a question)
_INVISIBLE = str.maketrans({c: " " for c in [*map(chr, range(0x20)), *map(chr, range(0x7f, 0xa0)),
                                             *map(chr, range(0x200b, 0x2010)), *map(chr, range(0x202a, 0x202f)),
                                             *map(chr, range(0x2060, 0x206a)), "\ufeff"]})


class ExampleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [
        {"question": "nha minh moi co em be, phai lam giay to gi cho chau", "expected_sources": ["1.00xxxx"],
         "message_id": "a2b9…"},
        {"question": "hàng xóm xây lấn sang đất nhà tôi thì kiện ở đâu", "expected_behavior": "refuse",
         "refer_to": "Tòa án nhân dân khu vực, hoặc hòa giải ở cơ sở tại thôn/tổ dân phố"}]})
    question: str = Field(min_length=1, description="The question as citizens asked it (as the review list shows it: "
                                                    "redacted).")
    expected_sources: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field([], max_length=MAX_SOURCES,
                                        description="The procedure codes (or document ids) that answer it, as "
                                                    "`GET /v1/search` gives them; empty for `refuse`.")
    expected_behavior: Literal["answer", "refuse"] = Field(
        "answer", description="`refuse`: not covered by our procedures (an example of what to refuse).")
    refer_to: str | None = Field(None, max_length=300, description="With `refuse`: where to send people instead; "
                                                                   "said in the answer to this very question.")
    message_id: str | None = Field(None, max_length=64, description="The reviewed message it comes from, for the audit log.")


class Example(BaseModel):
    id: str
    question: str
    expected_sources: list[str]
    expected_behavior: Literal["answer", "refuse"]
    refer_to: str | None = None
    titles: dict[str, str] = Field({}, description="The name of each expected source, as indexed now.")
    taught_by: str = Field(description="`role:key id` of who taught it (merged: who last did).")
    taught_at: str
    merged: bool = Field(False, description="The question was already taught: this one was merged into it.")


class ExampleList(BaseModel):
    examples: list[Example]
    audit: list[dict[str, Any]] = Field(description="Who taught, merged or undid what, and when; newest first.")


def _titles(assistant: Any, codes: list[str]) -> dict[str, str]:
    lookup = assistant.lookup()
    return {c: cand.title for c in codes if (cand := lookup.candidate(c, "official")) is not None}


def shown(assistant: Any, row: dict[str, Any], merged: bool = False) -> dict[str, Any]:
    return {**{k: row.get(k) for k in ("id", "question", "expected_sources", "expected_behavior", "refer_to",
                                        "taught_by", "taught_at")},
            "titles": _titles(assistant, row.get("expected_sources") or []), "merged": merged}


def _check(body: ExampleRequest, assistant: Any, caller: Caller, limit: int) -> tuple[str, list[str], str | None]:
    question = " ".join(body.question.translate(_INVISIBLE).split())
    if not question:
        raise HTTPException(422, "question: the question is empty")
    if len(question) > limit:
        raise HTTPException(413, f"the question is {len(question)} characters long; the limit is {limit}")
    codes = list(dict.fromkeys(c.strip() for c in body.expected_sources if c.strip()))
    refer = " ".join((body.refer_to or "").translate(_INVISIBLE).split()) or None
    if body.expected_behavior == "answer":
        if not codes:
            raise HTTPException(422, "expected_sources: name the procedure that answers it, or set "
                                     "expected_behavior to refuse (not covered)")
        lookup = assistant.lookup()
        unknown = [c for c in codes if lookup.candidate(c, caller.audience) is None]
        if unknown:
            raise HTTPException(422, f"expected_sources: no procedure {unknown[0]!r} visible to you in the index: "
                                     "pick one that GET /v1/search returns")
        if refer:
            raise HTTPException(422, "refer_to: only for a question marked not covered (expected_behavior refuse)")
    elif codes:
        raise HTTPException(422, "expected_sources: a question marked not covered names no procedure")
    return question, codes, refer


def _teach(assistant: Any, taught: Taught, row: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Merge with the example of the same question if there is one, index it; returns it and what was done."""
    from ingest.taught import teach

    with assistant.writing(), taught.locked():
        old = taught.get(row["id"])
        if old is None:
            if sum(1 for _ in taught.dir.glob(f"{PREFIX}*.jsonl")) >= MAX_TAUGHT:
                raise HTTPException(409, f"{MAX_TAUGHT} examples are taught already: undo some first")
            teach(assistant.store, taught, row)
            return row, "taught"
        if old["expected_behavior"] != row["expected_behavior"]:
            said = "not covered" if old["expected_behavior"] == "refuse" else f"for {', '.join(old['expected_sources'])}"
            raise HTTPException(409, f"this question is already taught as {said} (example {old['id']}): "
                                     "undo that first to change it")
        merged = dict(old, expected_sources=list(dict.fromkeys(row["expected_sources"] + old["expected_sources"]))[:MAX_SOURCES],
                      refer_to=row["refer_to"] or old.get("refer_to"), taught_by=row["taught_by"], taught_at=row["taught_at"],
                      message_ids=list(dict.fromkeys(old.get("message_ids", []) + row["message_ids"]))[-50:])
        if merged != old:
            teach(assistant.store, taught, merged)
        return merged, "merged"


@router.post("", response_model=Example, status_code=201, summary="Teach a question as an example (official)",
             response_description="The example, taught.", responses={
                 200: {"model": Example, "description": "The question was already taught (the same words up to case, "
                                                        "diacritics, punctuation and chat particles): merged into it."},
                 **errors(403, 409)})
async def add(body: ExampleRequest, assistant: AssistantDep, caller: OfficialDep, settings: SettingsDep,
              response: Response) -> dict[str, Any]:
    question, codes, refer = _check(body, assistant, caller, settings.max_question_chars)
    row = example_row(question, codes, f"{caller.role}:{caller.key_id}", refer,
                      [body.message_id] if body.message_id else [])
    taught = Taught(settings.data_dir)
    example, action = await run_in_threadpool(_teach, assistant, taught, row)
    assistant.conversations.log_example(caller.key_id, caller.role, caller.via_token, action, example, body.message_id)
    if action == "merged":
        response.status_code = 200
    return shown(assistant, example, merged=action == "merged")


@router.get("", response_model=ExampleList, summary="The examples officials taught, and the audit log (official)",
            responses=errors(403))
async def list_examples(assistant: AssistantDep, caller: OfficialDep, settings: SettingsDep,
                        limit: int = Query(200, ge=1, le=5000, description="Audit entries to include")) -> dict[str, Any]:
    return {"examples": [shown(assistant, row) for row in Taught(settings.data_dir).all()],
            "audit": assistant.conversations.example_log(limit)}


def _forget(assistant: Any, taught: Taught, eid: str) -> dict[str, Any]:
    from ingest.taught import forget

    with assistant.writing(), taught.locked():
        row = taught.get(eid)
        if row is None:
            raise HTTPException(404, f"no taught example {eid!r}")
        forget(assistant.store, taught, eid)
        return row


@router.delete("/{example_id}", summary="Undo a taught example (official)", responses=errors(403, 404))
async def delete(assistant: AssistantDep, caller: OfficialDep, settings: SettingsDep,
                 example_id: str = PathParam(description="A taught example's id", examples=["taught-0123456789ab"])
                 ) -> dict[str, str]:
    row = await run_in_threadpool(_forget, assistant, Taught(settings.data_dir), example_id)
    assistant.conversations.log_example(caller.key_id, caller.role, caller.via_token, "undone", row)
    return {"removed": example_id}
