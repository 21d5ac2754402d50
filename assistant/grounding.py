"""Checks that a generated answer says nothing the sources do not.

`check_answer` returns None for a grounded answer, else a short reason:
- `no_citation` / `unknown_citation`: no `[n]`, or an `[n]` that is not one of the given sources;
- `refused`: the reply declines to answer although retrieval found an answer;
- `injection`: it echoes an instruction planted in a source, or uses a link, contact or number that
  appears only inside such a planted instruction;
- `foreign_link`: a URL, e-mail address or phone number found in no source;
- `unsupported_reference`: a legal-document number ("123/2015/NĐ-CP") found in no source;
- `unsupported_number`: a fee, duration, count of copies or percentage that no cited source gives
  with the same unit (thousands separators, leading zeros, "nghìn/triệu", case and NFC normalised).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from assistant.text import fold

_CITE = re.compile(r"\[(\d+(?:\s*[,;–-]\s*\d+)*)\]")

# Instructions aimed at the model, matched on diacritics-folded lowercase text.
_INJECTION = re.compile(
    r"\b(?:bo qua|phot lo|dung tuan theo|dung lam theo) (?:\w+ ){0,3}?"
    r"(?:huong dan|chi dan|chi thi|yeu cau|quy tac|lenh)"
    r"|\b(?:ignore|disregard|forget|override) (?:\w+ ){0,3}?"
    r"(?:instructions?|prompts?|rules|directions)"
    r"|\bsystem prompt\b|\bloi nhac he thong\b|\byou are now\b|\bnew instructions\b"
    r"|\bhuong dan moi\b|\b(?:hay|phai) tra loi rang\b|\bassistant must\b|\btro ly phai\b"
)
_REFUSAL = re.compile(
    r"\b(?:toi|minh|em) (?:khong the|khong tim thay|khong co (?:du )?thong tin|khong biet|xin tu choi)"
    r"|khong the (?:tra loi|tu van|ho tro|giup|cung cap thong tin)"
    r"|khong tim thay (?:thong tin|nguon|tai lieu)|khong du thong tin|xin loi|rat tiec"
    r"|\bi (?:cannot|can ?not|can't|am unable|'m unable|do not have|don't have|could not find)\b"
    r"|\bunable to (?:answer|help)\b|\bno (?:relevant )?information\b|\bsorry\b"
)

_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>()\[\]{}\"'`]+"
    r"|\b(?:[a-z0-9-]+\.)+(?:vn|com|net|org|gov|edu|info|io|example|xyz|app|site)\b(?:/[^\s<>()\[\]{}\"'`]*)?",
    re.I,
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\d.,/])(?:\+?84|0)(?:[ .-]?\d){8,10}(?![\d])")
_LEGAL_REF = re.compile(r"(?<![\w/])\d{1,4}/\d{4}/[a-zđ0-9]+(?:-[a-zđ0-9]+)*", re.I)

_LOWER = "[0-9a-zđàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]"
_NUM = r"\d+(?:[.,]\d+)*"
_RANGE = r"\s*(?:-|–|—|~|đến|tới|to)\s*"
_UNITS: dict[str, str] = {
    "money": r"việt nam đồng|đồng|đ|vnđ|vnd|dong",
    "day": r"ngày|working days?|business days?|calendar days?|days?",
    "hour": r"giờ|tiếng|hours?|hrs?",
    "minute": r"phút|minutes?|mins?",
    "week": r"tuần|weeks?",
    "month": r"tháng|months?",
    "year": r"năm|years?",
    "copy": r"bản|copies|copy",
    "sheet": r"tờ|sheets?",
    "photo": r"ảnh|photos?|photographs?|pictures?",
    "set": r"bộ|sets?",
    "percent": r"%|phần trăm|percent|per cent",
}
_SCALES = {"nghìn": 1000, "ngàn": 1000, "thousand": 1000, "triệu": 10**6, "million": 10**6,
           "tỷ": 10**9, "tỉ": 10**9, "billion": 10**9}
_MEASURE = re.compile(
    rf"(?<![\d/])(?<!\d[.,])(?P<nums>{_NUM}(?:{_RANGE}{_NUM})*)"
    r"(?:\s*\([^()\d]{1,40}\))?"  # "15 (mười lăm) ngày"
    rf"(?:\s*(?P<scale>{'|'.join(_SCALES)}))?"
    rf"\s*(?P<unit>{'|'.join(f'(?P<{k}>{v})' for k, v in _UNITS.items())})"
    rf"(?-i:(?!{_LOWER}))"  # case-sensitive: portal tables glue the next cell ("5 NgàyMiễn phí")
    r"(?P<after>\s*\d)?",
    re.I,
)

_CURRENCY_FIRST = re.compile(
    rf"(?<![\w])(?:vnd|vnđ)\s*(?P<num>{_NUM})(?:\s*(?P<scale>{'|'.join(_SCALES)}))?(?![\d])", re.I
)
_AMOUNT = re.compile(r"(?<![\d/])(?<!\d[.,])\d{1,3}(?:([.,])\d{3})(?:\1\d{3})*(?![\d.,]*\d)")
_NUMBER_WORDS = {
    "một": 1, "hai": 2, "ba": 3, "bốn": 4, "năm": 5, "sáu": 6, "bảy": 7, "tám": 8, "chín": 9,
    "mười": 10, "mười hai": 12, "mười lăm": 15, "hai mươi": 20, "ba mươi": 30, "bốn mươi lăm": 45,
    "sáu mươi": 60, "chín mươi": 90, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15,
    "twenty": 20, "thirty": 30, "forty-five": 45, "sixty": 60, "ninety": 90,
}
_UNIT_AHEAD = rf"(?=\s+(?:{'|'.join(_UNITS.values())})(?-i:(?!{_LOWER})))"
_WORD_NUM = re.compile(
    rf"(?<!\w)({'|'.join(sorted(_NUMBER_WORDS, key=len, reverse=True))}){_UNIT_AHEAD}", re.I
)
_BRACKETED = re.compile(rf"\(\s*(\d+)\s*\){_UNIT_AHEAD}", re.I)


def _norm(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def cited_numbers(text: str) -> list[int]:
    """Source numbers cited as `[1]`, `[1, 2]` or `[1-3]`, in order of appearance."""
    found: list[int] = []
    for m in _CITE.finditer(text):
        for part in re.split(r"\s*[,;]\s*", m.group(1)):
            ends = [int(x) for x in re.split(r"\s*[–-]\s*", part) if x]
            if len(ends) == 2 and 0 <= ends[1] - ends[0] <= 20:
                found.extend(range(ends[0], ends[1] + 1))
            else:
                found.extend(ends)
    return found


def _value(num: str) -> Decimal | None:
    """'50.000' / '50,000' → 50000, '1,5' / '1.5' → 1.5, '02' → 2."""
    seps = re.findall(r"[.,]", num)
    parts = re.split(r"[.,]", num)
    try:
        if not seps:
            return Decimal(num)
        if len(set(seps)) == 2:  # "1.000,5" / "1,000.5": the last separator is the decimal one
            whole, frac = re.split(r"[.,](?=\d+$)", num)
            return Decimal(re.sub(r"[.,]", "", whole) + "." + frac)
        if len(parts) > 2 or len(parts[1]) == 3:
            return Decimal("".join(parts))
        return Decimal(parts[0] + "." + parts[1])
    except InvalidOperation:
        return None


def _spell_out(text: str) -> str:
    """Number words before a unit become digits ("hai bản" → "2 bản", "five days" → "5 days"),
    and a digit in brackets after its words counts ("ba (03) ngày" → "ba 03 ngày")."""
    text = _WORD_NUM.sub(lambda m: str(_NUMBER_WORDS[m.group(1).lower()]), text)
    return _BRACKETED.sub(r" \1", text)


def measures(text: str) -> set[tuple[str, Decimal]]:
    """The (unit, value) pairs in a text: ('money', 50000), ('day', 5), ('copy', 2)…"""
    text = _spell_out(unicodedata.normalize("NFC", text))
    found: set[tuple[str, Decimal]] = set()
    for m in _MEASURE.finditer(text):
        unit = next(k for k in _UNITS if m.group(k))
        if unit in ("month", "year") and m.group("after"):
            continue  # a date: "ngày 5 tháng 6 năm 2025"
        scale = _SCALES.get((m.group("scale") or "").lower(), 1)
        for num in re.findall(_NUM, m.group("nums")):
            value = _value(num)
            if value is not None:
                found.add((unit, (value * scale).normalize()))
    for m in _CURRENCY_FIRST.finditer(text):
        value = _value(m.group("num"))
        if value is not None:
            found.add(("money", (value * _SCALES.get((m.group("scale") or "").lower(), 1)).normalize()))
    return found


def bare_amounts(text: str) -> set[Decimal]:
    """Thousands-separated numbers given without a unit ("8.000.000/lần" in portal fee tables):
    the sources' way of writing an amount whose currency is only implied."""
    text = unicodedata.normalize("NFC", text)
    taken = [m.span() for m in _MEASURE.finditer(text)]
    found = set()
    for m in _AMOUNT.finditer(text):
        if not any(a <= m.start() < b for a, b in taken):
            value = _value(m.group(0))
            if value is not None:
                found.add(value.normalize())
    return found


