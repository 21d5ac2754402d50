"""Portal parser: precision on the hand-checked records, coverage on the whole crawl, parse time.

    .venv/bin/python bench/portal_parse.py [--data ../shared/data/procedures/dichvucong_2642.jsonl]

Hand-checked expectations (tests/data/portal_hand_checked.jsonl) were written from each record's raw_text;
"tuned" records were used while building the parser, "blind" ones (set: blind) were written afterwards.
Item-level precision = parsed items that match the expectation / parsed items in the checked scope
(time and fee: one item per channel row; documents: the first N names; legal basis: document numbers).
"""

from __future__ import annotations

import argparse
import json
import re
import time
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

from assistant.procedure import Procedure
from ingest.portal import load, parse_record

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared/data/procedures/dichvucong_2642.jsonl"
HAND = ROOT / "tests/data/portal_hand_checked.jsonl"
# a time cell (value, unit or words) followed by an empty fee cell
_EMPTY_FEE_CELL = re.compile(r"(?:\d|làm việc|Ngày|Giờ|Tháng|tin|định|Không|thuế)Không có thông tin")


def norm(text: str | None) -> str:
    text = unicodedata.normalize("NFC", text or "")
    return re.sub(r"^[-+*•–\s]+", "", re.sub(r"\s+", " ", text)).strip()


def fee_text(channel) -> str:
    amounts = [f.text for f in channel.fees if f.amount]
    return amounts[0] if amounts else ("Miễn phí" if channel.free else "")


def view(p: Procedure) -> dict:
    """The parsed procedure in the shape of a hand-check line."""
    steps = p.steps
    return {
        "time": [(c.channel, norm(c.time) or None) for c in p.channels],
        "fee": [(c.channel, fee_text(c)) for c in p.channels],
        "documents": [norm(d.name) for d in p.documents],
        "legal_numbers": {re.sub(r"\s", "", b.number) for b in p.legal_basis if b.number},
        "steps": {"count": len(steps), "first": norm(steps[0]) if steps else ""},
        "conditions": bool(p.conditions),
        "flags": set(p.flags),
    }


def expected_view(e: dict) -> dict:
    return {
        "time": [(ch, norm(t) or None) for ch, t, _ in e["channels"]],
        "fee": [(ch, f) for ch, _, f in e["channels"]],
        "documents": [norm(d) for d in e["documents"]],
        "legal_numbers": set(e["legal_numbers"]),
        "steps": e.get("steps"),
        "conditions": e["conditions"],
        "flags": set(e["flags"]),
    }


def steps_match(got: dict, want: dict | None) -> bool | None:
    if want is None:
        return None
    ok = "count" not in want or got["count"] == want["count"]
    return ok and ("first" not in want or got["first"].startswith(norm(want["first"])))


