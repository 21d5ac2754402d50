"""The assistant as one object for the API, the CLI and the eval runner: search, chat, feedback.

It holds the heavy parts (store, retriever, conversations, optional LLM) and decides, turn by turn,
between a new procedure, a follow-up on the session's procedure, and a pick among clarify options.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from assistant.answer import MAX_PROCEDURES, Composed, Composer, special
from assistant.conversations import Conversations, SessionState
from assistant.query import INTENT_STOPWORDS, Query, intents, topic
from assistant.redact import redact
from assistant.ranker import Candidate
from assistant.retrieve import Lookup, Retriever
from assistant.signals import CONVERSATIONAL, name_words, said_words
from assistant.settings import Settings
from assistant.store import Store
from assistant.taught import correction, refusal_text
from assistant.text import fold, has_diacritics

log = logging.getLogger("assistant.service")
# Two sibling candidates this close in the ranker's probabilities (honest ones: the softmax at the
# temperature `eval.fit` fits), with nothing in the question to tell them apart, make a clarify.
CLARIFY_MARGIN = 0.15
_BRACKETS = re.compile(r"\([^)]*\)")
FIRST_TURNS = 4096  # first-turn decisions remembered (citizens ask the same things; see `decide`)

# "cái thứ 2", "số 3", "cái đầu", "phương án sau cùng": a pick by position (only in a short reply).
# Bare "ba", "tư", "đầu" are ordinary words ("bà", "khai tử", "ở đâu"): they count only after "thứ"/"cái".
_ORDINAL = re.compile(
    r"\bthu\s*(nhat|hai|ba|tu|bon|\d)\b|\b(?:cai|so|option|phuong an|lua chon|chon|lay)\s*(\d|dau|cuoi)\b|"
    r"\b(dau tien|cuoi cung|sau cung|first|second|third|last)\b|^\s*(\d)\s*$")
_POSITION = {"nhat": 0, "dau tien": 0, "dau": 0, "1": 0, "first": 0, "hai": 1, "2": 1, "second": 1, "ba": 2,
             "3": 2, "third": 2, "tu": 3, "bon": 3, "4": 3, "cuoi cung": -1, "cuoi": -1, "sau cung": -1, "last": -1}


# What ties a message that has words of its own to the session's procedure: it states a case or
# condition of it ("nếu một bên đã ly hôn…", "trường hợp…", "cho trẻ dưới 14 tuổi…", "what if…") or
# refers back to it ("nó", "giấy đó", "it", "this"). Without either, it is a question of its own.
_CASE_OF = re.compile(r"^\W*(?:(?:the|vay|con|thi|a|ua)\s+)?(?:neu|truong hop|khi|lo|gia su|cho|voi|doi voi)\b")
_BACK_MARKED = re.compile(r"(?i)\b(?:nó|cái đó|cái này|việc đó|việc này|(?:thủ tục|giấy|thẻ|hồ sơ|bản) (?:này|đó|trên))\b")
_BACK_FOLDED = re.compile(r"\b(?:cai do|cai nay|viec do|viec nay|(?:thu tuc|giay|the|ho so|ban) (?:nay|do|tren))\b")
_BACK_EN = re.compile(r"(?i)^\W*(?:if|what if|and if|in case|for)\b|\b(?:it|this|that|they|them)\b")


def refers_back(message: str, lang: str) -> bool:
    """Whether a message ties itself to the conversation's procedure (read with its diacritics when
    it has them: folded, 'nó' is also 'nợ' and 'thẻ' also 'thế')."""
    if lang == "en":
        return bool(_BACK_EN.search(message))
    folded = fold(message)
    back = _BACK_MARKED.search(message.lower()) if has_diacritics(message) else _BACK_FOLDED.search(folded)
    return bool(_CASE_OF.search(folded) or back)


# "còn kết hôn thì sao?": the same question about another procedure
_CONTINUES = re.compile(r"^\W*(the |vay |a |ua |thi )?con\b|\bthi sao\b|\bthe nao\W*$")


def position(message: str) -> int | None:
    """The position a short reply picks ('cái thứ 2' -> 1, 'cái cuối' -> -1), if it picks one."""
    folded = fold(message)
    m = _ORDINAL.search(folded)
    if m and len(folded.split()) <= 8:
        return _POSITION.get(next(g for g in m.groups() if g), 99)
    return None


def pick_option(message: str, options: list[dict[str, str]]) -> dict[str, str] | None:
    """The clarify option a reply selects: by position ('cái thứ 2') or by its words."""
    index = position(message)
    if index is not None and -len(options) <= index < len(options):
        return options[index]
    folded = fold(message)
    said = set(folded.split())
    scored = []
    for opt in options:
        words = set(fold(opt["label"]).split())
        scored.append((len(words & said) / (len(words) or 1), opt))
    scored.sort(key=lambda x: -x[0])
    if scored and scored[0][0] >= 0.5 and (len(scored) == 1 or scored[0][0] > scored[1][0]):
        return scored[0][1]
    return None


class Assistant:
    def __init__(self, settings: Settings, store: Store, generator: Any = None) -> None:
        self.settings = settings
        self.write_lock = threading.Lock()  # uploads and deletes go one at a time
        self.store = store
        self.retriever = Retriever(store)
        offices = load_offices(settings)
        self.composer = Composer(self.lookup, offices)
        self.conversations = Conversations(settings.data_dir / "conversations.sqlite", settings.session_ttl_s,
                                           settings.max_sessions, settings.message_retention_days)
        self.generator = generator
        self._first_turns: OrderedDict[tuple[str, str, int, date], tuple[Query, Composed, dict[str, Any]]] = \
            OrderedDict()
        self._first_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings, purpose: str = "assistant", exclusive: bool = True,
             metrics: Any = None) -> "Assistant":
        store = Store(settings, purpose=purpose, exclusive=exclusive)
        try:
            from assistant.generate import Generator

            generator = Generator.from_settings(settings, metrics)
        except Exception:
            store.close()
            raise
        return cls(settings, store, generator)

    def close(self) -> None:
        if self.generator is not None:
            self.generator.close()
        self.conversations.close()
        self.store.close()

    @contextmanager
    def writing(self) -> Iterator[Store]:
        """The store, for one write at a time; the writer's thread then builds the new index view,
        so no question waits for it."""
        with self.write_lock:
            try:
                yield self.store
            finally:
                self.retriever.refresh()

    def lookup(self) -> Lookup:
        """Procedures and sections by code, in the index as it is now."""
        return Lookup(self.retriever.snapshot)

    def today(self) -> date:
        return date.fromisoformat(self.settings.today) if self.settings.today else date.today()

    # --- search -----------------------------------------------------------------------------------
    def search(self, query: str, k: int = 5, audience: str = "citizen") -> list[dict[str, Any]]:
        with self.retriever.pinned():
            res = self.retriever.search(query, audience=audience, k=k)
        facet = res.query.facets[0] if res.query.facets else None
        out = []
        for c in res.candidates:
            best = max(c.hits, key=lambda h: h.score, default=None)
            section = next((h.chunk.section for h in c.hits if facet and h.chunk.facet == facet), None)
            out.append({"source_id": best.source.source_id if best else c.key, "procedure_code": c.code,
                        "title": c.title, "score": round(c.score, 4), "facet": facet,
                        "section": section or (best.chunk.section if best else None)})
        return out

    # --- chat -------------------------------------------------------------------------------------
    def decide(self, message: str, state: SessionState, audience: str) -> tuple[Query, Composed, dict[str, Any]]:
        """Pick the behaviour for one turn and compose it; returns the analysed question, the answer
        and the reasoning (--explain), with the time of each stage. A first turn depends only on the
        message, the audience, the index version and the date, so the last `FIRST_TURNS` are
        remembered: a question asked again is answered without searching."""
        started = time.perf_counter()
        with self.retriever.pinned() as view:  # one index version for the whole turn
            key = (message, audience, view.snap.version, self.today()) if state == SessionState() else None
            with self._first_lock:
                if key and self._first_turns and next(iter(self._first_turns))[2] != key[2]:
                    self._first_turns.clear()  # another index version: nothing remembered holds, nor keeps it alive
                known = self._first_turns.get(key) if key else None
                if known is not None:
                    self._first_turns.move_to_end(key)
            if known is not None:
                q, composed, explain = known
                took = round((time.perf_counter() - started) * 1000, 2)
                return q, composed, dict(explain, timings_ms={"remembered": took})
            q = self.retriever.analyse(message)
            normalised = time.perf_counter()
            plan, explain = self._plan(q, message, state, audience)
            planned = time.perf_counter()
            kind, payload = plan
            if kind == "answer":
                cands, facets, each = payload
                composed = self.composer.answer(q, cands, self.today(), facets, each)
            elif kind == "clarify":
                composed = self.composer.clarify(q, payload, "ambiguous")
            elif kind == "refuse":
                composed = self.composer.refuse(q, payload)
            else:
                composed = payload
        done = time.perf_counter()
        explain["timings_ms"] = {"normalise": round((normalised - started) * 1000, 2),
                                 "retrieve": round((planned - normalised) * 1000, 2),
                                 "compose": round((done - planned) * 1000, 2)}
        if key:
            with self._first_lock:
                self._first_turns[key] = (q, composed, dict(explain))
                if len(self._first_turns) > FIRST_TURNS:
                    self._first_turns.popitem(last=False)
        return q, composed, explain

    def _plan(self, q: Query, message: str, state: SessionState, audience: str) -> tuple[tuple[str, Any], dict[str, Any]]:
        explain: dict[str, Any] = {"query": {"routing": q.routing, "facets": q.facets, "lang": q.lang,
                                             "terms": q.terms, "negated": q.negated}}
        if state.options:
            chosen = pick_option(message, state.options)
            cand = self.retriever.candidate(chosen["source_id"], audience) if chosen else None
            if cand:
                explain["reason"] = f"picked clarify option {chosen['label']!r}"
                return ("answer", ([cand], q.facets or state.facets, None)), explain
            if position(message) is not None:  # 'cái thứ 3' of two: the same options again
                again = [c for o in state.options if (c := self.retriever.candidate(o["source_id"], audience))]
                if again:
                    explain["reason"] = f"the position picked is not among the {len(again)} options offered"
                    return ("clarify", again), explain
        sp = special(message, q.lang)
        if sp:
            explain["reason"] = sp.reason
            return ("special", sp), explain
        found = self.retriever.rank(self.retriever.gather(message, audience, q), k=8)
        cands, threshold = found.candidates, self.retriever.models.threshold
        explain["answerable"] = round(found.answerable, 3)
        explain["candidates"] = [{"key": c.key, "title": c.title, "score": round(c.score, 4),
                                  "signals": {k: round(v, 3) for k, v in c.signals.items()}} for c in cands[:5]]
        covered = bool(cands) and found.answerable >= threshold
        follow = self._follow_up(q, message, state, covered, audience)
        if follow is not None:
            explain["reason"] = (f"follow-up on the session's procedure {follow.key}" if state.procedures else
                                 f"a facet asked after a clarify without choosing: the first option {follow.key}")
            return ("answer", ([follow], q.facets or state.facets, None)), explain
        fix = correction(self.retriever.snapshot, self.settings.data_dir, message)  # officials taught this question
        if fix is not None and not fix.codes:
            explain["reason"] = f"officials marked this very question as not covered (example {fix.example_id})"
            return ("special", Composed(refusal_text(q.lang, fix.refer_to), "refuse", reason="taught as not covered")), explain
        taught = self.retriever.candidate(fix.codes[0], audience) if fix is not None else None
        if taught is not None:
            explain["reason"] = f"officials taught this very question (example {fix.example_id})"
            return ("answer", ([taught], q.facets, None)), explain
        several = self._several(message, audience)
        if several:
            explain["reason"] = "the question asks about several procedures: " + "; ".join(
                f"{c.key} ({', '.join(f) or 'overview'})" for c, f in several)
            return ("answer", ([c for c, _ in several], None, [f for _, f in several])), explain
        if not covered:
            # a topic the question names in full in several names ('hỏi về chứng thực') is asked back
            close = self._ambiguous(q, cands, named_only=True) if not state.turns else []
            if close:
                explain["reason"] = "the question names a topic several procedures share, and nothing that tells them apart"
                return ("clarify", [cands[0], *close]), explain
            explain["reason"] = (f"the decision gives {found.answerable:.2f} that a procedure of the index answers the "
                                 f"question (refuse below {threshold:.2f}): nothing covers it")
            return ("refuse", "no procedure covers the question"), explain
        close = self._ambiguous(q, cands) if not state.turns else []
        if close:
            explain["reason"] = ("several procedures fit (a topic their names share, or siblings the ranker finds about "
                                 "as likely) and the question says nothing that tells them apart")
            return ("clarify", [cands[0], *close]), explain
        explain["reason"] = f"best candidate {cands[0].key} (ranker {cands[0].score:.2f}, answerable {found.answerable:.2f})"
        facets = q.facets or (state.facets if _CONTINUES.search(fold(message)) else [])
        return ("answer", ([cands[0]], facets, None)), explain

    def _several(self, message: str, audience: str) -> list[tuple[Candidate, list[str]]]:
        """For a question in parts about different procedures ("khai sinh cần gì, còn kết hôn mất bao
        nhiêu tiền?"), each part's procedure and what it asks; empty unless every part names its
        procedure (most of its words are in the name) with confidence, and the procedures differ."""
        text = self.retriever.unglue(message)
        parts = intents(text, self.retriever.keep_for(text))
        if len(parts) < 2:
            return []
        found: list[tuple[Candidate, list[str]]] = []
        for part in parts[:MAX_PROCEDURES + 1]:
            result = self.retriever.search(part.text, audience, k=3)
            if not result.candidates or result.answerable < self.retriever.models.threshold:
                return []
            top = result.candidates[0]
            named = set(fold(top.title).split()) | {w for t in result.query.terms for w in fold(t).split()}
            if part.content and sum(w in named for w in part.content) / len(part.content) < 0.6:
                return []
            if all(top.key != c.key for c, _ in found):
                found.append((top, part.facets))
        return found[:MAX_PROCEDURES] if len(found) > 1 else []

    @staticmethod
    def _ambiguous(q: Query, cands: list[Candidate], named_only: bool = False) -> list[Candidate]:
        """The variants of the best procedure that fit about as well, when the question says none of
        the words that tell them apart. Asked back whatever the ranker prefers: a question naming only
        a topic, every word of it in both names, with none of the best names said in full ('hỏi về
        giám hộ', 'thẻ căn cước', 'cho hỏi về chứng thực'; the only kind asked for with `named_only`):
        nothing in it can tell them apart, and the ranker's preference there is only which one more
        people ask about. Asked back when the ranker's probabilities (honest, at the fitted
        temperature) are within `CLARIFY_MARGIN`: a short question fitting sibling names equally, or
        one that says the whole shared head of both names ('công nhận hộ nghèo' fits 'thường xuyên'
        and 'định kỳ'; then the plain procedure the others add words to is answered). The same
        procedure at another level is never an option: the level the question names, or the
        commune's, decides."""
        if len(cands) < 2:
            return []
        top = cands[0]
        top_words = name_words(top.title)
        topic = {w for w in name_words(q.routing) if w.isalpha()} - CONVERSATIONAL
        whole = top.signals.get("head", 0.0) >= 0.99 and cands[1].signals.get("head", 0.0) >= 0.99
        # a topic: the question's every word is in the best name, and no name among the best few is said in full
        named = bool(topic) and topic <= top_words and not any(c.signals.get("head", 0.0) >= 0.99 for c in cands[:4])
        if not whole:
            if q.facets or top.signals.get("coverage", 0.0) >= 1.0:
                return []  # a question about a facet gets the everyday reading, not a question back
            if not named and len([w for w in q.routing.split() if w.isalpha() and w not in CONVERSATIONAL]) > 5:
                return []  # a long question says more than its words in the names: answer it
        said = said_words(q)
        close = []
        for c in cands[1:4]:
            if _other_level(top, c):
                continue
            if not (named and topic <= name_words(c.title)):
                if named_only or top.score - c.score >= CLARIFY_MARGIN or not _siblings(top, c) or \
                        abs(c.signals.get("asked_covered", 0.0) - top.signals.get("asked_covered", 0.0)) > 1e-6:
                    continue
            mine, theirs = top_words - name_words(c.title), name_words(c.title) - top_words
            if (mine | theirs) & said:
                continue  # the question tells them apart
            if whole and (not mine or not theirs):
                continue  # with a facet asked, the plain procedure is the everyday reading
            close.append(c)
        return close

    def _follow_up(self, q: Query, message: str, state: SessionState, covered: bool, audience: str) -> Candidate | None:
        """A question that names no procedure of its own continues the session's procedure; one that
        names one the corpus answers is a new topic; one that the corpus does not answer on its own
        continues the session only when, read after the session's topic, it is about the session's
        procedure ("nếu tôi ở nước ngoài thì sao?"), and is otherwise judged on its own (refused). A
        facet asked right after a clarify without choosing ('vậy mất bao lâu?') gets the first option,
        the likeliest."""
        content = [w for w in q.routing.split() if len(w) > 1 and w.isalpha() and w not in INTENT_STOPWORDS]
        typed = set(fold(q.text).split())
        content += [w for w in fold(q.expanded).split() if w not in typed]  # 'cccd' names a procedure
        content += [w for t in q.terms for w in fold(t).split()]  # so does 'passport' ('hộ chiếu')
        if state.procedures:
            if len(content) <= 1:
                return self.retriever.candidate(state.procedures[0], audience)
            if covered or not state.topic or not refers_back(message, q.lang):
                return None  # a question with words of its own and nothing tying it to the session
            context = self.retriever.search(f"{state.topic}, {message}", audience, k=3)
            if context.candidates and context.answerable >= self.retriever.models.threshold and \
                    context.candidates[0].key in state.procedures:
                return self.retriever.candidate(state.procedures[0], audience)
        elif state.options and q.facets and len(content) <= 1:
            return self.retriever.candidate(state.options[0]["source_id"], audience)
        return None

    def chat(self, message: str, session_id: str | None = None, audience: str = "citizen",
             explain: bool = False) -> dict[str, Any]:
        """One turn: the answer JSON (the contract in DESIGN.md)."""
        for kind, data in self.events(message, session_id, audience, explain=explain, stream=False):
            if kind == "done":
                return data
        raise RuntimeError("a turn ended without an answer")

    def events(self, message: str, session_id: str | None = None, audience: str = "citizen",
               explain: bool = False, stream: bool = True) -> Iterator[tuple[str, Any]]:
        """One turn as events: `delta` (text pieces, when streaming), `citations`, then `done`
        (the answer JSON). With a language model the deltas are its tokens and `done` carries the
        checked answer, which replaces the streamed text when the check failed."""
        started = time.perf_counter()
        session_id, state = self.conversations.load(session_id)
        q, composed, why = self.decide(message, state, audience)
        state.facets = q.facets or state.facets
        out = {
            "answer": composed.answer, "behavior": composed.behavior,
            "citations": [dict(c) for c in composed.citations], "options": [dict(o) for o in composed.options],
            "session_id": session_id, "message_id": "",
            "data_date": composed.data_date or self.store.manifest.get_meta("data_date") or self.today().isoformat(),
        }
        generate = self.generator is not None and composed.behavior == "answer" and composed.citations
        if generate and stream:
            title = composed.citations[0]["title"]
            for kind, data in self.generator.stream(message, q.lang, title, out, composed.sources):
                if kind == "delta":
                    yield "delta", {"text": data}
                else:
                    out, why["llm"] = data["answer"], data["reason"] or "generated and checked"
        elif generate:
            title = composed.citations[0]["title"]
            out, reason = self.generator.generate(message, q.lang, title, out, composed.sources)
            why["llm"] = reason or "generated and checked"
        elif stream:
            for piece in _pieces(out["answer"]):
                yield "delta", {"text": piece}
        self._advance(state, composed, q, why)
        out["message_id"] = self.conversations.record(session_id, state, message, out, audience)
        if explain:
            out["explain"] = why
        log.info("chat", extra={"behavior": composed.behavior, "stages_ms": why["timings_ms"],
                                "ms": round((time.perf_counter() - started) * 1000, 1)})
        yield "citations", out["citations"]
        yield "done", out

    @staticmethod
    def _advance(state: SessionState, composed: Composed, q: Query, why: dict[str, Any]) -> None:
        state.turns += 1
        state.lang = q.lang
        if composed.behavior == "clarify":
            state.options = composed.options
        elif composed.behavior == "answer" and composed.procedure_codes:
            if composed.procedure_codes != state.procedures and "follow-up" not in why.get("reason", ""):
                state.topic = redact(topic(q))  # what a later question is read after (PII redacted)
            state.procedures = composed.procedure_codes
            state.options = []


def load_offices(settings: Settings) -> dict[str, dict]:
    """ASSISTANT_OFFICES: level ("Cấp xã", "Cấp tỉnh"…) -> office; names carry ASSISTANT_PROVINCE."""
    if not settings.offices:
        return {}
    try:
        offices = json.loads(settings.offices.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"ASSISTANT_OFFICES {settings.offices}: cannot read it as JSON ({exc})") from None
    if not isinstance(offices, dict) or not all(isinstance(v, dict) for v in offices.values()):
        raise ValueError('ASSISTANT_OFFICES must map a level to an office: {"Cấp xã": {"name": …, "address": …}}')
    if settings.province:
        for office in offices.values():
            name = office.get("name", "")
            if settings.province not in name:
                office["name"] = f"{name}, {settings.province}".strip(", ")
    return offices


def _pieces(text: str, size: int = 24) -> Iterator[str]:
    """A composed answer in pieces of a few words; they join back to the exact text."""
    buf = ""
    for m in re.finditer(r"\S+\s*|\s+", text):
        buf += m.group(0)
        if len(buf) >= size:
            yield buf
            buf = ""
    if buf:
        yield buf


def _other_level(a: Candidate, b: Candidate) -> bool:
    """The same procedure at another level: the names' words are the same outside brackets ('(thực
    hiện tại cấp tỉnh)')."""
    return name_words(_BRACKETS.sub(" ", a.title)) == name_words(_BRACKETS.sub(" ", b.title))


def _siblings(a: Candidate, b: Candidate) -> bool:
    """Variants of one procedure: their names share most words."""
    wa, wb = set(fold(a.title).split()), set(fold(b.title).split())
    return len(wa & wb) / max(1, min(len(wa), len(wb))) >= 0.5
