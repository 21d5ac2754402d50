"""A parsed procedure's fields rendered as short answer blocks, exactly as the source has them.

Nothing is computed: times and fees keep their wording and units; a time without a unit says so; a
fee valid only until a date is shown only while it is valid on the answer date; "do HĐND tỉnh quyết
định" is said as such.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib.resources import files

from assistant.text import fold

ITEM_CHARS = 150
LONGEST = 400  # a single sentence longer than this is cut (at a word, marked "…")
_SENTENCE_END = re.compile(r"[.;!?](?=\s+\S)")
_PARENS = re.compile(r"\s*\([^()]*\)")
# Where a clause ends: a colon or dash, or a comma before a word that opens a subordinate clause (a
# comma inside an enumeration, "cho thuê, cho mượn, cho ở nhờ", is no boundary).
_CLAUSE = re.compile(r"(?i):(?=\s)|\s[-–]\s|,(?=\s+(?:trong trường hợp|trường hợp|nếu|trừ|kể cả|đối với|theo|"
                     r"để|khi|gồm|bao gồm|đồng thời|sau đó|hoặc|và)\b)")
# How much of each list an answer shows, by how many facets it answers (answers stay short: p95 ≤ 900).
BUDGETS = {1: {"docs": 5, "steps": 4, "legal": 3, "chars": 85},
           2: {"docs": 4, "steps": 3, "legal": 2, "chars": 90},
           3: {"docs": 3, "steps": 2, "legal": 2, "chars": 75}}
BLOCK_ROWS = 4  # a list shows rows while it is under about this many rows of `chars` characters
FULL = {"docs": 200, "steps": 200, "legal": 200, "chars": 100_000}  # "xem đủ giấy tờ": the whole list
_MONEY = re.compile(r"(?i)(đồng|\bđ\b|vnđ|usd|phí|miễn|%|\d\.\d{3})")
_FILE = re.compile(r"(?i)\.(docx?|pdf|xlsx?|rtf)\s*$")  # a template's file name says nothing to a citizen
_LEGAL_ORDER = [re.compile(r"/QH\d+|^Luật\b"), re.compile(r"NĐ-CP|^Nghị định"), re.compile(r"/TT-|^Thông tư")]
_FORM = re.compile(r"(?i)^\W*(tờ khai|đơn|mẫu|văn bản đề nghị)")
_SUBMIT = re.compile(r"(?i)phải nộp|hồ sơ\b.{0,40}\bgồm|thành phần")
_PRESENT = re.compile(r"(?i)xuất trình")
_NOTE_LIKE = re.compile(r"(?i)^\W*(\(\w+\)\s*)?(trường hợp|đối với|nếu|lưu ý)\b")


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
    """`text` whole when it is about `n` characters or less; else shortened only where a reader sees
    it, marked "(…)": its first whole sentences that fit, else the first sentence without its
    parentheses, else that sentence up to its last clause boundary (comma, colon) that fits; never
    inside a clause or a word. The whole text is in the citation's quote and on request."""
    text = " ".join(text.split())
    if len(text) <= n * 1.2:
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    fit = [e for e in ends if n // 3 <= e <= n]  # a few words ("Bước 2.") say nothing on their own
    if fit:
        return text[:fit[-1]].rstrip(" ;:") + " (…)"
    first = text[:ends[0]] if ends else text
    bare = " ".join(_PARENS.sub(" (…) ", first).split()).replace("(…) (…)", "(…)")
    if len(bare) <= n * 1.2:
        return bare.rstrip(" ;:.") + ("" if bare.rstrip(" ;:.").endswith("(…)") else " (…)")
    clauses = [m.start() for m in _CLAUSE.finditer(bare) if m.start() <= n * 1.5]
    if clauses and clauses[-1] >= n // 3:
        return bare[:clauses[-1]].rstrip(" ;:,") + " (…)"
    return bare if len(bare) <= LONGEST else bare[:LONGEST].rsplit(" ", 1)[0].rstrip(",;:.") + " (…)"


def needle(text: str, n: int = 60) -> str:
    """The first ~n characters of a source string, ending at a word: what a quote must show."""
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n].rsplit(" ", 1)[0]


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
        text = t["fee_conflict"].format(text=text, note=clip(fee["note"], 80))
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
            if c.get("note") and _MONEY.search(c["note"]):
                value += f" ({clip(c['note'], 100)})"
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


