"""The eval metrics on hand-made answers, with every expected number worked out in the comments."""

from __future__ import annotations

from typing import Any

import pytest

from eval.gate import Thresholds, failures, load_thresholds
from eval.metrics import (
    cited_codes, citation_markers, citations_valid, compute, fact_found, hit_at_k, macro_recall,
    normalize_fact_text, percentile, reciprocal_rank, score_turn,
)

X, Y, Z, W, V, Q = "1.004194", "1.000894", "1.004837", "1.004845", "2.000488", "1.001193"


def cite(n: int, code: str | None, quote: str = "trích dẫn", source_id: str | None = None) -> dict[str, Any]:
    return {"n": n, "source_id": source_id or code, "procedure_code": code, "title": "t", "section": None,
            "url": None, "page": None, "quote": quote}


def record(rid: str, question: str, behavior: str, sources: list[str], got: dict[str, Any] | None, *,
           facts: list[str] | None = None, facets: list[str] | None = None, lang: str = "vi",
           latency: float | None = None, error: str | None = None) -> dict[str, Any]:
    return {"id": rid, "question": question, "history": [],
            "expected": {"expected_sources": sources, "expected_behavior": behavior, "facts": facts or [],
                         "facets": facets or [], "lang": lang},
            "got": got, "latency_s": latency, "error": error, "quote_failures": None}


def answer(text: str, behavior: str, citations: list[dict[str, Any]], length: int) -> dict[str, Any]:
    """An answer JSON whose text is padded with dots to exactly `length` characters."""
    return {"answer": text.ljust(length, "."), "behavior": behavior, "citations": citations, "options": [],
            "session_id": "s", "message_id": "m", "data_date": "2026-01-01"}


# --- small functions ------------------------------------------------------------------------------------
def test_cited_codes_use_procedure_code_else_source_id_in_order_without_repeats() -> None:
    citations = [cite(1, Y), cite(2, None, source_id="doc-luat-cu-tru"), cite(3, X, source_id="doc-handbook"),
                 cite(4, Y)]
    # 1 -> Y; 2 has no procedure_code -> its source_id; 3 counts for X, not for its document; 4 repeats Y
    assert cited_codes(citations) == [Y, "doc-luat-cu-tru", X]


def test_hit_at_k_and_reciprocal_rank() -> None:
    codes = [Y, "doc-1", X]
    assert not hit_at_k(codes, [X], 1)
    assert not hit_at_k(codes, [X], 2)
    assert hit_at_k(codes, [X], 3)
    assert hit_at_k(codes, [Z, Y], 1)  # any one expected code is a hit
    assert reciprocal_rank(codes, [X]) == pytest.approx(1 / 3)
    assert reciprocal_rank(codes, [V]) == 0.0
    assert reciprocal_rank([], [X]) == 0.0


@pytest.mark.parametrize("a, b", [
    ("Lệ phí 50.000 Đồng", "lệ phí 50,000 đồng"),
    ("50000   đồng", "50.000 đồng"),
    ("1.250.000 đ", "1250000 đ"),
    ("05 ngày làm việc", "5 ngày làm việc"),
    ("Ca\u0300i đặt", "Cài đặt"),  # decomposed (NFD) vs composed
])
def test_fact_normalisation_makes_equivalent_spellings_equal(a: str, b: str) -> None:
    assert normalize_fact_text(a) == normalize_fact_text(b)


def test_fact_normalisation_keeps_codes_and_decimals() -> None:
    assert normalize_fact_text("1.001193") == "1.001193"  # a procedure code is not a thousands number
    assert normalize_fact_text("0,5 ha") == "0,5 ha"
    assert normalize_fact_text("năm 2005") == "năm 2005"


def test_fact_found_respects_word_and_number_boundaries() -> None:
    assert fact_found("50.000 đồng", "Lệ phí: 50,000 Đồng/lần [1].")
    assert fact_found("5 ngày", "Thời hạn: 05 ngày làm việc")
    assert not fact_found("5 ngày", "Thời hạn: 15 ngày làm việc")  # 5 inside 15 does not count
    assert not fact_found("tờ khai", "tờ khaii")
    assert fact_found("Tờ khai CT01", "nộp tờ khai ct01 [1]")


def test_citation_markers_and_validity() -> None:
    assert citation_markers("A [1], B [2, 3] and [Điều 5] [x]") == [1, 2, 3]
    ok = answer("Hồ sơ [1] và [2].", "answer", [cite(1, X), cite(2, Y)], 20)
    assert citations_valid(ok)
    assert not citations_valid(ok, quote_failures=[2])  # a quote not found in its source
    dangling = answer("Hồ sơ [3].", "answer", [cite(1, X)], 10)
    assert not citations_valid(dangling)
    empty_quote = answer("Hồ sơ [1].", "answer", [cite(1, X, quote="  ")], 10)
    assert not citations_valid(empty_quote)
    assert citations_valid(answer("Không có thông tin.", "refuse", [], 5))  # nothing to resolve


