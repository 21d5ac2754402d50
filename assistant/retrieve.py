"""Hybrid retrieval: procedure names (BM25), every section (BM25) and dense passages (Chroma), fused
with weights tuned on dev and aggregated to procedures. A document that declares `procedure_codes`
counts for those procedures.

`features()` computes, per source, the signals below; `rank()` combines them. Keeping the two apart
lets bench/tune_retrieval.py fit the weights without re-running the searches.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from assistant.manifest import Chunk, SourceRecord
from assistant.query import INTENT_STOPWORDS, Query, analyse, detect_lang, is_filler, written_short
from assistant.rerank import Reranker
from assistant.store import Store
from assistant.text import fold, lexical_tokens, normalize
from assistant.vocabulary import Vocabulary

AUDIENCE_SEES = {"citizen": ("citizen",), "official": ("citizen", "official")}

# Weights of the per-source signals, tuned on dev (bench/tune_retrieval.py; bench/RESULTS.md).
WEIGHTS = {"name": 0.3, "chunks": 0.35, "dense": 0.7, "coverage": 0.6, "asked_covered": 0.0, "level": 0.3, "negated": -0.3}
DENSE_FLOOR = 0.72  # cosine below this adds nothing
DENSE_K = 40
NAME_K = 200  # names scored by the lexical name search ("cấp lại" and "bảo hiểm xã hội" are in hundreds)
RERANK_TOP = 10  # candidates a reranker re-scores
RERANK_WEIGHT = 0.5  # its min-max normalised score is added to the fused score
SIGNALS = ("name", "chunks", "dense", "coverage", "asked_covered", "level", "negated")
_TITLE_NOISE = re.compile(r"^thu tuc\s+")
# Conversational words (folded) that say nothing about which procedure is meant.
CONVERSATIONAL = frozenset(
    "t tui toi minh em ad oi a ah u uh muon nen neu thi ma nhung voi hay hoac hoi giup duoc khong ko k "
    "co da dang vua roi nua nay kia ay nhe nhi vay z sao gi nao dau bao lau nhieu bn xong luon chua".split())


@dataclass
class Hit:
    chunk: Chunk
    source: SourceRecord
    score: float


@dataclass
class Candidate:
    key: str  # procedure code, or source id for a document about no procedure
    title: str
    score: float
    signals: dict[str, float]
    hits: list[Hit] = field(default_factory=list)
    procedure: dict | None = None
    source_ids: list[str] = field(default_factory=list)

    @property
    def code(self) -> str | None:
        return None if self.key.startswith("doc:") else self.key


@dataclass
class Features:
    query: Query
    table: dict[str, dict[str, float]]  # source id -> signal -> value
    hits: dict[str, list[Hit]]


@dataclass
class Retrieval:
    query: Query
    candidates: list[Candidate]


class Retriever:
    """Holds the live chunk table in memory; reloads when the manifest's index version changes."""

    def __init__(self, store: Store, reranker: Reranker | None = None) -> None:
        self.store = store
        self.reranker = reranker
        self._version = -1
        self._load()

    def _load(self) -> None:
        version = self.store.manifest.index_version
        if version == self._version:
            return
        lex = self.store.lexical()
        rows = list(self.store.manifest.current_chunks())
        self.chunks: dict[str, tuple[Chunk, SourceRecord]] = {c.id: (c, s) for c, s in rows}
        self.sources: dict[str, SourceRecord] = {s.source_id: s for _, s in rows}
        self.by_source: dict[str, list[Chunk]] = {}
        for c, s in rows:
            self.by_source.setdefault(s.source_id, []).append(c)
        self.title_words = {sid: set(re.findall(r"\w+", _TITLE_NOISE.sub("", fold(s.title)))) for sid, s in self.sources.items()}
        self.chunk_ids, self.title_ids = lex["chunks"].ids, lex["titles"].ids
        self._lex = lex
        self.vocab = Vocabulary.build(s.title for s in self.sources.values())
        # pairs in the names with a filler word in them ('di chúc', 'lần đầu'): kept whole in routing
        self.keep = frozenset(pair for pair in self.vocab.bigrams if is_filler(pair[0]) or is_filler(pair[1]))
        self._keep_marked = frozenset(pair for s in self.sources.values() for pair in _pairs(s.title)
                                      if (fold(pair[0]), fold(pair[1])) in self.keep)
        self.words_of = {sid: frozenset(re.findall(r"\w+", fold(" ".join([self.sources[sid].title, *(c.text for c in chunks)]))))
                         for sid, chunks in self.by_source.items()}
        self.df = Counter(w for ws in self.words_of.values() for w in ws)
        self.title_df = Counter(w for ws in self.title_words.values() for w in ws)
        self.marked_df = Counter(w for s in self.sources.values() for w in set(_words(s.title)))
        self._version = version

    def keys_of(self, src: SourceRecord) -> list[str]:
        """The procedures a source counts for: its own code, or the codes a document declares (those
        indexed as records; else its first one, so one handbook makes one candidate)."""
        if src.kind == "procedure":
            return [src.source_id]
        known = [c for c in src.procedure_codes if c in self.sources]
        return known or src.procedure_codes[:1] or [src.source_id]

    def section_chunks(self, source_id: str) -> list[Chunk]:
        """All live chunks of a source, in order (for composing an answer from its fields)."""
        self._load()
        return self.by_source.get(source_id, [])

    def candidate(self, key: str, audience: str = "citizen") -> Candidate | None:
        """A candidate for a known procedure code or document id (a follow-up, a picked option)."""
        self._load()
        allowed = AUDIENCE_SEES.get(audience, ("citizen",))
        sources = [s for s in self.sources.values() if key in self.keys_of(s) and s.audience in allowed]
        if not sources:
            return None
        main = self.sources.get(key) if key in self.sources and self.sources[key].audience in allowed else sources[0]
        hits = [Hit(c, s, 0.0) for s in sources for c in self.by_source.get(s.source_id, [])]
        return Candidate(key=key, title=main.title, score=0.0, signals={}, hits=hits,
                         procedure=main.procedure, source_ids=[s.source_id for s in sources])

    # --- signals ----------------------------------------------------------------------------------
    def unglue(self, question: str) -> str:
        """The question with glued Vietnamese words split ('dangkytamtru' -> 'dang ky tam tru')."""
        self._load()
        return question if detect_lang(question) == "en" else self.vocab.unglue(question)

    def analyse(self, question: str) -> Query:
        """`query.analyse` on the unglued question, keeping the pairs of the names whole."""
        text = self.unglue(question)
        q = analyse(text, self.keep_for(text))
        q.terms += written_short(q.folded, self.title_df)
        return q

    def keep_for(self, text: str) -> frozenset[tuple[str, str]]:
        """The name pairs to keep whole in this question: a pair written with diacritics counts only
        as the names write it ('cho hỏi' is not 'cho Hội'); one without, that is itself a filler phrase
        ('cho hoi'), is read as the filler."""
        self._load()
        pairs = set(_pairs(text))
        written = {pair for pair in pairs if pair != (fold(pair[0]), fold(pair[1]))}
        plain = {pair for pair in pairs - written if is_filler(" ".join(pair))}
        return self.keep - {(fold(a), fold(b)) for a, b in (written - self._keep_marked) | plain}

    def features(self, question: str, audience: str = "citizen", query: Query | None = None) -> Features:
        """Every signal for every candidate source; `query` is the question already analysed (by
        `analyse`), when the caller has it."""
        q = query or self.analyse(question)
        allowed = AUDIENCE_SEES.get(audience, ("citizen",))
        terms = " ".join(fold(t) for t in q.terms)
        routing = f"{q.routing} {terms}"
        full = f"{q.folded} {terms}"
        table: dict[str, dict[str, float]] = {}
        hits: dict[str, list[Hit]] = {}

        def put(sid: str, signal: str, value: float) -> None:
            row = table.setdefault(sid, {})
            row[signal] = max(row.get(signal, 0.0), value)

        name_scores = self._lex["titles"].scores(lexical_tokens(routing))
        for i in np.argsort(-name_scores)[:NAME_K]:
            if name_scores[i] <= 0:
                break
            src = self.sources.get(self.title_ids[i])
            if src and src.audience in allowed:
                put(src.source_id, "name", float(name_scores[i]))

        chunk_scores = self._lex["chunks"].scores(lexical_tokens(full))
        for i in np.argsort(-chunk_scores)[:300]:
            if chunk_scores[i] <= 0:
                break
            chunk, src = self.chunks[self.chunk_ids[i]]
            if src.audience in allowed:
                put(src.source_id, "chunks", float(chunk_scores[i]))
                hits.setdefault(src.source_id, []).append(Hit(chunk, src, float(chunk_scores[i])))

        text = q.expanded if q.diacritics else self.vocab.restore(q.folded)
        if q.terms:
            text = f"{text} ({', '.join(q.terms)})"
        vector = self.store.embedder.embed_query(text)
        for cid, sim in self.store.vectors.query(vector, DENSE_K, where={"audience": {"$in": list(allowed)}}):
            if cid in self.chunks:  # ignore a stray vector an interrupted ingest left behind
                chunk, src = self.chunks[cid]
                if src.audience in allowed:
                    put(src.source_id, "dense", max(0.0, sim - DENSE_FLOOR))
                    put(src.source_id, "dense_raw", sim)
                    hits.setdefault(src.source_id, []).append(Hit(chunk, src, sim))

        for row in table.values():
            row["name_raw"] = row.get("name", 0.0)
        for signal in ("name", "chunks", "dense"):
            top = max((row.get(signal, 0.0) for row in table.values()), default=0.0)
            for row in table.values():
                row[signal] = row.get(signal, 0.0) / top if top > 0 else 0.0
        asked = set(routing.split())
        negated = {b for phrase in q.negated for b in _bigrams(phrase)} - _bigrams(routing)
        # in English, what names the procedure is the official terms the lexicon found
        content = (terms if q.lang == "en" and terms else routing).split()
        content = [w for w in content if w.isalnum()]
        for sid, row in table.items():
            words = self.title_words.get(sid) or set()
            row["coverage"] = len(words & asked) / len(words) if words else 0.0
            row["asked_covered"] = sum(w in words for w in content) / len(content) if content else 0.0
            row["level"] = self._level_prior(self.sources[sid], q)
            row["negated"] = 1.0 if negated & _bigrams(" ".join(_TITLE_NOISE.sub("", fold(self.sources[sid].title)).split())) else 0.0
        return Features(query=q, table=table, hits=hits)

    @staticmethod
    def _level_prior(src: SourceRecord, q: Query) -> float:
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

    # --- ranking ----------------------------------------------------------------------------------
    def rank(self, f: Features, weights: dict[str, float] | None = None, k: int = 5) -> list[Candidate]:
        w = weights or WEIGHTS
        fused = {sid: sum(w[s] * row.get(s, 0.0) for s in SIGNALS) for sid, row in f.table.items()
                 if row.get("name", 0) + row.get("chunks", 0) + row.get("dense", 0) > 0}
        by_key: dict[str, Candidate] = {}
        for sid, score in sorted(fused.items(), key=lambda kv: -kv[1]):
            src = self.sources[sid]
            hits = sorted(f.hits.get(sid, []), key=lambda h: -h.score)[:4]
            for key in self.keys_of(src):
                cand = by_key.get(key)
                if cand is None:
                    proc = self.sources.get(key, src)
                    cand = by_key[key] = Candidate(key=key, title=proc.title, score=score,
                                                   signals=dict(f.table[sid]), procedure=proc.procedure)
                cand.hits.extend(hits)
                cand.source_ids.append(sid)
        ranked = sorted(by_key.values(), key=lambda c: -c.score)
        for cand in ranked[:4]:
            cand.signals["head"] = self.head_coverage(f.query, cand)
            if f.query.lang == "vi":
                cand.signals["other_thing"] = float(self.other_thing(f.query, cand))
        if f.query.lang == "vi":  # an English question says a name only through the lexicon's terms
            ranked = _named_first(ranked)
        ranked = _plain_first(f.query, ranked)
        ranked = _unsaid_operation_last(f.query, ranked)
        for cand in ranked[:3]:  # for the answer's confidence (it did not help ranking on dev)
            cand.signals["salient"] = self.salient_coverage(f.query, cand)
        if self.reranker is not None and ranked:
            ranked = self._rerank(f.query.text, ranked)
        return ranked[:k]

    def head_coverage(self, q: Query, cand: Candidate) -> float:
        """IDF-weighted share of the head of the candidate's name (before its first bracket or comma,
        or one of the deeds it lists) that the question says, in its own words or the lexicon's:
        'chứng chỉ hành nghề y' covers 'Cấp Chứng chỉ hành nghề thú y' except 'thú'; 'nuôi chó mèo
        cảnh' covers little of 'Đăng ký việc nuôi con nuôi trong nước'."""
        said = said_words(q)
        n = len(self.title_words) + 1
        # a name listing several things done ('Đăng ký đất đai, tài sản gắn liền với đất, cấp Giấy chứng
        # nhận …') is covered by a question saying one of them: a part that starts with a deed and names
        # what it is done to (3 words or more)
        first, *rest = re.split(r"[,;]", _TITLE_NOISE.sub("", fold(cand.title.split("(", 1)[0])))
        best = None
        for i, part in enumerate([first, *rest]):
            words = [w for w in dict.fromkeys(part.split()) if w.isalpha()][:10]
            if not words or i and (len(words) < 3 or not _DEED.match(part.strip())):
                continue
            idf = {w: math.log(n / (self.title_df.get(w, 0) + 0.5)) for w in words}
            share = sum(idf[w] for w in words if w in said) / sum(idf.values())
            best = share if best is None else max(best, share)
        return 1.0 if best is None else best

    def other_thing(self, q: Query, cand: Candidate) -> bool:
        """Whether the name is about something else than what the question names, though it shares
        its words: the question asks for a licence or certificate the procedure does not issue ('giấy
        phép mở quán karaoke' is not 'Đăng ký thành lập hộ kinh doanh'), the name puts a rare word
        inside a pair the question says ('hành nghề y' is not 'hành nghề thú y'), or, after a word
        both say, the head of the name goes on with a rare word where the question has another
        ('bảo hộ nhãn hiệu' is not 'Đăng ký bảo hộ giống cây trồng')."""
        name = " ".join(re.findall(r"\w+", fold(cand.title)))
        terms = " ".join(fold(t) for t in q.terms)
        if any(m.group(0) not in name and m.group(0) not in terms for m in _KIND.finditer(q.folded)):
            return True
        said, named = said_words(q), set(name.split())
        words = q.routing.split()
        pairs = {(a, b) for a, b in zip(words, words[1:]) if f" {a} {b} " not in f" {name} "}
        asked = _words(q.expanded)
        # words the question follows with a rare word of its own that the name does not have
        before_own = {fold(a) for a, b in zip(asked, asked[1:]) if len(b) > 1 and fold(b) not in named and
                      self._rare(b) and not is_filler(fold(b)) and fold(b) not in INTENT_STOPWORDS}
        for i, part in enumerate(re.split(r"[,;()]", cand.title)):
            marked = _words(part)
            folded = [fold(w) for w in marked]
            for j in range(len(marked) - 1):
                if folded[j + 1] in said or not self._rare(marked[j + 1]):
                    continue
                if j + 2 < len(marked) and (folded[j], folded[j + 2]) in pairs:
                    return True  # 'hành nghề [thú] y'
                if i == 0 and folded[j] in before_own:
                    return True  # 'bảo hộ [giống]' for 'bảo hộ nhãn hiệu'
        return False

    def _rare(self, word: str) -> bool:
        """In few names: by its diacritics when it has them ('thú', not every 'thu')."""
        return (self.marked_df[word] if word != fold(word) else self.title_df.get(word, 0)) <= RARE_IN_NAMES

    def salient_coverage(self, q: Query, cand: Candidate) -> float:
        """IDF-weighted share of the question's content words found in the candidate's own text:
        'giấy phép mở quán karaoke' matched to household-business registration leaves 'karaoke' out."""
        source = " ".join(fold(t) for t in q.terms) if q.lang == "en" and q.terms else q.routing
        words = [w for w in source.split() if w.isalpha() and w not in CONVERSATIONAL]
        if not words:
            return 0.0
        have = frozenset().union(*(self.words_of.get(sid, frozenset()) for sid in cand.source_ids))
        n = len(self.words_of) + 1
        idf = {w: math.log(n / (self.df.get(w, 0) + 0.5)) for w in words}
        return sum(idf[w] for w in words if w in have) / sum(idf.values())

    def _rerank(self, question: str, ranked: list[Candidate]) -> list[Candidate]:
        head = ranked[:RERANK_TOP]
        passages = [" ".join([c.title, *(h.chunk.text[:300] for h in c.hits[:1])]) for c in head]
        raw = self.reranker.scores(question, passages)  # type: ignore[union-attr]
        lo, hi = min(raw), max(raw)
        for c, s in zip(head, raw):
            c.signals["rerank"] = s
            c.score += RERANK_WEIGHT * ((s - lo) / (hi - lo) if hi > lo else 0.0)
        return sorted(head, key=lambda c: -c.score) + ranked[RERANK_TOP:]

    def search(self, question: str, audience: str = "citizen", k: int = 5) -> Retrieval:
        f = self.features(question, audience)
        return Retrieval(query=f.query, candidates=self.rank(f, k=k))


