"""The review console driven in a real headless Chromium as an official, against the real app on
corpus/ with the default embedder (the one the routing models read), while a citizen uses the chat
widget on the demo page in another browser context.

Screenshots land in tests/screenshots/console-*.png (gitignored; one is in docs/ for the README).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import pytest

from assistant.api.app import create_app
from assistant.auth import Authenticator, Caller, hash_key
from assistant.settings import Settings
from tests.conftest import LiveServer
from tests.test_widget import SHOTS, Tab, browser, expect, tab_factory  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OFFICIAL_KEY = "console-browser-official-key"
SECRET = "console-secret"
BIRTH = "1.001193"
NEWBORN = "nha minh moi co em be, phai lam giay to gi cho chau"  # refused on corpus/: it never says 'khai sinh'
PARAPHRASE = "Con tôi mới chào đời tuần trước, cần đi làm giấy gì cho cháu?"
NOISE = [("Hàng xóm hát karaoke ồn quá thì báo ai?", "refuse"), ("hang xom hat karaoke on qua thi bao ai a", "refuse"),
         ("thẻ căn cước", "clarify")]
HOSTILE = '<img src=x onerror="window.__pwned=1"> nuôi chim cảnh có cần xin phép không'


@pytest.fixture(scope="module")
def server(corpus_data: Path, tmp_path_factory: pytest.TempPathFactory):
    data = Path(shutil.copytree(corpus_data, tmp_path_factory.mktemp("console") / "var"))
    settings = Settings(data_dir=data, api_keys=f"official:{hash_key(OFFICIAL_KEY)}", token_secret=SECRET,
                        today="2026-11-24")
    with LiveServer(create_app(settings)) as live:
        yield live.url


def token(server: str) -> str:
    r = httpx.post(server + "/v1/tokens", headers={"Authorization": f"Bearer {OFFICIAL_KEY}"})
    r.raise_for_status()
    return r.json()["token"]


def citizen(tab_factory, server: str) -> Tab:
    tab = tab_factory()
    tab.server = server
    tab.page.goto(server + "/")
    tab.w(".launcher").click()
    return tab


def asks(tab: Tab, question: str, n: int):
    tab.ask(question)
    return tab.wait_answers(n)


def shot(tab: Tab, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    tab.page.screenshot(path=str(SHOTS / f"console-{name}.png"), full_page=True)


def console(tab_factory, server: str, credential: str | None) -> Tab:
    tab = tab_factory(viewport=(1280, 900))
    tab.server = server
    tab.page.goto(server + "/console" + (f"#token={credential}" if credential else ""))
    return tab


def test_an_official_teaches_a_refused_question_and_citizens_get_the_procedure_until_undone(tab_factory, server):
    person = citizen(tab_factory, server)
    assert asks(person, NEWBORN, 1).get_attribute("data-behavior") == "refuse"
    for question, behavior in NOISE:  # what else citizens asked
        person.w(".head .new").click()
        assert asks(person, question, 1).get_attribute("data-behavior") == behavior, question

    official = console(tab_factory, server, token(server))
    page = official.page
    assert "#token" not in page.url  # the token leaves the address bar at once
    noisy = page.locator("#items .item", has=page.locator(".q", has_text="karaoke"))
    expect(noisy.locator(".badge.refuse")).to_have_text("Bị từ chối ×2")  # two wordings, one item
    expect(noisy.locator(".badge", has_text="Hỏi 2 lần")).to_have_count(1)
    expect(page.locator("#items .item", has=page.locator(".badge.clarify"))).to_have_count(1)
    item = page.locator("#items .item", has=page.locator(".q", has_text=NEWBORN))
    expect(item).to_have_count(1)
    expect(item.locator(".badge.refuse")).to_have_text("Bị từ chối")
    item.locator("details.given summary").click()
    expect(item.locator(".answer")).to_contain_text("dichvucong.gov.vn")  # the answer that was given
    shot(official, "queue")

    item.locator(".open-teach").click()
    search = item.locator(".teach input[type=search]")
    search.fill("")
    search.press_sequentially("khai sinh", delay=30)  # the procedures, searched as the official types
    found = item.locator(".result", has_text="Đăng ký khai sinh")
    expect(found.first).to_be_visible()
    found.first.click()
    expect(found.first).to_have_attribute("aria-pressed", "true")
    expect(item.locator(".pick")).to_be_enabled()
    shot(official, "teach")
    item.locator(".pick").click()

    taught = page.locator("#taught .item")
    expect(taught).to_have_count(1)
    expect(taught.locator(".taught-q")).to_have_text(NEWBORN)
    expect(taught.locator(".taught-to")).to_contain_text(f"Đăng ký khai sinh ({BIRTH})")
    expect(taught.locator(".taught-by")).to_contain_text("official:")
    expect(page.locator("#live")).to_contain_text("Đã dạy trợ lý")
    expect(page.locator("#items .item", has=page.locator(".q", has_text=NEWBORN))).to_have_count(0)
    page.locator("#audit").locator("xpath=..").locator("summary").click()
    expect(page.locator("#audit li").first).to_contain_text("dạy «" + NEWBORN + "»")
    shot(official, "taught")

    later = citizen(tab_factory, server)  # the next citizen, another conversation
    answer = asks(later, NEWBORN, 1)
    assert answer.get_attribute("data-behavior") == "answer"
    expect(answer.locator(".bubble")).to_contain_text(f"({BIRTH})")
    expect(answer.locator(".bubble")).not_to_contain_text(NEWBORN)  # the example routes; it is never quoted
    later.w(".head .new").click()
    answer = asks(later, PARAPHRASE, 1)
    expect(answer.locator(".bubble")).to_contain_text(f"({BIRTH})")
    later.page.screenshot(path=str(SHOTS / "console-citizen-after-teaching.png"))

    taught.locator(".undo").click()
    expect(page.locator("#taught .empty")).to_have_text("Chưa dạy câu hỏi nào.")
    expect(page.locator("#live")).to_contain_text("Đã hoàn tác")
    expect(page.locator("#items .item", has=page.locator(".q", has_text=NEWBORN))).to_have_count(1)
    later.w(".head .new").click()
    assert asks(later, NEWBORN, 1).get_attribute("data-behavior") == "refuse"
    assert official.errors == [] and official.dialogs == [] and person.errors == []
    assert official.foreign_requests() == []


def test_a_citizen_cannot_open_the_console(tab_factory, server):
    tab = console(tab_factory, server, None)
    page = tab.page
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    assert not [u for u in tab.requests if "/v1/" in u]  # nothing asked without a credential
    assert page.evaluate("() => fetch('/v1/review').then((r) => r.status)") == 403
    page.locator("#cred").fill("t.forged.token")
    page.locator("#signin-form button").click()
    expect(page.locator("#signin-error")).to_contain_text("không hợp lệ hoặc đã hết hạn")
    expect(page.locator("#app")).to_be_hidden()
    shot(tab, "signin-refused")

    stale, _ = Authenticator(f"official:{hash_key(OFFICIAL_KEY)}", SECRET, -60).issue_token(
        Caller(role="official", key_id=hash_key(OFFICIAL_KEY)[:12]))  # a portal's token from an hour ago
    expired = console(tab_factory, server, stale)
    expect(expired.page.locator("#signin-error")).to_contain_text("token expired")
    expect(expired.page.locator("#app")).to_be_hidden()
    assert "#token" not in expired.page.url


def test_the_console_shows_hostile_questions_as_text(tab_factory, server):
    person = citizen(tab_factory, server)
    assert asks(person, HOSTILE, 1).get_attribute("data-behavior") == "refuse"
    official = console(tab_factory, server, None)
    page = official.page
    page.locator("#cred").fill(OFFICIAL_KEY)  # an API key typed into the sign-in form
    page.locator("#signin-form button").click()
    item = page.locator("#items .item", has=page.locator(".q", has_text="nuôi chim cảnh"))
    expect(item.locator(".q")).to_have_text(re.compile(re.escape('<img src=x onerror="window.__pwned=1">')))
    found = page.evaluate("() => ({imgs: document.querySelectorAll('img, script:not([src])').length, "
                          "pwned: window.__pwned === 1})")
    assert found == {"imgs": 0, "pwned": False} and official.dialogs == [] and official.errors == []