def _doc_order(d: dict) -> float:
    """The application form first, other documents to hand in next, a proxy's authorisation after
    them, case-specific ones after that, notes the portal put in rows last."""
    if (d.get("quantity") or "").startswith("0 bản chính") and "bản sao" not in (d.get("quantity") or ""):
        return 2
    if _NOTE_LIKE.match(d["name"]):
        return 1
    if _FORM.match(d["name"]):
        return 0
    return 0.8 if _PROXY.search(d["name"]) else 0.5


_PROXY = re.compile(r"(?i)ủy quyền.{0,80}\b(trường hợp|nếu)\b|\b(trường hợp|nếu)\b.{0,40}ủy quyền")
_INTRO = re.compile(r"(?i)giấy tờ sau\s*:?\s*$")


def _join_lead_ins(docs: list[dict]) -> list[dict]:
    """A row that only introduces the next ones ('Chứng cứ chứng minh quan hệ cha, con … gồm:') is
    read with the row after it; a row introducing the whole list ('… các giấy tờ sau:') is dropped."""
    out: list[dict] = []
    for i, d in enumerate(docs):
        name = d["name"].rstrip()
        if name.endswith(":") and (d.get("quantity") or "").startswith("0"):
            nxt = docs[i + 1] if i + 1 < len(docs) else None
            if nxt is not None and not _INTRO.search(name) and nxt.get("group") == d.get("group"):
                docs[i + 1] = {**nxt, "name": f"{name} {nxt['name']}"}
            continue
        out.append(d)
    return out


# Words that say nothing about which case or document a question means.
_PLAIN = frozenset(
    "giay to ho so phai nop xuat trinh truong hop doi voi cua va cac co khong la thi duoc dang ky can gi nhung "
    "mot theo tai o cho trong hoac ban chinh sao ve nay do nguoi yeu cau thu tuc toi em minh muon lam sao the "
    "nao nhu neu vay a khi da se de tu den ra vao bi".split())
_NOTE_GROUP = re.compile(r"(?i)^\W*(lưu ý|chú ý|ghi chú)")
_WORD = re.compile(r"\w+")


def _words(text: str | None) -> list[str]:
    return _WORD.findall(fold(text or ""))


def _pairs(words: list[str], plain: set[str] | frozenset[str]) -> set[tuple[str, str]]:
    """Adjacent word pairs that are not both plain words."""
    return {(a, b) for a, b in zip(words, words[1:]) if not (a in plain and b in plain)}


