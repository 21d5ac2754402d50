"""The embeddable chat widget, driven in a real headless Chromium against real HTTP servers.

Every browser test runs against each `backend`:
- `fake`: a small real FastAPI app (the real `assistant.api.web` router plus contract-shaped
  `/v1/chat/stream` and `/v1/feedback` with canned answers, hostile text included) on uvicorn;
- `real`: the real app (`assistant.api.app:create_app`) on `corpus/` plus one hostile document,
  with the default embedder (the one the routing models were fitted with), an official API key and
  CORS for the test portal.
Tests that need the fake's canned behaviour (a held stream, a broken stream) take `fake` directly.
A second server on another origin (`portal`) plays a commune portal that embeds the widget.

Screenshots land in tests/screenshots/widget-*.png (gitignored).
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from assistant.api.web import router as web_router
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

ROOT = Path(__file__).parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).parent / "screenshots"
WIDGET_JS = ROOT / "assistant" / "web" / "widget.js"

ADMIN_KEY = "widget-test-admin-key"  # the real backend's, for the kill switch
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = '<img src=x onerror="window.__pwned=1;alert(2)">'
DEMO = {
    "answer": "Làm giấy khai sinh cho con cần giấy tờ gì?",
    "clarify": "lam cccd bao lau",
    "english": "How much does marriage registration cost?",
    "refuse": "thời tiết hôm nay thế nào",
}

# ----------------------------------------------------------------------------- the fake backend

DATA_DATE = "2026-03-01"


def cite(n, code, title, section, quote, url=None, page=None, source_id=None):
    return {"n": n, "source_id": source_id or code, "procedure_code": code, "title": title,
            "section": section, "url": url, "page": page, "quote": quote}


PORTAL_URL = "https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html?ma_thu_tuc="
KHAI_SINH = cite(1, "1.001193", "Đăng ký khai sinh", "Thành phần hồ sơ",
                 "Tờ khai đăng ký khai sinh theo mẫu; bản chính Giấy chứng sinh hoặc giấy tờ thay thế Giấy chứng sinh.",
                 url=PORTAL_URL + "1.001193")
KHAI_SINH_TIME = cite(2, "1.001193", "Đăng ký khai sinh", "Thời hạn giải quyết", "Ngay trong ngày tiếp nhận hồ sơ.",
                      url=PORTAL_URL + "1.001193")
CCCD = cite(1, "2.001255", "Cấp thẻ căn cước cho công dân từ đủ 14 tuổi", "Thời hạn giải quyết",
            "Không quá 07 ngày làm việc kể từ ngày nhận đủ hồ sơ theo quy định.", page=3, source_id="luat-can-cuoc-2023")
MARRIAGE = cite(1, "1.000894", "Đăng ký kết hôn", "Lệ phí", "Miễn lệ phí đăng ký kết hôn tại UBND cấp xã.",
                url=PORTAL_URL + "1.000894")
HOSTILE = cite(1, "9.999999", f"Thủ tục {XSS_SCRIPT} giả", f"Mục {XSS_IMG}", f"Trích dẫn {XSS_IMG} và {XSS_SCRIPT}",
               url="javascript:alert(3)")

ANSWERS = {  # the longest key found in the lowercased question picks the answer
    "khai sinh": dict(behavior="answer", citations=[KHAI_SINH, KHAI_SINH_TIME], answer=(
        "**Hồ sơ đăng ký khai sinh** gồm:\n"
        "- Tờ khai đăng ký khai sinh theo mẫu [1]\n"
        "- Bản chính Giấy chứng sinh (hoặc giấy tờ thay thế) [1]\n"
        "Thời hạn: giải quyết ngay trong ngày [2]. Nộp tại UBND cấp xã nơi cư trú của cha hoặc mẹ.")),
    "cccd": dict(behavior="clarify", answer="Bạn muốn hỏi thời hạn của thủ tục nào?", options=[
        {"label": "Cấp thẻ căn cước lần đầu", "source_id": "2.001255"},
        {"label": "Cấp thẻ căn cước lần đầu", "source_id": "2.001254"},  # same label twice: one button
        {"label": "Cấp đổi thẻ căn cước", "source_id": "2.001256"}]),
    "cấp thẻ căn cước lần đầu": dict(behavior="answer", citations=[CCCD], answer=(
        "Cấp thẻ căn cước lần đầu: không quá 07 ngày làm việc kể từ ngày nhận đủ hồ sơ [1].")),
    "marriage": dict(behavior="answer", citations=[MARRIAGE],
                     answer="Marriage registration at the commune People's Committee is free of charge [1]."),
    "thời tiết": dict(behavior="refuse",
                      answer="Tôi chỉ trả lời câu hỏi về thủ tục hành chính, nên không thể trả lời câu hỏi này."),
    "xss clarify": dict(behavior="clarify", answer=f"Chọn {XSS_SCRIPT}",
                        options=[{"label": f"Lựa chọn {XSS_IMG}", "source_id": "9.999999"}]),
    "xss": dict(behavior="answer", citations=[HOSTILE], answer=f"Văn bản có {XSS_SCRIPT} và {XSS_IMG} [1]."),
    "hold": dict(behavior="answer", citations=[KHAI_SINH], answer="Câu trả lời cuối cùng, đã kiểm tra [1].",
                 deltas=["Bản nháp đang ", "được soạn…"]),  # the stream differs from `done`, which wins
}


@dataclass
class FakeState:
    chats: list[dict] = field(default_factory=list)
    feedback: list[dict] = field(default_factory=list)
    sessions: set[str] = field(default_factory=set)
    release: threading.Event = field(default_factory=threading.Event)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))


def sse(event: str, data) -> str:
    # CRLF line ends, as sse-starlette writes them (the real app writes LF): the widget parses both.
    return f"event: {event}\r\ndata: {json.dumps(data, ensure_ascii=False)}\r\n\r\n"


def build_fake_app(state: FakeState) -> FastAPI:
    """The widget's router plus contract-shaped chat and feedback endpoints with canned answers."""
    app = FastAPI()
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
    app.include_router(web_router)

    @app.post("/v1/chat/stream")
    async def chat_stream(request: Request):
        body = await request.json()
        auth = request.headers.get("authorization")
        state.chats.append({**body, "authorization": auth})
        if auth == "Bearer expired":
            return JSONResponse({"detail": "token expired"}, status_code=401)
        if body.get("session_id") and body["session_id"] not in state.sessions:
            return JSONResponse({"detail": "unknown or expired session_id"}, status_code=404)
        session_id = body.get("session_id") or f"s-{next(state.ids)}"
        state.sessions.add(session_id)
        message = body["message"].lower()
        key = next((k for k in sorted(ANSWERS, key=len, reverse=True) if k in message), None)

        async def events():
            if key is None:
                yield sse("error", {"detail": "Máy chủ gặp sự cố khi trả lời."})
                return
            canned = ANSWERS[key]
            for i, chunk in enumerate(canned.get("deltas") or re.findall(r"\S+\s*", canned["answer"])):
                yield sse("delta", {"text": chunk})
                if key == "hold" and i == 0:
                    await asyncio.to_thread(state.release.wait, 20)
                await asyncio.sleep(0.005)
            if canned.get("citations"):
                yield sse("citations", canned["citations"])
            yield sse("done", {"answer": canned["answer"], "behavior": canned["behavior"],
                               "citations": canned.get("citations", []), "options": canned.get("options", []),
                               "session_id": session_id, "message_id": f"m-{next(state.ids)}",
                               "data_date": DATA_DATE})

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/feedback")
    async def post_feedback(request: Request):
        state.feedback.append({**await request.json(), "authorization": request.headers.get("authorization")})
        return {"id": len(state.feedback), "status": "stored"}

    @app.get("/v1/feedback")
    async def list_feedback():
        return {"feedback": state.feedback, "refused": []}

    return app