_HEAD_END = re.compile(r"[(,;]")
# What a citizen asks to be issued, which the procedure's name then says
_KIND = re.compile(r"\b(giay phep|chung chi)\b")
RARE_IN_NAMES = 60  # a word in at most this many names (with its diacritics) says what the thing is
# The deeds procedure names begin with (folded)
_DEED = re.compile(r"(cap|dang ky|xac nhan|cong nhan|gia han|dieu chinh|thay doi|xoa|thu hoi|cham dut|sua doi|bo sung|"
                   r"chuyen)\b")
# A variant this close to the best is put first when it is the plain procedure the best adds words to.
PLAIN_MARGIN = 0.15
_NAME_NOISE = frozenset(("thu", "tuc"))


def name_words(title: str) -> set[str]:
    """The folded words of a procedure's name, without 'thủ tục'."""
    return {w for w in re.findall(r"\w+", fold(title)) if w not in _NAME_NOISE}


def said_words(q: Query) -> set[str]:
    """The folded words a question says, with the lexicon's official terms for its everyday words."""
    return set(re.findall(r"\w+", f"{q.folded} {' '.join(fold(t) for t in q.terms)}"))


def promote(ranked: list[Candidate], fits: Callable[[Candidate], bool], tie: bool = True) -> list[Candidate]:
    """The first of the next three candidates that is close to the best (within PLAIN_MARGIN) and
    `fits`, put first (given the best's score when `tie`); else the ranking as it was."""
    if not ranked:
        return ranked
    top = ranked[0]
    for i, c in enumerate(ranked[1:4], 1):
        if top.score - c.score >= PLAIN_MARGIN:
            break
        if fits(c):
            if tie:
                c.score = top.score
            return [c, *ranked[:i], *ranked[i + 1:]]
    return ranked


