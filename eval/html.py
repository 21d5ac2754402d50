"""report.html: one self-contained page (inline CSS, inline SVG drawn here, no script, no network)."""

from __future__ import annotations

from html import escape
from typing import Any, Sequence

from eval.metrics import DEFINITIONS, LOWER_IS_BETTER
from eval.report import MAX_FAILED_SHOWN, RATE_METRICS, FailedTurn, fmt

SERIES = (("hit@1", "#2563a8"), ("behavior_accuracy", "#d9822b"))
CSS = """
:root { --ink:#1d2430; --muted:#5b6675; --line:#d9dee5; --bg:#f6f7f9; --ok:#1f7a44; --bad:#b3261e; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
       color: var(--ink); background: var(--bg); }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 10px; }
.meta { color: var(--muted); margin: 0 0 16px; } .meta code { background: #eceff3; padding: 0 4px; border-radius: 3px; }
.gate { padding: 10px 14px; border-radius: 6px; margin: 12px 0; font-weight: 600; }
.gate.pass { background: #e3f3e8; color: var(--ok); } .gate.fail { background: #fbe7e5; color: var(--bad); }
.gate ul { margin: 6px 0 0; font-weight: 400; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card .name { color: var(--muted); font-size: 12px; } .card .value { font-size: 22px; font-weight: 650; }
.card .def { color: var(--muted); font-size: 11.5px; line-height: 1.3; margin-top: 4px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 14px; align-items: start; }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; }
.panel h3 { font-size: 14px; margin: 0 0 6px; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart text { font: 11.5px system-ui, sans-serif; fill: var(--ink); }
svg.chart .axis { stroke: var(--line); } svg.chart .label { fill: var(--muted); }
.legend { font-size: 12px; color: var(--muted); margin: 4px 0 0; }
.legend i { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; border-radius: 2px; }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
table.confusion td.cm-cell { text-align: center; min-width: 74px; font-variant-numeric: tabular-nums; }
table.confusion td.cm-cell small { display: block; color: inherit; opacity: .75; }
table.failed { width: 100%; font-size: 13px; } table.failed td { max-width: 380px; overflow-wrap: anywhere; }
.why { color: var(--bad); } .hist { color: var(--muted); display: block; font-size: 12px; }
details summary { cursor: pointer; color: var(--muted); }
"""


def _bar_chart(title: str, rows: Sequence[tuple[str, dict[str, Any]]],
               series: Sequence[tuple[str, str]] = SERIES) -> str:
    """Grouped horizontal bars of rates in [0, 1]: one group per row, one bar per series."""
    label_w, bar_w, value_w, bar_h, gap, top = 200, 300, 56, 12, 10, 22
    group_h = bar_h * len(series) + gap
    height = top + group_h * len(rows) + 8
    width = label_w + bar_w + value_w
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">']
    for i in range(5):  # gridlines at 0, .25, .5, .75, 1
        x = label_w + bar_w * i / 4
        parts.append(f'<line class="axis" x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 6}"/>')
        parts.append(f'<text class="label" x="{x:.1f}" y="{top - 10}" text-anchor="middle">{i / 4:g}</text>')
    for gi, (label, values) in enumerate(rows):
        y0 = top + gi * group_h
        n = values.get("n")
        text = f"{label} (n={n})" if n is not None else label
        parts.append(f'<text x="{label_w - 8}" y="{y0 + bar_h * len(series) / 2 + 4:.1f}" '
                     f'text-anchor="end">{escape(text[:34])}</text>')
        for si, (name, color) in enumerate(series):
            value = values.get(name)
            y = y0 + si * bar_h
            if value is None:
                parts.append(f'<text class="label" x="{label_w + 4}" y="{y + bar_h - 2}">n/a</text>')
                continue
            w = max(bar_w * float(value), 1.5)
            parts.append(f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" '
                         f'fill="{color}"><title>{escape(label)} {escape(name)}: {value:.3f}</title></rect>')
            parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 3}">{value:.2f}</text>')
    parts.append("</svg>")
    legend = "".join(f'<i style="background:{c}"></i>{escape(n)}' for n, c in series)
    return (f'<div class="panel"><h3>{escape(title)}</h3>{"".join(parts)}'
            f'<p class="legend">{legend}</p></div>')


def _cards(metrics: dict[str, Any]) -> str:
    out = []
    for name, definition in DEFINITIONS.items():
        out.append(f'<div class="card" title="{escape(definition)}"><div class="name">{escape(name)}</div>'
                   f'<div class="value">{escape(fmt(name, metrics.get(name)))}</div>'
                   f'<div class="def">{escape(definition)}</div></div>')
    return f'<div class="cards">{"".join(out)}</div>'