def documents_block(p: dict, t: dict[str, str], limit: int = 5, chars: int = ITEM_CHARS,
                    asked: tuple[str, ...] = ()) -> Block | None:
    """The documents to hand in. The list shown is the case the question describes (a case heading
    sharing its distinctive words), else the main list (rows with no heading or under "Giấy tờ phải
    nộp" / "Hồ sơ … gồm"), else the portal's first case; then what to present, then the other cases
    named. A row the question describes (a note included) comes first and in full. `asked` holds
    the question's folded words in order; cases and rows are matched on pairs of adjacent words."""
    docs = _join_lead_ins(list(p.get("documents") or []))
    if not docs:
        return None
    order = {id(d): i for i, d in enumerate(docs)}
    notes = [d for d in docs if _doc_order(d) >= 2 or _NOTE_GROUP.match(d.get("group") or "")]
    real = [d for d in docs if d not in notes] or docs
    groups = list(dict.fromkeys(d.get("group") for d in real))  # in the portal's order
    kinds = [g for g in groups if g is None or _SUBMIT.search(g)]
    present = [g for g in groups if g and _PRESENT.search(g)]
    cases = [g for g in groups if g not in kinds and g not in present]
    plain = _PLAIN | set(_words(p.get("name")))
    telling = _pairs(list(asked), plain)

    def said(text: str | None) -> int:
        return len(telling & _pairs(_words(text), plain))

    best = max(cases, key=said, default=None)
    if best is not None and said(best) >= 2:
        main = [best]
        telling -= _pairs(_words(best), plain)  # its rows need no spotlight for the heading's words
    else:
        main = kinds or cases[:1] or present[:1]
    present = [g for g in present if g not in main]
    spot = max(docs, key=lambda d: (said(d["name"]), -order[id(d)]))
    spot = spot if said(spot["name"]) >= (3 if spot in notes else 2) else None  # a note must match more
    lines, needles = [], []

    def add(items: list[dict], n: int) -> int:
        """Up to n rows, fewer when they are long (at least two): how many were shown."""
        used = 0
        for k, d in enumerate(items[:n]):
            if k >= 2 and used > chars * BLOCK_ROWS:
                return k
            form = d.get("form") if d.get("form") and not _FILE.search(d["form"]) else None
            quantity = d.get("quantity") if d.get("quantity") != "1 bản chính" else None  # the usual: not repeated
            extra = "; ".join(x for x in (quantity, form and f"mẫu: {form}") if x)
            lines.append(f"- {clip(d['name'], LONGEST if d is spot else chars)}" + (f" ({extra})" if extra else ""))
            needles.append(needle(d["name"]))
            used += len(lines[-1])
        return min(n, len(items))

    lead = sorted((d for d in real if d.get("group") in main and d is not spot),
                  key=lambda d: (_doc_order(d), order[id(d)]))
    if spot is not None:
        lead.insert(0, spot)
    if main[0] in cases and len(groups) > 1:  # "Giấy tờ phải nộp" says what the block heading says
        lines.append(clip(main[0], chars) + ":")
    shown = add(lead, limit)
    if len(lead) > shown:
        lines.append(t["more_documents"].format(n=len(lead) - shown))
    for g in present[:1] if limit >= 5 else []:
        lines.append(clip(g, chars) + ":")
        add([d for d in real if d.get("group") == g and d is not spot], 2)
    others = [g for g in cases if g not in main]
    if others and limit >= 5:  # only when documents are all that was asked
        more = t["and_more"].format(n=len(others) - 3) if len(others) > 3 else ""
        lines.append(t["other_cases"].format(cases="; ".join(clip(g, 50) for g in others[:3]) + more))
    return Block("documents", t["documents"], lines, needles)


def place_block(p: dict, offices: dict[str, dict], t: dict[str, str], local: str | None = None) -> Block:
    lines = []
    if local:
        lines.append(local)
    if p.get("agency"):
        lines.append(t["agency"].format(agency=clip(p["agency"], 160)))
    if p.get("address"):
        lines.append(t["address"].format(address=clip(p["address"], 200)))
    elif offices and not local:  # the deployment's office for this level fills the missing address
        office = office_for(p.get("level") or "", offices)
        if office:
            lines.append(t["office"].format(
                name=office.get("name", ""), address=office.get("address", ""),
                hours=t["hours"].format(hours=office["hours"]) if office.get("hours") else "",
                phone=t["phone"].format(phone=office["phone"]) if office.get("phone") else ""))
    needles = [p.get("agency") or ""]
    if not p.get("agency") and not p.get("address") and not local:
        where = _where_in_steps(p.get("steps") or [])
        if where:
            lines.append(where[0].upper() + where[1:])
            needles = [needle(where)]
    labels = [c["label"] for c in p.get("channels") or []]
    if labels:
        lines.append(f"{t['channels']}: {', '.join(dict.fromkeys(labels))}")
    if not lines and p.get("level"):
        lines.append(t["level"].format(level=p["level"]))
    return Block("place", t["place"], lines, [*needles, *labels])


