"""A running server's HTTP API behind the `Assistant` methods that the command line and the eval
runner call (`--url`): `chat` is `POST /v1/chat`, `search` is `GET /v1/search`.

The server decides the audience from the API key (`Authorization: Bearer KEY`); the `audience`
arguments are accepted so the calls read the same as in-process ones. One pooled httpx client,
safe to share between threads. A server's 4xx or 5xx is raised as `RuntimeError` naming the status,
the URL and the server's message.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx


class HttpAssistant:
    def __init__(self, url: str, api_key: str | None = None, timeout_s: float = 120.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)

    def chat(self, message: str, session_id: str | None = None, audience: str = "citizen",
             explain: bool = False) -> dict[str, Any]:
        if explain:
            raise ValueError("--explain works in-process only: the HTTP API does not explain its answers")
        return self._json(self._client.post("/v1/chat", json={"message": message, "session_id": session_id}))

    def search(self, query: str, k: int = 5, audience: str = "citizen") -> list[dict[str, Any]]:
        return self._json(self._client.get("/v1/search", params={"q": query, "k": k}))["results"]

    def has_procedure(self, code: str) -> bool:
        """Whether `GET /v1/procedures/{code}` finds a record or documents for the code (or id)."""
        resp = self._client.get(f"/v1/procedures/{quote(code, safe='')}")
        if resp.status_code == 404:
            return False
        self._json(resp)
        return True

    def _json(self, resp: httpx.Response) -> Any:
        where = f"{self.url}{resp.request.url.path}"
        if resp.status_code >= 400:
            try:
                detail = resp.json().get("detail") or resp.text
            except (json.JSONDecodeError, AttributeError):
                detail = resp.text
            raise RuntimeError(f"HTTP {resp.status_code} from {where}: {str(detail)[:300]}")
        try:
            return resp.json()
        except json.JSONDecodeError:
            raise RuntimeError(f"not JSON from {where}: {resp.text[:300]}") from None

    def close(self) -> None:
        self._client.close()
