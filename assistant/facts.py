"""A parsed procedure's fields rendered as short answer blocks, exactly as the source has them.

Nothing is computed: times and fees keep their wording and units; a time without a unit says so; a
fee valid only until a date is shown only while it is valid on the answer date; "do HĐND tỉnh quyết
định" is said as such.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib.resources import files

MAX_DOCS = 5
MAX_STEPS = 4
MAX_LEGAL = 3
ITEM_CHARS = 150


@lru_cache
def template(lang: str) -> dict[str, str]:
    name = "en.json" if lang == "en" else "vi.json"
    return json.loads(files("assistant.templates").joinpath(name).read_text(encoding="utf-8"))


@dataclass
class Block:
    facet: str  # which section of the source it cites
    heading: str
    lines: list[str]
    needles: list[str] = field(default_factory=list)  # source strings the quote should show


def clip(text: str, n: int = ITEM_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= n:
        return text
    cut = text[:n].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.") + "…"


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def fee_text(fee: dict, channel: dict, today: date, t: dict[str, str]) -> str | None:
    """One fee as the source says it, or None when it is not valid on `today`."""
    until, since = _date(fee.get("valid_until")), _date(fee.get("valid_from"))
    if (until and until < today) or (since and since > today):
        return None
    text = fee["text"]
    flags = set(channel.get("flags") or [])
    if "fee_by_provincial_council" in flags:
        text = t["hdnd"].format(text=text)
    elif "fee_conflict" in flags and fee.get("note"):
        text = t["fee_conflict"].format(text=text, note=clip(fee["note"], 110))
    elif fee.get("note") and len(fee["note"]) < 40:
        text = f"{text} {fee['note']}"
    if until:
        text = t["fee_until"].format(text=text, date=until.strftime("%d/%m/%Y"))
    return text


def _by_value(rows: list[tuple[str, str]]) -> list[str]:
    """'Trực tuyến, Trực tiếp: 5 Ngày làm việc' when channels share a value."""
    groups: dict[str, list[str]] = {}
    for label, value in rows:
        groups.setdefault(value, []).append(label)
    return [f"{', '.join(labels)}: {value}" for value, labels in groups.items()]


def time_block(p: dict, t: dict[str, str]) -> Block | None:
    rows, needles = [], []
    for c in p.get("channels") or []:
        if c.get("time"):
            value = c["time"] if c.get("time_unit") else t["no_unit"].format(value=c["time"])
            rows.append((c["label"], value))
            needles.append(c["time"])
    if not rows:
        return None
    return Block("time", t["time"], _by_value(rows), needles)


def fee_block(p: dict, today: date, t: dict[str, str]) -> Block | None:
    rows, needles = [], []
    for c in p.get("channels") or []:
        texts = [x for x in (fee_text(f, c, today, t) for f in c.get("fees") or []) if x]
        expired = [f for f in c.get("fees") or [] if f.get("valid_until") and _date(f["valid_until"]) < today]
        if texts:
            value = "; ".join(texts)
            if c.get("note"):
                value += f" ({clip(c['note'], 150)})"
        elif c.get("free"):
            value = t["free"]
        elif expired:
            value = t["fee_expired"].format(date=_date(expired[0]["valid_until"]).strftime("%d/%m/%Y"))
        else:
            continue
        rows.append((c["label"], value))
        needles += [f["text"] for f in c.get("fees") or []] or ["Miễn phí"]
    if not rows:
        return None
    return Block("fee", t["fee"], _by_value(rows), needles)


def documents_block(p: dict, t: dict[str, str]) -> Block | None:
    docs = p.get("documents") or []
    if not docs:
        return None
    groups: list[str] = []
    for d in docs:
        if d.get("group") and d["group"] not in groups:
            groups.append(d["group"])
    lead = [d for d in docs if not groups or d.get("group") == groups[0]]
    lines = []
    if len(groups) > 1:
        lines.append(clip(groups[0], 110) + ":")
    for d in lead[:MAX_DOCS]:
        extra = "; ".join(x for x in (d.get("quantity"), d.get("form") and f"mẫu: {d['form']}") if x)
        lines.append(f"- {clip(d['name'])}" + (f" ({extra})" if extra else ""))
    if len(lead) > MAX_DOCS:
        lines.append(t["more_documents"].format(n=len(lead) - MAX_DOCS))
    if len(groups) > 1:
        lines.append(t["other_cases"].format(cases="; ".join(clip(g, 70) for g in groups[1:4])))
    return Block("documents", t["documents"], lines, [clip(d["name"], 60).rstrip("…") for d in lead[:MAX_DOCS]])


def place_block(p: dict, offices: dict[str, dict], t: dict[str, str], local: str | None = None) -> Block:
    lines = []
    if local:
        lines.append(local)
    if p.get("agency"):
        lines.append(t["agency"].format(agency=clip(p["agency"], 160)))
    if p.get("address"):
        lines.append(t["address"].format(address=clip(p["address"], 200)))
    elif offices and not local:
        office = office_for(p.get("level") or "", offices)
        if office:
            lines.append(t["office"].format(
                name=office.get("name", ""), address=office.get("address", ""),
                hours=t["hours"].format(hours=office["hours"]) if office.get("hours") else "",
                phone=t["phone"].format(phone=office["phone"]) if office.get("phone") else ""))
    labels = [c["label"] for c in p.get("channels") or []]
    if labels:
        lines.append(f"{t['channels']}: {', '.join(dict.fromkeys(labels))}")
    if not lines and p.get("level"):
        lines.append(t["level"].format(level=p["level"]))
    return Block("place", t["place"], lines, [p.get("agency") or "", *labels])


def office_for(level: str, offices: dict[str, dict]) -> dict | None:
    """The deployment's office for the first level a procedure names ('Cấp xã, Cơ quan khác')."""
    for part in level.split(","):
        if part.strip() in offices:
            return offices[part.strip()]
    return None


