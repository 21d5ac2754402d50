"""Example-question files: gold-format JSON Lines (`question` + `expected_sources`, see DESIGN.md)
indexed as routing data. Each example points at the procedures that answer it, or, with
`expected_behavior: refuse`, is an example of what to refuse.

One file is one source (`examples:<file name>`), so re-ingesting an unchanged file is a no-op and a
changed one is replaced as a whole, like every other source. Examples route; they are never cited or
shown to citizens (the source is `official`, and retrieval reads only their labels).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from assistant.query import analyse, topic
from assistant.store import EXAMPLES as KIND
from ingest.portal import iter_records
from ingest.source import LoadError, Loaded, Section, Source

MAX_QUESTION_CHARS = 2000


def is_examples(path: Path) -> bool:
    """Whether a `.jsonl`/`.json` file holds example questions rather than portal records: its first
    record has a `question`."""
    try:
        with path.open("rb") as fh:
            head = fh.read(65536).decode("utf-8-sig", errors="replace")
    except OSError:
        return False
    first = head.lstrip("[ \n\r\t").split("\n", 1)[0].rstrip(", \r")
    try:
        row = json.loads(first)
    except ValueError:
        return '"question"' in first and '"ma_thu_tuc"' not in first
    return isinstance(row, dict) and "question" in row and "ma_thu_tuc" not in row


def load(path: Path) -> Loaded:
    """One source for the file: a section per example (its question), labelled in `meta`."""
    sections, errors = [], []
    for n, row in iter_records(path):
        if isinstance(row, LoadError):
            errors.append(str(row))
            continue
        question, codes = row.get("question"), row.get("expected_sources") or []
        behavior = row.get("expected_behavior") or ("answer" if codes else "refuse")
        if not isinstance(question, str) or not question.strip():
            errors.append(f"line {n}: no `question`")
            continue
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            errors.append(f"line {n}: `expected_sources` must be a list of procedure codes")
            continue
        if behavior not in ("answer", "refuse", "clarify") or (behavior == "answer" and not codes):
            errors.append(f"line {n}: an `answer` example needs `expected_sources`")
            continue
        if row.get("history"):
            continue  # a follow-up says nothing on its own about which procedure is meant
        text = " ".join(question.split())[:MAX_QUESTION_CHARS]
        q = analyse(text)
        meta = {"codes": codes if behavior != "refuse" else [], "behavior": "refuse" if behavior == "refuse" else "answer",
                "example_id": str(row.get("id") or f"{path.name}:{n}"), "style": row.get("style") or "",
                "lang": q.lang, "topic": topic(q)}
        sections.append(Section(text=text, meta=meta))
    if not sections:
        detail = "; ".join(errors[:3]) if errors else "the file holds no questions"
        raise LoadError(f"no usable example question ({detail})")
    labelled = json.dumps([(s.text, s.meta) for s in sections], ensure_ascii=False, sort_keys=True)
    source = Source(source_id=f"{KIND}:{path.name}", title=f"Example questions ({path.name})", kind=KIND,
                    origin=str(path), sections=sections, audience="official",
                    content_hash=hashlib.sha256(labelled.encode()).hexdigest())
    return Loaded([source], errors)