_WHERE = re.compile(r"(?i)(?:nộp|gửi)\s+hồ sơ[^.;:]{0,40}?\s(?:tại|đến|cho)\s+([^.;(]{8,140})")


def _where_in_steps(steps: list[str]) -> str | None:
    """'… nộp hồ sơ tại Ủy ban nhân dân cấp xã …' in the steps, when the record names no agency."""
    for step in steps:
        m = _WHERE.search(step)
        if m:
            return clip(m.group(0), 160)
    return None


def office_for(level: str, offices: dict[str, dict]) -> dict | None:
    """The deployment's office for the first level a procedure names ('Cấp xã, Cơ quan khác')."""
    for part in level.split(","):
        if part.strip() in offices:
            return offices[part.strip()]
    return None


def _legal_rank(x: dict, fee: bool = False) -> int:
    """The law first, then decrees, then circulars and the rest (the portal lists them in any order),
    by the document's number when it has one; when the fee is asked too, the documents about fees lead."""
    if fee and (_FEE_LAW.search(fold(x["title"])) or (x.get("number") or "").endswith("/TT-BTC")):
        return -1  # fees are set in the Ministry of Finance's circulars
    ref = x.get("number") or x["title"]
    for rank, rx in enumerate(_LEGAL_ORDER):
        if rx.search(ref):
            return rank
    return len(_LEGAL_ORDER)


_FEE_LAW = re.compile(r"\b(le phi|phi)\b")
_DECISION = re.compile(r"\bquyet dinh (cong bo|so)\b")


def legal_block(p: dict, t: dict[str, str], limit: int, chars: int, fee: bool, alone: bool) -> Block | None:
    """The first documents by name, the others by number (fewer when other facets are asked too),
    then, when the legal basis is all that was asked or the question names the decision, the
    decision that published the procedure."""
    ordered = sorted(p.get("legal_basis") or [], key=lambda x: _legal_rank(x, fee))
    named = [f"- {clip(x['title'], chars)}"
             + (f" ({x['number']})" if x.get("number") and x["number"] not in x["title"] else "")
             for x in ordered[:limit]]
    rest = list(dict.fromkeys(x["number"] for x in ordered[limit:] if x.get("number")))
    lines = named
    shown = max(limit, 8 if alone else 4)
    if rest:
        more = t["and_more"].format(n=len(rest) - shown) if len(rest) > shown else ""
        lines.append(t["other_legal"].format(numbers=", ".join(rest[:shown]) + more))
    if p.get("decision") and alone:
        lines.append(t["decision"].format(decision=p["decision"]))
    needles = [needle(x["title"]) for x in ordered[:limit]]
    return Block("legal_basis", t["legal_basis"], lines, needles) if lines else None


# "… trong thời hạn 03 ngày làm việc kể từ …": up to six words before, the number, the unit, a little after.
_TIME_IN_STEPS = re.compile(
    r"(?i)(?<!\S)(?:[^.;:\s]+\s+){0,6}(?:thời hạn|trong vòng|trong)\s+(?:tối đa\s+|không quá\s+)?"
    r"(\d{1,3})\s*(?:\([^)]{0,20}\)\s*)?(ngày làm việc|ngày|giờ làm việc|giờ|tháng)\b[^.;]{0,50}")
_AUTHORITY = re.compile(r"(?i)\b(?:chủ tịch )?(?:ủy ban nhân dân|ubnd|công an|cơ quan đăng ký kinh doanh|"
                        r"cơ quan đăng ký hộ tịch)\s+cấp\s+(?:xã|huyện|tỉnh)")


