"""Stable ids for file sources: the file name's stem, made URL-safe (unique within a corpus)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path


def slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    ascii_only = folded.encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_only.lower()).strip("-") or "doc"


def source_id_for(path: Path) -> str:
    return "doc:" + slug(path.stem)
