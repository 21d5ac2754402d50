"""Scoring: small pure functions over one answer, a per-turn score, and the aggregates.

The scoring rule (DESIGN.md): a citation counts for its `procedure_code`, else its `source_id`;
hit@k = an expected code among the first k distinct codes in citation order.

A *record* is one line of `results.jsonl`: `{"id", "question", "history", "expected": {expected_sources,
expected_behavior, facts, facets, lang}, "got": answer JSON or null, "latency_s", "error",
"quote_failures": [n, ...] or null}`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from assistant.text import has_diacritics
from eval.gold import BEHAVIORS

ERROR = "error"  # the "got" behaviour of a turn whose request failed

# One sentence each; the report prints them next to the numbers.
DEFINITIONS: dict[str, str] = {
    "hit@1": "Share of answer turns with expected sources whose first cited procedure is an expected one.",
    "hit@3": "Share of answer turns with expected sources where an expected procedure is among the first 3 "
             "distinct cited procedures.",
    "hit@5": "Share of answer turns with expected sources where an expected procedure is among the first 5 "
             "distinct cited procedures.",
    "mrr": "Mean over answer turns with expected sources of 1/rank of the first expected procedure among the "
           "distinct cited procedures (0 when none is cited).",
    "procedure_macro_hit@1": "hit@1 averaged per expected procedure code, then averaged over codes, so "
                             "frequent procedures do not dominate.",
    "behavior_accuracy": "Share of all turns whose behaviour (answer/clarify/refuse) is the expected one; "
                         "failed requests count as wrong.",
    "behavior_macro_recall": "Recall of each expected behaviour present in the gold set (answer, clarify, "
                             "refuse), averaged with equal weight.",
    "refuse_precision": "Of the turns the assistant refused, the share that the gold set expects refused.",
    "refuse_recall": "Of the turns the gold set expects refused, the share the assistant refused.",
    "wrong_procedure_rate": "Share of answer turns with expected sources that got an answer whose first "
                            "cited procedure is not an expected one (a confident wrong answer).",
    "fact_accuracy": "Mean over turns with facts of the share of facts found in the answer text, after "
                     "normalising case, whitespace, Unicode (NFC), thousands separators and leading zeros.",
    "citation_validity": "Share of answered requests where every [n] marker resolves to a citation n, every "
                         "citation quote is non-empty and, when checked, every quote is found in its source.",
    "answer_length_p50": "Median answer length in characters, over successful requests.",
    "answer_length_p95": "95th-percentile answer length in characters, over successful requests.",
    "latency_p50": "Median seconds for the final question of a turn, over successful requests.",
    "latency_p95": "95th-percentile seconds for the final question of a turn, over successful requests.",
    "errors": "Number of turns whose request failed (exception, HTTP error or malformed answer).",
}

# For the gate: metrics where lower is better take --max, all others --min.
LOWER_IS_BETTER: frozenset[str] = frozenset(
    {"wrong_procedure_rate", "answer_length_p50", "answer_length_p95", "latency_p50", "latency_p95", "errors"})


# --- one answer ---------------------------------------------------------------------------------------
def citation_code(citation: dict[str, Any]) -> str | None:
    return citation.get("procedure_code") or citation.get("source_id") or None


def cited_codes(citations: Iterable[dict[str, Any]]) -> list[str]:
    """Distinct codes in citation order."""
    out: list[str] = []
    for c in citations:
        code = citation_code(c)
        if code and code not in out:
            out.append(code)
    return out


def hit_at_k(codes: Sequence[str], expected: Iterable[str], k: int) -> bool:
    return bool(set(codes[:k]) & set(expected))


def reciprocal_rank(codes: Sequence[str], expected: Iterable[str]) -> float:
    wanted = set(expected)
    for rank, code in enumerate(codes, 1):
        if code in wanted:
            return 1.0 / rank
    return 0.0


_SPACES = re.compile(r"\s+")
# 50.000 / 50,000 / 1.250.000 with one consistent separator, not part of a longer number or a decimal.
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}([.,])\d{3}(?:\1\d{3})*(?![\d]|[.,]\d)")
_LEADING_ZEROS = re.compile(r"(?<![\d.,])0+(?=\d)")


def normalize_fact_text(text: str) -> str:
    """Casefolded NFC with single spaces, thousands separators dropped and leading zeros removed:
    '50.000 Đồng', '50,000 đồng' and '50000  đồng' all become '50000 đồng'; '05 ngày' becomes '5 ngày'."""
    t = _SPACES.sub(" ", unicodedata.normalize("NFC", text).casefold()).strip()
    t = _THOUSANDS.sub(lambda m: m.group().replace(m.group(1), ""), t)
    return _LEADING_ZEROS.sub("", t)


def fact_found(fact: str, answer_text: str) -> bool:
    """The normalised fact occurs in the normalised answer, not inside a longer word or number
    ('5 ngày' is not found in '15 ngày')."""
    needle = normalize_fact_text(fact)
    if not needle:
        return True
    pattern = re.escape(needle)
    if needle[0].isalnum():
        pattern = r"(?<!\w)" + pattern
    if needle[-1].isalnum():
        pattern += r"(?!\w)"
    return re.search(pattern, normalize_fact_text(answer_text)) is not None


_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def citation_markers(answer_text: str) -> list[int]:
    """Every n in `[n]` or `[n, m]` markers, in order."""
    return [int(n) for m in _MARKER.finditer(answer_text) for n in m.group(1).split(",")]


def citations_valid(answer: dict[str, Any], quote_failures: Sequence[int] | None = None) -> bool:
    citations = answer.get("citations") or []
    numbers = {c.get("n") for c in citations}
    if any(n not in numbers for n in citation_markers(answer.get("answer") or "")):
        return False
    if any(not str(c.get("quote") or "").strip() for c in citations):
        return False
    return not quote_failures


# --- one turn -----------------------------------------------------------------------------------------
@dataclass
class TurnScore:
    id: str
    expected_behavior: str
    got_behavior: str
    lang: str
    diacritics: bool
    kind: str = ""  # the gold turn's `notes` when it names what the turn tests ("switch", "follow-up")
    facets: list[str] = field(default_factory=list)
    expected_sources: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    hit1: bool | None = None  # None: not an answer turn with expected sources
    hit3: bool | None = None
    hit5: bool | None = None
    rr: float | None = None
    wrong_procedure: bool | None = None
    facts_total: int = 0
    facts_found: int = 0
    citation_valid: bool | None = None  # None: the request failed
    answer_chars: int | None = None
    latency_s: float | None = None
    error: str | None = None

    @property
    def behavior_ok(self) -> bool:
        return self.got_behavior == self.expected_behavior

    @property
    def fact_share(self) -> float | None:
        return self.facts_found / self.facts_total if self.facts_total else None

    @property
    def failed(self) -> bool:
        """Anything a reader of the report should look at."""
        return bool(self.error or not self.behavior_ok or self.hit1 is False
                    or (self.facts_total and self.facts_found < self.facts_total) or self.citation_valid is False)


def score_turn(record: dict[str, Any]) -> TurnScore:
    exp = record.get("expected") or {}
    got = record.get("got") if not record.get("error") else None
    expected_sources = list(exp.get("expected_sources") or [])
    facts = list(exp.get("facts") or [])
    s = TurnScore(
        id=str(record.get("id")), expected_behavior=exp.get("expected_behavior", "answer"),
        got_behavior=str(got.get("behavior")) if got else ERROR, lang=exp.get("lang") or "?",
        diacritics=has_diacritics(record.get("question") or ""), kind=str(exp.get("kind") or ""),
        facets=list(exp.get("facets") or []),
        expected_sources=expected_sources, facts_total=len(facts), error=record.get("error"),
    )
    if got is not None:
        s.codes = cited_codes(got.get("citations") or [])
        text = got.get("answer") or ""
        s.facts_found = sum(fact_found(f, text) for f in facts)
        s.citation_valid = citations_valid(got, record.get("quote_failures"))
        s.answer_chars = len(text)
        s.latency_s = record.get("latency_s")
    if s.expected_behavior == "answer" and expected_sources:
        s.hit1 = hit_at_k(s.codes, expected_sources, 1)
        s.hit3 = hit_at_k(s.codes, expected_sources, 3)
        s.hit5 = hit_at_k(s.codes, expected_sources, 5)
        s.rr = reciprocal_rank(s.codes, expected_sources)
        s.wrong_procedure = s.got_behavior == "answer" and bool(s.codes) and s.codes[0] not in expected_sources
    return s


# --- aggregates ---------------------------------------------------------------------------------------
def mean(values: Iterable[float | bool | None]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def percentile(values: Iterable[float | int | None], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); q in [0, 1]."""
    vals = sorted(float(v) for v in values if v is not None)
    if not vals:
        return None
    pos = (len(vals) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


def confusion(scores: Sequence[TurnScore]) -> dict[str, dict[str, int]]:
    """Expected behaviour (rows) x got behaviour (columns, plus `error`)."""
    cols = (*BEHAVIORS, ERROR)
    table = {exp: {got: 0 for got in cols} for exp in BEHAVIORS}
    for s in scores:
        got = s.got_behavior if s.got_behavior in cols else ERROR
        table.setdefault(s.expected_behavior, {g: 0 for g in cols})[got] += 1
    return table


def macro_recall(table: dict[str, dict[str, int]]) -> float | None:
    """Recall per expected behaviour that has support, averaged."""
    return mean(row[exp] / sum(row.values()) for exp, row in table.items() if sum(row.values()))


def refuse_precision(scores: Sequence[TurnScore]) -> float | None:
    return mean(s.expected_behavior == "refuse" for s in scores if s.got_behavior == "refuse")


def refuse_recall(scores: Sequence[TurnScore]) -> float | None:
    return mean(s.got_behavior == "refuse" for s in scores if s.expected_behavior == "refuse")


def per_procedure(scores: Sequence[TurnScore]) -> dict[str, dict[str, float | int | None]]:
    """n and hit@1 per expected code of the scored answer turns, codes sorted."""
    per_code: dict[str, list[bool]] = defaultdict(list)
    for s in scores:
        if s.hit1 is not None:
            for code in s.expected_sources:
                per_code[code].append(s.hit1)
    return {code: {"n": len(v), "hit@1": mean(v)} for code, v in sorted(per_code.items())}


def procedure_macro_hit1(scores: Sequence[TurnScore]) -> float | None:
    """hit@1 per expected code (a turn expecting two codes counts for both), averaged over codes."""
    return mean(p["hit@1"] for p in per_procedure(scores).values())


def core_metrics(scores: Sequence[TurnScore]) -> dict[str, float | int | None]:
    """The metrics shown for every group of a breakdown."""
    return {
        "n": len(scores),
        "n_scored": sum(s.hit1 is not None for s in scores),
        "hit@1": mean(s.hit1 for s in scores),
        "hit@5": mean(s.hit5 for s in scores),
        "mrr": mean(s.rr for s in scores),
        "behavior_accuracy": mean(s.behavior_ok for s in scores),
        "wrong_procedure_rate": mean(s.wrong_procedure for s in scores),
        "fact_accuracy": mean(s.fact_share for s in scores),
    }


def summary(scores: Sequence[TurnScore]) -> dict[str, float | int | None]:
    """Every headline metric of DEFINITIONS, keyed by its name."""
    ok = [s for s in scores if s.error is None]
    return {
        "hit@1": mean(s.hit1 for s in scores),
        "hit@3": mean(s.hit3 for s in scores),
        "hit@5": mean(s.hit5 for s in scores),
        "mrr": mean(s.rr for s in scores),
        "procedure_macro_hit@1": procedure_macro_hit1(scores),
        "behavior_accuracy": mean(s.behavior_ok for s in scores),
        "behavior_macro_recall": macro_recall(confusion(scores)),
        "refuse_precision": refuse_precision(scores),
        "refuse_recall": refuse_recall(scores),
        "wrong_procedure_rate": mean(s.wrong_procedure for s in scores),
        "fact_accuracy": mean(s.fact_share for s in scores),
        "citation_validity": mean(s.citation_valid for s in ok),
        "answer_length_p50": percentile((s.answer_chars for s in ok), 0.5),
        "answer_length_p95": percentile((s.answer_chars for s in ok), 0.95),
        "latency_p50": percentile((s.latency_s for s in ok), 0.5),
        "latency_p95": percentile((s.latency_s for s in ok), 0.95),
        "errors": len(scores) - len(ok),
    }


def _groups(scores: Sequence[TurnScore], key: str) -> dict[str, list[TurnScore]]:
    out: dict[str, list[TurnScore]] = defaultdict(list)
    for s in scores:
        if key == "facet":
            for facet in s.facets or ["(none)"]:
                out[facet].append(s)
        elif key == "diacritics":
            out["with diacritics" if s.diacritics else "without diacritics"].append(s)
        elif key == "lang":
            out[s.lang].append(s)
        elif key == "kind":
            if s.kind:
                out[s.kind].append(s)
        else:
            out[s.expected_behavior].append(s)
    return dict(sorted(out.items()))


BREAKDOWNS: tuple[str, ...] = ("lang", "facet", "diacritics", "expected_behavior", "kind")


def breakdowns(scores: Sequence[TurnScore]) -> dict[str, dict[str, dict[str, float | int | None]]]:
    """core_metrics per group, for each of BREAKDOWNS (a turn with two facets counts in both)."""
    out = {key: {g: core_metrics(members) for g, members in _groups(scores, key).items()} for key in BREAKDOWNS}
    return {key: groups for key, groups in out.items() if groups}  # no `kind` table when no turn names one


def compute(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Everything metrics.json holds apart from the run's description."""
    scores = [score_turn(r) for r in records]
    return {
        "n_turns": len(scores),
        "metrics": summary(scores),
        "confusion": confusion(scores),
        "breakdowns": breakdowns(scores),
        "procedures": per_procedure(scores),
        "definitions": DEFINITIONS,
    }
