"""Rebuild the rows of the portal's flattened tables (the crawler lost the cell borders).

`parse_channels` reads "Cách thức thực hiện", `parse_documents` "Thành phần hồ sơ" and
`parse_legal_basis` "Căn cứ pháp lý". Each takes NFC text and keeps the source's wording; where
the source is ambiguous the row carries a flag from `assistant.procedure.FLAGS` instead of a guess.
"""

from __future__ import annotations

import re
from datetime import date

from assistant.procedure import Channel, ChannelKind, Fee, LegalBasis, RequiredDocument

EMPTY = "Không có thông tin"
CHANNEL_HEAD = "Hình thức nộpThời gianPhí, lệ phíMô tả"
DOCUMENT_HEAD = "Tên giấy tờMẫu đơn, tờ khaiSố lượng"
LEGAL_HEAD = "Tên văn bản pháp lýMã văn bản"

CHANNELS: dict[str, ChannelKind] = {"Trực tuyến": "online", "Dịch vụ bưu chính": "post", "Trực tiếp": "in_person"}
_LABEL = "|".join(CHANNELS)
_UNIT = "Ngày làm việc|Ngày|Giờ|Tháng|Năm|Tuần|Phút"
_CURRENCY = "Việt Nam Đồng|VNĐ|USD|Đồng"
_FEE_START = rf"Miễn phí|{EMPTY}|\d[\d.,]* ?(?:{_CURRENCY})"

_ROW_START = re.compile(rf"(?:{_LABEL})(?=\d|Không)")
_TIME_UNIT = re.compile(rf"(\d+(?:[.,]\d+)?) ?({_UNIT})")
_TIME_BARE = re.compile(r"(\d+(?:[.,]\d+)?)(?=Miễn phí|Không)")
_TIME_WORDS = re.compile(rf"({EMPTY}|Không quy định|Không)\s*(?=Miễn phí|Không|\d)")
_TIME_TEXT = re.compile(rf"(.{{1,300}}?)(?={_FEE_START})", re.S)
_FEE_AMOUNT = re.compile(rf"(\d[\d.,]*) ?({_CURRENCY})")

_MONEY = re.compile(
    r"(?<![\d/.,])(\d{1,3}(?:[.,]\d{3})+|\d+)\s*(triệu\s*)?"
    r"(đồng|Đồng|ĐỒNG|đ\b|Đ\b|vnđ|VNĐ|VND|vnd|USD|usd)?"
)
_DATE = r"(\d{1,2})(?:/|\s+tháng\s+)(\d{1,2})(?:/|\s+năm\s+)(\d{4})"  # 01/7/2025 or 01 tháng 7 năm 2025
_PERIOD = re.compile(
    rf"(?:[Tt]ừ|[Kk]ể từ)\s+ngày\s+{_DATE}(?:[^()]{{0,20}}?đến\s+(?:hết\s+)?(?:ngày\s+)?{_DATE})?"
    rf"|đến\s+(?:hết\s+)?ngày\s+{_DATE}"
)
_PROVINCIAL_COUNCIL = re.compile(r"Hội đồng nhân dân|HĐND", re.I)


# ---- Cách thức thực hiện -------------------------------------------------------------------------

def parse_channels(text: str | None) -> list[Channel]:
    """One `Channel` per row; several rows may share a channel (one per case)."""
    if not text:
        return []
    body = text[len(CHANNEL_HEAD):] if text.startswith(CHANNEL_HEAD) else text
    first = re.match(rf"(?:{_LABEL})", body)
    if not first:
        return []
    starts = [0] + [m.start() for m in _ROW_START.finditer(body) if m.start() > 0]
    free_time = _free_text_time(body[first.end():])
    if free_time:
        extra = re.compile(rf"(?:{_LABEL})(?={re.escape(free_time[:20])})")
        starts = sorted(set(starts) | {m.start() for m in extra.finditer(body)})
    return [_parse_row(body[a:b]) for a, b in zip(starts, starts[1:] + [len(body)])]


def _free_text_time(cell: str) -> str | None:
    """A time given as prose (tax procedures): the text before the fee cell."""
    if re.match(r"\d|Không", cell):
        return None
    m = _TIME_TEXT.match(cell)
    return m.group(1) if m else None