# ----------------------------------------------------------------------------- servers


@dataclass
class Backend:
    """What the tests need from a server: its URL, questions that get each behaviour, an official's
    credentials (to read feedback and to get widget tokens)."""

    name: str
    url: str
    questions: dict[str, str]
    official_key: str | None = None

    def received_feedback(self) -> list[dict]:
        headers = {"Authorization": f"Bearer {self.official_key}"} if self.official_key else {}
        r = httpx.get(self.url + "/v1/feedback", headers=headers)
        r.raise_for_status()
        return r.json()["feedback"]

    def token(self) -> str:
        """What a portal's back end does: exchange its API key for a short-lived widget token."""
        r = httpx.post(self.url + "/v1/tokens", headers={"Authorization": f"Bearer {self.official_key}"})
        r.raise_for_status()
        return r.json()["token"]


@dataclass
class Fake(Backend):
    state: FakeState = field(default_factory=FakeState)

    def token(self) -> str:
        return "tok-123"


HOSTILE_DOC = f"""---
title: "Đăng ký nuôi ong mật {XSS_SCRIPT}"
procedure_codes: ["9.999999"]
audience: citizen
url: "javascript:alert(3)"
data_date: "2026"
---

# Đăng ký nuôi ong mật {XSS_IMG}

Thủ tục đăng ký nuôi ong mật (mã thủ tục 9.999999) là văn bản thử nghiệm của bộ kiểm thử widget.

## Hồ sơ cần chuẩn bị

- Tờ khai đăng ký nuôi ong mật {XSS_IMG}
- Sơ đồ trại ong {XSS_SCRIPT}
"""


