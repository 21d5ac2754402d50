"""Understanding a question before retrieval: language, facet, the words that name a procedure.

Facet words ("cần giấy tờ gì", "bao lâu", "lệ phí bao nhiêu") say what is asked, not which procedure:
they are detected, then removed from the text used to route to a procedure.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass, field

from assistant.lexicon import official_terms
from assistant.text import ABBREVIATIONS, expand_abbreviations, fold, has_diacritics

# Facets in the order an answer shows them; patterns match the folded, abbreviation-expanded text.
FACET_PATTERNS: dict[str, list[str]] = {
    # "giấy tờ" asks for the documents in "cần giấy tờ gì", not in "chứng thực giấy tờ giúp tôi với"
    "documents": [r"giay gi", r"(du|het|tat ca|toan bo|day du) (cac |nhung )?(giay (to|tow)|ho so)", r"(can|mang( theo)?|chuan bi|nop|nhung|cac|gom)( nhung| cac)? giay (to|tow)",
                  r"giay (to|tow)( \w+){0,2} (gi|nao|j)", r"^giay (to|tow)", r"giay (to|tow) (va|gom|can|phai|la)\b",
                  r"ho so (gi|gom|nhung|can|the nao|nhu the nao|kieu gi|ra sao)", r"gom (nhung )?(gi|giay)",
                  r"\bhso\b", r"thanh phan ho so", r"can (chuan bi|mang|nhung) gi", r"chuan bi (gi|nhung)",
                  r"mang (theo )?(gi|nhung|giay)", r"can (nhung )?gi\b", r"can co gi", r"can lam gi", r"(co )?khac (gi|nhau gi)? ?khong",
                  r"to khai", r"bieu mau", r"(may|bao nhieu) ban", r"\bdocuments?\b", r"\bpapers?\b", r"\bbring\b",
                  r"what do i need", r"\brequired\b", r"\bforms?\b"],
    "fee": [r"le ?phi", r"\bphi\b", r"bao nhieu tien", r"(mat|ton|dong|tra|nop|het) (tien|phi)", r"mien phi",
            r"(mat|ton|het) (bao nhieu|bn)(?! (ngay|lau|thoi gian|tuan|thang))", r"\d+ (dong|d|k|nghin|ngan)\b",
            r"tien (le )?phi", r"\bfees?\b", r"\bcosts?\b", r"how much", r"\bcharge", r"\bpay\b", r"\bfree\b"],
    "time": [r"(co )?gia tri (trong )?(bao lau|den khi nao|may (thang|nam))", r"bao lau", r"may ngay", r"bao nhieu ngay", r"thoi ?(gian|han)", r"khi nao (co|nhan|lay)",
             r"bao gio (co|nhan|lay)", r"(co|nhan|tra) ket qua", r"how long", r"\bdays?\b", r"processing time",
             r"\bwhen\b"],
    "place": [r"o dau", r"\bow dau", r"(noi|cho) (nop|lam|giai quyet)", r"nop (tai|o)", r"co quan (nao|thuc hien)",
              r"\bai (giai quyet|cap|lam)", r"dia chi", r"truc tuyen", r"\bonline\b", r"qua mang", r"buu (chinh|dien)",
              r"\bwhere\b", r"which (office|agency)", r"\bsubmit"],
    "conditions": [r"dieu kien", r"(co )?duoc khong", r"ai (duoc|co the)", r"truong hop nao", r"yeu cau",
                   r"\beligib", r"\bconditions?\b", r"\brequirements?\b", r"\bwho can\b"],
    "legal_basis": [r"can cu phap ly", r"can cu", r"luat nao", r"van ban (nao|phap)", r"quy dinh (o|tai) dau", r"(quy dinh|thong tu|nghi dinh) nao",
                    r"nghi dinh", r"thong tu", r"co so phap ly", r"quyet dinh cong bo", r"dua (tren|vao) (dau|van ban|quy dinh)",
                    r"(neu|dan|xin|cho (minh|toi|em|tui)( xin)?|co) (ro )?nguon", r"nguon (o dau|dau|tu dau)",
                    r"lay (thong tin )?(tu|o) dau", r"\blink\b", r"duong dan",
                    r"legal basis", r"which (law|decree)", r"\blaw\b", r"\bsources?\b"],
    "steps": [r"cac buoc", r"(nhung|may) buoc", r"buoc nao", r"trinh tu", r"quy trinh", r"lam (the nao|sao|nhu the nao)",
              r"(the|nhu the) nao", r"ra sao", r"cach (lam|thuc)", r"huong dan", r"how (do|can|to)", r"\bsteps?\b",
              r"\bprocess\b"],
    "result": [r"nhan (duoc )?(gi|giay gi)", r"ket qua (la gi|gi)", r"\bwhat do i (get|receive)", r"\bresult"],
}
# "thế nào", "ra sao" after a facet word ask about that facet ("lệ phí thế nào"), not about the steps.
_GENERIC_STEPS = re.compile(r"\b((the|nhu the) nao|ra sao|lam sao)\b")
_FACET_RE = {f: re.compile(r"\b(?:" + "|".join(p) + r")\b") for f, p in FACET_PATTERNS.items()}

# Words that carry no procedure meaning: greetings, forms of address, question words (folded).
# Retrieval keeps those that are half of a pair in the procedure names ("bản sao", "di chúc").
FILLER = re.compile(
    r"\b(ad|admin|ban|oi|thu tuc|cho( (em|minh|toi|chau|anh|chi|tui|to))? hoi( ve)?|(em|minh|toi|tui) (muon|can) hoi( ve)?|xin hoi|hoi ve|"
    r"cam on|a|ạ|nhe|nha|nhi|vay|the|thi|la|gi|nao|khong|ha|hả|a ha|turn \d+|user|please|thanks|"
    r"phai|y minh|minh hoi|hoi|muon|toi|em|minh|binh thuong|thoi|dau|sao|di|ma|roi|giup|gium|voi|"
    r"hi|hello|could|would|you|tell|me|i|my|we|the|a|an|do|does|is|are|what|of|for|to|in|on)\b"
)
_NOISE = re.compile(r"^(\s*(turn \d+\s*:|\[user\]|user:|>+))+\s*", re.I)

# "không phải X", "chứ không phải X", "đừng đưa X": X is what the citizen does NOT mean.
_NEGATION = re.compile(
    r"\b(?:chu khong phai|khong phai (?:la )?(?:loai |truong hop )?|khong phai|dung (?:dua|lay|dua ra)|"
    r"khong hoi|not (?:the )?|rather than )"
    r"([a-z0-9 ]+?)(?=[,.;?!]|\bma\b|\by minh\b|\bminh hoi\b|\bchi\b|\bthoi\b|\bdau\b|$)"
)

# Words that occur in English questions and are not Vietnamese syllables typed without diacritics.
_EN_WORDS = re.compile(
    r"\b(the|what|how|where|when|which|does|is|are|my|for|need|much|long|get|register|registration|"
    r"documents?|fees?|cost|costs|take|takes|should|would|could|if|of|and|with|your|you|it|this|that|"
    r"apply|submit|certificate|card|office|there|about|from|have|has|want|please|who|why|permit|free|"
    r"can|do|i|to|an|in|on|at|by|our|we|new|lost|old|child|son|daughter|wife|husband|or|not|"
    r"recognition|residence|passport|license|licence|insurance|business|land|house|"
    r"marriage|birth|death|copy|copies|certified|form|online|days?)\b")
# Vietnamese syllables typed without diacritics that English questions do not use.
_VI_WORDS = re.compile(
    r"\b(khong|ko|duoc|dc|gi|bao|lau|lam|cho|toi|em|minh|giay|dang|ky|thu|tuc|ho|so|phi|le|nop|dau|"
    r"con|co|nao|vay|the|thi|cua|va|voi|nhu|mat|tien|can|muon|hoi|xin|cap|lai|khai|sinh|ket|hon|"
    r"tru|tam|thuong|chung|thuc|ban|sao|ngay|xa|phuong|tinh|oi|ad|a|k|j|z|bn|nha|dat|dk|hkd|cccd)\b")

# Asking for the whole of a list an answer shortened.
FULL_LIST = re.compile(
    r"\b((xem|liet ke|cho (minh|toi|em) xem|gui|ke) (du|het|tat ca|day du|toan bo)|con (gi|nhung gi) (nua|khac)|"
    r"(giay to|ho so|buoc|muc|van ban) con lai|(show|list|see) (me )?(all|everything|the rest|the full)|"
    r"full list|all of (it|them)|the rest)\b")

LEVEL_WORDS = {
    "province": re.compile(r"\b(cap tinh|tinh|thanh pho truc thuoc|so\b|province|provincial)"),
    "commune": re.compile(r"\b(cap xa|xa|phuong|thi tran|commune|ward)\b"),
}


@dataclass
class Query:
    text: str  # as asked, minus chat noise
    expanded: str  # abbreviations expanded
    folded: str
    lang: str  # "vi" | "en"
    facets: list[str]
    routing: str  # folded text with facet words and fillers removed: what names the procedure
    diacritics: bool
    levels: set[str] = field(default_factory=set)
    terms: list[str] = field(default_factory=list)  # official terms for everyday words (lexicon)
    negated: list[str] = field(default_factory=list)  # folded phrases the citizen rules out
    full: bool = False  # asks for a whole list ("xem đủ giấy tờ", "show all steps")

    @property
    def folded_terms(self) -> str:
        """The official terms, folded as the names and indexes are."""
        return " ".join(fold(t) for t in self.terms)

    @property
    def names_by_terms(self) -> bool:
        """An English question with official terms names its procedure by them alone: its own words
        match no name, only the few English examples."""
        return self.lang == "en" and bool(self.terms)


def detect_lang(text: str) -> str:
    """'en' or 'vi'. An English question may quote a Vietnamese name ('my first chip ID card (thẻ
    căn cước)') or carry an accent ('fiancé'): with diacritics it is English only when English
    words clearly outnumber Vietnamese ones."""
    low = fold(text) if has_diacritics(text) else text.lower()
    en, vi = len(_EN_WORDS.findall(low)), len(_VI_WORDS.findall(low))
    if has_diacritics(text):
        return "en" if en >= 4 and en > 2 * vi else "vi"
    return "en" if en > vi else "vi"


def is_filler(word: str) -> bool:
    return FILLER.fullmatch(word) is not None


def _strip_fillers(text: str, keep: frozenset[tuple[str, str]]) -> str:
    """The text without filler words, except where a filler word is half of a pair in `keep` ('di
    chúc', 'bản sao', 'lần đầu', 'thẻ căn cước' keep 'di', 'bản', 'sao', 'đầu', 'thẻ')."""
    toks = text.split()
    kept = {j for i in range(len(toks) - 1) if (toks[i], toks[i + 1]) in keep for j in (i, i + 1)}
    marked = " ".join(f"{t}_" if i in kept else t for i, t in enumerate(toks))  # "_" stops the filler match
    return " ".join(FILLER.sub(" ", marked).split()).replace("_", "")


def analyse(question: str, keep: frozenset[tuple[str, str]] = frozenset()) -> Query:
    """The question normalised: language, facets asked, the words that name the procedure
    (`routing`: facet words and fillers removed, except fillers inside a pair in `keep`), official
    terms for everyday words, what it rules out."""
    text = _NOISE.sub("", question.strip())
    expanded = expand_abbreviations(text)
    folded = fold(re.sub(r"[“”\"']", " ", expanded))
    lang = detect_lang(text)
    negated = []
    for m in _NEGATION.finditer(folded):
        phrase = m.group(1)
        for rx in _FACET_RE.values():
            phrase = rx.sub(" ", phrase)
        if phrase.split():
            negated.append(" ".join(phrase.split()))
    facets = [f for f, rx in _FACET_RE.items() if rx.search(folded)]
    generic = "steps" in facets and not _FACET_RE["steps"].search(_GENERIC_STEPS.sub(" ", folded))
    if generic and len(facets) > 1:
        facets.remove("steps")
    elif generic:  # "… thì làm sao?": what to bring, and what to do
        facets.insert(0, "documents")
    routing = _NEGATION.sub(" ", folded)
    for rx in _FACET_RE.values():
        routing = rx.sub(" ", routing)
    full = bool(FULL_LIST.search(folded))
    routing = FULL_LIST.sub(" ", routing)
    routing = _strip_fillers(re.sub(r"[^\w\s]", " ", routing), keep)
    levels = {name for name, rx in LEVEL_WORDS.items() if rx.search(folded)}
    return Query(text=text, expanded=expanded, folded=folded, lang=lang, facets=facets,
                 routing=routing, diacritics=has_diacritics(text), levels=levels,
                 terms=official_terms(re.sub(r"[“”\"']", " ", expanded), lang), negated=negated, full=full)


# Chat words as written with diacritics: in a question that has them, 'hỏi' and 'bạn' are chat, 'Hội'
# and 'bản' are not.
MARKED_FILLERS = frozenset(
    "cho hỏi ạ à ơi nhé nha nhỉ vậy thế thì là gì nào không hả phải mình tôi em tui muốn thôi đâu sao đi mà rồi "
    "giúp giùm với ad admin bạn anh chị xin thủ tục".split())


def topic(q: Query) -> str:
    """What the question says of its procedure, as typed (diacritics kept): the question without the
    words of the facets it asks ('cần giấy tờ gì', 'bao lâu') and without chat words (read with their
    diacritics when it has them). The whole question when nothing is left."""
    words = q.expanded.split()
    folded = " ".join(fold(w) for w in words)
    starts, at = [], 0
    for w in words:
        starts.append(at)
        at += len(fold(w)) + 1
    asked: set[int] = set()
    for rx in _FACET_RE.values():
        for m in rx.finditer(folded):
            asked |= {i for i, st in enumerate(starts) if st < m.end() and st + len(fold(words[i])) > m.start()}
    kept = []
    for i, w in enumerate(words):
        core = re.sub(r"^\W+|\W+$", "", w)
        if i in asked or not core or (core in MARKED_FILLERS if q.diacritics else is_filler(fold(core))):
            continue
        kept.append(core)
    return " ".join(kept) or q.expanded


def written_short(folded: str, names_use: Container[str]) -> list[str]:
    """The abbreviations that procedure names use (`names_use`) for what the question spells out or
    abbreviates ('sổ BHXH' in 'Cấp lại … sổ BHXH, thẻ BHYT'), so that either spelling finds them."""
    return [short for short, long in ABBREVIATIONS.items()
            if short in names_use and " " in long and re.search(rf"\b{fold(long)}\b", folded)]


_HEADING_FACETS = [
    ("documents", re.compile(r"\b(ho so|giay to|thanh phan)\b")),
    ("time", re.compile(r"\b(thoi (gian|han)|bao lau)\b")),
    ("fee", re.compile(r"\b(le phi|phi)\b")),
    ("place", re.compile(r"\b(noi (nop|tiep nhan)|dia chi|co quan|nop o dau|o dau)\b")),
    ("steps", re.compile(r"\b(trinh tu|cac buoc|quy trinh|cach thuc)\b")),
    ("legal_basis", re.compile(r"\b(can cu|phap ly)\b")),
    ("conditions", re.compile(r"\b(dieu kien|yeu cau)\b")),
    ("result", re.compile(r"\b(ket qua)\b")),
]


def facet_of_heading(heading: str) -> str | None:
    """The facet a document's section heading is about ('Hồ sơ cần chuẩn bị' -> documents)."""
    folded = fold(heading.split(">")[-1])
    return next((facet for facet, rx in _HEADING_FACETS if rx.search(folded)), None)


# Where a question may change subject: ";", "?", ",", a sentence end, "còn …", "ngoài ra", "và".
_INTENT_BREAK = re.compile(r"(?i)\s*[;?,]\s*|\.\s+|\s+(?=(?:còn|ngoài ra)\s)|\s+(?:và|va)\s+")
# Words that name no procedure (folded): chat, question words, and the words of facets.
INTENT_STOPWORDS = frozenset(
    "t tui toi minh em ad oi a ah u uh muon nen neu thi ma nhung voi hay hoac hoi giup duoc khong ko k co da dang "
    "vua roi nua nay kia ay nhe nhi vay z sao gi nao dau bao lau nhieu bn xong luon chua con ngoai ra va cho biet "
    "xin can lam giai quyet hien nop thu tuc ngay tien cac buoc hinh thuc nhung mang theo the "
    "gom lien he so dien thoai nhanh khac nhau giong cai hai nay hoi user turn cau mat het ton la".split())


@dataclass
class Intent:
    text: str
    facets: list[str]
    content: list[str]  # folded words that name the procedure
    asks: bool  # the part asks something itself (else it shares what the next part asks)


def intents(question: str, keep: frozenset[tuple[str, str]] = frozenset()) -> list[Intent]:
    """The parts of a question that each name a procedure and what is asked about it ("Khai sinh cần
    giấy tờ gì, còn kết hôn thì mất bao nhiêu tiền?" -> two parts). A part that names nothing of its
    own (fewer than two content words) joins its neighbour, as does what follows a long description
    of the situation; a part that asks nothing takes what the next part asks ("Khai sinh, khai tử
    cần giấy tờ gì?"). One part when the question does not change subject; whether the parts
    really name different procedures is for retrieval to say. `keep` as for `analyse`."""
    parts: list[Intent] = []
    pending = ""
    for piece in _INTENT_BREAK.split(question):
        if not piece or not piece.strip(" .,;?!:"):
            continue
        piece = f"{pending}, {piece.strip()}" if pending else piece.strip()
        q = analyse(piece, keep)
        content = [w for w in q.routing.split() if w.isalpha() and len(w) > 1 and w not in INTENT_STOPWORDS]
        if len(content) < 2 and not parts:
            pending = piece  # "Thế", "Dạ cho em hỏi": joins what follows
            continue
        pending = ""
        last = parts[-1] if parts else None
        if last is not None and (len(content) < 2 or (not last.asks and len(last.content) > 3)):
            last.text += ", " + piece
            last.facets = list(dict.fromkeys(last.facets + q.facets))
            last.content = list(dict.fromkeys(last.content + content))
            last.asks = last.asks or bool(q.facets)
        else:
            parts.append(Intent(piece, list(q.facets), content, bool(q.facets)))
    if pending and parts:
        parts[-1].text += ", " + pending
    if len(parts) > 1 and not parts[-1].asks and len(parts[-1].content) > 3:
        last = parts.pop()
        parts[-1].text += ", " + last.text
    if len(parts) < 2:
        q = analyse(question, keep)
        return [Intent(question, q.facets, q.routing.split(), bool(q.facets))]
    for i, part in enumerate(parts):  # an enumeration shares what its last item asks
        if not part.asks:
            part.facets = next((p.facets for p in parts[i + 1:] if p.asks), [])
    return parts