def split_planted(text: str) -> tuple[str, str]:
    """(text without planted instructions, the planted parts).

    A planted part runs from a sentence with an instruction marker ("bỏ qua hướng dẫn…", "ignore
    previous instructions") to the end of its line: such text often spans a sentence or two.
    """
    clean, planted = [], []
    for line in text.splitlines():
        starts = [0] + [m.end() for m in re.finditer(r"(?<=[.!?;:])\s+", line)]
        for start, end in zip(starts, [*starts[1:], len(line)]):
            if _INJECTION.search(fold(line[start:end])):
                clean.append(line[:start])
                planted.append(line[start:])
                break
        else:
            clean.append(line)
    return "\n".join(clean), "\n".join(planted)


def _links(text: str) -> set[str]:
    found = set()
    for m in _URL.finditer(text):
        url = re.sub(r"^(?:https?://)?(?:www\.)?", "", m.group(0).casefold()).rstrip(".,;:!?/")
        if url:
            found.add(url)
    return found


def _link_known(url: str, known: set[str]) -> bool:
    host, _, path = url.partition("/")
    if not path:
        return any(k == host or k.startswith(host + "/") for k in known)
    return any(k == url or k.startswith(url + "/") or k.startswith(url + "?") for k in known)


def _contacts(text: str) -> set[str]:
    emails = {m.group(0).casefold().rstrip(".") for m in _EMAIL.finditer(text)}
    phones = {re.sub(r"\D", "", m.group(0)).removeprefix("84") for m in _PHONE.finditer(text)}
    return emails | {p.lstrip("0") for p in phones}