@pytest.fixture(scope="module")
def fake():
    state = FakeState()
    questions = {**DEMO, "xss": "xss"}
    with LiveServer(build_fake_app(state)) as server:
        yield Fake(name="fake", url=server.url, questions=questions, state=state)


@pytest.fixture(scope="module")
def real(tmp_path_factory, portal):
    app_module = pytest.importorskip("assistant.api.app", reason="the real app is not there")
    from assistant.auth import hash_key
    from assistant.settings import Settings
    from assistant.store import Store
    from ingest.pipeline import ingest

    root = tmp_path_factory.mktemp("widget-real")
    (root / "hostile").mkdir()
    (root / "hostile" / "nuoi-ong.md").write_text(HOSTILE_DOC, encoding="utf-8")
    key = "widget-test-official-key"
    # the default embedder: the fitted ranker and decision read its similarities (assistant/models)
    settings = Settings(data_dir=root / "var", api_keys=f"official:{hash_key(key)},admin:{hash_key(ADMIN_KEY)}",
                        token_secret="widget-test-secret", cors_origins=portal[0])
    store = Store(settings, purpose="widget test ingest")
    try:
        summary = ingest(store, [ROOT / "corpus", root / "hostile"], progress=False)
    finally:
        store.close()
    assert not summary.failed
    questions = {**DEMO, "clarify": "thẻ căn cước", "xss": "đăng ký nuôi ong mật cần giấy tờ gì"}
    with LiveServer(app_module.create_app(settings)) as server:
        yield Backend(name="real", url=server.url, questions=questions, official_key=key)


@pytest.fixture(scope="module", params=["fake", "real"])
def backend(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def portal():
    """A second server (another origin) playing the commune portal that embeds the widget."""
    pages: dict[str, str] = {}
    app = FastAPI()

    @app.get("/{name}")
    def page(name: str):
        return HTMLResponse(pages[name])

    with LiveServer(app) as server:
        yield server.url, pages


def portal_page(server: str, attrs: str, in_head: bool = False) -> str:
    """A portal page embedding the widget with one tag, and CSS that tries to reach into it."""
    tag = f'<script src="{server}/widget.js" data-api="{server}" {attrs}></script>'
    return f"""<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Cổng xã</title>
{tag if in_head else ""}
<style>
  * {{ color: rgb(255, 0, 0) !important; font-family: serif !important; }}
  button {{ background: rgb(0, 255, 0) !important; }}
  div, section, aside {{ display: none !important; }}
</style></head>
<body><h1>Cổng thông tin xã</h1><p class="launcher panel bubble">Nội dung của cổng</p>
{"" if in_head else tag}</body></html>"""


# ----------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium: apt-get install -y chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Tab:
    """A page plus everything it did that a test may want to check."""

    page: object
    server: str = ""  # the assistant's URL, set when a page is opened
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def w(self, selector: str):
        """A locator inside the widget's (open) shadow root: Playwright CSS pierces it."""
        return self.page.locator("assistant-widget").locator(selector)

    def ask(self, text: str):
        self.w("textarea").fill(text)
        self.w("textarea").press("Enter")

    def wait_answers(self, count: int):
        self.w(".msg.bot:not(.welcome):not(.pending)").nth(count - 1).wait_for()
        return self.w(".msg.bot:not(.welcome):not(.pending)").nth(count - 1)

    def stored(self) -> dict:
        """What the widget keeps in localStorage (session id and transcript)."""
        return self.page.evaluate("() => JSON.parse(localStorage.getItem(Object.keys(localStorage)[0]))")

    def junk(self) -> list[str]:
        """Placeholders leaking into what users read ("null", "undefined", "[object Object]")."""
        text = self.w(".root").inner_text()
        return re.findall(r"\bnull\b|\bundefined\b|\[object \w+\]|\bNaN\b", text)

    def shot(self, name: str):
        SHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"widget-{name}.png"))

    def foreign_requests(self, allowed=()):
        hosts = {urlsplit(self.server).netloc, *allowed}
        return [u for u in self.requests if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc not in hosts]


