"""Optional LLM generation on top of the composed answer, checked against the sources.

The composed answer (built without a model) is always the safe fallback: a generated answer is
returned only when every `[n]` resolves to a given source, every fee / duration / copy count /
percentage / legal-document number / link in it appears in the sources it cites, and it neither
refuses nor follows instructions planted in a source. Otherwise the composed answer is returned
unchanged, with a short reason that is logged and counted (`llm_fallback`).
"""

from __future__ import annotations

import copy
import logging
import queue
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from assistant.grounding import check_answer, cited_numbers

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from assistant.settings import Settings

log = logging.getLogger("assistant.generate")

FALLBACK_METRIC = "llm_fallback"
REWRITE_FALLBACK_METRIC = "llm_rewrite_fallback"
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S | re.I)
_FENCE = re.compile(r"<(\s*/?\s*(?:source|question|history)\b)", re.I)
_SLOT = re.compile(r"\{(question|procedure|sources|history)\}")
_SECTION = re.compile(r"^<!--\s*(system|user)\s*-->\s*$", re.M)


class Source(TypedDict):
    """One numbered passage given to the model; `n` equals the citation's `n`."""

    n: int
    title: str
    section: str | None
    text: str


class Metrics(Protocol):
    """Where fallbacks are counted (the API exposes them at /metrics)."""

    def inc(self, name: str, reason: str) -> None: ...