def _named_first(ranked: list[Candidate]) -> list[Candidate]:
    """A question saying the whole head of a name ('… bản sao từ bản chính giấy tờ' for 'Chứng thực
    bản sao từ bản chính giấy tờ, văn bản …') means that procedure: a close candidate whose whole
    head the question says comes before a best one whose head it says only in part."""
    if not ranked or ranked[0].signals.get("head", 0.0) >= 0.9:
        return ranked
    return promote(ranked, lambda c: c.signals.get("head", 0.0) >= 0.99)


def _plain_first(q: Query, ranked: list[Candidate]) -> list[Candidate]:
    """A question about the fee of 'khai tử' means 'Đăng ký khai tử', not 'Đăng ký lại khai tử' or
    '… có yếu tố nước ngoài': among close variants, the one whose name the best one's contains
    comes first when the question says none of the words the best one adds."""
    if not ranked:
        return ranked
    words, said = name_words(ranked[0].title), said_words(q)

    def plain(c: Candidate) -> bool:
        own = name_words(c.title)
        return bool(own) and own < words and not (words - own - CONVERSATIONAL) & said

    return promote(ranked, plain)


# What a variant does to a base procedure, as the portal's names say it ("Cấp lại …", "Xóa đăng ký …",
# "Gia hạn …"), with diacritics ("đổi", not "đối với"): a question that says none of it is not asking
# for that variant.
OPERATIONS = ("lại", "xóa", "xoá", "dừng", "gia hạn", "điều chỉnh", "thay đổi", "sửa đổi", "bổ sung", "thu hồi",
              "chấm dứt", "đổi", "trình báo", "hủy", "huỷ", "tạm ngừng", "giải thể", "đính chính", "phục hồi",
              "hiệu đính")