@pytest.fixture
def tab_factory(browser):
    contexts = []

    def make(viewport=(1280, 800)) -> Tab:
        ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale="vi-VN")
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(8000)
        tab = Tab(page=page)
        page.on("request", lambda r: tab.requests.append(r.url))
        page.on("pageerror", lambda e: tab.errors.append(str(e)))

        def on_dialog(d):
            tab.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", on_dialog)
        return tab

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def tab(tab_factory):
    return tab_factory()


def open_demo(tab: Tab, backend: Backend) -> Tab:
    tab.server = backend.url
    tab.page.goto(tab.server + "/")
    tab.w(".launcher").wait_for()
    return tab


def open_portal(tab: Tab, backend: Backend, portal, attrs: str, in_head: bool = False) -> Tab:
    tab.server = backend.url
    url, pages = portal
    name = f"p{len(pages)}"
    pages[name] = portal_page(tab.server, attrs, in_head)
    tab.page.goto(f"{url}/{name}")
    tab.w(".launcher").wait_for()
    return tab




def expect(locator):
    return pytest.importorskip("playwright.sync_api").expect(locator)


# ----------------------------------------------------------------------------- tests: serving


def test_widget_js_served_with_cache_headers_and_gzip(backend):
    r = httpx.get(backend.url + "/widget.js", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["content-encoding"] == "gzip"
    assert "max-age" in r.headers["cache-control"]
    assert r.content == WIDGET_JS.read_bytes()
    assert httpx.get(backend.url + "/widget.js", headers={"If-None-Match": r.headers["etag"]}).status_code == 304

    page = httpx.get(backend.url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/widget.js"' in page.text
    assert "connect-src 'self'" in page.headers["content-security-policy"]

    size = len(gzip.compress(WIDGET_JS.read_bytes(), 9))
    print(f"widget.js: {WIDGET_JS.stat().st_size} bytes, {size} gzipped")
    assert size < 13_000


def test_widget_source_never_parses_html():
    code = re.sub(r"/\*.*?\*/", "", WIDGET_JS.read_text(encoding="utf-8"), flags=re.S)
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "DOMParser",
                 "createContextualFragment", "eval("):
        assert sink not in code, sink


# ----------------------------------------------------------------------------- tests: the conversation


def test_widget_demo_question_streams_an_answer_with_citation_chips(tab, backend):
    open_demo(tab, backend)
    tab.page.get_by_role("button", name=backend.questions["answer"]).click()
    expect(tab.w(".panel")).to_be_visible()
    expect(tab.w(".msg.user .bubble").last).to_have_text(backend.questions["answer"])
    answer = tab.wait_answers(1)
    expect(answer.locator(".bubble")).to_contain_text("khai sinh")
    chip = answer.locator(".chip").first
    expect(chip).to_be_visible()
    expect(chip).to_have_attribute("aria-expanded", "false")
    tab.shot(f"answer-{backend.name}")

    chip.click()
    expect(chip).to_have_attribute("aria-expanded", "true")
    detail = answer.locator(".cite")
    expect(detail).to_be_visible()
    expect(detail.locator(".ttl")).to_contain_text("khai sinh")
    expect(detail.locator("blockquote")).not_to_be_empty()
    link = detail.locator("a")
    assert link.get_attribute("href").startswith("https://dichvucong.gov.vn/")
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert tab.junk() == []
    tab.shot(f"citation-{backend.name}")
    chip.click()
    expect(detail).to_be_hidden()

    answer.locator(".bubble .ref").first.click()  # an [n] marker opens its source too
    expect(detail).to_be_visible()
    if isinstance(backend, Fake):
        expect(answer.locator(".bubble strong")).to_have_text("Hồ sơ đăng ký khai sinh")
        expect(answer.locator(".bubble .ref")).to_have_count(3)
        expect(answer.locator(".meta")).to_contain_text(DATA_DATE)
        answer.locator(".bubble .ref").last.click()  # [2]
        expect(detail.locator(".where")).to_contain_text("Thời hạn giải quyết")
        expect(detail.locator("blockquote")).to_have_text(KHAI_SINH_TIME["quote"])
    assert tab.foreign_requests() == [] and tab.dialogs == [] and tab.errors == []


def test_widget_shows_streamed_text_then_the_authoritative_answer(tab, fake):
    fake.state.release.clear()
    open_demo(tab, fake)
    tab.w(".launcher").click()
    tab.ask("hold please")
    expect(tab.w(".msg.pending .bubble")).to_contain_text("Bản nháp đang")  # the first delta, stream still open
    expect(tab.w(".log")).to_have_attribute("aria-busy", "true")
    expect(tab.w(".send")).to_be_disabled()
    fake.state.release.set()
    answer = tab.wait_answers(1)
    expect(answer.locator(".bubble")).to_have_text("Câu trả lời cuối cùng, đã kiểm tra 1.")
    expect(tab.w(".msg.pending")).to_have_count(0)
    expect(tab.w(".send")).to_be_enabled()
    expect(tab.w("[role=status][aria-live=polite]").first).to_have_text("Trợ lý: Câu trả lời cuối cùng, đã kiểm tra.")


def test_widget_offers_to_ask_again_after_a_reload_cut_the_answer(tab, fake):
    fake.state.release.clear()
    open_demo(tab, fake)
    tab.w(".launcher").click()
    tab.ask("hold on")
    expect(tab.w(".msg.pending .bubble")).to_contain_text("Bản nháp đang")
    tab.page.reload()
    error = tab.w(".msg.error")
    expect(error).to_contain_text("Câu hỏi này chưa có câu trả lời.")
    fake.state.release.set()
    error.locator(".retry").click()
    expect(tab.wait_answers(1).locator(".bubble")).to_have_text("Câu trả lời cuối cùng, đã kiểm tra 1.")
    expect(tab.w(".msg.error")).to_have_count(0)


def test_demo_page_as_a_newcomer_uses_it(tab, real):
    """The demo page's three sample buttons one after another in one session, then a new topic typed
    and a follow-up on it: each answer is about the procedure asked, none about the previous one."""
    open_demo(tab, real)
    turns = [(DEMO["answer"], "1.001193", "Hồ sơ"), (DEMO["clarify"], "1.014061", "Thời gian"),
             (DEMO["english"], "1.000894", "Fees"), ("đăng ký tạm trú cần giấy tờ gì?", "1.004194", "Hồ sơ"),
             ("thế lệ phí bao nhiêu?", "1.004194", "Lệ phí")]
    for i, (text, code, section) in enumerate(turns, 1):
        if i <= 3:
            tab.page.get_by_role("button", name=text).click()
        else:
            tab.ask(text)
        answer = tab.wait_answers(i)
        expect(answer.locator(".bubble")).to_contain_text(f"({code})")
        expect(answer.locator(".bubble")).to_contain_text(section)
        expect(answer.locator(".chip").first).to_be_visible()
        tab.shot(f"demo-turn-{i}")
        session = session if i > 1 else tab.stored()["session_id"]
    assert tab.stored()["session_id"] == session  # one conversation throughout, as the widget keeps it
    assert tab.junk() == [] and tab.errors == []


def test_widget_clarify_option_asks_again_in_the_same_session(tab, backend):
    open_demo(tab, backend)
    if backend.questions["clarify"] in DEMO.values():
        tab.page.get_by_role("button", name=backend.questions["clarify"]).click()
    else:
        tab.w(".launcher").click()
        tab.ask(backend.questions["clarify"])
    first = tab.wait_answers(1)
    assert first.get_attribute("data-behavior") == "clarify"
    options = first.locator(".opt")
    labels = options.all_inner_texts()
    assert labels and len(labels) == len(set(labels))  # options with the same label are one button
    session = tab.stored()["session_id"]
    assert tab.junk() == []
    tab.shot(f"clarify-{backend.name}")

    options.first.click()
    expect(tab.w(".msg.user .bubble").last).to_have_text(labels[0])
    tab.wait_answers(2)
    expect(first.locator(".opt").first).to_be_disabled()
    expect(first.locator(".opt.chosen")).to_have_text(labels[0])
    assert tab.stored()["session_id"] == session
    if isinstance(backend, Fake):
        asked, chose = backend.state.chats[-2:]
        assert "session_id" not in asked and chose == {"message": labels[0], "session_id": session,
                                                        "authorization": None}


def test_widget_feedback_with_comment_reaches_the_server(tab, backend):
    open_demo(tab, backend)
    tab.page.get_by_role("button", name=backend.questions["english"]).click()
    answer = tab.wait_answers(1)
    down = answer.locator(".fb button[data-rating=down]")
    down.click()
    expect(down).to_have_attribute("aria-pressed", "true")
    expect(answer.locator(".fb button[data-rating=up]")).to_have_attribute("aria-pressed", "false")
    expect(answer.locator(".fb .note")).to_have_text("Cảm ơn bạn đã góp ý.")
    comment = answer.locator(".fb input")
    comment.fill("Thiếu địa chỉ nộp hồ sơ")
    tab.shot("feedback")
    comment.press("Enter")
    expect(answer.locator(".fb form")).to_have_count(0)
    message_id = tab.stored()["messages"][-1]["message_id"]
    received = [f for f in backend.received_feedback() if f["message_id"] == message_id]
    assert sorted((f["rating"], f.get("comment") or "") for f in received) == [
        ("down", ""), ("down", "Thiếu địa chỉ nộp hồ sơ")]


def test_widget_keeps_the_conversation_across_reloads_until_new_conversation(tab, backend):
    open_demo(tab, backend)
    tab.page.get_by_role("button", name=backend.questions["answer"]).click()
    tab.wait_answers(1).locator(".fb button[data-rating=up]").click()
    tab.page.reload()
    expect(tab.w(".panel")).to_be_visible()  # it was open: it stays open
    expect(tab.w(".msg.user .bubble")).to_have_text([backend.questions["answer"]])
    answer = tab.wait_answers(1)
    expect(answer.locator(".chip").first).to_be_visible()
    expect(answer.locator(".fb button[data-rating=up]")).to_have_attribute("aria-pressed", "true")
    assert tab.junk() == []
    tab.shot("reloaded")

    tab.w(".head .new").click()
    expect(tab.w(".msg.user")).to_have_count(0)
    expect(tab.w(".msg.welcome")).to_be_visible()
    tab.page.reload()
    expect(tab.w(".msg.user")).to_have_count(0)
    assert tab.stored()["session_id"] is None
    if isinstance(backend, Fake):
        tab.ask("marriage")
        tab.wait_answers(1)
        assert "session_id" not in backend.state.chats[-1]


def test_widget_carries_on_when_the_server_forgot_the_session(tab, backend):
    open_demo(tab, backend)
    tab.page.evaluate("""() => {
        const key = "assistant-widget:v1:" + location.origin;
        localStorage.setItem(key, JSON.stringify({session_id: "gone-after-restart", open: true,
            messages: [{role: "user", text: "câu hỏi cũ"}, {role: "assistant", text: "câu trả lời cũ"}]}));
    }""")
    tab.page.reload()
    expect(tab.w(".msg.user .bubble")).to_have_text(["câu hỏi cũ"])
    tab.ask(backend.questions["english"])
    answer = tab.wait_answers(2)
    expect(answer.locator(".chip").first).to_be_visible()
    assert tab.stored()["session_id"] not in (None, "gone-after-restart")


def test_widget_keyboard_and_screen_reader_labels(tab, backend):
    open_demo(tab, backend)
    launcher = tab.w(".launcher")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    launcher.focus()
    tab.page.keyboard.press("Enter")
    expect(tab.w(".panel")).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    focused = "() => document.querySelector('assistant-widget').shadowRoot.activeElement?.tagName"
    assert tab.page.evaluate(focused) == "TEXTAREA"
    expect(tab.page.get_by_role("dialog", name="Trợ lý thủ tục hành chính")).to_be_visible()
    expect(tab.page.get_by_role("textbox", name="Câu hỏi của bạn")).to_be_visible()
    expect(tab.page.get_by_role("button", name="Cuộc trò chuyện mới")).to_be_visible()
    expect(tab.page.get_by_role("log", name="Cuộc trò chuyện")).to_be_visible()

    tab.page.keyboard.type("dòng một")
    tab.page.keyboard.press("Shift+Enter")  # a new line, not a send
    tab.page.keyboard.type("dòng hai")
    assert tab.w("textarea").input_value() == "dòng một\ndòng hai"
    tab.w("textarea").fill(backend.questions["english"])
    tab.page.keyboard.press("Enter")
    answer = tab.wait_answers(1)
    assert tab.w("textarea").input_value() == ""
    expect(tab.w("[role=status][aria-live=polite]").first).to_contain_text("Trợ lý: ")
    expect(answer.get_by_role("button", name="Chưa hữu ích")).to_be_visible()
    expect(answer.get_by_role("button", name="Nguồn 1").first).to_be_visible()

    tab.page.keyboard.press("Escape")
    expect(tab.w(".panel")).to_be_hidden()
    assert tab.page.evaluate(focused) == "BUTTON"
    expect(launcher).to_have_attribute("aria-expanded", "false")


def test_widget_fills_a_phone_screen(tab_factory, backend):
    tab = open_demo(tab_factory(viewport=(375, 740)), backend)
    tab.shot("phone-closed")
    tab.page.get_by_role("button", name=backend.questions["answer"]).click()
    tab.wait_answers(1)
    tab.w(".panel").evaluate("(el) => Promise.all(el.getAnimations().map((a) => a.finished))")
    box = tab.w(".panel").bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 375, 740)
    expect(tab.w(".launcher")).to_be_hidden()
    tab.shot(f"phone-{backend.name}")
    tab.page.keyboard.press("Escape")
    expect(tab.w(".launcher")).to_be_visible()