def text_block(facet: str, heading: str, value: str | None, n: int = 380) -> Block | None:
    return Block(facet, heading, [clip(value, n)], [clip(value, 60).rstrip("…")]) if value else None


def list_block(facet: str, heading: str, items: list[str], limit: int, more: str, numbered: bool) -> Block | None:
    if not items:
        return None
    lines = [f"{i}. {clip(s)}" if numbered else f"- {clip(s)}" for i, s in enumerate(items[:limit], 1)]
    if len(items) > limit:
        lines.append(more.format(n=len(items) - limit))
    return Block(facet, heading, lines, [clip(s, 60).rstrip("…") for s in items[:limit]])


def blocks_for(p: dict, facets: list[str], today: date, lang: str, offices: dict[str, dict],
               local_place: str | None = None) -> list[Block]:
    """The blocks answering `facets` (an overview when none was asked)."""
    t = template(lang)
    asked = facets or ["documents", "time", "fee", "place"]
    legal = [f"{clip(x['title'], 110)}" + (f" ({x['number']})" if x.get("number") and x["number"] not in x["title"] else "")
             for x in p.get("legal_basis") or []]
    makers = {
        "documents": lambda: documents_block(p, t),
        "time": lambda: time_block(p, t),
        "fee": lambda: fee_block(p, today, t),
        "place": lambda: place_block(p, offices, t, local_place),
        "conditions": lambda: text_block("conditions", t["conditions"], p.get("conditions")),
        "legal_basis": lambda: list_block("legal_basis", t["legal_basis"], legal, MAX_LEGAL, t["more_legal"], False),
        "steps": lambda: list_block("steps", t["steps"], p.get("steps") or [], MAX_STEPS, t["more_steps"], True),
        "result": lambda: list_block("result", t["result"], p.get("results") or [], 3, t["more_legal"], False),
    }
    out = []
    for facet in asked:
        block = makers[facet]() if facet in makers else None
        if block is not None and block.lines:
            out.append(block)
    if facets and not out:  # what was asked is empty in the source: say what it does have
        return blocks_for(p, [], today, lang, offices, local_place)
    return out
