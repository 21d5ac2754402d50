"""Short English glosses of a Vietnamese source passage, for English questions.

The source stays quoted in Vietnamese; the gloss only says in English what it holds: the amounts
and durations it states (numbers and units as written), the channels, offices and common documents
it names, the laws it cites. Read with patterns and a small glossary of general administrative
terms; nothing is translated that the glossary does not know, and nothing is computed.
"""

from __future__ import annotations

import re

from assistant.text import fold

_MONEY = re.compile(r"(\d{1,3}(?:[.,]\d{3})+|\d+)\s*(?:việt nam đồng|đồng|đ\b|vnđ|vnd)", re.I)
_DURATION = re.compile(r"(\d{1,3})\s*(ngày làm việc|ngày|giờ làm việc|giờ|tháng|tuần)\b", re.I)
_UNITS = {"ngày làm việc": "working days", "ngày": "days", "giờ làm việc": "working hours", "giờ": "hours",
          "tháng": "months", "tuần": "weeks"}
_LAW = re.compile(r"(Luật|Nghị định|Thông tư|Nghị quyết|Quyết định)[^;,()]{0,60}?(\d+[\d.]*/\d{4}/[\wĐđ-]+)")
_LAW_EN = {"Luật": "Law", "Nghị định": "Decree", "Thông tư": "Circular", "Nghị quyết": "Resolution",
           "Quyết định": "Decision"}
_ITEM = re.compile(r"^\s*(?:- |\d{1,2}[.)] )", re.M)

# General administrative vocabulary (folded Vietnamese -> English), longest first where they overlap.
GLOSSARY: dict[str, list[tuple[str, str]]] = {
    "channels": [("truc tiep", "in person"), ("truc tuyen", "online"), ("buu chinh", "by post")],
    "offices": [
        ("trung tam phuc vu hanh chinh cong", "the Public Administration Service Centre"),
        ("bo phan mot cua", "the one-stop desk"),
        ("uy ban nhan dan cap xa", "the commune People's Committee"),
        ("uy ban nhan dan cap tinh", "the provincial People's Committee"),
        ("cong dich vu cong", "the (National) Public Service Portal"),
        ("vneid", "the VNeID app"),
        ("quan ly xuat nhap canh", "the immigration authority"),
        ("cong an", "the police"),
        ("so tu phap", "the provincial Department of Justice"),
        ("van phong dang ky dat dai", "the land registration office"),
        ("co quan bao hiem xa hoi", "the social insurance office"),
        ("co quan dang ky kinh doanh", "the business registration office"),
    ],
    "documents": [
        ("to khai", "the application form"), ("don de nghi", "a written request"),
        ("giay chung sinh", "the hospital's birth notice"), ("giay khai sinh", "the birth certificate"),
        ("giay chung nhan ket hon", "the marriage certificate"), ("giay bao tu", "the death notice"),
        ("tinh trang hon nhan", "proof of marital status"), ("giay to tuy than", "identity papers"),
        ("ho chieu", "passport"), ("the can cuoc", "ID card"), ("so dinh danh", "personal ID number"),
        ("van ban uy quyen", "an authorisation letter"), ("ban sao", "copies"), ("chung thuc", "certified"),
        ("giay phep lai xe", "the driving licence"), ("giay kham suc khoe", "a health certificate"),
        ("giay chung nhan quyen su dung dat", "the land use right certificate"), ("hop dong", "a contract"),
        ("ban ve", "drawings"), ("hop phap hoa lanh su", "consular legalisation"),
    ],
}
_FREE = re.compile(r"\bmien (le )?phi\b")


def _found(folded: str, group: str) -> list[str]:
    out: list[str] = []
    for vi, en in GLOSSARY[group]:
        if re.search(rf"\b{vi}\b", folded) and en not in out:
            out.append(en)
    return out


def gloss(facet: str | None, text: str) -> str:
    """One English line saying what a Vietnamese passage about `facet` holds ('' when nothing is
    recognised)."""
    folded = fold(text)
    parts: list[str] = []
    if facet == "fee":
        amounts = list(dict.fromkeys(f"{m.group(1).replace('.', ',')} VND" for m in _MONEY.finditer(text)))
        if amounts:
            parts.append("amounts stated: " + ", ".join(amounts))
        if _FREE.search(folded):
            parts.append("free of charge (miễn phí)")
    elif facet == "time":
        times = list(dict.fromkeys(f"{m.group(1)} {_UNITS[m.group(2).lower()]}" for m in _DURATION.finditer(text)))
        parts.append("durations stated: " + ", ".join(times) if times else "no duration with a unit is stated")
    elif facet in ("documents", "steps"):
        items = len(_ITEM.findall(text))
        if items:
            parts.append(f"{items} {'items' if facet == 'documents' else 'steps'}")
        named = _found(folded, "documents") if facet == "documents" else _found(folded, "offices")
        if named:
            parts.append(("including " if facet == "documents" else "involving ") + ", ".join(named[:8]))
    elif facet == "place":
        for group, lead in (("channels", "ways to submit: "), ("offices", "where: ")):
            named = _found(folded, group)
            if named:
                parts.append(lead + ", ".join(named))
    elif facet == "legal_basis":
        laws = list(dict.fromkeys(f"{_LAW_EN[m.group(1)]} {m.group(2)}" for m in _LAW.finditer(text)))
        if laws:
            parts.append("cites " + ", ".join(laws[:8]) + (f" and {len(laws) - 8} more" if len(laws) > 8 else ""))
    else:
        named = _found(folded, "offices") + _found(folded, "documents")
        if named:
            parts.append("mentions " + ", ".join(named[:6]))
    return "; ".join(parts)
