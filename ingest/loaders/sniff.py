"""Content sniffing: what a file really is, whatever its name says.

Files in the wild carry the wrong extension: a Word 97 `.doc` renamed `.docx`, an HTML error page
saved as `.pdf`, a ZIP named `.docx`, an image named `.txt`. `check` compares the file's magic bytes
with what its suffix promises and raises `LoadError` with a message that says what the file is and
what to do, before a format library fails with something cryptic.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ingest.source import LoadError

_HEAD_BYTES = 8192
_OLE_SCAN_BYTES = 8 * 1024 * 1024
OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
CONVERT_DOC = "open it in Word/LibreOffice and save as .docx (or convert: `libreoffice --headless --convert-to docx --outdir converted {name}`)"


@dataclass(frozen=True)
class Kind:
    name: str  # pdf | docx | doc | html | text | zip | xlsx | pptx | odt | rtf | ole | image | archive | binary
    description: str  # "a PDF document", used in messages
    suffix: str | None = None  # the suffix such a file should have, where we know one


# What each suffix promises; any other suffix (.md, .txt, .json, .jsonl, …) promises text.
EXPECTED: dict[str, tuple[str, ...]] = {
    ".pdf": ("pdf",),
    ".docx": ("docx",),
    ".html": ("html", "text"),
    ".htm": ("html", "text"),
}
TEXT_KINDS = ("text", "html")

_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
)
_ARCHIVES = (
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
)
_HTML_START = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)


def _zip_kind(path: Path) -> Kind:
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            mimetype = z.read("mimetype").decode("ascii", "replace").strip() if "mimetype" in names else ""
    except (zipfile.BadZipFile, OSError, KeyError):
        return Kind("zip", "a damaged ZIP container (a .docx is a ZIP file; this one cannot be opened)")
    if "word/document.xml" in names:
        return Kind("docx", "a Word .docx document", ".docx")
    if any(n.startswith("xl/") for n in names):
        return Kind("xlsx", "an Excel .xlsx workbook", ".xlsx")
    if any(n.startswith("ppt/") for n in names):
        return Kind("pptx", "a PowerPoint .pptx presentation", ".pptx")
    if mimetype.startswith("application/vnd.oasis.opendocument"):
        return Kind("odt", f"an OpenDocument file ({mimetype.rsplit('.', 1)[-1]})", ".odt")
    return Kind("zip", "a ZIP archive, not a Word document (a .docx holds word/document.xml; this one does not)", ".zip")


def _ole_kind(path: Path) -> Kind:
    with path.open("rb") as f:
        data = f.read(_OLE_SCAN_BYTES)
    if "WordDocument".encode("utf-16-le") in data:
        return Kind("doc", "a legacy Word 97-2003 .doc file", ".doc")
    if "Workbook".encode("utf-16-le") in data:
        return Kind("ole", "a legacy Excel 97-2003 .xls workbook", ".xls")
    if "PowerPoint Document".encode("utf-16-le") in data:
        return Kind("ole", "a legacy PowerPoint 97-2003 .ppt presentation", ".ppt")
    return Kind("ole", "a legacy Microsoft Office 97-2003 file (OLE compound file)")


def _is_text(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True  # UTF-16 with a BOM: the text loader says to save it as UTF-8
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            # legacy 8-bit encodings (Windows-1258, TCVN3) are still text; control bytes are not
            controls = sum(1 for b in head if b < 9 or 13 < b < 32)
            return controls <= len(head) // 100
    return True


def sniff(path: Path) -> Kind:
    """What the file's bytes say it is."""
    with path.open("rb") as f:
        head = f.read(_HEAD_BYTES)
    if b"%PDF-" in head[:1024]:
        return Kind("pdf", "a PDF document", ".pdf")
    if head.startswith(OLE_MAGIC):
        return _ole_kind(path)
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(path)
    if head.startswith(b"{\\rtf"):
        return Kind("rtf", "an RTF document", ".rtf")
    for magic, desc in _IMAGES:
        if head.startswith(magic):
            return Kind("image", desc)
    for magic, desc in _ARCHIVES:
        if head.startswith(magic):
            return Kind("archive", desc)
    if _HTML_START.match(head.lstrip(b"\xef\xbb\xbf")):
        return Kind("html", "an HTML page", ".html")
    if _is_text(head):
        return Kind("text", "plain text")
    return Kind("binary", "binary data, not text")


def _advice(kind: Kind, path: Path, supported: set[str]) -> str:
    if kind.name == "doc":
        return CONVERT_DOC.format(name=path.name)
    if kind.name in ("odt", "rtf", "ole"):
        return "open it in Word/LibreOffice and save as .docx or PDF"
    if kind.name == "image":
        return "if it is a scanned page, run OCR on it (e.g. ocrmypdf) and ingest the resulting PDF"
    if kind.name == "html" and path.suffix.lower() in (".pdf", ".docx"):
        return "it is often an error or login page saved instead of the document: download the document again"
    if kind.name == "zip" and kind.suffix == ".zip":
        return "extract it and ingest the files inside"
    if kind.suffix in supported:
        return f"rename it to {kind.suffix}"
    if kind.name == "text" and ".txt" in supported:
        return "rename it to .txt (or .md) if it is meant to be read as text"
    return f"this type is not supported (supported: {', '.join(sorted(supported))})"


def check(path: Path, supported: set[str]) -> None:
    """Raise `LoadError` when the content is not what the suffix promises (or not loadable at all)."""
    suffix = path.suffix.lower()
    kind = sniff(path)
    expected = EXPECTED.get(suffix, TEXT_KINDS)
    if kind.name in expected and suffix in supported:
        return
    advice = _advice(kind, path, supported)
    if suffix not in supported:
        raise LoadError(f"unsupported file type {suffix or '(none)'}: it is {kind.description}; {advice}")
    shown = suffix or "(no extension)"
    if kind.name == "doc":
        raise LoadError(f"this is a legacy Word 97-2003 .doc file saved with a {shown} name; {advice}")
    raise LoadError(f"this is {kind.description}, but it is named {shown}; {advice}")