def test_percentile_interpolates_between_ranks() -> None:
    values = [100, 200, 300, 400, 500, 600, 700]
    assert percentile(values, 0.5) == 400  # middle of 7
    assert percentile(values, 0.95) == pytest.approx(670)  # position 6 * .95 = 5.7: 600 + .7 * 100
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([], 0.5) is None


def test_macro_recall_skips_behaviours_without_support() -> None:
    table = {"answer": {"answer": 3, "clarify": 0, "refuse": 1, "error": 0},
             "clarify": {"answer": 0, "clarify": 0, "refuse": 0, "error": 0},
             "refuse": {"answer": 1, "clarify": 0, "refuse": 1, "error": 0}}
    assert macro_recall(table) == pytest.approx((3 / 4 + 1 / 2) / 2)  # clarify has no turn: left out


# --- a small run, every aggregate by hand -------------------------------------------------------------
def eight_turns() -> list[dict[str, Any]]:
    return [
        # A: right procedure first, both facts present, valid citations
        record("A", "Đăng ký tạm trú cần giấy tờ gì?", "answer", [X],
               answer("Giấy tờ gồm tờ khai [1]. Lệ phí 50.000 đồng [2].", "answer", [cite(1, X), cite(2, Y)], 100),
               facts=["50,000 đồng", "tờ khai"], facets=["documents", "fee"], latency=1.0),
        # B: wrong procedure first, X third (after a law document), fact '05 ngày' absent ('15 ngày'), empty quote
        record("B", "dang ky tam tru bao lau", "answer", [X],
               answer("Trong 15 ngày [1].", "answer",
                      [cite(1, Y), cite(2, None, source_id="doc-1"), cite(3, X, quote="")], 200),
               facts=["05 ngày"], facets=["time"], latency=2.0),
        # C: English, asks to clarify but cites one expected code first; marker [3] resolves to nothing
        record("C", "guardianship registration?", "answer", [Z, W],
               answer("Which one do you mean? [3]", "clarify", [cite(1, Z)], 300), lang="en", latency=3.0),
        # D: refused as expected
        record("D", "Thời tiết hôm nay thế nào?", "refuse", [], answer("Ngoài phạm vi.", "refuse", [], 400),
               latency=4.0),
        # E: should refuse, answers instead
        record("E", "cach nau pho", "refuse", [], answer("Xem [1].", "answer", [cite(1, Q)], 500), latency=5.0),
        # F: the request failed
        record("F", "Giấy tờ đăng ký thường trú?", "answer", [X], None, facts=["tờ khai"], facets=["documents"],
               error="RuntimeError: HTTP 500"),
        # G: clarify as expected
        record("G", "Cho tôi hỏi về giám hộ", "clarify", [Z, W],
               answer("Bạn hỏi thủ tục nào?", "clarify", [cite(1, Z), cite(2, W)], 600), latency=6.0),
        # H: should answer, refuses
        record("H", "xin giay phep bay drone", "answer", [V], answer("Không rõ.", "refuse", [], 700), latency=7.0),
    ]


def test_per_turn_scores() -> None:
    scores = {r["id"]: score_turn(r) for r in eight_turns()}
    assert scores["B"].codes == [Y, "doc-1", X]
    assert (scores["B"].hit1, scores["B"].hit3, scores["B"].rr) == (False, True, pytest.approx(1 / 3))
    assert scores["B"].wrong_procedure and not scores["A"].wrong_procedure
    assert scores["C"].hit1 and scores["C"].wrong_procedure is False  # not an answer, so not a wrong answer
    assert scores["D"].hit1 is None  # refuse turns are not scored for retrieval
    assert scores["F"].got_behavior == "error" and scores["F"].citation_valid is None
    assert (scores["A"].facts_found, scores["B"].facts_found) == (2, 0)
    assert scores["A"].diacritics and not scores["B"].diacritics


