"""What a question says of a candidate procedure's name: the language-level signals the learned
ranker and decision weigh (`assistant.ranker`). Each is a number; none decides anything alone.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

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


@lru_cache(maxsize=65536)
def name_words(title: str) -> frozenset[str]:
    """The folded words of a procedure's name, without 'thủ tục'."""
    return frozenset(w for w in re.findall(r"\w+", fold(title)) if w not in _NAME_NOISE)


def said_words(q: Query) -> set[str]:
    """The folded words a question says, with the lexicon's official terms for its everyday words."""
    return set(re.findall(r"\w+", f"{q.folded} {q.folded_terms}"))


@dataclass(frozen=True)
class Said:
    """What one question says, worked out once for all its candidates (`Said.of`)."""

    words: frozenset[str]  # `said_words`
    terms: str  # the lexicon's terms, folded
    kinds: tuple[str, ...]  # licences and certificates asked for
    routing_pairs: tuple[tuple[str, str], ...]
    before: tuple[tuple[str, str], ...]  # (a, b) folded, b a rare content word after a
    lost: bool  # a lost or damaged paper
    salient: tuple[str, ...]  # content words, for `salient_coverage`, as often as said
    idf: dict[str, float]  # theirs

    @classmethod
    def of(cls, snap: Snapshot, q: Query) -> "Said":
        said = said_words(q)
        terms = q.folded_terms
        ws = q.routing.split()
        asked = words(q.expanded)
        before = tuple((fold(a), fold(b)) for a, b in zip(asked, asked[1:]) if len(b) > 1 and _rare(snap, b) and
                       not is_filler(fold(b)) and fold(b) not in INTENT_STOPWORDS)
        source = terms if q.names_by_terms else q.routing
        content = [w for w in source.split() if w.isalpha() and w not in CONVERSATIONAL]
        n = len(snap.words_of) + 1
        return cls(frozenset(said), terms, tuple(m.group(0) for m in _KIND.finditer(q.folded)), tuple(zip(ws, ws[1:])),
                   before, bool(_LOST.search(q.folded)), tuple(content),
                   {w: math.log(n / (snap.df.get(w, 0) + 0.5)) for w in content})


@lru_cache(maxsize=16384)
def _head_parts(title: str) -> tuple[tuple[str, ...], ...]:
    """The parts of a name's head `head_coverage` weighs: before its first bracket, split at commas,
    the later ones only when they list a deed of their own."""
    first, *rest = re.split(r"[,;]", TITLE_NOISE.sub("", fold(title.split("(", 1)[0])))
    out = []
    for i, part in enumerate([first, *rest]):
        ws = tuple(w for w in dict.fromkeys(part.split()) if w.isalpha())[:10]
        if ws and not (i and (len(ws) < 3 or not _DEED.match(part.strip()))):
            out.append(ws)
    return tuple(out)


def head_coverage(snap: Snapshot, q: Query, title: str, said: Said | None = None) -> float:
    """IDF-weighted share of the head of a name (before its first bracket or comma, or one of the
    deeds it lists) that the question says, in its own words or the lexicon's: 'nuôi chó mèo cảnh'
    covers little of 'Đăng ký việc nuôi con nuôi trong nước'."""
    heard = (said or Said.of(snap, q)).words
    n = len(snap.title_words) + 1
    best = None
    for ws in _head_parts(title):
        idf = {w: math.log(n / (snap.title_df.get(w, 0) + 0.5)) for w in ws}
        share = sum(idf[w] for w in ws if w in heard) / sum(idf.values())
        best = share if best is None else max(best, share)
    return 1.0 if best is None else best


@lru_cache(maxsize=16384)
def _name_parts(title: str) -> tuple[str, frozenset[str], tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]]:
    """A name as `other_thing` reads it: its folded words joined, as a set, and its parts (between
    commas and brackets) as words with diacritics and folded."""
    name = " ".join(re.findall(r"\w+", fold(title)))
    parts = []
    for part in re.split(r"[,;()]", title):
        marked = tuple(words(part))
        parts.append((marked, tuple(fold(w) for w in marked)))
    return name, frozenset(name.split()), tuple(parts)


def other_thing(snap: Snapshot, q: Query, title: str, said: Said | None = None) -> bool:
    """Whether the name is about something else than what the question names, though it shares its
    words: a licence or certificate the procedure does not issue, a rare word the name puts inside a
    pair the question says ('hành nghề y' is not 'hành nghề thú y'), or after a word both say, a rare
    word where the question has another ('bảo hộ nhãn hiệu' is not 'bảo hộ giống cây trồng')."""
    s = said or Said.of(snap, q)
    name, named, parts = _name_parts(title)
    if any(kind not in name and kind not in s.terms for kind in s.kinds):
        return True
    spaced = f" {name} "
    pairs = {(a, b) for a, b in s.routing_pairs if f" {a} {b} " not in spaced}
    before_own = {a for a, b in s.before if b not in named}
    for i, (marked, folded) in enumerate(parts):
        for j in range(len(marked) - 1):
            if folded[j + 1] in s.words or not _rare(snap, marked[j + 1], folded[j + 1]):
                continue
            if j + 2 < len(marked) and (folded[j], folded[j + 2]) in pairs:
                return True
            if i == 0 and folded[j] in before_own:
                return True
    return False


def _rare(snap: Snapshot, word: str, folded: str | None = None) -> bool:
    """In few names: by its diacritics when it has them ('thú', not every 'thu')."""
    folded = fold(word) if folded is None else folded
    return (snap.marked_df[word] if word != folded else snap.title_df.get(word, 0)) <= RARE_IN_NAMES


def salient_coverage(snap: Snapshot, q: Query, source_ids: list[str], said: Said | None = None) -> float:
    """IDF-weighted share of the question's content words found in the candidate's own text."""
    s = said or Said.of(snap, q)
    if not s.salient:
        return 0.0
    have = frozenset().union(*(snap.words_of.get(sid, frozenset()) for sid in source_ids))
    return sum(s.idf[w] for w in s.salient if w in have) / sum(s.idf.values())


@lru_cache(maxsize=16384)
def _head_words(title: str) -> str:
    return f" {' '.join(words(_HEAD_END.split(title, maxsplit=1)[0]))} "


def unsaid_operations(said: Said, title: str) -> set[str]:
    """The operations in a procedure's name (before its first bracket) that the question does not say."""
    head = _head_words(title)
    heard = said.words | {"lai", "doi"} if said.lost else said.words
    return {op for op in OPERATIONS if f" {op} " in head and not set(fold(op).split()) <= heard}


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
