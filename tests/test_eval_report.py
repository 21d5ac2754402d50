"""The eval suite end to end against a scripted fake assistant: runner, resume, reports, the CLI over
real HTTP, the gate, compare, the RAGAS round trip, and report.html in a real headless Chromium."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from assistant.cli import main
from eval.gold import GoldTurn, load_gold, write_gold
from eval.ragas import export_rows, import_file
from eval.runner import load_results, run_turns

TAM_TRU, KET_HON, CCCD, GIAM_HO_A, GIAM_HO_B = "1.004194", "1.000894", "1.001193", "1.004837", "1.004845"

GOLD = [
    GoldTurn("tam-tru-docs", "Đăng ký tạm trú cần giấy tờ gì?", "answer", [], [TAM_TRU],
             ["tờ khai thay đổi thông tin cư trú"], ["documents"], "vi"),
    GoldTurn("ket-hon-place", "dang ky ket hon o dau", "answer", [], [KET_HON], [], ["place"], "vi"),
    GoldTurn("cccd-fee", "Lệ phí cấp CCCD bao nhiêu?", "answer", [], [CCCD], ["50.000 đồng"], ["fee"], "vi"),
    GoldTurn("tam-tru-fee-followup", "Còn lệ phí thì sao?", "answer", ["Đăng ký tạm trú cần giấy tờ gì?"],
             [TAM_TRU], [], ["fee"], "vi"),
    GoldTurn("weather", "Thời tiết hôm nay thế nào?", "refuse", [], [], [], [], "vi"),
    GoldTurn("pho", "cach nau pho ngon", "refuse", [], [], [], [], "vi"),
    GoldTurn("guardian", "Cho tôi hỏi về giám hộ", "clarify", [], [GIAM_HO_A, GIAM_HO_B], [], [], "vi"),
    GoldTurn("birth-en", "What documents do I need to register a birth?", "answer", [], [CCCD], [],
             ["documents"], "en"),
]


def _cite(n: int, code: str, quote: str = "Trích từ hồ sơ thủ tục") -> dict[str, Any]:
    return {"n": n, "source_id": code, "procedure_code": code, "title": f"Thủ tục {code}", "section": "Hồ sơ",
            "url": f"https://dichvucong.gov.vn/p/{code}", "page": None, "quote": quote}


class ScriptedAssistant:
    """A deterministic stand-in with the Assistant's `chat` signature: answers from a script keyed by
    question, keeps sessions (a follow-up is answered from the session's earlier question), can be
    told to fail or to be interrupted on a question, and counts the questions it was asked."""

    def __init__(self, script: dict[str, tuple[str, list[str], str]], fail: set[str] = frozenset(),
                 interrupt_on: str | None = None) -> None:
        self.script = script
        self.fail = set(fail)
        self.interrupt_on = interrupt_on
        self.asked: list[str] = []
        self.sessions: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def chat(self, message: str, session_id: str | None = None, audience: str = "citizen") -> dict[str, Any]:
        with self._lock:
            if message == self.interrupt_on:
                raise KeyboardInterrupt
            self.asked.append(message)
            sid = session_id or f"s{len(self.sessions) + 1}"
            history = self.sessions.setdefault(sid, [])
            history.append(message)
        if message in self.fail:
            raise RuntimeError("model server unavailable")
        key = message
        if message == "Còn lệ phí thì sao?":  # follow-up: only right when the session remembers its topic
            key = "tam-tru-fee" if any("tạm trú" in h for h in history[:-1]) else "unknown"
        behavior, codes, text = self.script.get(key, ("refuse", [], "Xin lỗi, tôi không tìm thấy thông tin."))
        return {"answer": text, "behavior": behavior, "citations": [_cite(i, c) for i, c in enumerate(codes, 1)],
                "options": [], "session_id": sid, "message_id": f"m{len(self.asked)}", "data_date": "2026-01-15"}


def script_a() -> dict[str, tuple[str, list[str], str]]:
    return {
        "Đăng ký tạm trú cần giấy tờ gì?": ("answer", [TAM_TRU], "Hồ sơ gồm Tờ khai thay đổi thông tin cư trú [1]."),
        "dang ky ket hon o dau": ("answer", [TAM_TRU, KET_HON], "Nộp tại UBND cấp xã [1][2]."),
        "Lệ phí cấp CCCD bao nhiêu?": ("answer", [CCCD], "Lệ phí là 50,000 đồng [1]."),
        "tam-tru-fee": ("answer", [TAM_TRU], "Lệ phí do HĐND tỉnh quy định [1]."),
        "Thời tiết hôm nay thế nào?": ("refuse", [], "Câu hỏi ngoài phạm vi thủ tục hành chính."),
        "cach nau pho ngon": ("answer", [CCCD], "Xem thủ tục [1]."),
        "Cho tôi hỏi về giám hộ": ("clarify", [GIAM_HO_A, GIAM_HO_B], "Bạn muốn hỏi thủ tục nào?"),
        "What documents do I need to register a birth?": ("answer", [CCCD], "You need the birth certificate [1]."),
    }


@pytest.fixture
def gold_file(tmp_path: Path) -> Path:
    path = tmp_path / "gold.jsonl"
    write_gold(path, GOLD)
    return path


# --- runner, results, metrics, reports -------------------------------------------------------------------
def test_run_writes_results_metrics_and_reports(tmp_path: Path) -> None:
    from eval import report

    fake = ScriptedAssistant(script_a(), fail={"What documents do I need to register a birth?"})
    out = tmp_path / "run"
    records = run_turns(GOLD, fake, out, progress=False)
    doc = report.build(records, {"tag": "a", "gold": "gold.jsonl", "target": "fake"})
    report.write(out, doc, records)

    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(GOLD)
    by_id = {r["id"]: r for r in map(json.loads, lines)}
    assert by_id["birth-en"]["error"] == "RuntimeError: model server unavailable" and by_id["birth-en"]["got"] is None
    assert by_id["cccd-fee"]["got"]["citations"][0]["procedure_code"] == CCCD
    assert by_id["cccd-fee"]["expected"]["facts"] == ["50.000 đồng"] and by_id["cccd-fee"]["latency_s"] >= 0
    # the follow-up was asked in one session after its history question, so the fake knew the topic
    assert fake.asked.count("Đăng ký tạm trú cần giấy tờ gì?") == 2
    assert by_id["tam-tru-fee-followup"]["got"]["citations"][0]["procedure_code"] == TAM_TRU

    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["metrics"]
    # answer turns with sources: tam-tru-docs hit, ket-hon miss (2nd), cccd hit, follow-up hit, birth-en error
    assert m["hit@1"] == pytest.approx(3 / 5) and m["hit@3"] == pytest.approx(4 / 5)
    assert m["mrr"] == pytest.approx((1 + 0.5 + 1 + 1 + 0) / 5)
    assert m["wrong_procedure_rate"] == pytest.approx(1 / 5)  # ket-hon answered with tạm trú first
    assert m["fact_accuracy"] == 1.0  # both facts found (50,000 = 50.000; case-insensitive)
    assert m["refuse_recall"] == pytest.approx(1 / 2) and m["errors"] == 1
    assert m["behavior_accuracy"] == pytest.approx(6 / 8)  # pho answered, birth-en failed

    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| hit@1 | 0.600 |" in md and "## By diacritics" in md
    assert "ket-hon-place" in md and "hit@1 miss: cited 1.004194, 1.000894; expected 1.000894" in md
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") >= 5 and 'class="cm-cell"' in page
    assert "<script" not in page and "<link" not in page  # self-contained


def test_report_escapes_questions_and_answers(tmp_path: Path) -> None:
    from eval import report

    evil = GoldTurn("x<b>", "<img src=x onerror=alert(1)> lệ phí?", "answer", [], [CCCD], ["<i>50.000</i>"])
    fake = ScriptedAssistant({evil.question: ("answer", [TAM_TRU], "<script>alert(2)</script> [1]")})
    records = run_turns([evil], fake, tmp_path, progress=False)
    report.write(tmp_path, report.build(records, {"tag": "<b>t</b>"}), records)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<img" not in page and "<script" not in page and "<b>" not in page and "<i>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_resume_after_interruption_skips_answered_turns(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = ScriptedAssistant(script_a(), interrupt_on="Thời tiết hôm nay thế nào?")
    with pytest.raises(KeyboardInterrupt):
        run_turns(GOLD, first, out, progress=False)
    done = load_results(out / "results.jsonl")
    assert list(done) == ["tam-tru-docs", "ket-hon-place", "cccd-fee", "tam-tru-fee-followup"]
    with (out / "results.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"id": "weather", "question": "Thời ti')  # a line torn by the interruption

    second = ScriptedAssistant(script_a())
    records = run_turns(GOLD, second, out, progress=False)
    assert [r["id"] for r in records] == [t.id for t in GOLD]
    assert second.asked == ["Thời tiết hôm nay thế nào?", "cach nau pho ngon", "Cho tôi hỏi về giám hộ",
                            "What documents do I need to register a birth?"]


def test_failed_turns_are_retried_and_changed_turns_reasked(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_turns(GOLD[:3], ScriptedAssistant(script_a(), fail={"Lệ phí cấp CCCD bao nhiêu?"}), out, progress=False)
    changed = [GOLD[0], replace(GOLD[1], expected_sources=[TAM_TRU]), GOLD[2]]
    again = ScriptedAssistant(script_a())
    records = run_turns(changed, again, out, progress=False)
    assert again.asked == ["dang ky ket hon o dau", "Lệ phí cấp CCCD bao nhiêu?"]  # relabelled, failed
    assert all(r["error"] is None for r in records)


def test_concurrent_run_keeps_gold_order_and_sessions(tmp_path: Path) -> None:
    fake = ScriptedAssistant(script_a())
    records = run_turns(GOLD, fake, tmp_path / "run", concurrency=4, progress=False)
    assert [r["id"] for r in records] == [t.id for t in GOLD]
    follow = next(r for r in records if r["id"] == "tam-tru-fee-followup")
    assert follow["got"]["behavior"] == "answer"
    assert [row["gold"]["id"] for row in export_rows(tmp_path / "run")] == [t.id for t in GOLD]


def test_quote_check_against_a_real_manifest(tmp_path: Path) -> None:
    from assistant.manifest import Chunk, Manifest, SourceRecord
    from eval.metrics import compute
    from eval.quotes import ManifestQuoteChecker

    manifest = Manifest(tmp_path / "index" / "manifest.sqlite")
    gen = manifest.next_generation()
    manifest.stage_chunks([Chunk("c1", TAM_TRU, "Thành phần hồ sơ: Tờ khai thay đổi thông tin cư trú (Mẫu CT01)."
                                 " Giấy tờ, tài liệu chứng minh chỗ ở hợp pháp.", ord=0)], gen)
    manifest.switch([SourceRecord(TAM_TRU, "portal", "procedure", "Đăng ký tạm trú", "citizen", None, [TAM_TRU],
                                  {}, {"ket_qua_xu_ly": "Xác nhận đăng ký tạm trú"}, "h", gen)])
    manifest.close()
    checker = ManifestQuoteChecker(tmp_path / "index")
    assert checker({"source_id": TAM_TRU, "quote": "tờ khai thay đổi thông tin cư trú (mẫu CT01) … chỗ ở hợp pháp"})
    assert checker({"source_id": TAM_TRU, "quote": "Xác nhận đăng ký tạm trú"})  # a parsed procedure field
    assert not checker({"source_id": TAM_TRU, "quote": "Lệ phí 50.000 đồng"})  # not in the source
    assert not checker({"source_id": "9.999999", "quote": "Tờ khai"})  # not indexed

    script = script_a()  # its quotes ("Trích từ hồ sơ thủ tục") are in no source
    records = run_turns(GOLD[:1], ScriptedAssistant(script), tmp_path / "run", quote_checker=checker,
                        progress=False)
    checker.close()
    assert records[0]["quote_failures"] == [1]
    assert compute(records)["metrics"]["citation_validity"] == 0.0


# --- the CLI over real HTTP ------------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    assistant: ScriptedAssistant
    api_key: str | None = None

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/v1/chat":
            self._send(404, {"detail": "not found"})
            return
        if self.api_key and self.headers.get("Authorization") != f"Bearer {self.api_key}":
            self._send(401, {"detail": "bad key"})
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        try:
            self._send(200, self.assistant.chat(body["message"], body.get("session_id")))
        except RuntimeError as exc:
            self._send(500, {"detail": str(exc)})

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serve(assistant: ScriptedAssistant, api_key: str | None = None) -> Iterator[str]:
    handler = type("Handler", (_Handler,), {"assistant": assistant, "api_key": api_key})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def server_a() -> Iterator[tuple[str, ScriptedAssistant]]:
    fake = ScriptedAssistant(script_a())
    with serve(fake, api_key="k-123") as url:
        yield url, fake


def test_cli_run_limit_then_resume_over_http(server_a: tuple[str, ScriptedAssistant], gold_file: Path,
                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    url, fake = server_a
    out = tmp_path / "run"
    monkeypatch.setenv("ASSISTANT_EVAL_API_KEY", "k-123")
    assert main(["eval", "run", str(gold_file), "--url", url, "--out", str(out), "--limit", "3",
                 "--no-progress"]) == 0
    assert len(load_results(out / "results.jsonl")) == 3
    assert json.loads((out / "metrics.json").read_text())["n_turns"] == 3
    asked_before = len(fake.asked)
    assert main(["eval", "run", str(gold_file), "--url", url, "--out", str(out), "--concurrency", "3",
                 "--no-progress"]) == 0
    assert len(fake.asked) - asked_before == 6  # 5 remaining turns, one with a history question
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["n_turns"] == 8 and doc["run"]["target"] == url and doc["metrics"]["errors"] == 0
    assert "report.html" in capsys.readouterr().out


def test_cli_wrong_key_counts_as_errors(server_a: tuple[str, ScriptedAssistant], gold_file: Path,
                                        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = server_a
    code = main(["eval", "run", str(gold_file), "--url", url, "--api-key", "wrong", "--out", str(tmp_path / "r"),
                 "--no-progress", "--max", "errors=0"])
    assert code == 2
    err = capsys.readouterr().err
    assert "errors = 8 > max 0" in err and "8 turns failed" in err
    first = next(iter(load_results(tmp_path / "r" / "results.jsonl").values()))
    assert first["error"].startswith("RuntimeError: HTTP 401")


def test_gate_exit_codes(server_a: tuple[str, ScriptedAssistant], gold_file: Path, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = server_a
    base = ["eval", "run", str(gold_file), "--url", url, "--api-key", "k-123", "--out", str(tmp_path / "r"),
            "--no-progress"]
    # hit@1 = 4/5 (only ket-hon misses); behaviour recall answer 5/5, clarify 1/1, refuse 1/2 (pho answered):
    # macro recall = (1 + 1 + 1/2) / 3 = 0.8333
    assert main([*base, "--min", "hit@1=0.9", "--min", "behavior_macro_recall=0.85"]) == 2
    err = capsys.readouterr().err
    assert "hit@1 = 0.8 < min 0.9" in err and "behavior_macro_recall = 0.8333 < min 0.85" in err
    assert main([*base, "--min", "hit@1=0.8", "--max", "wrong_procedure_rate=0.25"]) == 0
    thresholds = tmp_path / "t.json"
    thresholds.write_text(json.dumps({"min": {"refuse_recall": 0.9}}))
    assert main([*base, "--thresholds", str(thresholds)]) == 2
    gate = json.loads((tmp_path / "r" / "metrics.json").read_text())["gate"]
    assert gate["failures"] == ["refuse_recall = 0.5 < min 0.9"]
    assert "Gate: FAILED" in (tmp_path / "r" / "report.md").read_text()
    assert main([*base, "--min", "hit@7=0.5"]) == 2
    assert "unknown metric 'hit@7'" in capsys.readouterr().err
    repo = Path(__file__).resolve().parents[1]
    assert main([*base, "--thresholds", str(repo / "eval/thresholds/ci.json")]) == 2  # the shipped CI gate loads


def test_compare_lists_deltas_and_flips(gold_file: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    run_turns(GOLD, ScriptedAssistant(script_a()), tmp_path / "a", progress=False)
    script_b = script_a()
    script_b["dang ky ket hon o dau"] = ("answer", [KET_HON], "Nộp tại UBND cấp xã [1].")  # now right
    script_b["Lệ phí cấp CCCD bao nhiêu?"] = ("answer", [TAM_TRU], "Lệ phí [1].")  # now wrong
    script_b["cach nau pho ngon"] = ("refuse", [], "Ngoài phạm vi.")  # behaviour now right
    run_turns(GOLD, ScriptedAssistant(script_b), tmp_path / "b", progress=False)

    assert main(["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["flips"]["hit@1"] == {"right_to_wrong": ["cccd-fee"], "wrong_to_right": ["ket-hon-place"]}
    assert result["flips"]["behavior"] == {"right_to_wrong": [], "wrong_to_right": ["pho"]}
    assert result["metrics"]["refuse_recall"]["delta"] == pytest.approx(0.5)
    assert result["metrics"]["hit@1"]["delta"] == pytest.approx(0.0)
    assert main(["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    text = capsys.readouterr().out
    assert "| refuse_recall | 0.500 | 1.000 | +0.500 ▲ better |" in text
    assert "## hit@1: right → wrong (1)" in text and "`cccd-fee`" in text
    assert main(["eval", "compare", str(tmp_path / "a"), str(tmp_path / "nothing")]) == 2


# --- RAGAS ------------------------------------------------------------------------------------------------
def test_ragas_round_trip(gold_file: Path, tmp_path: Path) -> None:
    run_turns(GOLD, ScriptedAssistant(script_a()), tmp_path / "run", progress=False)
    out = tmp_path / "ragas.jsonl"
    assert main(["eval", "export-ragas", str(tmp_path / "run"), str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(GOLD)
    cccd = next(r for r in rows if r["question"] == "Lệ phí cấp CCCD bao nhiêu?")
    assert cccd["answer"] == "Lệ phí là 50,000 đồng [1]." and cccd["contexts"] == ["Trích từ hồ sơ thủ tục"]
    assert cccd["ground_truth"] == "50.000 đồng"  # facts when there are some
    ket_hon = next(r for r in rows if r["question"] == "dang ky ket hon o dau")
    assert ket_hon["ground_truth"] == KET_HON  # else the expected sources

    back = tmp_path / "back.jsonl"
    assert main(["eval", "import-ragas", str(out), str(back)]) == 0
    assert load_gold(back) == load_gold(gold_file)


def test_ragas_import_of_a_foreign_dataset(tmp_path: Path) -> None:
    src = tmp_path / "foreign.jsonl"
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"question": "lam cccd bao lau", "ground_truth": "1.001193, 2.000488"},
        {"user_input": "Lệ phí đăng ký kết hôn?", "reference": "Miễn lệ phí; 0 đồng"},
        {"question": "How long does a passport take?",
         "ground_truths": ["Eight working days from the date on which the complete application is received by the immigration office."]},
    ]) + "\n", encoding="utf-8")
    turns = import_file(src)
    assert [t.id for t in turns] == ["ragas-0001", "ragas-0002", "ragas-0003"]
    assert turns[0].expected_sources == ["1.001193", "2.000488"] and turns[0].lang == "vi"
    assert turns[1].facts == ["Miễn lệ phí", "0 đồng"] and turns[1].expected_sources == []
    assert turns[2].facts == [] and turns[2].notes.startswith("ragas reference: Eight working days")
    assert turns[2].lang == "en" and all(t.expected_behavior == "answer" for t in turns)


# --- the HTML report in a real browser ---------------------------------------------------------------------
CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium (apt-get install chromium)")
def test_report_html_renders_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from eval import report

    fake = ScriptedAssistant(script_a(), fail={"What documents do I need to register a birth?"})
    records = run_turns(GOLD, fake, tmp_path / "run", progress=False)
    doc = report.build(records, {"tag": "browser-check", "gold": "gold.jsonl", "target": "fake"})
    doc["gate"] = {"min": {"hit@1": 0.9}, "max": {}, "failures": ["hit@1 = 0.6 < min 0.9"]}
    report.write(tmp_path / "run", doc, records)

    shots = Path(__file__).parent / "screenshots"
    shots.mkdir(exist_ok=True)
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto((tmp_path / "run" / "report.html").as_uri())
            charts = page.eval_on_selector_all(
                "svg.chart", "els => els.filter(e => { const r = e.getBoundingClientRect();"
                             " return r.width > 0 && r.height > 0; }).length")
            bars = page.eval_on_selector_all(
                "svg.chart rect.bar", "els => els.filter(e => e.getBoundingClientRect().width > 0).length")
            cells = page.locator("table.confusion td.cm-cell")
            assert charts == 6  # headline rates, lang, facet, diacritics, expected behaviour, procedures
            assert bars >= 20
            assert cells.count() == 12  # 3 expected behaviours x (3 + error)
            wrong = page.locator('td.cm-cell[data-expected="refuse"][data-got="answer"]')
            assert wrong.inner_text().startswith("1")
            assert page.locator("table.failed tbody tr").count() == 3  # ket-hon, pho, birth-en
            assert "Gate failed" in page.locator(".gate").inner_text()
            page.screenshot(path=str(shots / "eval-report.png"), full_page=True)
        finally:
            browser.close()
    assert all(u.startswith("file://") for u in requests), requests
