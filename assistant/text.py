"""Vietnamese text normalisation, in one place: NFC, lowercase, diacritics folding, abbreviations,
and the lexical tokenizer (syllable unigrams + bigrams, measured against word segmentation in
bench/RESULTS.md).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"[0-9a-zà-ỹđ]+", re.I)
_SPACE = re.compile(r"\s+")

# Abbreviations and texting forms citizens use, expanded before retrieval (folded keys).
ABBREVIATIONS: dict[str, str] = {
    "cccd": "thẻ căn cước",  # "căn cước công dân" until the 2023 Law on Identification renamed it
    "cmnd": "chứng minh nhân dân",
    "cmt": "chứng minh nhân dân",
    "gplx": "giấy phép lái xe",
    "bhyt": "bảo hiểm y tế",
    "bhxh": "bảo hiểm xã hội",
    "bhtn": "bảo hiểm thất nghiệp",
    "gcn": "giấy chứng nhận",
    "gcnqsdd": "giấy chứng nhận quyền sử dụng đất",
    "qsdd": "quyền sử dụng đất",
    "qsd": "quyền sử dụng",
    "sdd": "sử dụng đất",
    "hkd": "hộ kinh doanh",
    "ubnd": "ủy ban nhân dân",
    "hdnd": "hội đồng nhân dân",
    "gpxd": "giấy phép xây dựng",
    "gks": "giấy khai sinh",
    "lltp": "lý lịch tư pháp",
    "dkkd": "đăng ký kinh doanh",
    "mst": "mã số thuế",
    "tthc": "thủ tục hành chính",
    "dvc": "dịch vụ công",
    "ttgt": "trật tự an toàn giao thông",
    "csgt": "cảnh sát giao thông",
    "xnc": "xuất nhập cảnh",
    "vneid": "định danh điện tử vneid",
    "dk": "đăng ký",
    "đk": "đăng ký",
    "dky": "đăng ký",
    "đky": "đăng ký",
    "onl": "online",
    "ol": "online",
    "z": "vậy",
    "cn": "cần",
    "ko": "không",
    "k": "không",
    "kh": "không",
    "hok": "không",
    "hong": "không",
    "khg": "không",
    "dc": "được",
    "đc": "được",
    "j": "gì",
    "ntn": "như thế nào",
    "bn": "bao nhiêu",
    "bnhieu": "bao nhiêu",
    "bh": "bao giờ",
    "mk": "mình",
    "mik": "mình",
    "e": "em",
    "vs": "với",
    "ng": "người",
    "nc": "nước",
    "nn": "nước ngoài",
    "tp": "thành phố",
    "gt": "giấy tờ",
    "hs": "hồ sơ",
    "sn": "sinh",
    "nvqs": "nghĩa vụ quân sự",
    "dt": "điện thoại",
    "sdt": "số điện thoại",
    "ks": "khai sinh",
}


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def normalize(text: str) -> str:
    """NFC, lowercase, single spaces."""
    return _SPACE.sub(" ", nfc(text).lower()).strip()


@lru_cache(maxsize=65536)
def fold_word(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn").lower()


def fold(text: str) -> str:
    """Lowercase without diacritics: 'Đăng ký khai sinh' -> 'dang ky khai sinh'."""
    return " ".join(fold_word(w) for w in normalize(text).split(" ")) if text else ""


def has_diacritics(text: str) -> bool:
    text = normalize(text)
    return fold(text) != text


def words(text: str) -> list[str]:
    """Syllables of the normalised text (letters and digits only)."""
    return _WORD.findall(normalize(text))


def expand_abbreviations(text: str) -> str:
    """Replace known abbreviations word by word, keeping punctuation ('cccd ko?' -> 'căn cước công dân không?')."""

    def sub(m: re.Match[str]) -> str:
        w = m.group(0)
        return ABBREVIATIONS.get(w, ABBREVIATIONS.get(fold_word(w), w))

    return _WORD.sub(sub, normalize(text))


def lexical_tokens(text: str) -> list[str]:
    """Tokens for the lexical index: folded syllables and folded syllable bigrams.

    Folding makes questions typed without diacritics match; the bigrams keep 'khai sinh'
    apart from 'sinh' and 'khai' on their own.
    """
    syl = [fold_word(w) for w in words(text)]
    return syl + [f"{a}_{b}" for a, b in zip(syl, syl[1:])]