def _parse_row(row: str) -> Channel:
    label = re.match(rf"(?:{_LABEL})", row).group(0)
    rest = row[len(label):]
    channel = Channel(channel=CHANNELS[label], label=label)
    glued = _FEE_AMOUNT.match(rest)
    if glued and not _TIME_UNIT.match(rest):
        return _parse_glued_row(channel, glued, rest[glued.end():])
    rest = _read_time(channel, rest)
    rest = _read_fee(channel, rest)
    channel.note = clean_text(rest)
    _flag_fees(channel)
    return channel


def _read_time(channel: Channel, rest: str) -> str:
    if m := _TIME_UNIT.match(rest):
        channel.time, channel.time_value, channel.time_unit = f"{m.group(1)} {m.group(2)}", m.group(1), m.group(2)
    elif m := _TIME_BARE.match(rest):
        channel.time = channel.time_value = m.group(1)
        channel.flags.append("time_without_unit")
    elif m := _TIME_WORDS.match(rest):
        channel.time = None if m.group(1) == EMPTY else m.group(1)
    elif m := _TIME_TEXT.match(rest):
        channel.time = clean_text(m.group(1))
    else:
        return rest
    return rest[m.end():]


def _read_fee(channel: Channel, rest: str) -> str:
    """The fee cell: 'Miễn phí', empty, or '<amount> <currency>', each with an optional '(…)' note."""
    if rest.startswith("Miễn phí"):
        channel.free = True
        note, rest = _bracketed(rest[len("Miễn phí"):])
        if note:
            channel.fees.append(Fee(text="Miễn phí", note=note))
        return rest
    if rest.startswith(EMPTY):
        return rest[len(EMPTY):]
    if m := _FEE_AMOUNT.match(rest):
        note, rest = _bracketed(rest[m.end():])
        channel.fees.append(Fee(text=f"{m.group(1)} {m.group(2)}", amount=m.group(1), unit=m.group(2), note=note))
    return rest


def _parse_glued_row(channel: Channel, glued: re.Match[str], rest: str) -> Channel:
    """'Trực tuyến120 VNĐ(20.000 vnđ/tờ khai)': a unit-less time run into the fee amount."""
    digits, unit = glued.group(1), glued.group(2)
    note, rest = _bracketed(rest)
    time, amount = split_time_and_amount(digits, note or "")
    if time:
        channel.time = channel.time_value = time
        channel.flags.append("time_without_unit")
    channel.flags.append("time_fee_run_together")
    channel.fees.append(Fee(text=f"{amount} {unit}", amount=amount, unit=unit, note=note))
    channel.note = clean_text(rest)
    _flag_fees(channel)
    return channel


def split_time_and_amount(digits: str, note: str) -> tuple[str | None, str]:
    """Split '120' into ('1', '20'): prefer the split whose amount the fee note repeats, else the shortest time."""
    candidates = []
    for i in range(1, len(digits)):
        time, amount = digits[:i], digits[i:]
        if time.isdigit() and amount[0] in "123456789" and re.fullmatch(r"\d+|\d{1,3}(?:[.,]\d{3})+", amount):
            candidates.append((time, amount))
    if not candidates:
        return None, digits
    stated = {value for value, _ in money_amounts(note)}
    for time, amount in candidates:
        value = _number(amount)
        if value in stated or value * 1000 in stated:
            return time, amount
    return candidates[0]


def _bracketed(text: str) -> tuple[str | None, str]:
    """A leading '( … )' (nested brackets allowed) and what follows it."""
    if not text.startswith("("):
        return None, text
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            return clean_text(text[1:i]) or None, text[i + 1:]
    return clean_text(text[1:]) or None, ""


def _flag_fees(channel: Channel) -> None:
    texts = " ".join(filter(None, [*(f.text for f in channel.fees), *(f.note or "" for f in channel.fees), channel.note]))
    if _PROVINCIAL_COUNCIL.search(texts):
        channel.flags.append("fee_by_provincial_council")
    for fee in channel.fees:
        fee.valid_from, fee.valid_until = validity(fee.note or "")
        if fee.valid_until:
            channel.flags.append("fee_time_limited")
        if fee_conflicts(fee):
            channel.flags.append("fee_conflict")
    channel.flags = list(dict.fromkeys(channel.flags))


