"""The portal sample the fit reads the bank on (`python -m eval.sample`): whole fields, so a
procedure's siblings are indexed together, as a province indexing its own fields would have them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from eval.sample import PORTAL, main


def test_the_sample_takes_whole_fields_of_the_real_records(tmp_path: Path) -> None:
    out = tmp_path / "sample.jsonl"
    assert main(["--out", str(out)]) == 0
    records = [json.loads(line) for line in PORTAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    kept = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    fields = Counter(r["linh_vuc"] for r in records)
    chosen = Counter(r["linh_vuc"] for r in kept)
    assert 10 <= len(chosen) < len(fields) // 2
    assert all(chosen[f] == fields[f] for f in chosen)  # each chosen field whole
    assert len({r["ma_thu_tuc"] for r in kept}) == len(kept)
    other = tmp_path / "other.jsonl"
    main(["--out", str(other), "--salt", "1"])
    assert other.read_text(encoding="utf-8") != out.read_text(encoding="utf-8")