def test_widget_refusal_says_where_to_ask_instead(tab, backend):
    open_demo(tab, backend)
    tab.w(".launcher").click()
    tab.ask(backend.questions["refuse"])
    answer = tab.wait_answers(1)
    assert answer.get_attribute("data-behavior") == "refuse"
    expect(answer.locator("a[href^='https://dichvucong.gov.vn']")).to_have_count(1)  # ours, or linked in the text
    expect(answer).to_contain_text("Bộ phận")
    assert tab.junk() == []
    tab.shot(f"refuse-{backend.name}")


def test_widget_shows_the_maintenance_message_and_answers_once_it_is_over(tab, real):
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    notice = "Trợ lý tạm ngừng đến 14:00 để cập nhật dữ liệu."
    httpx.put(real.url + "/v1/maintenance", json={"enabled": True, "message": notice}, headers=admin).raise_for_status()
    try:
        open_demo(tab, real)
        tab.w(".launcher").click()
        tab.ask(real.questions["answer"])
        expect(tab.w(".msg.error")).to_contain_text(notice)
        tab.shot("maintenance")
    finally:
        httpx.put(real.url + "/v1/maintenance", json={"enabled": False}, headers=admin).raise_for_status()
    tab.w(".msg.error .retry").click()  # the same server, answering again
    assert tab.wait_answers(1).get_attribute("data-behavior") == "answer"


