"""Abuse controls through the real app (TestClient, or a real uvicorn where the client address
matters): per-client rate limits for anonymous callers, request size limits, security headers
(the documentation pages checked in a real Chromium under their own policy), CORS exactly as
configured, and the admin kill switch."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.api.guards import RateLimit
from assistant.auth import hash_key
from assistant.settings import Settings
from tests.conftest import LiveServer

ADMIN_KEY, OFFICIAL_KEY = "abuse-admin-key", "abuse-official-key"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
OFFICIAL = {"Authorization": f"Bearer {OFFICIAL_KEY}"}
PORTAL = "https://xa-a.hanoi.gov.vn"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def make(hash_corpus: Path, tmp_path: Path):
    """Settings on a private copy of corpus/'s index; `make(**overrides)`."""
    data = shutil.copytree(hash_corpus, tmp_path / "var")

    def settings(**overrides) -> Settings:
        base = {"data_dir": data, "embedder": "hash", "api_keys": f"official:{hash_key(OFFICIAL_KEY)},admin:{hash_key(ADMIN_KEY)}",
                "token_secret": "abuse-secret"}
        return Settings(**{**base, **overrides})

    return settings


# --- rate limits and load shedding -----------------------------------------------------------------------


def test_anonymous_callers_are_limited_by_default(make) -> None:
    settings = make()
    assert settings.rate_limit == "60/minute"
    with TestClient(create_app(settings)) as c:
        assert all(c.get("/v1/maintenance").status_code == 200 for _ in range(60))
        r = c.get("/v1/search", params={"q": "khai sinh"})
        assert r.status_code == 429 and "too many requests" in r.json()["detail"]
        assert 1 <= int(r.headers["retry-after"]) <= 60
        # guessing keys counts like any anonymous request
        assert c.get("/v1/feedback", headers={"Authorization": "Bearer guess"}).status_code == 429
        # callers with a key or a token are not limited, nor is the health check
        assert c.get("/v1/search", params={"q": "khai sinh"}, headers=OFFICIAL).status_code == 200
        token = c.post("/v1/tokens", headers=OFFICIAL).json()["token"]
        assert c.get("/v1/feedback", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert c.get("/healthz").status_code == 200


def test_the_limit_is_per_client_address_behind_a_trusted_proxy(make) -> None:
    with LiveServer(create_app(make(rate_limit="2/minute"))) as server:
        def ask(client_ip: str) -> int:  # uvicorn trusts X-Forwarded-For from 127.0.0.1, the proxy here
            return httpx.get(f"{server.url}/v1/maintenance", headers={"X-Forwarded-For": client_ip}).status_code

        assert [ask("203.0.113.7") for _ in range(3)] == [200, 200, 429]
        assert [ask("203.0.113.8") for _ in range(2)] == [200, 200]


def test_the_rate_limit_can_be_raised_or_turned_off(make) -> None:
    with TestClient(create_app(make(rate_limit="off"))) as c:
        assert all(c.get("/v1/maintenance").status_code == 200 for _ in range(150))
    limit = RateLimit("3/minute;5/hour")
    assert [limit.retry_after("a") for _ in range(3)] == [None, None, None]
    assert limit.retry_after("a") is not None and limit.retry_after("b") is None
    with pytest.raises(ValueError, match="rate limit"):
        make(rate_limit="lots")


# --- size limits ---------------------------------------------------------------------------------------


def test_overload_is_shed_at_once_with_503_and_retry_after(make) -> None:
    """One question worked on and two waiting: the rest are refused at once (not queued until they
    time out), and the three admitted are answered once the worker is free."""
    app = create_app(make(rate_limit="off", max_answering=1, max_waiting=2, max_wait_s=60))
    with LiveServer(app) as server:
        assistant, free = app.state.assistant, threading.Event()
        real = assistant.decide

        def busy(*args, **kwargs):  # the worker is slow (a long question, a loaded machine)
            free.wait(60)
            return real(*args, **kwargs)

        assistant.decide = busy
        ask = {"message": "Đăng ký kết hôn cần giấy tờ gì?"}
        with ThreadPoolExecutor(8) as pool:
            calls = [pool.submit(httpx.post, f"{server.url}/v1/chat", json=ask, timeout=90) for _ in range(8)]
            for _ in range(600):
                if sum(c.done() for c in calls) >= 5:
                    break
                time.sleep(0.05)
            refused = [c.result() for c in calls if c.done()]
            free.set()
            answered = [c.result() for c in calls if c.result() not in refused]
        assert len(refused) == 5 and all(r.status_code == 503 for r in refused)
        assert all(r.headers["retry-after"] == "2" and "busy" in r.json()["detail"] for r in refused)
        assert [r.status_code for r in answered] == [200] * 3
        assert all(r.json()["citations"][0]["procedure_code"] == "1.000894" for r in answered)
        assert "assistant_shed_total 5" in httpx.get(f"{server.url}/metrics").text


def test_oversized_bodies_and_headers_are_refused(make) -> None:
    with TestClient(create_app(make(rate_limit="off"))) as c:
        big = b'{"message": "' + b"a" * 70_000 + b'"}'

        def chunks():  # no Content-Length: counted as it streams
            for i in range(0, len(big), 8192):
                yield big[i:i + 8192]

        for body in (big, chunks()):
            r = c.post("/v1/chat", content=body, headers={"Content-Type": "application/json"})
            assert r.status_code == 413 and "65536" in r.json()["detail"]
        for path in ("/v1/search?q=khai+sinh", "/healthz", "/"):
            r = c.get(path, headers={"X-Padding": "a" * 20_000})
            assert r.status_code == 431 and "headers" in r.json()["detail"]


# --- security headers ----------------------------------------------------------------------------------


def csp(r: httpx.Response) -> dict[str, str]:
    return {d.split(" ", 1)[0]: d.partition(" ")[2] for d in r.headers["content-security-policy"].split("; ")}


def test_pages_and_api_responses_carry_security_headers(make) -> None:
    with TestClient(create_app(make(rate_limit="off"))) as c:
        demo, docs, redoc = c.get("/"), c.get("/docs"), c.get("/redoc")
        for page in (demo, docs, redoc):
            policy = csp(page)
            assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'self'"
            assert "'unsafe-inline'" not in policy["script-src"] and "*" not in page.headers["content-security-policy"]
            assert page.headers["x-content-type-options"] == "nosniff"
        inline = re.search(r"<script>(.*?)</script>", docs.text, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
        assert csp(docs)["script-src"] == f"'self' 'sha256-{digest}'"
        for r in (c.get("/v1/search", params={"q": "khai sinh"}), c.get("/v1/documents/nope"),
                  c.post("/v1/chat/stream", json={"message": "khai sinh"})):
            assert csp(r) == {"default-src": "'none'", "frame-ancestors": "'none'"}
            assert r.headers["cache-control"] == "no-store" and r.headers["referrer-policy"] == "no-referrer"
            assert r.headers["x-content-type-options"] == "nosniff"
    with TestClient(create_app(make(frame_ancestors=f"'self' {PORTAL}"))) as c:
        assert csp(c.get("/"))["frame-ancestors"] == f"'self' {PORTAL}"
        assert csp(c.get("/docs"))["frame-ancestors"] == f"'self' {PORTAL}"
        assert csp(c.get("/healthz"))["frame-ancestors"] == "'none'"


@pytest.mark.browser
def test_documentation_pages_work_under_their_policy(make) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium: apt-get install -y chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    watch = ("window.__violations = []; document.addEventListener('securitypolicyviolation', "
             "(e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));")
    with LiveServer(create_app(make())) as server, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.add_init_script(watch)
        page.goto(server.url + "/docs")
        page.locator(".opblock-summary-path", has_text="/v1/chat/stream").first.wait_for(timeout=20_000)
        assert page.evaluate("window.__violations") == []
        page.goto(server.url + "/redoc")
        page.get_by_text("/v1/chat/stream").first.wait_for(state="attached", timeout=20_000)
        # ReDoc's "powered by" logo comes from its CDN: the policy is what keeps it out
        assert page.evaluate("window.__violations") == ["img-src https://cdn.redoc.ly/redoc/logo-mini.svg"]
        browser.close()


# --- CORS ----------------------------------------------------------------------------------------------


def preflight(c: TestClient, origin: str, headers: str = "authorization,content-type") -> httpx.Response:
    return c.options("/v1/chat/stream", headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                                  "Access-Control-Request-Headers": headers})


def test_cors_answers_exactly_the_configured_origins(make) -> None:
    with TestClient(create_app(make(cors_origins=f"{PORTAL}, https://phuong-b.hanoi.gov.vn"))) as c:
        ok = preflight(c, PORTAL)
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == PORTAL
        assert "POST" in ok.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in ok.headers
        for refused in (preflight(c, "https://evil.example"), preflight(c, PORTAL + ".evil.example"),
                        preflight(c, "null")):
            assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
        odd_header = preflight(c, PORTAL, headers="x-admin")
        assert odd_header.status_code == 400 and "x-admin" not in odd_header.headers["access-control-allow-headers"]
        asked = c.post("/v1/chat", json={"message": "khai sinh"}, headers={"Origin": PORTAL})
        assert asked.headers["access-control-allow-origin"] == PORTAL
        other = c.post("/v1/chat", json={"message": "khai sinh"}, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    with TestClient(create_app(make())) as c:  # none configured: no browser on another origin may read answers
        assert "access-control-allow-origin" not in preflight(c, PORTAL).headers
        assert "access-control-allow-origin" not in c.post("/v1/chat", json={"message": "khai sinh"},
                                                         headers={"Origin": PORTAL}).headers


# --- the kill switch -----------------------------------------------------------------------------------


def test_the_kill_switch_turns_answering_off_and_on_without_a_restart(make) -> None:
    settings = make(rate_limit="off")
    notice = "Trợ lý tạm ngừng đến 14:00 để cập nhật dữ liệu."
    question = {"message": "đăng ký tạm trú cần giấy tờ gì"}
    with TestClient(create_app(settings)) as c:
        assert c.post("/v1/chat", json=question).status_code == 200
        token = c.post("/v1/tokens", headers=OFFICIAL).json()["token"]
        for who in ({}, OFFICIAL, {"Authorization": f"Bearer {token}"}):
            assert c.put("/v1/maintenance", json={"enabled": True}, headers=who).status_code == 403
        for bad in ({"enabled": "yes"}, {"enabled": 1}, {"enabled": True, "until": "14:00"}, {}):
            assert c.put("/v1/maintenance", json=bad, headers=ADMIN).status_code == 422
        assert c.put("/v1/maintenance", json={"enabled": True, "message": notice}, headers=ADMIN).json() == {
            "enabled": True, "message": notice}
        for path in ("/v1/chat", "/v1/chat/stream"):
            off = c.post(path, json=question)
            assert off.status_code == 503 and off.json() == {"detail": notice}
        assert c.get("/v1/maintenance").json()["enabled"] is True
        assert c.get("/healthz").json()["maintenance"] is True
        assert c.get("/v1/search", params={"q": "tạm trú"}).status_code == 200  # only answering is off
    with TestClient(create_app(settings)) as c:  # it survives a restart
        assert c.post("/v1/chat", json=question).status_code == 503
        back = c.put("/v1/maintenance", json={"enabled": False}, headers=ADMIN).json()
        assert back["enabled"] is False and "bảo trì" in back["message"]
        assert c.post("/v1/chat", json=question).json()["behavior"] == "answer"
    audit = (Path(settings.data_dir) / "audit.log").read_text(encoding="utf-8")
    assert audit.count('"action": "maintenance"') == 2 and notice in audit
