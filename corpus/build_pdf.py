"""Build printable PDF editions of corpus handbooks (Markdown with YAML front matter).

    .venv/bin/pip install fpdf2          # build-time only; ingesting the PDF needs just pypdf
    .venv/bin/python corpus/build_pdf.py                      # the default handbook(s) below
    .venv/bin/python corpus/build_pdf.py corpus/handbooks/dang-ky-tam-tru.md --out corpus/pdf

Vietnamese needs a TrueType font that covers it: DejaVu Sans (Debian/Ubuntu package
`fonts-dejavu-core`) by default, or any TTF given with --font/--bold-font. The front matter's title,
procedure codes, audience and url go into the PDF's document info (/Title, /ProcedureCodes,
/Audience, /SourceURL), which the PDF loader reads back. The output file is named
`cam-nang-<stem>.pdf` so that its source id differs from the Markdown handbook's. Dates are fixed,
so rebuilding an unchanged handbook gives the same bytes.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import yaml
from pypdf import PdfReader, PdfWriter

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCES = [HERE / "handbooks" / "dang-ky-khai-sinh.md"]
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FIXED_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")


def parse(path: Path) -> tuple[dict, str]:
    text = path.read_text(encoding="utf-8")
    m = _FRONT.match(text)
    if not m:
        return {}, text
    return yaml.safe_load(m.group(1)) or {}, text[m.end():]


def render(meta: dict, body: str, font: Path, bold_font: Path) -> bytes:
    try:
        from fpdf import FPDF
    except ImportError:
        sys.exit("building PDFs needs fpdf2: .venv/bin/pip install fpdf2")
    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_font("Body", "", str(font))
    pdf.add_font("Body", "B", str(bold_font))
    pdf.set_title(str(meta.get("title", "")))
    pdf.set_creator("procedure-assistant corpus/build_pdf.py")
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    for line in body.splitlines():
        line = _LINK.sub(r"\1 (\2)", line.rstrip())
        if not line.strip():
            pdf.ln(2)
            continue
        pdf.set_x(pdf.l_margin)
        if line.startswith("# "):
            pdf.set_font("Body", "B", 17)
            pdf.multi_cell(width, 9, line[2:].strip())
            pdf.ln(2)
        elif line.startswith("## "):
            pdf.ln(2)
            pdf.set_font("Body", "B", 13)
            pdf.multi_cell(width, 7, line[3:].strip())
        elif re.match(r"^(\s*)([-*]|\d+\.)\s+", line):
            m = re.match(r"^(\s*)([-*]|\d+\.)\s+(.*)$", line)
            assert m
            indent = 6 + 4 * (len(m.group(1)) // 2)
            marker = "•" if m.group(2) in "-*" else m.group(2)
            pdf.set_font("Body", "", 11)
            pdf.set_x(pdf.l_margin + indent - 5)
            pdf.cell(5, 6, marker)
            pdf.multi_cell(width - indent, 6, m.group(3), markdown=True)
        else:
            pdf.set_font("Body", "", 11)
            pdf.multi_cell(width, 6, line.strip(), markdown=True)
    return bytes(pdf.output())


def add_info(data: bytes, meta: dict, out: Path) -> None:
    """Write the PDF with our document-info keys, which the PDF loader maps back onto the source."""
    from io import BytesIO

    writer = PdfWriter(clone_from=PdfReader(BytesIO(data)))
    info = {"/Title": str(meta.get("title", "")), "/Audience": str(meta.get("audience", "citizen"))}
    if meta.get("procedure_codes"):
        info["/ProcedureCodes"] = ",".join(str(c) for c in meta["procedure_codes"])
    if meta.get("url"):
        info["/SourceURL"] = str(meta["url"])
    if meta.get("data_date"):
        info["/DataDate"] = str(meta["data_date"])
    writer.add_metadata(info)
    with out.open("wb") as f:
        writer.write(f)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sources", nargs="*", type=Path, help="handbook .md files (default: %(default)s)",
                    default=DEFAULT_SOURCES)
    ap.add_argument("--out", type=Path, default=HERE / "pdf", help="output folder (default: corpus/pdf)")
    ap.add_argument("--font", type=Path, default=FONT_DIR / "DejaVuSans.ttf")
    ap.add_argument("--bold-font", type=Path, default=FONT_DIR / "DejaVuSans-Bold.ttf")
    args = ap.parse_args(argv)
    for font in (args.font, args.bold_font):
        if not font.is_file():
            sys.exit(f"font not found: {font}; install fonts-dejavu-core or pass --font/--bold-font "
                     "with a TrueType font that covers Vietnamese")
    args.out.mkdir(parents=True, exist_ok=True)
    for src in args.sources:
        meta, body = parse(src)
        out = args.out / f"cam-nang-{src.stem}.pdf"
        add_info(render(meta, body, args.font, args.bold_font), meta, out)
        print(f"{src} -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