def test_widget_stream_error_offers_retry(tab, fake):
    open_demo(tab, fake)
    tab.w(".launcher").click()
    tab.ask("một câu không có trong kịch bản")
    error = tab.w(".msg.error")
    expect(error).to_contain_text("Máy chủ gặp sự cố")
    expect(error.locator(".retry")).to_be_visible()
    expect(tab.w(".send")).to_be_enabled()


# ----------------------------------------------------------------------------- tests: security and embedding


def test_widget_renders_hostile_server_text_inert(tab, backend):
    open_demo(tab, backend)
    tab.w(".launcher").click()
    tab.ask(backend.questions["xss"])
    answer = tab.wait_answers(1)
    expect(answer.locator(".bubble")).to_contain_text(XSS_SCRIPT)
    expect(answer.locator(".bubble")).to_contain_text(XSS_IMG)
    expect(answer.locator(".chip .ct").first).to_contain_text(XSS_SCRIPT)
    answer.locator(".chip").first.click()
    detail = answer.locator(".cite")
    expect(detail.locator(".ttl")).to_contain_text(XSS_SCRIPT)
    expect(detail.locator("blockquote")).to_contain_text(XSS_IMG)
    # the javascript: URL is dropped for the server's own document link
    assert detail.locator("a").get_attribute("href").startswith(f"{backend.url}/v1/documents/")
    if isinstance(backend, Fake):
        expect(detail.locator(".where")).to_contain_text(XSS_IMG)
        tab.ask("xss clarify")
        expect(tab.wait_answers(2).locator(".opt")).to_have_text(f"Lựa chọn {XSS_IMG}")
    assert tab.junk() == []
    tab.shot(f"xss-{backend.name}")

    found = tab.page.evaluate("""() => {
        const root = document.querySelector('assistant-widget').shadowRoot;
        return {
          active: root.querySelectorAll('img, script, iframe, object, embed, [onerror], [onload]').length,
          badLinks: [...root.querySelectorAll('a')].filter((a) => !/^https?:/.test(a.href)).length,
          pageImgs: document.querySelectorAll('img').length,
          pwned: window.__pwned === 1,
        };
    }""")
    assert found == {"active": 0, "badLinks": 0, "pageImgs": 0, "pwned": False}
    assert tab.dialogs == [] and tab.errors == []


