"""Write a sample of the portal records, whole fields at a time, for the `sample` read of the fit.

    .venv/bin/python -m eval.sample --out SAMPLE.jsonl [--share 8] [--salt 0]
    ASSISTANT_DATA_DIR=SAMPLE_DIR .venv/bin/assistant ingest corpus/ SAMPLE.jsonl

A field (`linh_vuc`) is in the sample when sha256(salt + field) % share == 0, so siblings come together
as they would for a province that indexes its own fields; with the defaults, 379 of the 2,642 records
in 21 fields. `python -m eval.fit --sample-data-dir SAMPLE_DIR` then reads the bank on that index.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORTAL = ROOT.parent / "shared/data/procedures/dichvucong_2642.jsonl"


def chosen(field: str, share: int, salt: int) -> bool:
    return int(hashlib.sha256(f"{salt}{field}".encode()).hexdigest(), 16) % share == 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--portal", type=Path, default=PORTAL)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--share", type=int, default=8, help="one field in this many")
    ap.add_argument("--salt", type=int, default=0)
    args = ap.parse_args(argv)
    lines = [line for line in args.portal.read_text(encoding="utf-8").splitlines() if line.strip()]
    kept = [line for line in lines if chosen(json.loads(line).get("linh_vuc") or "", args.share, args.salt)]
    args.out.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
    print(f"wrote {len(kept)} of {len(lines)} records to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
