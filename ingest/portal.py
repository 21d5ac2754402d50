"""National Public Service Portal records (JSON Lines or JSON) → `Procedure` and one `Source` each.

The crawl flattened the portal's tables and mixed in its UI text; `parse_record` undoes that
(tables in `ingest.portal_tables`), keeps the source's wording (NFC) and marks what is ambiguous.
`load` is the registered loader; `load_with_errors` also reports the lines it had to skip.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.procedure import Procedure, RequiredDocument
from ingest.portal_tables import (
    CHANNEL_HEAD, DOCUMENT_HEAD, EMPTY, LEGAL_HEAD, clean_text, parse_channels, parse_documents, parse_legal_basis,
)
from ingest.source import LoadError, Loaded, Section, Source

MINISTRIES = {
    "bo-cong-an": "Bộ Công an",
    "bo-tai-chinh": "Bộ Tài chính",
    "bo-tu-phap": "Bộ Tư pháp",
    "bo-xay-dung": "Bộ Xây dựng",
    "bo-nong-nghiep-mt": "Bộ Nông nghiệp và Môi trường",
    "ngan-hang-nha-nuoc": "Ngân hàng Nhà nước Việt Nam",
    "toa-an-nhan-dan": "Tòa án nhân dân",
}
_UI_TAIL = re.compile(r"(?:Từ khóa(?P<keywords>.*?)Mô tả(?P<note>.*?))?(?:Chọn cơ quan thực hiện.*)?\Z", re.S)
_RESULT_CODE = re.compile(r"Mã:\s*[A-Z]{1,4}\.[\w.]+")
_NONE_WORDS = re.compile(r"(?i)(không|không có|không quy định|chưa quy định)\.?")
_STEP_MARKS = (  # most telling first: "Bước N", top-level "1.", "a)", then "-" and "+" bullets
    re.compile(r"(?:^|(?<=\n)|(?<=[.;:]))[ \t]*(?:[-+*•–][ \t]*)?(?=(?:Bước|BƯỚC)\s*\d+)"
               r"|(?<=\s)[-–][ \t]*(?=(?:Bước|BƯỚC)\s*\d+)"),
    re.compile(r"^[ \t]*(?=\d+\s*[.)]\s)", re.M),
    re.compile(r"^[ \t]*(?=[a-zđ]\)\s)", re.M),
    re.compile(r"^[ \t]*(?=[-–•][ \t])|(?<=[.;])[ \t]+(?=-[ \t]+\S)", re.M),
    re.compile(r"^[ \t]*(?=\+[ \t])", re.M),
)
_BULLET = re.compile(r"^\s*[-–•+*]+\s*")
_OVERVIEW_WORDS = 65


# ---- parsing -------------------------------------------------------------------------------------

def parse_record(record: dict[str, Any]) -> Procedure:
    """A portal record as a `Procedure` (raises ValueError when it has no code or name)."""
    r = {k: nfc(v) if isinstance(v, str) else v for k, v in record.items()}
    code, name = field(r, "ma_thu_tuc"), field(r, "ten_thu_tuc")
    if not code or not name:
        raise ValueError("the record has no 'ma_thu_tuc' (code) or 'ten_thu_tuc' (name)")
    tables = _tables(r)
    channels = parse_channels(tables["channels"])
    return Procedure(
        code=code, name=name, url=field(r, "detail_url"), field=field(r, "linh_vuc"),
        level=field(r, "cap_thuc_hien"), procedure_type=field(r, "loai_thu_tuc"),
        subjects=field(r, "doi_tuong_thuc_hien"),
        agency=field(r, "co_quan_thuc_hien") or field(r, "co_quan_co_tham_quyen"),
        address=field(r, "dia_chi_tiep_nhan"), ministry=MINISTRIES.get(r.get("bo_nganh_folder") or ""),
        decision=field(r, "so_quyet_dinh"), steps=split_steps(field(r, "trinh_tu_thuc_hien")),
        channels=channels, documents=parse_documents(tables["documents"]),
        conditions=conditions(field(r, "yeu_cau_dieu_kien")), results=results(r.get("ket_qua_xu_ly"))[0],
        legal_basis=parse_legal_basis(tables["legal"]), related=related(field(r, "thu_tuc_lien_quan")),
        flags=list(dict.fromkeys(f for c in channels for f in c.flags)),
    )


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).replace("\u00a0", " ")


def field(record: dict[str, Any], key: str) -> str | None:
    """A text field with portal UI text stripped; None when empty or 'Không có thông tin'."""
    value = record.get(key)
    if not isinstance(value, str):
        return None
    value = strip_ui(value).strip()
    return None if not value or value == EMPTY else value


def strip_ui(text: str) -> str:
    """Drop the page's trailing widgets: 'Từ khóa … Mô tả …' and 'Chọn cơ quan thực hiện … Nộp hồ sơ'."""
    m = _UI_TAIL.search(text)
    return text[:m.start()] if m else text


