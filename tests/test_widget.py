"""The embeddable chat widget, driven in a real headless Chromium against a real HTTP server.

`backend` is the server the widget talks to. Today it is `FakeBackend`: a small real FastAPI app
(the real `assistant.api.web` router plus contract-shaped `/v1/chat/stream` and `/v1/feedback`)
on uvicorn in a thread. To run the same tests against the real app, add a param to `backend`
that starts `assistant.api.app:create_app` on `corpus/` (see `start_server`). Tests that need
canned hostile content (XSS, a held stream, errors) use `fake` directly.

Screenshots land in tests/screenshots/widget-*.png (gitignored).
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from assistant.api.web import router as web_router

pytestmark = pytest.mark.browser

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
WIDGET_JS = Path(__file__).parents[1] / "assistant" / "web" / "widget.js"

# ----------------------------------------------------------------------------- canned answers

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = '<img src=x onerror="window.__pwned=1;alert(2)">'
DATA_DATE = "2026-03-01"


def cite(n, code, title, section, quote, url=None, page=None, source_id=None):
    return {
        "n": n,
        "source_id": source_id or code,
        "procedure_code": code,
        "title": title,
        "section": section,
        "url": url,
        "page": page,
        "quote": quote,
    }


KHAI_SINH = cite(
    1,
    "1.001193",
    "Đăng ký khai sinh",
    "Thành phần hồ sơ",
    "Tờ khai đăng ký khai sinh theo mẫu; bản chính Giấy chứng sinh hoặc giấy tờ thay thế Giấy chứng sinh.",
    url="https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html?ma_thu_tuc=1.001193",
)
KHAI_SINH_TIME = cite(
    2, "1.001193", "Đăng ký khai sinh", "Thời hạn giải quyết", "Ngay trong ngày tiếp nhận hồ sơ.",
    url=KHAI_SINH["url"],
)
CCCD = cite(
    1, "2.001255", "Cấp thẻ căn cước cho công dân từ đủ 14 tuổi", "Thời hạn giải quyết",
    "Không quá 07 ngày làm việc kể từ ngày nhận đủ hồ sơ theo quy định.", page=3,
    source_id="luat-can-cuoc-2023",
)
MARRIAGE = cite(
    1, "1.000894", "Đăng ký kết hôn", "Lệ phí", "Miễn lệ phí đăng ký kết hôn tại UBND cấp xã.",
    url="https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html?ma_thu_tuc=1.000894",
)
HOSTILE = cite(
    1, "9.999999", f"Thủ tục {XSS_SCRIPT} giả", f"Mục {XSS_IMG}",
    f"Trích dẫn {XSS_IMG} và {XSS_SCRIPT}", url="javascript:alert(3)",
)

ANSWERS = {
    "khai sinh": dict(
        behavior="answer",
        answer=(
            "**Hồ sơ đăng ký khai sinh** gồm:\n"
            "- Tờ khai đăng ký khai sinh theo mẫu [1]\n"
            "- Bản chính Giấy chứng sinh (hoặc giấy tờ thay thế) [1]\n"
            "Thời hạn: giải quyết ngay trong ngày [2]. Nộp tại UBND cấp xã nơi cư trú của cha hoặc mẹ."
        ),
        citations=[KHAI_SINH, KHAI_SINH_TIME],
    ),
    "cccd": dict(
        behavior="clarify",
        answer="Bạn muốn hỏi thời hạn của thủ tục nào?",
        options=[
            {"label": "Cấp thẻ căn cước lần đầu", "source_id": "2.001255"},
            {"label": "Cấp đổi thẻ căn cước", "source_id": "2.001256"},
        ],
    ),
    "cấp thẻ căn cước lần đầu": dict(
        behavior="answer",
        answer="Cấp thẻ căn cước lần đầu: không quá 07 ngày làm việc kể từ ngày nhận đủ hồ sơ [1].",
        citations=[CCCD],
    ),
    "marriage": dict(
        behavior="answer",
        answer="Marriage registration at the commune People's Committee is free of charge [1].",
        citations=[MARRIAGE],
    ),
    "thời tiết": dict(
        behavior="refuse",
        answer="Tôi chỉ trả lời câu hỏi về thủ tục hành chính, nên không thể trả lời câu hỏi này.",
    ),
    "xss clarify": dict(
        behavior="clarify",
        answer=f"Chọn {XSS_SCRIPT}",
        options=[{"label": f"Lựa chọn {XSS_IMG}", "source_id": "9.999999"}],
    ),
    "xss": dict(
        behavior="answer",
        answer=f"Văn bản có {XSS_SCRIPT} và {XSS_IMG} [1].",
        citations=[HOSTILE],
    ),
    "hold": dict(
        behavior="answer",
        answer="Câu trả lời cuối cùng, đã kiểm tra [1].",
        citations=[KHAI_SINH],
        deltas=["Bản nháp đang ", "được soạn…"],
    ),
}


@dataclass
class FakeState:
    chats: list[dict] = field(default_factory=list)
    feedback: list[dict] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))


def sse(event: str, data) -> str:
    # CRLF line ends, as sse-starlette writes them: the widget must parse both.
    return f"event: {event}\r\ndata: {json.dumps(data, ensure_ascii=False)}\r\n\r\n"


def build_fake_app(state: FakeState) -> FastAPI:
    """The widget's router plus contract-shaped chat and feedback endpoints with canned answers."""
    app = FastAPI()
    app.add_middleware(GZipMiddleware, minimum_size=500)
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
    app.include_router(web_router)

    @app.post("/v1/chat/stream")
    async def chat_stream(request: Request):
        body = await request.json()
        auth = request.headers.get("authorization")
        state.chats.append({**body, "authorization": auth})
        if auth == "Bearer expired":
            return JSONResponse({"detail": "token expired"}, status_code=401)
        message = body["message"].lower()
        session_id = body.get("session_id") or f"s-{next(state.ids)}"
        key = next((k for k in sorted(ANSWERS, key=len, reverse=True) if k in message), None)

        async def events():
            if key is None:
                yield sse("error", {"detail": "Máy chủ gặp sự cố khi trả lời."})
                return
            canned = ANSWERS[key]
            deltas = canned.get("deltas") or re.findall(r"\S+\s*", canned["answer"])
            for i, chunk in enumerate(deltas):
                yield sse("delta", {"text": chunk})
                if key == "hold" and i == 0:
                    await asyncio.to_thread(state.release.wait, 20)
                await asyncio.sleep(0.005)
            if canned.get("citations"):
                yield sse("citations", canned["citations"])
            yield sse("done", {
                "answer": canned["answer"],
                "behavior": canned["behavior"],
                "citations": canned.get("citations", []),
                "options": canned.get("options", []),
                "session_id": session_id,
                "message_id": f"m-{next(state.ids)}",
                "data_date": DATA_DATE,
            })

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/feedback")
    async def post_feedback(request: Request):
        state.feedback.append({**await request.json(), "authorization": request.headers.get("authorization")})
        return {"ok": True}

    @app.get("/v1/feedback")
    async def list_feedback():
        return state.feedback

    return app


