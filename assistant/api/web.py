"""The embeddable chat widget (`GET /widget.js`), the demo portal page that embeds it (`GET /`), and
the officials' review console (`GET /console`, its script `GET /console.js`).

The files ship as package data in `assistant/web/` and are read once with `importlib.resources`.
Compression is left to the app's GZip middleware.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from fastapi import APIRouter, Request, Response

from assistant.api.guards import page_csp

router = APIRouter(include_in_schema=False)

# The embed tag's URL never changes, so browsers keep the script an hour and then revalidate it by ETag.
WIDGET_CACHE = "public, max-age=3600"


@dataclass(frozen=True)
class Asset:
    body: bytes
    etag: str


@lru_cache(maxsize=None)
def asset(name: str) -> Asset:
    body = resources.files("assistant.web").joinpath(name).read_bytes()
    return Asset(body=body, etag='"' + hashlib.sha256(body).hexdigest()[:20] + '"')


def _not_modified(request: Request, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")]
    return etag in tags or "*" in tags


def _serve(request: Request, name: str, media_type: str, headers: dict[str, str]) -> Response:
    item = asset(name)
    headers = {"ETag": item.etag, **headers}
    if _not_modified(request, item.etag):
        return Response(status_code=304, headers=headers)
    return Response(item.body, media_type=media_type, headers=headers)


@router.get("/widget.js")
def widget_js(request: Request) -> Response:
    return _serve(
        request,
        "widget.js",
        "text/javascript; charset=utf-8",
        {"Cache-Control": WIDGET_CACHE, "Cross-Origin-Resource-Policy": "cross-origin"},
    )


@router.get("/")
def demo_page(request: Request) -> Response:
    return _serve(
        request,
        "demo.html",
        "text/html; charset=utf-8",
        # the demo may only load things from this server: it doubles as a check that the widget needs nothing else
        {"Cache-Control": "no-cache", "Content-Security-Policy": page_csp()},
    )


@router.get("/console")
def console_page(request: Request) -> Response:
    # the page holds no data: it asks /v1/review and /v1/examples with the official's key or token
    return _serve(request, "console.html", "text/html; charset=utf-8",
                  {"Cache-Control": "no-cache", "Content-Security-Policy": page_csp()})


@router.get("/console.js")
def console_js(request: Request) -> Response:
    return _serve(request, "console.js", "text/javascript; charset=utf-8", {"Cache-Control": "no-cache"})
