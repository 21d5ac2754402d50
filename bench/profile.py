"""Where a question's time goes: first turns asked in-process, timed, then profiled with pyinstrument.

    .venv/bin/pip install pyinstrument   # once; not a dependency of the assistant
    .venv/bin/python bench/profile.py --data-dir DIR [--questions dev|bank] [--n 100] [--out profile.txt]

`dev` asks dev.jsonl's first turns, `bank` a seeded shuffle of the question bank (longer questions,
narratives, English). It prints the mean milliseconds per question over `--n` questions no one asked
before in this process (after 10 to warm up), then profiles `--n` more and writes the call tree.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = {"dev": ROOT.parent / "shared" / "data" / "gold" / "dev.jsonl",
         "bank": ROOT.parent / "shared" / "data" / "questions" / "bank.jsonl"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--questions", choices=sorted(FILES), default="dev")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--out", type=Path, default=Path("profile.txt"))
    args = ap.parse_args(argv)
    try:
        from pyinstrument import Profiler
    except ImportError:
        raise SystemExit("needs pyinstrument: .venv/bin/pip install pyinstrument") from None
    from assistant.service import Assistant
    from assistant.settings import Settings

    rows = [json.loads(line) for line in FILES[args.questions].read_text(encoding="utf-8").splitlines()]
    questions = list(dict.fromkeys(r["question"] for r in rows if not r.get("history")))
    if args.questions == "bank":
        random.Random(1).shuffle(questions)
    assistant = Assistant.open(Settings(data_dir=args.data_dir), purpose="bench/profile.py")
    try:
        for q in questions[:10]:
            assistant.chat(q)
        timed = questions[10:10 + args.n]
        started = time.perf_counter()
        for q in timed:
            assistant.chat(q)
        print(f"{(time.perf_counter() - started) * 1000 / len(timed):.1f} ms a question "
              f"({len(timed)} {args.questions} first turns, in-process, none asked before)")
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for q in questions[10 + args.n:10 + 2 * args.n]:
            assistant.chat(q)
        profiler.stop()
        args.out.write_text(profiler.output_text(unicode=False, color=False), encoding="utf-8")
        print(f"call tree of {args.n} more: {args.out}")
    finally:
        assistant.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