# ----------------------------------------------------------------------------- servers


class LiveServer:
    """A real uvicorn on a loopback port, in a thread."""

    def __init__(self, app):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self
            self.thread.join(0.05)
        raise RuntimeError("uvicorn did not start")

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@dataclass
class Backend:
    """What the tests need from a server: its URL, the demo questions, and the feedback it received."""

    url: str
    questions: dict[str, str]
    admin_headers: dict[str, str] = field(default_factory=dict)

    def received_feedback(self) -> list[dict]:
        return httpx.get(self.url + "/v1/feedback", headers=self.admin_headers).json()


DEMO_QUESTIONS = {
    "answer": "Làm giấy khai sinh cho con cần giấy tờ gì?",
    "clarify": "lam cccd bao lau",
    "english": "How much does marriage registration cost?",
}


@dataclass
class Fake(Backend):
    state: FakeState = field(default_factory=FakeState)


@pytest.fixture(scope="module")
def fake():
    state = FakeState()
    with LiveServer(build_fake_app(state)) as server:
        yield Fake(url=server.url, questions=DEMO_QUESTIONS, state=state)


@pytest.fixture(scope="module", params=["fake"])  # add "real": LiveServer(create_app(...)) on corpus/
def backend(request, fake):
    return fake


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
    server: str
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

    def shot(self, name: str):
        SHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"widget-{name}.png"))

    def foreign_requests(self, allowed=()):
        hosts = {urlsplit(self.server).netloc, *allowed}
        return [u for u in self.requests if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc not in hosts]


