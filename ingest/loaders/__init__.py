"""Loaders turn a file into `Source`s. One module per format; `load_path` picks by content and name.

Add a format: write `load(path: Path) -> list[Source]` (a `Loaded` list when some records inside
the file are skipped) in a module here and register its suffixes
in `LOADERS` (a binary format also says what its suffix promises in `sniff.EXPECTED`). Raise
`LoadError` with a message a person can act on. `load_path` sniffs the content first, so a file
whose extension lies (a Word 97 `.doc` named `.docx`, a PDF named `.txt`) gets a clear message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ingest import examples, portal
from ingest.source import Loaded, LoadError, Source

from . import docx, html, markdown, pdf, sniff, text

Loader = Callable[[Path], Iterable[Source]]


def records(path: Path) -> Iterable[Source]:
    """A `.jsonl`/`.json` file: example questions (gold format) or portal procedure records."""
    return examples.load(path) if examples.is_examples(path) else portal.load(path)


LOADERS: dict[str, Loader] = {
    ".md": markdown.load,
    ".markdown": markdown.load,
    ".txt": text.load,
    ".pdf": pdf.load,
    ".docx": docx.load,
    ".html": html.load,
    ".htm": html.load,
    ".jsonl": records,
    ".json": records,
}


def supported(path: Path) -> bool:
    return path.suffix.lower() in LOADERS


def load_path(path: Path) -> Loaded:
    """The sources of one file (with messages for records skipped inside it), or raise `LoadError`."""
    if path.stat().st_size == 0:
        raise LoadError("the file is empty")
    sniff.check(path, set(LOADERS))  # unsupported, or content other than the name says: what it really is
    result = LOADERS[path.suffix.lower()](path)
    return result if isinstance(result, Loaded) else Loaded(result)


def expected_sources(path: Path) -> int:
    """How many sources a file should yield, found cheaply (for a progress bar's total): a portal
    `.jsonl` file one per non-empty line, any other file one (a `.json` list is counted on loading)."""
    if path.suffix.lower() != ".jsonl" or examples.is_examples(path):
        return 1
    try:
        with path.open("rb") as fh:
            return sum(1 for line in fh if line.strip()) or 1
    except OSError:
        return 1


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named directly, and supported files under folders (sorted, hidden ones skipped)."""
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p)
                if f.is_file() and supported(f) and not any(part.startswith(".") for part in rel.parts):
                    yield f
        else:
            yield p
