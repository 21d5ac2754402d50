"""Abuse controls: request size limits, per-client rate limits and the headers every response carries.

- `RequestLimits` (ASGI middleware): request headers over `max_header_bytes` together get 431; a
  body over `max_body_bytes` (an upload: `max_upload_bytes` plus room for the form) gets 413,
  whether it says its length up front or streams.
- `RateLimit`: an anonymous caller gets `ASSISTANT_RATE_LIMIT` requests to /v1/ per client address
  (a moving window from the `limits` library, kept in memory: per process), then 429 with
  Retry-After. Behind a reverse proxy the address is the one uvicorn trusts from `X-Forwarded-For`
  (its `--forwarded-allow-ips`).
- `LoadShedding` (ASGI middleware): at most `ASSISTANT_MAX_ANSWERING` questions (chat, stream,
  search) are worked on at once per worker and `ASSISTANT_MAX_WAITING` more wait, each at most
  `ASSISTANT_MAX_WAIT_S`; beyond that a question gets 503 with Retry-After at once, so an overload
  shows as quick refusals the widget retries, never as a backlog of requests that time out.
- `SecurityHeaders` (ASGI middleware): nosniff, no referrer, a Content-Security-Policy that allows
  nothing (not even framing) on responses that set none, and `ASSISTANT_FRAME_ANCESTORS` added to
  the pages' own (`page_csp`); `/v1/` responses are never stored by a cache (`no-store`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import time
from collections.abc import Iterable

from fastapi import HTTPException
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_PATH = "/v1/documents"
FORM_ROOM = 64 * 1024  # multipart boundaries and form fields around an upload's bytes
API_CSP = "default-src 'none'; frame-ancestors 'none'"


class RequestLimits:
    def __init__(self, app: ASGIApp, max_body: int, max_upload: int, max_headers: int) -> None:
        self.app, self.max_body, self.max_upload, self.max_headers = app, max_body, max_upload + FORM_ROOM, max_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        size = sum(len(k) + len(v) for k, v in headers)
        if size > self.max_headers:
            await _refuse(431, f"the request headers are {size} bytes; the limit is {self.max_headers}",
                          scope, receive, send)
            return
        upload = scope["method"] == "POST" and scope["path"].rstrip("/") == UPLOAD_PATH
        limit = self.max_upload if upload else self.max_body
        declared = next((v for k, v in headers if k == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(413, f"the request body is larger than {limit} bytes", scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:  # a streamed body that never said its length
                raise HTTPException(413, f"the request body is larger than {limit} bytes")
            return message

        await self.app(scope, counted, send)


async def _refuse(status: int, detail: str, scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)


class RateLimit:
    def __init__(self, spec: str) -> None:
        self.items = [] if spec == "off" else parse_many(spec)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self, client: str) -> int | None:
        """Counts one request of `client`: None when it is allowed, else the seconds to wait."""
        for item in self.items:
            if not self.limiter.hit(item, client):
                reset, _ = self.limiter.get_window_stats(item, client)
                return max(1, math.ceil(reset - time.time()))
        return None


ANSWERING_PATHS = frozenset(("/v1/chat", "/v1/chat/stream", "/v1/search"))
BUSY_RETRY_S = 2


class LoadShedding:
    def __init__(self, app: ASGIApp, answering: int, waiting: int, wait_s: float) -> None:
        self.app, self.waiting_max, self.wait_s = app, waiting, wait_s
        self.slots = asyncio.Semaphore(answering)
        self.waiting = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in ANSWERING_PATHS:
            await self.app(scope, receive, send)
            return
        if self.slots.locked() and self.waiting >= self.waiting_max:
            await self._busy(scope, receive, send)
            return
        self.waiting += 1
        try:
            await asyncio.wait_for(self.slots.acquire(), self.wait_s)
        except TimeoutError:
            await self._busy(scope, receive, send)
            return
        finally:
            self.waiting -= 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.slots.release()

    async def _busy(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics = getattr(scope["app"].state, "metrics", None)
        if metrics is not None:
            metrics.count("assistant_shed_total", "questions refused with 503 because the worker was busy")
        busy = (f"Trợ lý đang quá tải, vui lòng hỏi lại sau {BUSY_RETRY_S} giây. "
                f"(The assistant is busy: try again in {BUSY_RETRY_S} s.)")  # the widget shows it as it is
        await JSONResponse({"detail": busy}, status_code=503,
                           headers={"Retry-After": str(BUSY_RETRY_S)})(scope, receive, send)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, frame_ancestors: str) -> None:
        self.app, self.frame_ancestors = app, f"; frame-ancestors {frame_ancestors}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/v1/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v + self.frame_ancestors if k == b"content-security-policy" and b"frame-ancestors" not in v
                            else v) for k, v in message["headers"]]
                present = {k for k, _ in headers}
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                         (b"content-security-policy", API_CSP.encode())] + ([(b"cache-control", b"no-store")] if api else [])
                message["headers"] = headers + [(k, v) for k, v in extra if k not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def page_csp(inline_scripts: Iterable[str] = ()) -> str:
    """The policy of the demo and documentation pages: everything from this server only, inline
    scripts by hash, workers from blobs (ReDoc's search); `SecurityHeaders` adds the frame-ancestors
    the deployment allows."""
    hashes = "".join(f" 'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
                     for s in inline_scripts)
    return (f"default-src 'none'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
            "connect-src 'self'; img-src 'self' data:; worker-src blob:; base-uri 'none'; form-action 'self'")