def _tables(r: dict[str, Any]) -> dict[str, str | None]:
    """The three table fields; re-cut from raw_text where the crawler split the page in the wrong place."""
    legal = field(r, "can_cu_phap_ly")
    tables = {"channels": field(r, "cach_thuc_thuc_hien"), "documents": field(r, "thanh_phan_ho_so"), "legal": legal}
    if legal and not legal.startswith(LEGAL_HEAD) and isinstance(r.get("raw_text"), str):
        tables.update(_tables_from_raw(r["raw_text"]))
    return tables


def _tables_from_raw(raw: str) -> dict[str, str | None]:
    start = raw.find("Cách Thức Thực Hiện" + CHANNEL_HEAD)
    docs_head = raw.find(DOCUMENT_HEAD, start)
    if start < 0 or docs_head < 0:
        return {}
    docs_start = raw.rfind("Thành phần hồ sơ", start, docs_head)
    legal = re.compile(rf"Căn cứ pháp lý(?={LEGAL_HEAD}|{EMPTY})").search(raw, docs_head)
    agency = raw.find("Cơ quan thực hiện", legal.end()) if legal else -1
    if docs_start < 0 or not legal or agency < 0:
        return {}
    legal_text = raw[legal.end():agency]
    return {
        "channels": raw[start + len("Cách Thức Thực Hiện"):docs_start],
        "documents": raw[docs_start + len("Thành phần hồ sơ"):legal.start()],
        "legal": None if legal_text.strip() == EMPTY else legal_text,
    }


def split_steps(text: str | None) -> list[str]:
    """Steps split on 'Bước N', else top-level '1.', 'a)', '-' or '+' bullets, else lines.

    Text before the first marker (an introduction) stays with the first step.
    """
    if not text:
        return []
    text = text.replace("\r", "")
    for pattern in _STEP_MARKS:
        marks = sorted({m.start() for m in pattern.finditer(text)})
        if len(marks) >= 2 and (pattern is not _STEP_MARKS[2] or _top_level_letters(text, marks[0])):
            return _cut(text, marks)
    return clean_text(text).split("\n") if clean_text(text) else []


def _top_level_letters(text: str, first: int) -> bool:
    """'a)' items are steps only when they start at 'a)' and no '-' bullet comes before them."""
    dash = _STEP_MARKS[3].search(text)
    return text[first:].lstrip().startswith("a)") and (dash is None or dash.start() > first)


def _cut(text: str, marks: list[int]) -> list[str]:
    pieces = [text[a:b] for a, b in zip(marks, marks[1:] + [len(text)])]
    pieces[0] = text[:marks[0]] + "\n" + pieces[0]
    return [step for step in (_BULLET.sub("", clean_text(p)) for p in pieces) if step]


def conditions(text: str | None) -> str | None:
    if not text or _NONE_WORDS.fullmatch(text.strip()):
        return None
    return clean_text(text)