def score_hand_checked(records: dict[str, dict], hand: list[dict]) -> tuple[dict, list[str]]:
    """Per field: [matched, parsed, expected, records right, records checked] and the failures."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    failures = []
    for e in hand:
        got, want = view(parse_record(records[e["code"]])), expected_view(e)
        n = len(want["documents"])
        pairs = {
            "time": (got["time"], want["time"]), "fee": (got["fee"], want["fee"]),
            "documents": (got["documents"][:n], want["documents"]),
            "legal_basis": (sorted(got["legal_numbers"]), sorted(want["legal_numbers"])),
        }
        for name, (g, w) in pairs.items():
            matched = _matches(g, w, ordered=name == "documents")
            t = totals[name]
            t[0] += matched
            t[1] += len(g)
            t[2] += len(w)
            t[3] += g == w
            t[4] += 1
            if g != w:
                failures.append(f"{e['code']} {name}: got {g} want {w}")
        for name, ok in (("steps", steps_match(got["steps"], want["steps"])),
                         ("conditions", got["conditions"] == want["conditions"]),
                         ("flags", got["flags"] == want["flags"])):
            if ok is None:
                continue
            t = totals[name]
            t[0] += ok
            t[1] += 1
            t[2] += 1
            t[3] += ok
            t[4] += 1
            if not ok:
                failures.append(f"{e['code']} {name}: got {got[name]} want {want[name]}")
    return totals, failures


def _matches(got: list, want: list, ordered: bool) -> int:
    if ordered:
        return sum(g == w for g, w in zip(got, want))
    return sum((Counter(got) & Counter(want)).values())


def coverage(records: dict[str, dict]) -> dict[str, Counter]:
    """Per ministry: records, and records whose time / fee / documents / legal basis parsed well-formed."""
    by: dict[str, Counter] = defaultdict(Counter)
    for raw in records.values():
        p = parse_record(raw)
        c = by[p.ministry or "?"]
        c["records"] += 1
        c["time"] += bool(p.channels) and all(ch.time_value and ch.time_unit for ch in p.channels)
        c["time_any"] += bool(p.channels) and all(ch.time for ch in p.channels)
        fee_cells_filled = not _EMPTY_FEE_CELL.search(raw.get("cach_thuc_thuc_hien", ""))
        c["fee_source"] += bool(p.channels) and fee_cells_filled
        c["fee"] += bool(p.channels) and fee_cells_filled and all(
            ch.free or any(f.amount and f.unit for f in ch.fees) for ch in p.channels)
        c["documents_source"] += "Tên giấy tờMẫu đơn, tờ khaiSố lượng" in raw.get("thanh_phan_ho_so", "")
        c["documents"] += bool(p.documents) and all(d.quantity and len(d.name) >= 3 for d in p.documents)
        c["legal_basis"] += bool(p.legal_basis) and all(b.number for b in p.legal_basis)
        c["legal_source"] += raw.get("can_cu_phap_ly", "").strip() not in ("", "Không có thông tin")
        for flag in p.flags:
            c["flag:" + flag] += 1
    return by


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--hand", type=Path, default=HAND)
    ap.add_argument("--failures", action="store_true", help="list every hand-check mismatch")
    args = ap.parse_args()

    records = {r["ma_thu_tuc"]: r for r in map(json.loads, args.data.read_text(encoding="utf-8").splitlines())}
    hand = [json.loads(line) for line in args.hand.read_text(encoding="utf-8").splitlines() if line.strip()]

    sets = {"all": hand, **{name: [e for e in hand if e.get("set", "tuned") == name] for name in ("tuned", "blind")}}
    for name, subset in sets.items():
        totals, failures = score_hand_checked(records, subset)
        print(f"## Hand-checked records ({name}): {len(subset)}\n")
        print("| field | precision | recall | records exactly right |")
        print("|---|---|---|---|")
        for field, (matched, parsed, expected, right, checked) in totals.items():
            print(f"| {field} | {matched / max(parsed, 1):.3f} ({matched}/{parsed}) | "
                  f"{matched / max(expected, 1):.3f} | {right}/{checked} |")
        if args.failures and name == "all":
            print("\n" + "\n".join(failures))
        print()

    by = coverage(records)
    print("\n## Coverage over all records (well-formed: every channel / row parsed)\n")
    print("| ministry | records | time value+unit | time (any) | fee (of records with every fee cell filled) "
          "| documents (of tables present) | legal basis (of non-empty) |")
    print("|---|---|---|---|---|---|---|")
    total: Counter = Counter()
    for ministry, c in sorted(by.items(), key=lambda kv: -kv[1]["records"]):
        total.update(c)
        print(_coverage_row(ministry, c))
    print(_coverage_row("**all**", total))
    print("\nflags: " + ", ".join(f"{k[5:]} {v}" for k, v in sorted(total.items()) if k.startswith("flag:")))

    start = time.perf_counter()
    for raw in records.values():
        parse_record(raw)
    parse_s = time.perf_counter() - start
    start = time.perf_counter()
    sources = load(args.data)
    load_s = time.perf_counter() - start
    print(f"\nparse_record × {len(records)}: {parse_s:.2f} s; load() incl. JSON and sections: "
          f"{load_s:.2f} s for {len(sources)} sources")


def _coverage_row(name: str, c: Counter) -> str:
    n = c["records"]
    pct = lambda k: f"{c[k] / n:.1%}"  # noqa: E731
    return (f"| {name} | {n} | {pct('time')} | {pct('time_any')} | {_of(c, 'fee', 'fee_source')} "
            f"| {_of(c, 'documents', 'documents_source')} | {_of(c, 'legal_basis', 'legal_source')} |")


def _of(c: Counter, part: str, whole: str) -> str:
    return f"{c[part]}/{c[whole]} ({c[part] / max(c[whole], 1):.1%})"


if __name__ == "__main__":
    main()
