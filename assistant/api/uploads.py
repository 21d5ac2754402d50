"""What an uploaded file must pass before the ingest pipeline reads it.

- Its name becomes a safe file name under `DATA_DIR/uploads/`: the last path component only, NFC,
  letters, digits, `.`, `_` and `-`, at most `NAME_BYTES` bytes; a type the pipeline does not read
  is refused (415) before anything is stored.
- A DOCX (a ZIP) may unpack to at most `UNPACKED_BYTES` in at most `MEMBERS` parts: a zip bomb is
  refused (413) before any XML is parsed.
- A PDF may have at most `ASSISTANT_MAX_UPLOAD_PAGES` pages (413) and no JavaScript, launch, form
  submission or import actions (422).
A lying extension, a broken or encrypted file: the pipeline itself reports those (422).
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from pathlib import Path, PurePosixPath

from fastapi import HTTPException
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from ingest.loaders import supported

NAME_BYTES = 120
UNPACKED_BYTES = 100 * 1024 * 1024
MEMBERS = 10_000
_UNSAFE = re.compile(r"[^\w.\-]+")
_ACTIVE_KEYS = {"/JS", "/JavaScript"}
_ACTIVE_ACTIONS = {"/JavaScript", "/Launch", "/SubmitForm", "/ImportData"}


def safe_name(filename: str | None) -> str:
    """The name an upload is stored and indexed under (its source id is `doc:` + the stem's slug)."""
    path = PurePosixPath(unicodedata.normalize("NFC", filename or "").replace("\\", "/"))
    suffix = path.suffix.lower()
    if not supported(Path("upload" + suffix)):
        raise HTTPException(415, f"cannot index {path.name!r}: upload a .pdf, .docx, .md, .txt, .html, .json or "
                                 ".jsonl file")
    stem = _UNSAFE.sub("-", path.stem).strip("-.").encode()[: NAME_BYTES - len(suffix)]
    return (stem.decode("utf-8", "ignore").strip("-.") or "upload") + suffix


def screen(path: Path, name: str, max_pages: int) -> None:
    """Refuse a zip bomb, an oversized or active PDF (HTTPException); anything else goes on."""
    if zipfile.is_zipfile(path):
        _check_zip(path)
    if name.lower().endswith(".pdf"):
        _check_pdf(path, max_pages)


def _check_zip(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
    unpacked = sum(m.file_size for m in members)
    if len(members) > MEMBERS or unpacked > UNPACKED_BYTES:
        raise HTTPException(413, f"the file unpacks to {unpacked} bytes in {len(members)} parts; the limit is "
                                 f"{UNPACKED_BYTES} bytes in {MEMBERS} parts")


def _check_pdf(path: Path, max_pages: int) -> None:
    try:
        reader = PdfReader(path)
        pages = len(reader.pages)
    except Exception:
        return  # not a PDF pypdf can open: the pipeline says what it is
    if pages > max_pages:
        raise HTTPException(413, f"the PDF has {pages} pages; the limit is {max_pages}")
    try:
        active = _active(reader)
    except Exception as exc:
        raise HTTPException(422, f"the PDF could not be checked for scripts ({type(exc).__name__}): "
                                 "print it to a new PDF and upload that") from None
    if active:
        raise HTTPException(422, "the PDF contains JavaScript or actions that run when it is opened; "
                                 "print it to a new PDF without them and upload that")


def _active(reader: PdfReader) -> bool:
    """Whether any object reachable from the trailer is a script or an action that runs something."""
    seen: set[tuple[int, int]] = set()
    stack: list[object] = [reader.trailer]
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            if (obj.idnum, obj.generation) in seen:
                continue
            seen.add((obj.idnum, obj.generation))
            obj = obj.get_object()
        if isinstance(obj, DictionaryObject):
            if _ACTIVE_KEYS & obj.keys() or obj.get("/S") in _ACTIVE_ACTIONS:
                return True
            stack.extend(dict.values(obj))
        elif isinstance(obj, ArrayObject):
            stack.extend(list.__iter__(obj))
    return False