def test_summary_metrics_by_hand() -> None:
    doc = compute(eight_turns())
    m = doc["metrics"]
    # answer turns with expected sources: A B C F H
    assert m["hit@1"] == pytest.approx(2 / 5)  # A, C
    assert m["hit@3"] == pytest.approx(3 / 5)  # A, B (X third), C
    assert m["hit@5"] == pytest.approx(3 / 5)
    assert m["mrr"] == pytest.approx((1 + 1 / 3 + 1 + 0 + 0) / 5)  # 0.4667
    # per code: X in A(hit) B(miss) F(miss) = 1/3; Z and W in C (hit) = 1 each; V in H (miss) = 0
    assert m["procedure_macro_hit@1"] == pytest.approx((1 / 3 + 1 + 1 + 0) / 4)
    # right behaviour: A B D G of 8 turns
    assert m["behavior_accuracy"] == pytest.approx(4 / 8)
    # recall answer 2/5 (A B), clarify 1/1 (G), refuse 1/2 (D)
    assert m["behavior_macro_recall"] == pytest.approx((2 / 5 + 1 + 1 / 2) / 3)
    assert m["refuse_precision"] == pytest.approx(1 / 2)  # refused D (right) and H (wrong)
    assert m["refuse_recall"] == pytest.approx(1 / 2)  # of D and E, only D refused
    assert m["wrong_procedure_rate"] == pytest.approx(1 / 5)  # B of A B C F H
    assert m["fact_accuracy"] == pytest.approx((1 + 0 + 0) / 3)  # A 2/2, B 0/1, F 0/1 (failed)
    assert m["citation_validity"] == pytest.approx(5 / 7)  # 7 answered; B empty quote, C dangling [3]
    assert m["answer_length_p50"] == 400  # 100..700 over the 7 answered
    assert m["answer_length_p95"] == pytest.approx(670)
    assert m["latency_p50"] == pytest.approx(4.0)  # 1..7 s
    assert m["latency_p95"] == pytest.approx(6.7)
    assert m["errors"] == 1


def test_confusion_matrix_and_breakdowns_by_hand() -> None:
    doc = compute(eight_turns())
    assert doc["confusion"] == {
        "answer": {"answer": 2, "clarify": 1, "refuse": 1, "error": 1},  # A B | C | H | F
        "clarify": {"answer": 0, "clarify": 1, "refuse": 0, "error": 0},  # G
        "refuse": {"answer": 1, "clarify": 0, "refuse": 1, "error": 0},  # E | D
    }
    b = doc["breakdowns"]
    assert b["lang"]["en"]["n"] == 1 and b["lang"]["en"]["hit@1"] == 1.0  # C
    assert b["lang"]["vi"]["hit@1"] == pytest.approx(1 / 4)  # A of A B F H
    # without diacritics: B C E H, scored B(miss) C(hit) H(miss); with: A D F G, scored A(hit) F(miss)
    assert b["diacritics"]["without diacritics"]["hit@1"] == pytest.approx(1 / 3)
    assert b["diacritics"]["with diacritics"]["hit@1"] == pytest.approx(1 / 2)
    assert b["facet"]["documents"]["n"] == 2 and b["facet"]["documents"]["hit@1"] == 0.5  # A hit, F miss
    assert b["facet"]["fee"]["n"] == 1 and b["facet"]["time"]["hit@1"] == 0.0
    assert b["facet"]["(none)"]["n"] == 5  # C D E G H
    assert b["expected_behavior"]["refuse"]["hit@1"] is None
    assert b["expected_behavior"]["refuse"]["behavior_accuracy"] == 0.5
    assert doc["procedures"][X] == {"n": 3, "hit@1": pytest.approx(1 / 3)}


def test_gate_lists_metrics_outside_thresholds(tmp_path: Any) -> None:
    m = compute(eight_turns())["metrics"]
    gate = Thresholds(min={"hit@1": 0.9, "hit@3": 0.5, "fact_accuracy": 0.3}, max={"errors": 0})
    # hit@1 0.4 < 0.9 fails, hit@3 0.6 passes, fact_accuracy 0.333 passes, errors 1 > 0 fails
    assert failures(m, gate) == ["hit@1 = 0.4 < min 0.9", "errors = 1 > max 0"]
    assert failures({"fact_accuracy": None}, Thresholds(min={"fact_accuracy": 0.5})) == [
        "fact_accuracy not measured (no turn of that kind), min 0.5"]
    f = tmp_path / "t.json"
    f.write_text('{"min": {"hit@1": 0.5}, "max": {"latency_p95": 3}}')
    t = load_thresholds(f, mins=["hit@1=0.8"])  # the command line wins over the file
    assert t.min == {"hit@1": 0.8} and t.max == {"latency_p95": 3.0}
    with pytest.raises(ValueError, match="unknown metric 'hit@2'"):
        load_thresholds(None, mins=["hit@2=0.5"])
    with pytest.raises(ValueError, match="not METRIC=VALUE"):
        load_thresholds(None, mins=["hit@1"])
