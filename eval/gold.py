"""The gold format (DESIGN.md, Contract): one turn per JSON line, read and written here.

`{"id", "question", "history", "expected_sources", "expected_behavior", "facts", "facets", "lang"}`
plus an optional free-text `notes`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator


_KIND = re.compile(r"[a-z][a-z-]{1,30}")
BEHAVIORS: tuple[str, ...] = ("answer", "clarify", "refuse")
FACETS: tuple[str, ...] = ("documents", "fee", "time", "place", "conditions", "legal_basis", "steps", "result")


class GoldError(ValueError):
    """A gold file that does not follow the format; the message names the file and line."""


@dataclass(frozen=True)
class GoldTurn:
    id: str
    question: str
    expected_behavior: str
    history: list[str] = field(default_factory=list)
    expected_sources: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    facets: list[str] = field(default_factory=list)
    lang: str = "vi"
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if not out["notes"]:
            del out["notes"]
        return out

    def expected(self) -> dict[str, Any]:
        """What a result record keeps of the turn, so a run can be scored without its gold file."""
        out = {"expected_sources": self.expected_sources, "expected_behavior": self.expected_behavior,
               "facts": self.facts, "facets": self.facets, "lang": self.lang}
        if _KIND.fullmatch(self.notes):
            out["kind"] = self.notes  # a one-word note names what the turn tests: a breakdown of the report
        return out


def _str_list(row: dict[str, Any], key: str, where: str) -> list[str]:
    value = row.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise GoldError(f"{where}: `{key}` must be a list of strings")
    return list(value)


def turn_from_dict(row: dict[str, Any], where: str = "gold") -> GoldTurn:
    """Validate one gold row; `where` ("file.jsonl:12") prefixes every error."""
    if not isinstance(row, dict):
        raise GoldError(f"{where}: expected a JSON object")
    for key in ("id", "question", "expected_behavior"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            raise GoldError(f"{where}: `{key}` is missing or empty")
    if row["expected_behavior"] not in BEHAVIORS:
        raise GoldError(f"{where}: `expected_behavior` must be one of {', '.join(BEHAVIORS)}, "
                        f"not {row['expected_behavior']!r}")
    facets = _str_list(row, "facets", where)
    unknown = sorted(set(facets) - set(FACETS))
    if unknown:
        raise GoldError(f"{where}: unknown facets {unknown}; known: {', '.join(FACETS)}")
    return GoldTurn(
        id=row["id"], question=row["question"], expected_behavior=row["expected_behavior"],
        history=_str_list(row, "history", where), expected_sources=_str_list(row, "expected_sources", where),
        facts=_str_list(row, "facts", where), facets=facets, lang=str(row.get("lang") or "vi"),
        notes=str(row.get("notes") or ""),
    )


def json_lines(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, object) for each non-blank line of a JSONL file; a bad line raises GoldError."""
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise GoldError(f"{where}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise GoldError(f"{where}: expected a JSON object")
            yield where, row


def unique_turns(rows: Iterable[tuple[str, GoldTurn]]) -> list[GoldTurn]:
    """The turns in order; a repeated id raises GoldError naming where."""
    turns: list[GoldTurn] = []
    seen: set[str] = set()
    for where, turn in rows:
        if turn.id in seen:
            raise GoldError(f"{where}: duplicate id {turn.id!r}")
        seen.add(turn.id)
        turns.append(turn)
    return turns


def load_gold(path: Path) -> list[GoldTurn]:
    """Read a gold JSONL file; blank lines are skipped, ids must be unique."""
    return unique_turns((where, turn_from_dict(row, where)) for where, row in json_lines(path))


def write_gold(path: Path, turns: Iterable[GoldTurn]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for turn in turns:
            fh.write(json.dumps(turn.as_dict(), ensure_ascii=False) + "\n")
            n += 1
    return n


def apply_corrections(turns: list[GoldTurn], path: Path) -> tuple[list[GoldTurn], int]:
    """Turns with a corrections file applied (lines {"id", "field", "corrected", ...}, e.g.
    eval/gold/dev_corrections.jsonl); returns them and the number of corrections read."""
    fixes: dict[str, dict[str, Any]] = {}
    n = 0
    for _where, fix in json_lines(path):
        fixes.setdefault(fix["id"], {})[fix["field"]] = fix["corrected"]
        n += 1
    return [replace(t, **fixes[t.id]) if t.id in fixes else t for t in turns], n
