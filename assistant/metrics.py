"""In-process counters and latency sums, exposed at /metrics in Prometheus' text format."""

from __future__ import annotations

import threading
from collections import defaultdict


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{str(v).replace(chr(34), "")}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[tuple[str, str], float] = defaultdict(float)
        self.sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        self.help: dict[str, str] = {}

    def count(self, name: str, help_text: str = "", **labels: str) -> None:
        with self._lock:
            self.counters[(name, _labels(labels))] += 1
            self.help.setdefault(name, help_text)

    def observe(self, name: str, seconds: float, help_text: str = "", **labels: str) -> None:
        with self._lock:
            s = self.sums[(name, _labels(labels))]
            s[0] += seconds
            s[1] += 1
            self.help.setdefault(name, help_text)

    def inc(self, name: str, reason: str) -> None:
        """The generator's sink: `llm_fallback` counted by reason."""
        self.count(f"assistant_{name}_total", "generated answers replaced by the composed one", reason=reason)

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            names = sorted({n for n, _ in self.counters} | {n for n, _ in self.sums})
            for name in names:
                if self.help.get(name):
                    lines.append(f"# HELP {name} {self.help[name]}")
                if any(n == name for n, _ in self.counters):
                    lines.append(f"# TYPE {name} counter")
                    lines += [f"{name}{lab} {v:g}" for (n, lab), v in sorted(self.counters.items()) if n == name]
                else:
                    lines.append(f"# TYPE {name} summary")
                    for (n, lab), (total, count) in sorted(self.sums.items()):
                        if n == name:
                            lines.append(f"{name}_sum{lab} {total:.6f}")
                            lines.append(f"{name}_count{lab} {count:g}")
        return "\n".join(lines) + "\n"