def steps_blocks(p: dict, asked: list[str], t: dict[str, str], place_lines: list[str]) -> list[Block]:
    """What the steps add to the time or the place asked: the time they state (the table often has
    none, or no unit), where to hand in the file and which authority decides. Quoted, cited to
    the steps."""
    steps = p.get("steps") or []
    out = []
    if "time" in asked and any(not c.get("time_unit") for c in p.get("channels") or [{}]):
        said: dict[tuple[str, str], str] = {}
        for step in steps:
            for m in _TIME_IN_STEPS.finditer(step):
                whole = m.end() == len(step) or not step[m.end()].isalnum()
                text = m.group(0) if whole else m.group(0).rsplit(" ", 1)[0]  # no half word at the end
                said.setdefault((m.group(1).lstrip("0"), m.group(2).lower()), clip(text.strip(" ,"), 150))
        if said:
            lines = [f"«…{x}»" for x in list(said.values())[:2]]
            out.append(Block("steps", t["time_in_steps"], lines, [needle(x) for x in said.values()][:2]))
    if "place" in asked:
        shown = fold(" ".join(place_lines))
        lines, needles = [], []
        where = _where_in_steps(steps)
        if where and fold(needle(where, 40)) not in shown:
            lines.append(f"«…{where}»")
            needles.append(needle(where))
        found = [m.group(0) for step in steps for m in _AUTHORITY.finditer(step)]
        authority = max(dict.fromkeys(found), key=found.count) if found else None
        if authority and fold(authority) not in shown and fold(authority) not in fold(" ".join(lines)):
            lines.append(t["authority"].format(authority=authority))
            needles.append(authority)
        if lines:
            out.append(Block("steps", t["place_in_steps"], lines, needles))
    return out


def text_block(facet: str, heading: str, value: str | None, n: int = 380) -> Block | None:
    return Block(facet, heading, [clip(value, n)], [needle(value)]) if value else None


def list_block(facet: str, heading: str, items: list[str], limit: int, more: str, numbered: bool,
               chars: int = ITEM_CHARS) -> Block | None:
    if not items:
        return None
    lines = [f"{i}. {clip(s, chars)}" if numbered else f"- {clip(s, chars)}" for i, s in enumerate(items[:limit], 1)]
    if len(items) > limit:
        lines.append(more.format(n=len(items) - limit))
    return Block(facet, heading, lines, [needle(s) for s in items[:limit]])


def blocks_for(p: dict, facets: list[str], today: date, lang: str, offices: dict[str, dict],
               local_place: str | None = None, words: tuple[str, ...] = (), crowd: int = 1,
               full: bool = False) -> list[Block]:
    """The blocks answering `facets` (an overview when none was asked), shorter when the answer
    is about `crowd` procedures; every list whole when `full` (the citizen asked for all of it)."""
    t = template(lang)
    asked = facets or ["documents", "time", "fee"]
    b = FULL if full else BUDGETS[3 if crowd > 1 else min(3, len(asked))]
    makers = {
        "documents": lambda: documents_block(p, t, b["docs"], b["chars"], words),
        "time": lambda: time_block(p, t),
        "fee": lambda: fee_block(p, today, t),
        "place": lambda: place_block(p, offices, t, local_place),
        "conditions": lambda: text_block("conditions", t["conditions"], p.get("conditions"), b["chars"] * 3),
        "legal_basis": lambda: legal_block(p, t, b["legal"], b["chars"], fee="fee" in asked,
                                           alone=asked == ["legal_basis"] or bool(_DECISION.search(" ".join(words)))),
        "steps": lambda: list_block("steps", t["steps"], p.get("steps") or [], b["steps"], t["more_steps"], True,
                                    b["chars"]),
        "result": lambda: list_block("result", t["result"], p.get("results") or [], max(3, b["steps"]),
                                     t["more_items"], False, b["chars"]),
    }
    out = []
    for facet in asked:
        block = makers[facet]() if facet in makers else None
        if block is not None and block.lines:
            out.append(block)
    if "steps" not in asked:
        out += steps_blocks(p, asked, t, [line for b in out if b.facet == "place" for line in b.lines])
    if facets and not out:  # what was asked is empty in the source: say what it does have
        return blocks_for(p, [], today, lang, offices, local_place, words, crowd, full)
    return out
