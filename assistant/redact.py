"""Personal data out of everything we log or store: ID-card numbers (12-digit CCCD, 9-digit CMND),
phone numbers, e-mails, tax codes, bank-card numbers and street addresses, as Vietnamese citizens
type them.
"""

from __future__ import annotations

import re

_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "[email]"),
    # tax codes: 10 digits, or 10-3 for branches, when introduced as such
    (re.compile(r"(?i)\b(mst|mã số thuế|ma so thue|tax code)\s*:?\s*\d{10}(-\d{3})?\b"), r"\1 [tax-code]"),
    # phones: 0xx / +84 / 84, 10 digits, with optional spaces, dots or dashes between groups
    (re.compile(r"(?<![\d])(?:\+?84|0)(?:[\s.-]?\d){9}(?![\d])"), "[phone]"),
    # ID cards and other long digit runs (CCCD 12, bank cards 16), with optional separators
    (re.compile(r"(?<![\d])\d{3}[\s.-]?\d{3}[\s.-]?\d{3}[\s.-]?\d{3}(?:[\s.-]?\d{4})?(?![\d])"), "[id-number]"),
    (re.compile(r"(?<![\d/])\d{9}(?![\d/])"), "[id-number]"),
    (re.compile(r"(?<![\d/])\d{10}(?:-\d{3})?(?![\d/])"), "[tax-code]"),
    # street addresses: "số 12 ngõ 34 phố X", "123/4 Nguyễn Trãi", "nhà 5 hẻm 7"
    (re.compile(r"(?i)\b(số nhà|so nha|nhà số|nha so|số|so|nhà|nha)\s+\d+[\w/]*"
                r"((\s*,?\s*(ngõ|ngo|ngách|ngach|hẻm|hem|kiệt|kiet|tổ|to|đường|duong|phố|pho|thôn|thon|xóm|xom|ấp|ap)"
                r"\s+[\wÀ-ỹ/.-]+(\s+[A-ZÀ-Ỹ][\wÀ-ỹ]*)*))+"), "[address]"),
    (re.compile(r"\b\d{1,4}/\d{1,4}(/\d{1,4})?\s+(?=[A-ZĐ][a-zà-ỹ])([A-ZĐÀ-Ỹ][\wà-ỹ]*\s?){1,4}"), "[address] "),
]


def redact(text: str) -> str:
    for rx, repl in _RULES:
        text = rx.sub(repl, text)
    return text