def fee_conflicts(fee: Fee) -> bool:
    """Whether the fee's note contradicts its structured amount.

    Yes when the structure says 'Miễn phí' but the note states an amount, when a VND amount under 1.000
    sits beside a note in thousands ('40 Việt Nam Đồng' / '40.000đ'), when the same number carries another
    currency, or when the note states other amounts and is neither a later tier list nor a dated reduction.
    """
    stated = money_amounts(fee.note or "")
    if not stated:
        return False
    if fee.amount is None:
        return fee.text == "Miễn phí"
    kind, value = _currency_kind(fee.unit), _number(fee.amount)
    if kind == "VND" and value < 1000 and any(v >= 1000 and k != "USD" for v, k in stated):
        return True
    if any(v == value and (k is None or k == kind) for v, k in stated):
        return False
    if any(v == value for v, _ in stated):
        return True
    continues_amount = re.match(r"\s*(?:/|đ\b|đồng|Đồng|VNĐ|vnđ)", fee.note or "")
    return not continues_amount and validity(fee.note or "") == (None, None)


def money_amounts(text: str) -> list[tuple[int, str | None]]:
    """Amounts of money a text states, as (value, 'VND'|'USD'|None); dates and document numbers ignored."""
    found = []
    for m in _MONEY.finditer(text):
        number, million, currency = m.groups()
        grouped = len(number) > 3 and not number.isdigit()
        if not (currency or grouped or million):
            continue
        if m.end() < len(text) and text[m.end()] == "/" and text[m.end() + 1:m.end() + 2].isdigit():
            continue
        value = _number(number) * (1_000_000 if million else 1)
        found.append((value, _currency_kind(currency)))
    return found


def _currency_kind(unit: str | None) -> str | None:
    if not unit:
        return None
    return "USD" if unit.lower() == "usd" else "VND"


def _number(text: str) -> int:
    return int(re.sub(r"[.,]", "", text) or 0)


def validity(text: str) -> tuple[date | None, date | None]:
    """The period a fee note says it applies in; with several, the one ending last."""
    periods = []
    for m in _PERIOD.finditer(text):
        g = m.groups()
        start = _date(*g[0:3]) if g[0] else None
        end = _date(*g[3:6]) if g[3] else _date(*g[6:9]) if g[6] else None
        periods.append((start, end))
    if not periods:
        return None, None
    ending = [p for p in periods if p[1]]
    return max(ending, key=lambda p: p[1]) if ending else max(periods, key=lambda p: p[0] or date.min)