def _heat(share: float, diagonal: bool) -> str:
    """Background for a confusion cell: green on the diagonal, red off it, stronger with the row share."""
    alpha = 0.08 + 0.8 * share if share else 0.0
    rgb = "31,122,68" if diagonal else "179,38,30"
    ink = "#fff" if alpha > 0.5 else "#1d2430"
    return f"background: rgba({rgb},{alpha:.2f}); color: {ink}"


def _confusion(table: dict[str, dict[str, int]]) -> str:
    cols = list(next(iter(table.values())).keys())
    head = "".join(f"<th>{escape(c)}</th>" for c in cols)
    rows = []
    for exp, row in table.items():
        total = sum(row.values())
        cells = []
        for got in cols:
            count = row[got]
            share = count / total if total else 0.0
            cells.append(f'<td class="cm-cell" data-expected="{escape(exp)}" data-got="{escape(got)}" '
                         f'style="{_heat(share, exp == got)}">{count}<small>{share:.0%}</small></td>')
        rows.append(f"<tr><th>{escape(exp)} <small>(n={total})</small></th>{''.join(cells)}</tr>")
    return (f'<table class="confusion"><thead><tr><th>expected \\ got</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _failed(failed: Sequence[FailedTurn]) -> str:
    if not failed:
        return "<p>No failed turns.</p>"
    rows = []
    for f in failed[:MAX_FAILED_SHOWN]:
        rec, s = f.record, f.score
        exp = rec["expected"]
        hist = "".join(f'<span class="hist">↳ {escape(h)}</span>' for h in rec.get("history") or [])
        expected = escape(f"{exp['expected_behavior']} {', '.join(exp['expected_sources'])}".strip())
        if exp.get("facts"):
            expected += "<br><small>facts: " + escape("; ".join(exp["facts"])) + "</small>"
        if s.error:
            got = "<b>error</b>"
        else:
            answer = (rec.get("got") or {}).get("answer") or ""
            got = escape(f"{s.got_behavior} {', '.join(s.codes)}".strip())
            got += f"<details><summary>answer ({len(answer)} chars)</summary>{escape(answer)}</details>"
        rows.append(f"<tr><td>{escape(rec['id'])}</td><td>{hist}{escape(rec['question'])}</td>"
                    f"<td>{expected}</td><td>{got}</td>"
                    f'<td class="why">{"<br>".join(escape(r) for r in f.reasons)}</td></tr>')
    more = (f"<p>The first {MAX_FAILED_SHOWN} of {len(failed)} are shown; results.jsonl holds them all.</p>"
            if len(failed) > MAX_FAILED_SHOWN else "")
    return (f'{more}<table class="failed"><thead><tr><th>id</th><th>question</th><th>expected</th><th>got</th>'
            f'<th>why</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _gate(gate: dict[str, Any] | None) -> str:
    if not gate:
        return ""
    if not gate["failures"]:
        return '<div class="gate pass">Gate passed: every metric within its threshold.</div>'
    items = "".join(f"<li>{escape(f)}</li>" for f in gate["failures"])
    return f'<div class="gate fail">Gate failed<ul>{items}</ul></div>'


def render(doc: dict[str, Any], failed: Sequence[FailedTurn]) -> str:
    run, metrics = doc["run"], doc["metrics"]
    rates = [(f"{n} (↓ better)" if n in LOWER_IS_BETTER else n, {"value": metrics.get(n)})
             for n in RATE_METRICS]
    charts = [_bar_chart("Headline rates", rates, series=(("value", "#2563a8"),))]
    for key, groups in doc["breakdowns"].items():
        charts.append(_bar_chart(f"By {key.replace('_', ' ')}", list(groups.items())))
    worst = sorted(doc["procedures"].items(), key=lambda kv: (kv[1]["hit@1"], -kv[1]["n"]))[:15]
    if worst:
        charts.append(_bar_chart("Procedures with the lowest hit@1", worst, series=(("hit@1", "#2563a8"),)))
    meta = (f"gold <code>{escape(str(run.get('gold', '')))}</code> · {doc['n_turns']} turns · "
            f"target {escape(str(run.get('target', '')))} · finished {escape(str(run.get('finished_at', '')))}")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Eval report: {escape(str(run.get('tag', '')))}</title><style>{CSS}</style></head>
<body><main>
<h1>Eval report: {escape(str(run.get('tag', '')))}</h1>
<p class="meta">{meta}</p>
{_gate(doc.get('gate'))}
<h2>Metrics</h2>
{_cards(metrics)}
<h2>Breakdowns</h2>
<div class="charts">{''.join(charts)}</div>
<h2>Behaviour confusion matrix</h2>
<p class="meta">Rows: expected behaviour; columns: what the assistant did (error: the request failed).
Percentages are shares of the row.</p>
{_confusion(doc['confusion'])}
<h2>Failed turns ({len(failed)})</h2>
{_failed(failed)}
</main></body></html>
"""
