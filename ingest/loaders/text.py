"""Plain text: one source, split into paragraphs-sized sections by the chunker."""

from __future__ import annotations

from pathlib import Path

from ingest.source import LoadError, Section, Source
from ingest.ids import source_id_for


def read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(f"not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    if "\0" in text:
        raise LoadError("this is a binary file, not text; check its extension")
    return text


def load(path: Path) -> list[Source]:
    text = read_text(path)
    if not text.strip():
        raise LoadError("the file has no text")
    title = next((line.strip() for line in text.splitlines() if line.strip()), path.stem)[:200]
    return [Source(source_id=source_id_for(path), title=title, kind="document", origin=str(path),
                   sections=[Section(text=text)])]
