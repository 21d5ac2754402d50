"""The lexicon holds general entries only: no everyday or English expression exists for a single
question of our own gold files (said by it alone and by no bank question), and each official term it
maps to is the corpus's own wording (in a procedure name or section)."""

from __future__ import annotations

import json
import re
from functools import lru_cache

import pytest

from assistant import lexicon
from assistant.text import expand_abbreviations, fold, has_diacritics, normalize
from tests.conftest import PORTAL, ROOT, SHARED

BANK = [SHARED / "questions" / "bank.jsonl", SHARED / "questions" / "refuse.jsonl"]
OURS = [SHARED / "gold" / "dev.jsonl", ROOT / "eval" / "gold" / "en.jsonl"]


@lru_cache(maxsize=2)
def questions(files: tuple) -> list[str]:
    return [expand_abbreviations(json.loads(line)["question"]) for p in files for line in p.read_text("utf-8").splitlines()]


@lru_cache(maxsize=1)
def corpus_text() -> str:
    parts = []
    for line in PORTAL.read_text("utf-8").splitlines():
        r = json.loads(line)
        parts += [r.get("ten_thu_tuc") or "", r.get("raw_text") or ""]
    return " ".join(fold(p) for p in parts)


def said_by(entry: str, files: list) -> int:
    """How many questions of these gold files say the entry (as `lexicon` matches it)."""
    folded, marked = re.compile(rf"\b{re.escape(fold(entry))}\b"), re.compile(rf"\b{re.escape(normalize(entry))}\b")
    return sum(bool((marked.search(normalize(q)) if has_diacritics(q) else folded.search(fold(q))))
               for q in questions(tuple(files)))


def general(entry: str) -> bool:
    """Not an entry for one question: said by some bank question (written outside the team), or by
    none or several of our own gold files' questions, never by exactly one of them alone."""
    return said_by(entry, BANK) >= 1 or said_by(entry, OURS) != 1


def in_corpus(term: str) -> bool:
    """The term, or each of the consecutive phrases it lists ('thuê mượn ở nhờ cho thuê'), is in the corpus."""
    words, text = fold(term).split(), corpus_text()
    if f" {' '.join(words)} " in f" {text} ":
        return True
    return any(in_corpus(" ".join(words[:i])) and in_corpus(" ".join(words[i:])) for i in range(1, len(words)))


@pytest.mark.parametrize("table", ["EVERYDAY", "ENGLISH"])
def test_no_routing_entry_exists_for_one_question(table: str) -> None:
    single = [k for k in getattr(lexicon, table) if not general(k)]
    assert not single, f"{table} entries said by a single question of our own gold files alone: {single}"


@pytest.mark.parametrize("table", ["EVERYDAY", "ENGLISH", "CASES"])
def test_every_target_is_the_corpus_own_wording(table: str) -> None:
    missing = sorted({v for v in getattr(lexicon, table).values() if not in_corpus(v)})
    assert not missing, f"{table} targets not found in any procedure name or section: {missing}"


@pytest.mark.parametrize("question, abroad", [
    ("Lấy chồng người Hàn Quốc thì đăng ký kết hôn cần giấy tờ gì?", True),
    ("xin the thuong tru cho vo quoc tich nhat can gi", True),
    ("Bằng lái xe cấp ở Đài Loan đổi sang bằng Việt Nam được không?", True),
    ("di lao dong can giay to gi", False),  # "lào" is never a bare word
    ("giay phep kinh doanh my pham o dau", False),
    ("người anh trai tôi mất thì khai tử ở đâu", False),
])
def test_another_country_named_puts_abroad_in_play(question: str, abroad: bool) -> None:
    assert (lexicon.ABROAD in lexicon.official_terms(question, "vi")) is abroad


def test_abroad_is_the_corpus_own_wording() -> None:
    assert in_corpus(lexicon.ABROAD)
