"""Ask every first-turn question of gold files in-process and write one JSON line per answer
(`{"id", "behavior", "codes"}`, codes in citation order). It uses only the assistant's contract
(`Assistant.open`, `chat`), so it runs as well from a checkout of an older version, to put its
figures beside today's in `bench/generalisation.py --rules FILE`:

    git worktree add /tmp/old <commit>
    PYTHONPATH=/tmp/old .venv/bin/python bench/ask_all.py --data-dir DIR --out old.jsonl GOLD.jsonl...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assistant.service import Assistant
from assistant.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("gold", nargs="+", type=Path)
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    assistant = Assistant.open(Settings(data_dir=args.data_dir, today="2026-11-24"), purpose="bench ask_all")
    done = {json.loads(line)["id"] for line in args.out.read_text().splitlines()} if args.out.exists() else set()
    with args.out.open("a", encoding="utf-8") as out:
        for path in args.gold:
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                if row.get("history") or row["id"] in done:
                    continue
                got = assistant.chat(row["question"])
                codes = list(dict.fromkeys(c.get("procedure_code") or c["source_id"] for c in got["citations"]))
                out.write(json.dumps({"id": row["id"], "behavior": got["behavior"], "codes": codes}) + "\n")
    assistant.close()
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
