"""The release gate: thresholds on metrics.json numbers.

A thresholds file is `{"min": {"hit@1": 0.9, ...}, "max": {"errors": 0, ...}}`; `--min NAME=VALUE` and
`--max NAME=VALUE` on the command line override it. A threshold on a metric the run could not measure
(no turn of that kind) fails: a gate that silently passes proves nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from eval.metrics import DEFINITIONS


@dataclass
class Thresholds:
    min: dict[str, float] = field(default_factory=dict)
    max: dict[str, float] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.min or self.max)


def _check_name(name: str, where: str) -> None:
    if name not in DEFINITIONS:
        raise ValueError(f"{where}: unknown metric {name!r}; known: {', '.join(DEFINITIONS)}")


def parse_pair(text: str) -> tuple[str, float]:
    """'hit@1=0.9' -> ('hit@1', 0.9); ValueError with a readable message otherwise."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep:
        raise ValueError(f"threshold {text!r} is not METRIC=VALUE")
    _check_name(name, "threshold")
    try:
        return name, float(value)
    except ValueError:
        raise ValueError(f"threshold {text!r}: {value!r} is not a number") from None


def load_thresholds(path: Path | None, mins: Iterable[str] = (), maxs: Iterable[str] = ()) -> Thresholds:
    out = Thresholds()
    if path is not None:
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"thresholds file {path}: {exc}") from None
        if not isinstance(data, dict) or set(data) - {"min", "max"}:
            raise ValueError(f"thresholds file {path}: expected {{\"min\": {{...}}, \"max\": {{...}}}}")
        for kind in ("min", "max"):
            for name, value in (data.get(kind) or {}).items():
                _check_name(name, f"thresholds file {path}")
                getattr(out, kind)[name] = float(value)
    for text in mins:
        name, value = parse_pair(text)
        out.min[name] = value
    for text in maxs:
        name, value = parse_pair(text)
        out.max[name] = value
    return out


def failures(metrics: dict[str, Any], thresholds: Thresholds) -> list[str]:
    """One line per metric outside its threshold, e.g. 'hit@1 = 0.812 < min 0.9'."""
    out: list[str] = []
    for name, bound in sorted(thresholds.min.items()):
        value = metrics.get(name)
        if value is None:
            out.append(f"{name} not measured (no turn of that kind), min {bound:g}")
        elif value < bound:
            out.append(f"{name} = {value:.4g} < min {bound:g}")
    for name, bound in sorted(thresholds.max.items()):
        value = metrics.get(name)
        if value is None:
            out.append(f"{name} not measured (no turn of that kind), max {bound:g}")
        elif value > bound:
            out.append(f"{name} = {value:.4g} > max {bound:g}")
    return out