def test_widget_embedded_on_another_origin_is_isolated_and_sends_the_token(tab, backend, portal):
    attrs = f'data-lang="vi" data-token="{backend.token()}" data-storage="session" async'
    open_portal(tab, backend, portal, attrs=attrs)
    launcher = tab.w(".launcher")
    style = "(el) => { const s = getComputedStyle(el); return [s.color, s.backgroundColor, s.fontFamily, s.position]; }"
    color, background, font, position = launcher.evaluate(style)
    # the portal's !important rules do not reach inside...
    assert (color, background, position) == ("rgb(255, 255, 255)", "rgb(11, 79, 156)", "fixed") and font != "serif"
    assert tab.page.locator("p.launcher").evaluate(style)[3] == "static"  # ...and the widget's do not reach out
    launcher.click()
    tab.ask(backend.questions["answer"])
    answer = tab.wait_answers(1)
    expect(answer.locator(".chip").first).to_be_visible()
    answer.locator(".fb button[data-rating=up]").click()
    expect(answer.locator(".fb .note")).to_have_text("Cảm ơn bạn đã góp ý.")
    tab.shot(f"portal-{backend.name}")
    kept = tab.page.evaluate("() => [localStorage.length, Object.keys(sessionStorage)]")
    assert kept == [0, [f"assistant-widget:v1:{backend.url}"]]  # data-storage="session": ends with the tab
    if isinstance(backend, Fake):
        assert backend.state.chats[-1]["authorization"] == "Bearer tok-123"
        assert backend.state.feedback[-1]["authorization"] == "Bearer tok-123"
    assert tab.foreign_requests(allowed={urlsplit(portal[0]).netloc}) == []
    assert tab.errors == []


def test_widget_expired_token_tells_the_page_and_recovers_with_set_token(tab, backend, portal):
    # A tag in <head> without async: the widget waits for <body>.
    open_portal(tab, backend, portal, attrs='data-lang="en" data-token="expired"', in_head=True)
    tab.page.evaluate("() => addEventListener('assistant-widget:unauthorized', (e) => (window.__unauth = e.detail.status))")
    expect(tab.w(".launcher")).to_have_text("Ask about procedures")
    tab.w(".launcher").click()
    tab.ask(backend.questions["english"])
    error = tab.w(".msg.error")
    expect(error).to_contain_text("Your session has expired")
    assert tab.page.evaluate("() => window.__unauth") == 401
    tab.page.evaluate("(t) => AssistantWidget.setToken(t)", backend.token())
    error.locator(".retry").click()
    answer = tab.wait_answers(1)
    expect(answer.locator(".bubble")).to_contain_text("free of charge" if isinstance(backend, Fake) else "Miễn phí")
    expect(answer.locator(".fb button[data-rating=up]")).to_have_attribute("aria-label", "Helpful")
