"""The FastAPI app: heavy objects loaded once in the lifespan, JSON logs with a request id and stage
timings, Prometheus metrics, CORS for configured origins, gzip, and the abuse controls of
`guards.py` (size limits, rate limits for anonymous callers, security headers).
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse

from assistant.api import chat, console, documents, examples, maintenance, web
from assistant.api.deps import AssistantDep, MetricsDep, limit_rate
from assistant.api.docs import add_docs
from assistant.api.guards import LoadShedding, RateLimit, RequestLimits, SecurityHeaders
from assistant.api.schemas import Health, Problem
from assistant.auth import Authenticator
from assistant.metrics import Metrics
from assistant.redact import redact
from assistant.settings import Settings, get_settings
from assistant.vectors import VectorStoreUnreachable

request_id: ContextVar[str] = ContextVar("request_id", default="-")
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line; every field passes through redaction."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
                                 "level": record.levelname, "logger": record.name,
                                 "request_id": request_id.get(), "msg": redact(record.getMessage())}
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return redact(json.dumps(entry, ensure_ascii=False, default=str))


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("assistant")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging()
    log = logging.getLogger("assistant.api")

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        from assistant.service import Assistant

        metrics = Metrics()
        app.state.settings = settings
        app.state.metrics = metrics
        app.state.auth = Authenticator(settings.api_keys, settings.token_secret, settings.token_ttl_s)
        app.state.rate_limit = RateLimit(settings.rate_limit)
        # on a Chroma server several workers may share the data dir, so none holds it (teaching locks taught/)
        app.state.assistant = Assistant.open(settings, purpose="assistant serve", exclusive=not settings.chroma_url,
                                             metrics=metrics)
        log.info("ready", extra={"sources": sum(1 for _ in app.state.assistant.store.manifest.sources())})
        try:
            yield
        finally:
            app.state.assistant.close()

    app = FastAPI(
        title="Administrative-procedure assistant",
        version="0.1.0",
        description="Answers about Vietnamese administrative procedures, always with citations. "
                    "Anonymous callers are citizens; `Authorization: Bearer <API key or token>` identifies "
                    "officials and admins.",
        lifespan=lifespan,
        docs_url=None,  # served from local assets by add_docs, not from a CDN
        redoc_url=None,
    )
    # the last added runs first: security headers, logging, CORS, load shedding, size limits, gzip, then the routes
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(RequestLimits, max_body=settings.max_body_bytes, max_upload=settings.max_upload_bytes,
                       max_headers=settings.max_header_bytes)
    app.add_middleware(LoadShedding, answering=settings.max_answering, waiting=settings.max_waiting,
                       wait_s=settings.max_wait_s)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"], max_age=600)

    @app.middleware("http")
    async def observe(request: Request, call_next):  # type: ignore[no-untyped-def]
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
        token = request_id.set(rid)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            log.exception("unhandled error", extra={"path": request.url.path})
            response = JSONResponse({"detail": "internal error", "request_id": rid}, status_code=500)
        elapsed = time.perf_counter() - started
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics: Metrics | None = getattr(request.app.state, "metrics", None)
        if metrics is not None:
            metrics.count("assistant_http_requests_total", "HTTP requests", path=path, status=str(response.status_code))
            metrics.observe("assistant_http_request_seconds", elapsed, "HTTP request latency", path=path)
        response.headers["X-Request-ID"] = rid
        log.info("request", extra={"method": request.method, "path": path, "status": response.status_code,
                                   "ms": round(elapsed * 1000, 1)})
        request_id.reset(token)
        return response

    app.add_middleware(SecurityHeaders, frame_ancestors=settings.frame_ancestors)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": e.get("loc"), "msg": e.get("msg")} for e in exc.errors()]
        first = exc.errors()[0] if errors else {"loc": [], "msg": "invalid request"}
        if first.get("type") == "json_invalid":
            detail = f"the body is not valid JSON ({first['ctx']['error']} at character {first['loc'][-1]})"
        else:
            where = ".".join(str(x) for x in first["loc"] if x != "body")
            detail = f"{where}: {first['msg']}" if where else first["msg"]
        return JSONResponse({"detail": detail, "errors": errors}, status_code=422)

    @app.exception_handler(VectorStoreUnreachable)
    async def vector_store_unreachable(request: Request, exc: VectorStoreUnreachable) -> JSONResponse:
        # the Chroma server is down: every route that needs it (and /healthz) says so, and recovers by itself
        log.warning("vector store unreachable", extra={"path": request.url.path, "error": str(exc)})
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    @app.get("/healthz", response_model=Health, tags=["ops"],
             responses={503: {"model": Problem, "description": "the vector store (Chroma server) is unreachable"}})
    async def healthz(assistant: AssistantDep) -> dict[str, Any]:
        m = assistant.store.manifest
        embedded = await run_in_threadpool(assistant.store.vectors.count)  # a stuck Chroma server must not stall others
        return {"status": "ok", "sources": sum(1 for _ in m.sources()), "chunks_embedded": embedded,
                "embedder": assistant.store.embedder.name, "generation": m.index_version,
                "data_date": m.get_meta("data_date"), "llm": settings.llm,
                "maintenance": maintenance.current(settings).enabled}

    @app.get("/metrics", response_class=PlainTextResponse, tags=["ops"])
    async def metrics_endpoint(metrics: MetricsDep, assistant: AssistantDep) -> str:
        retriever = assistant.retriever
        return metrics.render() + (
            "# HELP assistant_index_rebuilds_total index views built since start (one per index change)\n"
            f"# TYPE assistant_index_rebuilds_total counter\nassistant_index_rebuilds_total {retriever.rebuilds}\n"
            "# HELP assistant_index_version the index version this worker serves\n"
            f"# TYPE assistant_index_version gauge\nassistant_index_version {retriever.snapshot.version}\n"
            "# HELP assistant_sessions_live sessions that can still be continued (bounded by ASSISTANT_MAX_SESSIONS)\n"
            f"# TYPE assistant_sessions_live gauge\nassistant_sessions_live {assistant.conversations.live()}\n")

    limited = [Depends(limit_rate)]
    app.include_router(chat.router, tags=["chat"], dependencies=limited)
    app.include_router(documents.router, dependencies=limited)
    app.include_router(maintenance.router, dependencies=limited)
    app.include_router(console.router, dependencies=limited)
    app.include_router(examples.router, dependencies=limited)
    app.include_router(web.router)
    add_docs(app)
    return app