def results(text: str | None) -> tuple[list[str], str | None]:
    """Result documents ('Mã: KQ…' codes dropped) and the result's 'Mô tả' note, if any."""
    if not isinstance(text, str):
        return [], None
    text = nfc(text)
    m = _UI_TAIL.search(text)
    note = clean_text(m.group("note") or "") if m else ""
    body = text[:m.start()] if m else text
    names = [clean_text(part) for part in _RESULT_CODE.split(body)]
    return [n for n in names if n and n != EMPTY], (note if note and note != EMPTY else None)


def related(text: str | None) -> list[str]:
    """'#Tên thủ tục1<name>#1Tên thủ tục<name>' → the distinct names."""
    if not text:
        return []
    names = (re.sub(r"^\d*\s*Tên thủ tục\s*\d*", "", part).strip() for part in text.split("#"))
    return list(dict.fromkeys(n for n in names if n))


# ---- sources -------------------------------------------------------------------------------------

def to_source(record: dict[str, Any], procedure: Procedure, origin: str) -> Source:
    meta = {"ministry": procedure.ministry or "", "level": procedure.level or "", "field": procedure.field or ""}
    sections = [Section(text=overview(procedure), section="Tổng quan", meta={"embed": True})]
    sections += facet_sections(procedure, record)
    return Source(source_id=procedure.code, title=procedure.name, kind="procedure", origin=origin,
                  sections=sections, procedure_codes=[procedure.code], url=procedure.url,
                  procedure=procedure, meta=meta)


def overview(p: Procedure) -> str:
    """A compact passage of what a citizen's question would match (about 60–120 words; a long name is kept)."""
    optional = [f"Cấp thực hiện: {p.level}" if p.level else "",
                f"Cơ quan thực hiện: {_words(p.agency, 20)}" if p.agency else "",
                f"Đối tượng: {_words(p.subjects, 20)}" if p.subjects else "",
                f"Kết quả: {_words('; '.join(p.results), 20)}" if p.results else ""]
    parts = [p.name.rstrip("."), f"Lĩnh vực: {p.field}" if p.field else ""]
    for part in filter(None, optional):
        if _count(parts) + len(part.split()) <= _OVERVIEW_WORDS:
            parts.append(part)
    names = []
    for doc in sorted(p.documents, key=_note_like):
        if _note_like(doc) == 2:
            break
        name = _words(re.split(r"[;:(]", doc.name)[0].strip(), 12).rstrip(".,")
        if _count(parts) + _count(names) + len(name.split()) > _OVERVIEW_WORDS:
            break
        if name and name not in names:
            names.append(name)
    text = ". ".join(x.rstrip(".") for x in parts if x)
    return text + (". Hồ sơ gồm: " + "; ".join(names) if names else "") + "."


def _count(parts: list[str]) -> int:
    return sum(len(x.split()) for x in parts)


def _note_like(doc: RequiredDocument) -> int:
    """0 a document to hand in, 1 a case-specific one ('Trường hợp …'), 2 a note the portal put in a row."""
    if doc.quantity == "0 bản chính":
        return 2
    return 1 if re.match(r"(?i)(trường hợp|đối với|nếu)\b", doc.name) else 0


def _words(text: str, limit: int) -> str:
    words = text.split()
    return " ".join(words[:limit]) + (" …" if len(words) > limit else "")


def facet_sections(p: Procedure, record: dict[str, Any]) -> list[Section]:
    result_note = results(record.get("ket_qua_xu_ly"))[1]
    candidates = [
        ("Thành phần hồ sơ", "documents", render_documents(p), {}),
        ("Cách thức thực hiện", "time", render_channels(p), {"facets": ["time", "fee"]}),
        ("Trình tự thực hiện", "steps", "\n".join(f"{i}. {s}" for i, s in enumerate(p.steps, 1)), {}),
        ("Yêu cầu, điều kiện", "conditions", p.conditions or "", {}),
        ("Căn cứ pháp lý", "legal_basis", "\n".join(
            f"- {b.title}" + (f" ({b.number})" if b.number and b.number not in b.title else "")
            for b in p.legal_basis), {}),
        ("Kết quả", "result", "\n".join([*(f"- {r}" for r in p.results), result_note or ""]).strip(), {}),
        ("Cơ quan thực hiện", "place", render_place(p, record), {}),
    ]
    return [Section(text=f"{p.name}\n{title}:\n{body}", section=title, facet=facet, meta=meta)
            for title, facet, body, meta in candidates if body.strip()]


