"""Chat (plain and streamed), search, procedures, feedback and tokens."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from assistant.api.deps import (AssistantDep, AuthDep, CallerDep, KeyHolderDep, MetricsDep, OfficialDep,
                                SettingsDep)
from assistant.api.documents import describe, visible
from assistant.api.maintenance import check_answering
from assistant.api.schemas import (ChatRequest, ChatResponse, FeedbackRequest, SearchResponse,
                                   TokenResponse, errors)
from assistant.conversations import UnknownMessage, UnknownSession

router = APIRouter(prefix="/v1")
UNKNOWN_SESSION = "unknown or expired session_id: start a new conversation without it"
# control characters, zero-width and bidirectional-override marks: read as spaces
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def _check_question(message: str, limit: int) -> str:
    message = _INVISIBLE.sub(" ", message).strip()
    if not message:
        raise HTTPException(422, "the question is empty")
    if len(message) > limit:
        raise HTTPException(413, f"the question is {len(message)} characters long; the limit is {limit}")
    return message


def _check_session(assistant: Any, session_id: str | None, audience: str) -> None:
    """404 for a session that is unknown, expired, or another audience's (the same answer for all three)."""
    if session_id is not None and not assistant.conversations.exists(session_id, audience):
        raise HTTPException(404, UNKNOWN_SESSION)


def _chat(assistant: Any, body: ChatRequest, audience: str, limit: int) -> dict[str, Any]:
    message = _check_question(body.message, limit)
    _check_session(assistant, body.session_id, audience)
    try:
        return assistant.chat(message, session_id=body.session_id, audience=audience)
    except UnknownSession:  # it expired in between
        raise HTTPException(404, UNKNOWN_SESSION) from None


@router.post("/chat", response_model=ChatResponse, summary="Ask a question", responses=errors(404, 503))
async def chat(body: ChatRequest, assistant: AssistantDep, caller: CallerDep, settings: SettingsDep,
               metrics: MetricsDep) -> dict[str, Any]:
    check_answering(settings)
    out = await run_in_threadpool(_chat, assistant, body, caller.audience, settings.max_question_chars)
    metrics.count("assistant_answers_total", "answers by behaviour", behavior=out["behavior"])
    return out


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


class EventStream(StreamingResponse):
    media_type = "text/event-stream"


# each event of the stream; its data is JSON (`done`: the answer JSON, as POST /v1/chat returns it)
EVENT = {"type": "object", "required": ["event", "data"], "properties": {
    "event": {"enum": ["delta", "citations", "done", "error"]},
    "data": {"type": "string", "contentMediaType": "application/json"}}}


@router.post("/chat/stream", summary="Ask a question, answer streamed as server-sent events",
             response_class=EventStream, responses={
                 200: {"description": "Events `delta` {text}, `citations` [..], `done` (answer JSON), `error` {detail}.",
                       "content": {"text/event-stream": {"schema": EVENT}}},
                 **errors(404, 503)})
async def chat_stream(body: ChatRequest, assistant: AssistantDep, caller: CallerDep, settings: SettingsDep,
                      metrics: MetricsDep) -> EventStream:
    check_answering(settings)
    message = _check_question(body.message, settings.max_question_chars)
    _check_session(assistant, body.session_id, caller.audience)

    def events() -> Iterator[str]:
        try:
            for kind, data in assistant.events(message, session_id=body.session_id, audience=caller.audience):
                if kind == "done":
                    metrics.count("assistant_answers_total", "answers by behaviour", behavior=data["behavior"])
                yield _sse(kind, data)
        except Exception as exc:  # the stream has started: report in-band
            logging.getLogger("assistant.api").exception("stream failed")
            yield _sse("error", {"detail": f"the assistant failed: {type(exc).__name__}"})

    return EventStream(events(), headers={"X-Accel-Buffering": "no"})


@router.get("/search", response_model=SearchResponse, summary="Ranked procedures for a query",
            responses=errors())
async def search(assistant: AssistantDep, caller: CallerDep, settings: SettingsDep,
                 q: str = Query(..., description="The query", examples=["lam cccd bao lau"]),
                 k: int = Query(5, ge=1, le=50)) -> dict[str, Any]:
    q = _check_question(q, settings.max_question_chars)
    results = await run_in_threadpool(assistant.search, q, k, caller.audience)
    return {"query": q, "results": results}


@router.get("/procedures/{code}", summary="A procedure: its parsed record, or the documents that cover it",
            response_description="The parsed portal record; for a code only documents declare (a handbook's "
                                 "`procedure_codes`), `{procedure_code, documents: [{source_id, title, url, "
                                 "sections, …}]}`.", responses=errors(404))
async def procedure(assistant: AssistantDep, caller: CallerDep,
                    code: str = Path(description="A procedure code, or a document's source id")
                    ) -> dict[str, Any]:
    sources = [s for s in assistant.store.manifest.covering(code) if visible(s, caller)]
    if not sources:
        raise HTTPException(404, f"no procedure {code!r} in the index")
    record = next((s for s in sources if s.procedure is not None), None)
    if record is not None:
        return dict(record.procedure, data_date=(record.meta.get("data_date") or record.updated_at[:10]))
    lookup = assistant.lookup()
    return {"procedure_code": code,
            "documents": [describe(s, lookup.section_chunks(s.source_id)) for s in sources]}


@router.post("/feedback", summary="Rate an answer", responses=errors(404))
async def feedback(body: FeedbackRequest, assistant: AssistantDep, metrics: MetricsDep) -> dict[str, str]:
    try:
        fid = assistant.conversations.add_feedback(body.message_id, body.rating, body.comment)
    except UnknownMessage:
        raise HTTPException(404, "unknown message_id") from None
    metrics.count("assistant_feedback_total", "feedback by rating", rating=body.rating)
    return {"id": fid, "status": "stored"}


@router.get("/feedback", summary="Feedback and refused questions, for officials to follow up",
            responses=errors(403))
async def list_feedback(assistant: AssistantDep, caller: OfficialDep,
                        limit: int = Query(200, ge=1, le=5000)) -> dict[str, Any]:
    return assistant.conversations.feedback(limit)


@router.post("/tokens", response_model=TokenResponse, summary="Exchange an API key for a short-lived widget token",
             responses=errors(403))
async def token(caller: KeyHolderDep, auth: AuthDep) -> dict[str, Any]:
    tok, exp = auth.issue_token(caller)
    return {"token": tok, "expires_at": exp}