# "bị mất", "thất lạc", "hư hỏng": a lost or damaged paper is issued again
_LOST = re.compile(r"\b(bi|da|lam|danh|vua) mat\b|\bthat lac\b|\bhu hong\b|\bbi hong\b|\brach\b")


def unsaid_operations(q: Query, title: str) -> set[str]:
    """The operations in a procedure's name (before its first bracket) that the question does not say."""
    head = f" {' '.join(_words(_HEAD_END.split(title, maxsplit=1)[0]))} "
    said = said_words(q)
    if _LOST.search(q.folded):
        said = said | {"lai", "doi"}
    return {op for op in OPERATIONS if f" {op} " in head and not set(fold(op).split()) <= said}


def _unsaid_operation_last(q: Query, ranked: list[Candidate]) -> list[Candidate]:
    """'Đăng ký hộ kinh doanh cần gì' is not 'Dừng thực hiện thủ tục đăng ký hộ kinh doanh', nor 'tạm
    trú mất bao nhiêu tiền' 'Gia hạn tạm trú': a close candidate whose name has no operation the question
    leaves unsaid comes before a best one whose name has one."""
    if not ranked or not unsaid_operations(q, ranked[0].title):
        return ranked
    return promote(ranked, lambda c: not unsaid_operations(q, c.title))


def _words(text: str) -> list[str]:
    """The words, lowercased, diacritics kept."""
    return re.findall(r"\w+", normalize(text))


def _pairs(text: str) -> list[tuple[str, str]]:
    """Adjacent words, lowercased, diacritics kept."""
    ws = _words(text)
    return list(zip(ws, ws[1:]))


def _bigrams(text: str) -> set[str]:
    ws = text.split()
    return {f"{a} {b}" for a, b in zip(ws, ws[1:])}