def render_documents(p: Procedure) -> str:
    lines, group = [], None
    for doc in p.documents:
        if doc.group != group and doc.group:
            lines.append(f"{doc.group}:")
        group = doc.group
        extra = "; ".join(x for x in (f"mẫu: {doc.form}" if doc.form else "",
                                      f"số lượng: {doc.quantity}" if doc.quantity else "") if x)
        lines.append(f"- {_BULLET.sub('', doc.name)}" + (f" ({extra})" if extra else ""))
    return "\n".join(lines)


def render_channels(p: Procedure) -> str:
    lines = []
    for c in p.channels:
        fees = "; ".join(f.text + (f" ({f.note})" if f.note else "") for f in c.fees)
        fee = fees if fees else ("Miễn phí" if c.free else "không có thông tin")
        time = c.time or "không có thông tin"
        if "time_without_unit" in c.flags:
            time += " (nguồn không ghi đơn vị)"
        line = f"- {c.label}: thời hạn giải quyết {time}; phí, lệ phí: {fee}"
        lines.append(line + (f". {c.note}" if c.note else ""))
    return "\n".join(lines)


def render_place(p: Procedure, record: dict[str, Any]) -> str:
    rows = [("Cơ quan thực hiện", p.agency), ("Cơ quan có thẩm quyền", field(record, "co_quan_co_tham_quyen")),
            ("Địa chỉ tiếp nhận hồ sơ", p.address), ("Cơ quan được ủy quyền", field(record, "co_quan_duoc_uy_quyen")),
            ("Cơ quan phối hợp", field(record, "co_quan_phoi_hop"))]
    seen, lines = set(), []
    for label, value in rows:
        if value and value not in seen:
            seen.add(value)
            lines.append(f"{label}: {value}")
    return "\n".join(lines)


# ---- loading -------------------------------------------------------------------------------------

def iter_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | LoadError]]:
    """(line number, record or the error for that line); `.json` holds one record or a list of them."""
    text = _read(path)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LoadError(f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
        for i, item in enumerate(data if isinstance(data, list) else [data], start=1):
            yield i, item if isinstance(item, dict) else LoadError(f"record {i}: not a JSON object")
        return
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield n, LoadError(f"line {n}: invalid JSON ({exc.msg}, column {exc.colno})")
            continue
        yield n, item if isinstance(item, dict) else LoadError(f"line {n}: not a JSON object")


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(f"not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise LoadError(f"cannot read the file: {exc.strerror}") from None


def load_with_errors(path: Path) -> tuple[list[Source], list[str]]:
    """Sources of the good records and one message per skipped line ('line 7: …')."""
    sources, errors = [], []
    for n, item in iter_records(path):
        if isinstance(item, LoadError):
            errors.append(str(item))
            continue
        try:
            sources.append(to_source(item, parse_record(item), str(path)))
        except (ValueError, TypeError, AttributeError) as exc:
            errors.append(f"line {n}: {exc}")
    return sources, errors


def load(path: Path) -> Loaded:
    """One source per procedure record, with a message per skipped line; raises `LoadError` only
    when no record in the file is usable."""
    sources, errors = load_with_errors(path)
    if not sources:
        detail = "; ".join(errors[:3]) if errors else "the file holds no records"
        raise LoadError(f"no valid portal procedure record ({detail})")
    return Loaded(sources, errors)
