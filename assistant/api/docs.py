"""The OpenAPI documentation pages, Swagger UI (`GET /docs`) and ReDoc (`GET /redoc`), rendered from
the JavaScript and CSS that the `fastapi-offline` package ships and this server serves under
`/docs-assets/`: they work on a network with no CDN.
"""

from __future__ import annotations

import re
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from assistant.api.guards import page_csp

ASSETS = "/docs-assets"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def _with_csp(page: HTMLResponse) -> HTMLResponse:
    """The page with its Content-Security-Policy: this server's assets, its own inline script by hash."""
    scripts = _INLINE_SCRIPT.findall(page.body.decode())
    page.headers["Content-Security-Policy"] = page_csp(scripts)
    return page


def add_docs(app: FastAPI, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Mount the packaged assets and the two pages; build the app with `docs_url=None, redoc_url=None`."""
    folder = resources.files("fastapi_offline") / "static"
    app.mount(ASSETS, StaticFiles(directory=str(folder)), name="docs-assets")

    def urls(request: Request) -> tuple[str, str]:
        root = request.scope.get("root_path", "")
        return f"{root}{app.openapi_url}", f"{root}{ASSETS}"

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        openapi, assets = urls(request)
        return _with_csp(get_swagger_ui_html(
            openapi_url=openapi, title=f"{app.title} - Swagger UI", swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css", swagger_favicon_url=f"{assets}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters))

    @app.get(redoc_url, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        openapi, assets = urls(request)
        return _with_csp(get_redoc_html(
            openapi_url=openapi, title=f"{app.title} - ReDoc", redoc_js_url=f"{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{assets}/favicon.png", with_google_fonts=False))