def _legal_refs(text: str) -> set[str]:
    return {_norm(m.group(0)) for m in _LEGAL_REF.finditer(unicodedata.normalize("NFC", text))}


def check_answer(
    text: str,
    sources: Sequence[Mapping[str, Any]],
    citations: Iterable[Mapping[str, Any]] = (),
) -> str | None:
    """None when the generated `text` is grounded in `sources`, else a short reason."""
    by_n = {int(s["n"]): s for s in sources}
    used = cited_numbers(text)
    if not used:
        return "no_citation"
    if any(n not in by_n for n in used):
        return "unknown_citation"
    folded = fold(text)
    head = re.split(r"(?<=[.!?])\s+", folded, maxsplit=1)[0]
    if _REFUSAL.search(head[:300]):
        return "refused"
    if _INJECTION.search(folded):
        return "injection"

    cited = [by_n[n] for n in dict.fromkeys(used)]
    clean_all, planted_all = [], []
    for s in sources:
        clean, planted = split_planted(f"{s.get('title') or ''}\n{s.get('section') or ''}\n{s['text']}")
        clean_all.append(clean)
        planted_all.append(planted)
    clean_text = "\n".join(clean_all)
    planted_text = "\n".join(planted_all)
    cited_clean = "\n".join(split_planted(str(s["text"]))[0] + "\n" + str(s.get("title") or "")
                            for s in cited)

    known_links = _links(clean_text) | _links(" ".join(str(c.get("url") or "") for c in citations))
    for url in _links(text):
        if not _link_known(url, known_links):
            return "injection" if _link_known(url, _links(planted_text)) else "foreign_link"
    known_contacts = _contacts(clean_text)
    for contact in _contacts(text) - known_contacts:
        return "injection" if contact in _contacts(planted_text) else "foreign_link"

    if _legal_refs(text) - _legal_refs(clean_text):
        return "unsupported_reference"
    missing = {
        (unit, value) for unit, value in measures(text) - measures(cited_clean)
        if not (unit == "money" and value in bare_amounts(cited_clean))
    }
    if missing:
        return "injection" if missing <= measures(planted_text) else "unsupported_number"
    return None
