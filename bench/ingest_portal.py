"""Full-corpus ingest with the configured embedder: wall time, records/s, passages/s, peak memory,
and the no-op re-run. Optionally with another overview length, to compare what gets embedded.

    python bench/ingest_portal.py --data-dir /tmp/bench-ingest [--overview-words 45]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import time
from pathlib import Path

import ingest.portal as portal
from assistant.settings import Settings
from assistant.store import Store
from ingest.pipeline import ingest

ROOT = Path(__file__).resolve().parents[1]
PORTAL = ROOT.parent / "shared/data/procedures/dichvucong_2642.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--overview-words", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.overview_words:
        portal._OVERVIEW_WORDS = args.overview_words
    data = Path(args.data_dir)
    shutil.rmtree(data, ignore_errors=True)
    store = Store(Settings(data_dir=data, threads=args.threads), purpose="bench ingest")
    try:
        t = time.perf_counter()
        first = ingest(store, [PORTAL], progress=False)
        full = time.perf_counter() - t
        t = time.perf_counter()
        again = ingest(store, [PORTAL], progress=False)
        noop = time.perf_counter() - t
        passages = store.vectors.count()
    finally:
        store.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "overview_words": portal._OVERVIEW_WORDS, "records": first.added, "failed": len(first.failed),
        "chunks": first.chunks, "embedded_passages": passages, "full_s": round(full, 1),
        "records_per_s": round(first.added / full, 1), "passages_per_s": round(passages / full, 1),
        "noop_s": round(noop, 1), "noop_ratio": round(noop / full, 3), "noop_unchanged": again.unchanged,
        "peak_rss_mb": round(peak_mb),
    }))


if __name__ == "__main__":
    main()