class CounterMetrics:
    """In-memory `Metrics`: counts keyed by (name, reason)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def inc(self, name: str, reason: str) -> None:
        with self._lock:
            self.counts[(name, reason)] += 1


@lru_cache
def load_prompt(name: str) -> tuple[str, str]:
    """(system, user template) from `assistant/prompts/NAME`, split at `<!-- system|user -->`."""
    text = (resources.files("assistant") / "prompts" / name).read_text(encoding="utf-8")
    parts = _SECTION.split(text)
    sections = dict(zip(parts[1::2], (p.strip() for p in parts[2::2]), strict=True))
    return sections["system"], sections["user"]


def _defuse(text: str) -> str:
    """Keep data from closing or opening our fences (`</source>` inside a passage)."""
    return _FENCE.sub(r"‹\1", text)


def _fill(template: str, values: dict[str, str]) -> str:
    # One pass, so a value that happens to contain "{sources}" is not expanded again.
    return _SLOT.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def format_sources(sources: Sequence[Source]) -> str:
    blocks = []
    for s in sources:
        head = [f"title: {_defuse(s['title'])}"]
        if s.get("section"):
            head.append(f"section: {_defuse(str(s['section']))}")
        body = "\n".join(head) + "\n\n" + _defuse(s["text"].strip())
        blocks.append(f'<source n="{int(s["n"])}">\n{body}\n</source>')
    return "\n\n".join(blocks)


def answer_messages(
    question: str, lang: str, procedure: str | None, sources: Sequence[Source]
) -> list[BaseMessage]:
    system, user = load_prompt("answer.en.md" if lang == "en" else "answer.vi.md")
    values = {
        "question": _defuse(question.strip()),
        "procedure": _defuse(procedure) if procedure else "-",
        "sources": format_sources(sources),
    }
    return [SystemMessage(system), HumanMessage(_fill(user, values))]


def rewrite_messages(question: str, history: Sequence[str]) -> list[BaseMessage]:
    system, user = load_prompt("rewrite.vi.md")
    past = "\n".join(f"{i}. {_defuse(h.strip())}" for i, h in enumerate(history, 1))
    values = {"history": past, "question": _defuse(question.strip())}
    return [SystemMessage(system), HumanMessage(_fill(user, values))]


def clean_output(text: str) -> str:
    """The reply without reasoning blocks (`<think>…</think>`) some servers pass through."""
    return _THINK.sub("", text).strip()


class Generator:
    """Generates a fluent answer with a chat model, or falls back to the composed one.

    Thread-safe; one instance serves the whole process. Model calls run on a small thread pool so
    that each one is abandoned at `deadline_s` (the client's own timeout ends it later).
    """

    def __init__(
        self,
        model: BaseChatModel,
        deadline_s: float,
        metrics: Metrics | None = None,
        *,
        workers: int = 4,
    ) -> None:
        self.model = model
        self.deadline_s = deadline_s
        self.metrics: Metrics = metrics if metrics is not None else CounterMetrics()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llm")

    @classmethod
    def from_settings(cls, settings: Settings, metrics: Metrics | None = None) -> Generator | None:
        """The generator `ASSISTANT_LLM` asks for, or None when it is `none`."""
        from assistant.llm import make_chat_model

        model = make_chat_model(settings)
        return None if model is None else cls(model, settings.llm_timeout_s, metrics)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- answers -------------------------------------------------------------------------------

    def generate(
        self,
        question: str,
        lang: str,
        procedure: str | None,
        composed: dict[str, Any],
        sources: Sequence[Source],
    ) -> tuple[dict[str, Any], str | None]:
        """(answer JSON, fallback reason or None). Only behavior "answer" is generated."""
        if not _wants_generation(composed, sources):
            return composed, None
        messages = answer_messages(question, lang, procedure, sources)
        future = self._pool.submit(self.model.invoke, messages)
        try:
            text = clean_output(future.result(timeout=self.deadline_s).text)
        except FutureTimeout:
            future.cancel()
            return self._fallback(composed, "timeout")
        except Exception as exc:  # noqa: BLE001 - any model failure falls back
            return self._fallback(composed, "model_error", exc)
        return self._finish(text, composed, sources)

    def stream(
        self,
        question: str,
        lang: str,
        procedure: str | None,
        composed: dict[str, Any],
        sources: Sequence[Source],
    ) -> Iterator[tuple[str, Any]]:
        """("delta", text) per model token, then ("done", {"answer", "replaced", "reason"}).

        `done.answer` is authoritative; `replaced` is true when its text differs from the
        concatenated deltas (a failed check after tokens were shown), so the client must replace
        what it displayed. Without generation the composed text comes as a single delta.
        """
        if not _wants_generation(composed, sources):
            yield from _passthrough(composed)
            return
        messages = answer_messages(question, lang, procedure, sources)
        deadline = time.monotonic() + self.deadline_s
        chunks: queue.Queue[tuple[str, Any]] = queue.Queue()
        stop = threading.Event()
        self._pool.submit(_pump, self.model, messages, chunks, stop)
        shown: list[str] = []
        reason: str | None = None
        error: BaseException | None = None
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    reason = "timeout"
                    break
                try:
                    kind, value = chunks.get(timeout=remaining)
                except queue.Empty:
                    reason = "timeout"
                    break
                if kind == "end":
                    break
                if kind == "error":
                    reason, error = "model_error", value
                    break
                if value:
                    shown.append(value)
                    yield "delta", value
        finally:
            stop.set()
        yield from self._done(shown, reason, error, composed, sources)

    # -- follow-ups ----------------------------------------------------------------------------

    def rewrite(self, question: str, history: list[str]) -> str:
        """A standalone version of a follow-up question, or the question itself on any failure."""
        if not history:
            return question
        future = self._pool.submit(self.model.invoke, rewrite_messages(question, history))
        try:
            text = clean_output(future.result(timeout=self.deadline_s).text)
        except FutureTimeout:
            future.cancel()
            return self._rewrite_fallback(question, "timeout")
        except Exception:  # noqa: BLE001
            return self._rewrite_fallback(question, "model_error")
        lines = [line.strip().strip("\"'“”«»").strip() for line in text.splitlines() if line.strip()]
        if not lines:
            return self._rewrite_fallback(question, "empty")
        rewritten = lines[0]
        if len(rewritten) > 3 * len(question) + 200:
            return self._rewrite_fallback(question, "too_long")
        return rewritten

    def _rewrite_fallback(self, question: str, reason: str) -> str:
        log.warning("LLM rewrite fell back: %s", reason)
        self.metrics.inc(REWRITE_FALLBACK_METRIC, reason)
        return question

    # -- shared --------------------------------------------------------------------------------

    def _finish(
        self, text: str, composed: dict[str, Any], sources: Sequence[Source]
    ) -> tuple[dict[str, Any], str | None]:
        if not text:
            return self._fallback(composed, "empty")
        reason = check_answer(text, sources, composed.get("citations") or [])
        if reason is not None:
            return self._fallback(composed, reason)
        used = set(cited_numbers(text))
        answer = copy.deepcopy(composed)
        answer["answer"] = text
        answer["citations"] = [c for c in answer.get("citations") or [] if c.get("n") in used]
        return answer, None

    def _fallback(
        self, composed: dict[str, Any], reason: str, exc: BaseException | None = None
    ) -> tuple[dict[str, Any], str]:
        # Never log the question or the model's text: they may hold personal data.
        detail = f" ({type(exc).__name__})" if exc is not None else ""
        log.warning("LLM answer fell back to the composed answer: %s%s", reason, detail)
        self.metrics.inc(FALLBACK_METRIC, reason)
        return composed, reason

    def _done(
        self,
        shown: list[str],
        reason: str | None,
        error: BaseException | None,
        composed: dict[str, Any],
        sources: Sequence[Source],
    ) -> Iterator[tuple[str, Any]]:
        streamed = "".join(shown)
        if reason is None:
            answer, reason = self._finish(clean_output(streamed), composed, sources)
        else:
            answer, reason = self._fallback(composed, reason, error)
        if not shown and reason is not None:
            # Nothing reached the client yet: send the composed text as an ordinary delta.
            yield "delta", answer["answer"]
            streamed = answer["answer"]
        done = {"answer": answer, "replaced": answer["answer"] != streamed, "reason": reason}
        yield "done", done


def _wants_generation(composed: dict[str, Any], sources: Sequence[Source]) -> bool:
    return composed.get("behavior") == "answer" and bool(sources)


def _passthrough(composed: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    if composed.get("answer"):
        yield "delta", composed["answer"]
    yield "done", {"answer": composed, "replaced": False, "reason": None}


def _pump(
    model: BaseChatModel,
    messages: list[BaseMessage],
    chunks: queue.Queue[tuple[str, Any]],
    stop: threading.Event,
) -> None:
    """Worker: move the model's stream into `chunks` until it ends or the reader gives up."""
    if stop.is_set():  # the reader gave up while this call waited for a free worker
        return
    try:
        for chunk in model.stream(messages):
            if stop.is_set():
                return
            chunks.put(("chunk", chunk.text))
        chunks.put(("end", None))
    except Exception as exc:  # noqa: BLE001 - reported to the reader
        chunks.put(("error", exc))