@pytest.fixture
def tab_factory(browser, backend):
    contexts = []

    def make(viewport=(1280, 800), server=None) -> Tab:
        ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale="vi-VN")
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(8000)
        tab = Tab(page=page, server=server or backend.url)
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


def open_demo(tab: Tab) -> Tab:
    tab.page.goto(tab.server + "/")
    tab.w(".launcher").wait_for()
    return tab


def portal_page(server: str, attrs: str, in_head: bool = False) -> str:
    """A commune portal on another origin that embeds the widget with one tag (and some hostile CSS)."""
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


def open_portal(tab: Tab, portal, attrs: str, in_head: bool = False) -> Tab:
    url, pages = portal
    name = f"p{len(pages)}"
    pages[name] = portal_page(tab.server, attrs, in_head)
    tab.page.goto(f"{url}/{name}")
    tab.w(".launcher").wait_for()
    return tab


# ----------------------------------------------------------------------------- tests: serving


def test_widget_js_served_with_cache_headers_and_gzip(backend):
    r = httpx.get(backend.url + "/widget.js", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["content-encoding"] == "gzip"
    assert "max-age" in r.headers["cache-control"]
    assert r.content == WIDGET_JS.read_bytes()
    again = httpx.get(backend.url + "/widget.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304

    page = httpx.get(backend.url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/widget.js"' in page.text
    assert "connect-src 'self'" in page.headers["content-security-policy"]

    size = len(gzip.compress(WIDGET_JS.read_bytes(), 9))
    print(f"widget.js: {WIDGET_JS.stat().st_size} bytes, {size} gzipped")
    assert size < 12_000


def test_widget_source_never_parses_html():
    source = WIDGET_JS.read_text(encoding="utf-8")
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "DOMParser", "createContextualFragment", "eval("):
        assert sink not in code, sink


# ----------------------------------------------------------------------------- tests: the chat


def test_widget_demo_question_streams_an_answer_with_citation_chips(tab, backend):
    open_demo(tab)
    tab.page.get_by_role("button", name=backend.questions["answer"]).click()
    expect = pytest.importorskip("playwright.sync_api").expect
    expect(tab.w(".panel")).to_be_visible()
    expect(tab.w(".msg.user .bubble").last).to_have_text(backend.questions["answer"])
    answer = tab.wait_answers(1)
    expect(answer.locator(".bubble")).not_to_be_empty()
    chip = answer.locator(".chip").first
    expect(chip).to_be_visible()
    assert chip.get_attribute("aria-expanded") == "false"
    tab.shot("answer")

    chip.click()
    assert chip.get_attribute("aria-expanded") == "true"
    detail = answer.locator(".cite")
    expect(detail).to_be_visible()
    expect(detail.locator(".ttl")).not_to_be_empty()
    href = detail.locator("a").get_attribute("href")
    assert href.startswith(("https://", "http://"))
    assert detail.locator("a").get_attribute("rel") == "noopener noreferrer"
    tab.shot("citation")
    chip.click()
    expect(detail).to_be_hidden()

    if isinstance(backend, Fake):
        expect(answer.locator(".bubble strong")).to_have_text("Hồ sơ đăng ký khai sinh")
        expect(answer.locator(".bubble .ref")).to_have_count(3)
        expect(answer.locator(".meta")).to_contain_text(DATA_DATE)
        answer.locator(".bubble .ref").last.click()  # a [2] marker opens chip 2
        expect(detail.locator(".where")).to_contain_text("Thời hạn giải quyết")
        expect(detail.locator("blockquote")).to_have_text(KHAI_SINH_TIME["quote"])
    assert tab.foreign_requests() == [] and tab.dialogs == [] and tab.errors == []


def test_widget_shows_streamed_text_then_the_authoritative_answer(tab, fake):
    expect = pytest.importorskip("playwright.sync_api").expect
    fake.state.release.clear()
    open_demo(tab)
    tab.w(".launcher").click()
    tab.ask("hold please")
    pending = tab.w(".msg.pending .bubble")
    expect(pending).to_contain_text("Bản nháp đang")  # first delta shown while the stream is open
    assert tab.w(".log").get_attribute("aria-busy") == "true"
    expect(tab.w(".send")).to_be_disabled()
    fake.state.release.set()
    answer = tab.wait_answers(1)
    expect(answer.locator(".bubble")).to_have_text("Câu trả lời cuối cùng, đã kiểm tra 1.")
    expect(tab.w(".msg.pending")).to_have_count(0)
    expect(tab.w(".send")).to_be_enabled()
    expect(tab.w("[role=status][aria-live=polite]").first).to_have_text("Trợ lý: Câu trả lời cuối cùng, đã kiểm tra.")


def test_widget_offers_to_ask_again_after_a_reload_cut_the_answer(tab, fake):
    expect = pytest.importorskip("playwright.sync_api").expect
    fake.state.release.clear()
    open_demo(tab)
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


def test_widget_clarify_option_asks_again_in_the_same_session(tab, backend):
    expect = pytest.importorskip("playwright.sync_api").expect
    open_demo(tab)
    tab.page.get_by_role("button", name=backend.questions["clarify"]).click()
    first = tab.wait_answers(1)
    options = first.locator(".opt")
    expect(options.first).to_be_visible()
    label = options.first.inner_text()
    tab.shot("clarify")
    options.first.click()
    expect(tab.w(".msg.user .bubble").last).to_have_text(label)
    tab.wait_answers(2)
    expect(first.locator(".opt").first).to_be_disabled()
    expect(first.locator(".opt.chosen")).to_have_text(label)
    if isinstance(backend, Fake):
        last_two = backend.state.chats[-2:]
        assert last_two[1]["message"] == label
        assert last_two[1]["session_id"] and last_two[1]["session_id"] == tab.page.evaluate(
            "() => JSON.parse(localStorage.getItem(Object.keys(localStorage)[0])).session_id"
        )
        assert "session_id" not in last_two[0]  # a fresh conversation starts without one


def test_widget_feedback_with_comment_reaches_the_server(tab, backend):
    expect = pytest.importorskip("playwright.sync_api").expect
    open_demo(tab)
    tab.page.get_by_role("button", name=backend.questions["english"]).click()
    answer = tab.wait_answers(1)
    down = answer.locator(".fb button[data-rating=down]")
    down.click()
    expect(down).to_have_attribute("aria-pressed", "true")
    expect(answer.locator(".fb button[data-rating=up]")).to_have_attribute("aria-pressed", "false")
    comment = answer.locator(".fb input")
    comment.fill("Thiếu địa chỉ nộp hồ sơ")
    tab.shot("feedback")
    comment.press("Enter")
    expect(answer.locator(".fb form")).to_have_count(0)
    expect(answer.locator(".fb .note")).to_have_text("Cảm ơn bạn đã góp ý.")
    message_id = tab.page.evaluate(
        "() => JSON.parse(localStorage.getItem(Object.keys(localStorage)[0])).messages.at(-1).message_id"
    )
    received = [f for f in backend.received_feedback() if f["message_id"] == message_id]
    assert [f["rating"] for f in received] == ["down", "down"]
    assert received[-1]["comment"] == "Thiếu địa chỉ nộp hồ sơ"


def test_widget_keeps_the_conversation_across_reloads_until_new_conversation(tab, backend):
    expect = pytest.importorskip("playwright.sync_api").expect
    open_demo(tab)
    tab.page.get_by_role("button", name=backend.questions["answer"]).click()
    tab.wait_answers(1).locator(".fb button[data-rating=up]").click()
    tab.page.reload()
    expect(tab.w(".panel")).to_be_visible()  # it was open: it stays open
    expect(tab.w(".msg.user .bubble")).to_have_text([backend.questions["answer"]])
    answer = tab.wait_answers(1)
    expect(answer.locator(".chip").first).to_be_visible()
    expect(answer.locator(".fb button[data-rating=up]")).to_have_attribute("aria-pressed", "true")
    tab.shot("reloaded")

    tab.w(".head .new").click()
    expect(tab.w(".msg.user")).to_have_count(0)
    expect(tab.w(".msg.welcome")).to_be_visible()
    tab.page.reload()
    expect(tab.w(".msg.user")).to_have_count(0)
    if isinstance(backend, Fake):
        tab.ask("marriage")
        tab.wait_answers(1)
        assert "session_id" not in backend.state.chats[-1]


def test_widget_keyboard_and_screen_reader_labels(tab, backend):
    expect = pytest.importorskip("playwright.sync_api").expect
    open_demo(tab)
    launcher = tab.w(".launcher")
    assert launcher.get_attribute("aria-expanded") == "false"
    launcher.focus()
    tab.page.keyboard.press("Enter")
    expect(tab.w(".panel")).to_be_visible()
    assert launcher.get_attribute("aria-expanded") == "true"
    focused = "() => document.querySelector('assistant-widget').shadowRoot.activeElement?.tagName"
    assert tab.page.evaluate(focused) == "TEXTAREA"
    expect(tab.page.get_by_role("dialog", name="Trợ lý thủ tục hành chính")).to_be_visible()
    expect(tab.page.get_by_role("textbox", name="Câu hỏi của bạn")).to_be_visible()
    expect(tab.page.get_by_role("button", name="Cuộc trò chuyện mới")).to_be_visible()

    tab.page.keyboard.type("dòng một")
    tab.page.keyboard.press("Shift+Enter")  # a new line, not a send
    tab.page.keyboard.type("dòng hai")
    assert tab.w("textarea").input_value() == "dòng một\ndòng hai"
    tab.w("textarea").fill(backend.questions["english"])
    tab.page.keyboard.press("Enter")
    tab.wait_answers(1)
    assert tab.w("textarea").input_value() == ""
    expect(tab.w("[role=status][aria-live=polite]").first).not_to_be_empty()
    assert tab.w(".log").get_attribute("role") == "log"

    tab.page.keyboard.press("Escape")
    expect(tab.w(".panel")).to_be_hidden()
    assert tab.page.evaluate(focused) == "BUTTON"
    assert launcher.get_attribute("aria-expanded") == "false"


def test_widget_fills_a_phone_screen(tab_factory, backend):
    expect = pytest.importorskip("playwright.sync_api").expect
    tab = open_demo(tab_factory(viewport=(375, 740)))
    tab.shot("phone-closed")
    tab.page.get_by_role("button", name=backend.questions["clarify"]).click()
    tab.wait_answers(1)
    tab.w(".panel").evaluate("(el) => Promise.all(el.getAnimations().map((a) => a.finished))")
    box = tab.w(".panel").bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 375, 740)
    expect(tab.w(".launcher")).to_be_hidden()
    tab.shot("phone")
    tab.page.keyboard.press("Escape")
    expect(tab.w(".launcher")).to_be_visible()


def test_widget_refusal_says_where_to_ask_instead(tab, fake):
    expect = pytest.importorskip("playwright.sync_api").expect
    open_demo(tab)
    tab.w(".launcher").click()
    tab.ask("thời tiết hôm nay thế nào")
    answer = tab.wait_answers(1)
    assert answer.get_attribute("data-behavior") == "refuse"
    expect(answer.locator(".hint")).to_contain_text("Bộ phận Một cửa")
    expect(answer.locator(".hint a")).to_have_attribute("href", "https://dichvucong.gov.vn")
    tab.shot("refuse")


# ----------------------------------------------------------------------------- tests: security and embedding


def test_widget_renders_hostile_server_text_inert(tab, fake):
    expect = pytest.importorskip("playwright.sync_api").expect
    open_demo(tab)
    tab.w(".launcher").click()
    tab.ask("xss")
    answer = tab.wait_answers(1)
    expect(answer.locator(".bubble")).to_contain_text(XSS_SCRIPT)
    expect(answer.locator(".bubble")).to_contain_text(XSS_IMG)
    expect(answer.locator(".chip .ct")).to_have_text(HOSTILE["title"])
    answer.locator(".chip").click()
    detail = answer.locator(".cite")
    expect(detail.locator("blockquote")).to_have_text(HOSTILE["quote"])
    expect(detail.locator(".where")).to_contain_text(XSS_IMG)
    href = detail.locator("a").get_attribute("href")  # javascript: URL replaced by the document link
    assert href == f"{fake.url}/v1/documents/9.999999"
    tab.ask("xss clarify")
    option = tab.wait_answers(2).locator(".opt")
    expect(option).to_have_text(f"Lựa chọn {XSS_IMG}")
    tab.shot("xss")

    counts = tab.page.evaluate(
        """() => {
        const root = document.querySelector('assistant-widget').shadowRoot;
        return {
          active: root.querySelectorAll('img, script, iframe, object, embed, [onerror], [onload]').length,
          pageImgs: document.querySelectorAll('img').length,
          pwned: window.__pwned === 1,
        };
      }"""
    )
    assert counts == {"active": 0, "pageImgs": 0, "pwned": False}
    assert tab.dialogs == [] and tab.errors == []


def test_widget_embedded_on_another_origin_is_isolated_and_sends_the_token(tab, fake, portal):
    expect = pytest.importorskip("playwright.sync_api").expect
    open_portal(tab, portal, attrs='data-lang="vi" data-token="tok-123" async')
    launcher = tab.w(".launcher")
    style = "(el) => { const s = getComputedStyle(el); return [s.color, s.backgroundColor, s.fontFamily, s.position]; }"
    color, background, font, position = launcher.evaluate(style)
    assert color == "rgb(255, 255, 255)" and background == "rgb(11, 79, 156)"
    assert "serif" != font and position == "fixed"  # the portal's !important rules do not reach inside
    page_p = tab.page.locator("p.launcher").evaluate(style)
    assert page_p[3] == "static"  # and the widget's rules do not reach out
    launcher.click()
    tab.ask("khai sinh")
    answer = tab.wait_answers(1)
    answer.locator(".fb button[data-rating=up]").click()
    expect(answer.locator(".fb .note")).to_have_text("Cảm ơn bạn đã góp ý.")
    tab.shot("portal")
    assert fake.state.chats[-1]["authorization"] == "Bearer tok-123"
    assert fake.state.feedback[-1]["authorization"] == "Bearer tok-123"
    assert tab.foreign_requests(allowed={urlsplit(portal[0]).netloc}) == []
    assert tab.errors == []


def test_widget_expired_token_tells_the_page_and_recovers_with_set_token(tab, fake, portal):
    expect = pytest.importorskip("playwright.sync_api").expect
    open_portal(tab, portal, attrs='data-lang="en" data-token="expired"', in_head=True)  # before <body> exists
    tab.page.evaluate("() => addEventListener('assistant-widget:unauthorized', e => (window.__unauth = e.detail.status))")
    expect(tab.w(".launcher")).to_have_text("Ask about procedures")
    tab.w(".launcher").click()
    tab.ask("marriage")
    error = tab.w(".msg.error")
    expect(error).to_contain_text("Your session has expired")
    assert tab.page.evaluate("() => window.__unauth") == 401
    tab.page.evaluate("() => AssistantWidget.setToken('fresh')")
    error.locator(".retry").click()
    answer = tab.wait_answers(1)
    expect(answer.locator(".bubble")).to_contain_text("free of charge")
    expect(answer.locator(".fb button[data-rating=up]")).to_have_attribute("aria-label", "Helpful")
    assert fake.state.chats[-1]["authorization"] == "Bearer fresh"


def test_widget_stream_error_offers_retry(tab, fake):
    expect = pytest.importorskip("playwright.sync_api").expect
    open_demo(tab)
    tab.w(".launcher").click()
    tab.ask("một câu không có trong kịch bản")
    error = tab.w(".msg.error")
    expect(error).to_contain_text("Máy chủ gặp sự cố")
    expect(error.locator(".retry")).to_be_visible()
    expect(tab.w(".send")).to_be_enabled()