def _date(day: str, month: str, year: str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


# ---- Thành phần hồ sơ ----------------------------------------------------------------------------

_QUANTITY = re.compile(r"(\d+) bản chính(?:,(\d+) bản sao)?")
_FORM_EXT = r"\.(?:docx|doc|pdf|xlsx|xls|rar|zip|DOCX|DOC|PDF|XLSX)"
_FORM_KEYWORD = re.compile(r"mẫu|mau|phụ lục|phu luc|pl\b|mus?\d|tờ khai|to khai|bm", re.I)


def parse_documents(text: str | None) -> list[RequiredDocument]:
    """Rows of name / form / quantity, each under the heading of its table ('Giấy tờ phải nộp', a case…)."""
    if not text or DOCUMENT_HEAD not in text:
        return []
    parts = text.split(DOCUMENT_HEAD)
    group = _group_heading(parts[0])
    documents: list[RequiredDocument] = []
    for i, part in enumerate(parts[1:], start=1):
        rows, tail = _document_rows(part)
        documents += [RequiredDocument(name=n, form=f, quantity=q, group=group) for n, f, q in rows]
        if i < len(parts) - 1:
            group = _group_heading(tail)
    return documents


def _group_heading(text: str) -> str | None:
    heading = clean_text(text).strip("-*+•: \t")
    return heading or None


def _document_rows(part: str) -> tuple[list[tuple[str, str | None, str]], str]:
    """(name, form, quantity) rows and the text after the last row (the next table's heading)."""
    rows, start = [], 0
    for m in _QUANTITY.finditer(part):
        quantity_start = _quantity_start(part, m)
        if quantity_start is None or quantity_start < start:
            continue
        name, form = split_form(part[start:quantity_start])
        name = re.sub(r"^[-+*•–]+\s*", "", name)
        if not name:
            continue
        quantity = str(int(m.group(1))) + " bản chính" + (f",{int(m.group(2))} bản sao" if m.group(2) else "")
        rows.append((name, form, quantity))
        start = m.end()
    return rows, part[start:]


def _quantity_start(part: str, m: re.Match[str]) -> int | None:
    """Where the 'Số lượng' cell starts, or None when the match is inside a name ('nộp 02 bản chính tờ khai')."""
    after = part[m.end():m.end() + 2]
    if after[:1].isspace() and after[1:2].islower():
        return None
    if after[:1] == ",":
        return None
    digits = m.group(1)
    if len(digits) >= 3:  # a year or document number ends the name: '…ngày 25/6/2024' + '1 bản chính'
        return m.start() + len(digits) - 1
    if len(digits) == 2 and (digits[0] == "0" or part[m.start() - 1:m.start()].isspace()):
        return None if digits[0] == "0" else m.start() + 1
    return m.start()


def split_form(cell: str) -> tuple[str, str | None]:
    """Split 'Tờ khai … Chính phủ.Mẫu M01a-ND67-2024.docx' into the document name and its form file(s)."""
    cell = cell.strip()
    if not re.search(rf"{_FORM_EXT}$", cell):
        return clean_text(cell), None
    end_of_name = _form_start(cell)
    name, form = cell[:end_of_name], cell[end_of_name:]
    if not clean_text(name):
        return clean_text(form), clean_text(form)
    return clean_text(name), clean_text(form)


def _form_start(cell: str) -> int:
    """Best guess of where the glued file name starts: a form keyword, else punctuation, else a case change."""
    first_ext = re.search(_FORM_EXT, cell).start()
    window = range(max(1, first_ext - 160), first_ext)
    for is_start in (_keyword_start, _punctuation_start, _case_change):
        for pos in window:
            if is_start(cell, pos) and _looks_like_file_name(cell[pos:first_ext]):
                return _numbered_prefix(cell, pos) if is_start is _keyword_start else pos
    return window.start if window.start > 1 else 0


def _keyword_start(cell: str, pos: int) -> bool:
    return cell[pos - 1] not in " \t\n([/" and bool(_FORM_KEYWORD.match(cell, pos))


def _numbered_prefix(cell: str, pos: int) -> int:
    """Move back over a file-number prefix glued before the keyword: '…cá nhân;7-Mẫu NA6.doc'."""
    m = re.search(r"(?<=[;.)])\d{1,2}[-.]$", cell[:pos])
    return m.start() if m else pos


def _punctuation_start(cell: str, pos: int) -> bool:
    prev, cur = cell[pos - 1], cell[pos]
    if cur.isdigit():
        return prev in ";)" or prev == "." and pos > 1 and (cell[pos - 2] == ")" or cell[pos - 2].isalpha())
    return prev in ";:.)" and cur.isalpha()


def _case_change(cell: str, pos: int) -> bool:
    """'…genDon', '…định1.1. Don…', '…TT-BNNMTđơn…': a new word glued on without a space."""
    prev, cur = cell[pos - 1], cell[pos]
    return ((prev.islower() or prev.isdigit()) and cur.isupper() or prev.islower() and cur.isdigit()
            or pos > 1 and cell[pos - 2].isupper() and prev.isupper() and cur.islower())


def _looks_like_file_name(text: str) -> bool:
    return bool(text) and "; " not in text and len(text) <= 160


# ---- Căn cứ pháp lý ------------------------------------------------------------------------------

_SEGMENT = r"(?:TTg|[A-ZĐ]*QH\d{1,2}|[A-ZĐ]+)"  # digits only in a legislature: QH15, UBTVQH15
_DOC_NUMBER = re.compile(rf"\d+(?:\.\d+)*/(?:\d{{4}}/)?{_SEGMENT}(?:\s?-\s?{_SEGMENT})*")
_TITLE_WORDS = {
    "Nghị", "Thông", "Luật", "Quy", "Quyết", "Sửa", "Về", "Hướng", "Bộ", "Thực", "Ban", "Số", "Nhập", "Thuế",
    "Pháp", "Hàng", "Giao", "Thí", "Kinh", "Phí", "Các", "Trang", "Trách", "Công", "Điều", "Đính", "Chỉ",
    "Văn", "Danh", "Kế", "Tiêu", "Hiến", "Lệnh", "Biểu", "Mẫu", "Thủ", "Đề", "Quản", "Hợp", "Hiệp", "Chế",
}
_CAPS_TITLE_WORDS = ("LUẬT", "NGHỊ", "THÔNG", "QUYẾT", "QUY", "SỬA", "BỘ", "PHÁP", "HƯỚNG", "VỀ")
_CITED = re.compile(r"(?:số|Luật|Nghị định|Thông tư|Quyết định|Nghị quyết|Lệnh)\s*$")
_TITLE_PREFIX = re.compile(r"(?<=[a-zà-ỹđ.)\d\s])(?:Luật|Nghị định|Thông tư liên tịch|Thông tư|Quyết định|Nghị quyết|"
                           r"Pháp lệnh|Văn bản hợp nhất)(?:\s+số)?\s*$")


def parse_legal_basis(text: str | None) -> list[LegalBasis]:
    """Title / number pairs: the number is the match that closes a pair (followed by the next title or the end)."""
    if not text:
        return []
    body = text[len(LEGAL_HEAD):] if text.startswith(LEGAL_HEAD) else text
    rows, start = [], 0
    for m in _DOC_NUMBER.finditer(body):
        end = _number_end(body, m)
        if end <= start or not (_repeats_title(body[start:m.start()], m.group(0)) or _closes_pair(body, end)):
            continue
        begin = m.start() + (4 if re.match(r"(?:19|20)\d{2}\d{1,4}/\d{4}/", m.group(0)) else 0)
        title = clean_text(_TITLE_PREFIX.sub("", body[start:begin]))
        number = re.sub(r"\s*-\s*", "-", body[begin:end])
        rows.append(LegalBasis(title=title or number, number=number))
        start = end
    tail = clean_text(body[start:])
    if tail:
        rows.append(LegalBasis(title=tail, number=None))
    return rows


def _repeats_title(title: str, number: str) -> bool:
    """A number standing alone after a title that quoted it is that title's 'Mã văn bản' cell."""
    return number in title and not _CITED.search(title)


def _number_end(body: str, m: re.Match[str]) -> int:
    """Give back what the match took from the next title ('…/NĐ-CPThông tư', '…/NĐ-CPLUẬT', '…/NĐ-CP- Luật')."""
    end = m.end()
    lower = re.match(r"\w*", body[end:]).group(0)
    lower = lower[:next((i for i, ch in enumerate(lower) if not ch.islower()), len(lower))]
    if lower:
        if body[end - 1] + lower in _TITLE_WORDS:
            end -= 1
    elif not body[end:end + 1].isdigit():
        caps = re.match(r"\w*", body[end:]).group(0)
        last = re.split(r"[-/\s]", m.group(0))[-1]
        for k in range(1, min(5, len(last))):
            if (body[end - k:end] + caps).startswith(_CAPS_TITLE_WORDS):
                end -= k
                break
    while end > m.start() and body[end - 1] in " -":
        end -= 1
    return end


def _closes_pair(body: str, end: int) -> bool:
    """A number ends its row when the next title (or nothing) follows, not the rest of its own title."""
    after = body[end:end + 2]
    if not after.strip() or after == "- ":
        return True
    if after[0].isdigit() or after[0] in ",;:/)-" or body[end:end + 4] in ("ngày", "của "):
        return False
    if after[0].isspace():
        word = body[end:].split(maxsplit=1)[0] if body[end:].strip() else ""
        return word[:1].isupper() and (not word.isupper() or word.startswith(_CAPS_TITLE_WORDS))
    return True


def clean_text(text: str | None) -> str:
    """Collapse runs of spaces and tabs, drop blank lines, strip."""
    if not text:
        return ""
    lines = (re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)
