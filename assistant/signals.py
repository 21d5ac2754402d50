"""What a question says of a candidate procedure's name: the language-level signals the learned
ranker and decision weigh (`assistant.ranker`). Each is a number; none decides anything alone.
"""

from __future__ import annotations

import math
import re

from assistant.manifest import SourceRecord
from assistant.query import INTENT_STOPWORDS, Query, is_filler
from assistant.snapshot import TITLE_NOISE, Snapshot, words
from assistant.text import fold

# Conversational words (folded) that say nothing about which procedure is meant.
CONVERSATIONAL = frozenset(
    "t tui toi minh em ad oi a ah u uh muon nen neu thi ma nhung voi hay hoac hoi giup duoc khong ko k "
    "co da dang vua roi nua nay kia ay nhe nhi vay z sao gi nao dau bao lau nhieu bn xong luon chua".split())
_HEAD_END = re.compile(r"[(,;]")
# What a citizen asks to be issued, which the procedure's name then says
_KIND = re.compile(r"\b(giay phep|chung chi)\b")
RARE_IN_NAMES = 60  # a word in at most this many names (with its diacritics) says what the thing is
# The deeds procedure names begin with (folded)
_DEED = re.compile(r"(cap|dang ky|xac nhan|cong nhan|gia han|dieu chinh|thay doi|xoa|thu hoi|cham dut|sua doi|bo sung|"
                   r"chuyen)\b")
_NAME_NOISE = frozenset(("thu", "tuc"))
# What a variant does to a base procedure, as the portal's names say it ("Cấp lại …", "Xóa đăng ký …"),
# with diacritics ("đổi", not "đối với").
OPERATIONS = ("lại", "xóa", "xoá", "dừng", "gia hạn", "điều chỉnh", "thay đổi", "sửa đổi", "bổ sung", "thu hồi",
              "chấm dứt", "đổi", "trình báo", "hủy", "huỷ", "tạm ngừng", "giải thể", "đính chính", "phục hồi",
              "hiệu đính")
# "bị mất", "thất lạc", "hư hỏng": a lost or damaged paper is issued again
_LOST = re.compile(r"\b(bi|da|lam|danh|vua) mat\b|\bthat lac\b|\bhu hong\b|\bbi hong\b|\brach\b")


def name_words(title: str) -> set[str]:
    """The folded words of a procedure's name, without 'thủ tục'."""
    return {w for w in re.findall(r"\w+", fold(title)) if w not in _NAME_NOISE}


def said_words(q: Query) -> set[str]:
    """The folded words a question says, with the lexicon's official terms for its everyday words."""
    return set(re.findall(r"\w+", f"{q.folded} {' '.join(fold(t) for t in q.terms)}"))


def head_coverage(snap: Snapshot, q: Query, title: str) -> float:
    """IDF-weighted share of the head of a name (before its first bracket or comma, or one of the
    deeds it lists) that the question says, in its own words or the lexicon's: 'nuôi chó mèo cảnh'
    covers little of 'Đăng ký việc nuôi con nuôi trong nước'."""
    said = said_words(q)
    n = len(snap.title_words) + 1
    first, *rest = re.split(r"[,;]", TITLE_NOISE.sub("", fold(title.split("(", 1)[0])))
    best = None
    for i, part in enumerate([first, *rest]):
        ws = [w for w in dict.fromkeys(part.split()) if w.isalpha()][:10]
        if not ws or i and (len(ws) < 3 or not _DEED.match(part.strip())):
            continue
        idf = {w: math.log(n / (snap.title_df.get(w, 0) + 0.5)) for w in ws}
        share = sum(idf[w] for w in ws if w in said) / sum(idf.values())
        best = share if best is None else max(best, share)
    return 1.0 if best is None else best


def other_thing(snap: Snapshot, q: Query, title: str) -> bool:
    """Whether the name is about something else than what the question names, though it shares its
    words: a licence or certificate the procedure does not issue, a rare word the name puts inside a
    pair the question says ('hành nghề y' is not 'hành nghề thú y'), or after a word both say, a rare
    word where the question has another ('bảo hộ nhãn hiệu' is not 'bảo hộ giống cây trồng')."""
    name = " ".join(re.findall(r"\w+", fold(title)))
    terms = " ".join(fold(t) for t in q.terms)
    if any(m.group(0) not in name and m.group(0) not in terms for m in _KIND.finditer(q.folded)):
        return True
    said, named = said_words(q), set(name.split())
    ws = q.routing.split()
    pairs = {(a, b) for a, b in zip(ws, ws[1:]) if f" {a} {b} " not in f" {name} "}
    asked = words(q.expanded)
    before_own = {fold(a) for a, b in zip(asked, asked[1:]) if len(b) > 1 and fold(b) not in named and
                  _rare(snap, b) and not is_filler(fold(b)) and fold(b) not in INTENT_STOPWORDS}
    for i, part in enumerate(re.split(r"[,;()]", title)):
        marked = words(part)
        folded = [fold(w) for w in marked]
        for j in range(len(marked) - 1):
            if folded[j + 1] in said or not _rare(snap, marked[j + 1]):
                continue
            if j + 2 < len(marked) and (folded[j], folded[j + 2]) in pairs:
                return True
            if i == 0 and folded[j] in before_own:
                return True
    return False


def _rare(snap: Snapshot, word: str) -> bool:
    """In few names: by its diacritics when it has them ('thú', not every 'thu')."""
    return (snap.marked_df[word] if word != fold(word) else snap.title_df.get(word, 0)) <= RARE_IN_NAMES


def salient_coverage(snap: Snapshot, q: Query, source_ids: list[str]) -> float:
    """IDF-weighted share of the question's content words found in the candidate's own text."""
    source = " ".join(fold(t) for t in q.terms) if q.lang == "en" and q.terms else q.routing
    ws = [w for w in source.split() if w.isalpha() and w not in CONVERSATIONAL]
    if not ws:
        return 0.0
    have = frozenset().union(*(snap.words_of.get(sid, frozenset()) for sid in source_ids))
    n = len(snap.words_of) + 1
    idf = {w: math.log(n / (snap.df.get(w, 0) + 0.5)) for w in ws}
    return sum(idf[w] for w in ws if w in have) / sum(idf.values())


def unsaid_operations(q: Query, title: str) -> set[str]:
    """The operations in a procedure's name (before its first bracket) that the question does not say."""
    head = f" {' '.join(words(_HEAD_END.split(title, maxsplit=1)[0]))} "
    said = said_words(q)
    if _LOST.search(q.folded):
        said = said | {"lai", "doi"}
    return {op for op in OPERATIONS if f" {op} " in head and not set(fold(op).split()) <= said}


def level_prior(src: SourceRecord, q: Query) -> float:
    """Citizens mean the commune-level procedure unless they name the province or the ministry."""
    level = fold(src.meta.get("level") or "")
    title = fold(src.title)
    if "province" in q.levels:
        return 1.0 if "tinh" in level else 0.0
    score = 1.0 if "xa" in level else 0.0
    if "trung uong" in title or "cap tinh" in title or "cap huyen" in title:
        score -= 1.0
    if level == "cap bo":
        score -= 0.5
    return score
