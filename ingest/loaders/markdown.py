"""Markdown with optional YAML front matter (`title`, `audience`, `procedure_codes`, `url`, `id`).

Each heading starts a section named by its heading path ("Hồ sơ > Giấy tờ phải nộp").
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ingest.ids import source_id_for
from ingest.loaders.text import read_text
from ingest.source import AUDIENCES, LoadError, Section, Source

_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def front_matter(text: str, path: Path) -> tuple[dict, str]:
    m = _FRONT.match(text)
    if not m:
        return {}, text
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        raise LoadError(f"invalid front matter: {exc}") from None
    if not isinstance(meta, dict):
        raise LoadError("front matter must be a mapping of keys to values")
    return meta, text[m.end():]


def split_headings(body: str) -> tuple[str | None, list[Section]]:
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    title = None
    buf: list[str] = []

    def flush() -> None:
        chunk = "\n".join(buf).strip()
        if chunk:
            name = " > ".join(h for _, h in path if h != title) or None
            sections.append(Section(text=chunk, section=name))
        buf.clear()

    for line in body.splitlines():
        m = _HEADING.match(line)
        if m:
            flush()
            level, heading = len(m.group(1)), m.group(2).strip()
            if level == 1 and title is None:
                title = heading
            path = [(lv, h) for lv, h in path if lv < level] + [(level, heading)]
        else:
            buf.append(line)
    flush()
    return title, sections


def load(path: Path) -> list[Source]:
    meta, body = front_matter(read_text(path), path)
    heading_title, sections = split_headings(body)
    if not sections:
        raise LoadError("the file has no text")
    audience = meta.get("audience")
    if audience is not None and audience not in AUDIENCES:
        raise LoadError(f"front matter audience must be one of {AUDIENCES}, not {audience!r}")
    codes = meta.get("procedure_codes") or []
    if isinstance(codes, str):
        codes = [c.strip() for c in codes.split(",") if c.strip()]
    extra = {k: str(v) for k, v in meta.items() if k not in {"title", "audience", "procedure_codes", "url", "id"}}
    return [
        Source(
            source_id=str(meta.get("id") or source_id_for(path)),
            title=str(meta.get("title") or heading_title or path.stem),
            kind=str(meta.get("kind") or "handbook"),
            origin=str(path),
            sections=sections,
            audience=audience,
            procedure_codes=[str(c) for c in codes],
            url=meta.get("url"),
            meta=extra,
        )
    ]
