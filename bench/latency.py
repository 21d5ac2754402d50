"""Latency, warm, with the other core kept busy: search (in-process) p50/p95, and over HTTP against a
real `assistant serve` process: /v1/chat p50/p95 and the first streamed event of /v1/chat/stream.

    python bench/latency.py --data-dir var [--n 150]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from assistant.retrieve import Retriever
from assistant.settings import Settings
from assistant.store import Store

ROOT = Path(__file__).resolve().parents[1]


def burn() -> None:
    while True:
        pass


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default="var")
    ap.add_argument("--n", type=int, default=150)
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args()
    gold = [json.loads(x) for x in (ROOT.parent / "shared/data/gold/dev.jsonl").read_text(encoding="utf-8").splitlines()]
    questions = [g["question"] for g in gold if not g["history"]][: args.n]
    busy = multiprocessing.Process(target=burn, daemon=True)
    busy.start()
    try:
        store = Store(Settings(data_dir=Path(args.data_dir)), purpose="bench latency")
        retriever = Retriever(store)
        for q in questions[:10]:
            retriever.search(q)  # warm
        search = []
        for q in questions:
            t = time.perf_counter()
            retriever.search(q)
            search.append(time.perf_counter() - t)
        store.close()
        print(f"search (other core busy): p50 {pct(search, 0.5):.1f} ms  p95 {pct(search, 0.95):.1f} ms  n={len(search)}")

        env = dict(os.environ, ASSISTANT_DATA_DIR=args.data_dir, ASSISTANT_RATE_LIMIT="off")  # one client, 300 requests
        server = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(args.port)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        base = f"http://127.0.0.1:{args.port}"
        try:
            for _ in range(240):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            with httpx.Client(base_url=base, timeout=30) as client:
                for q in questions[:10]:
                    client.post("/v1/chat", json={"message": q})
                chat, first = [], []
                for q in questions:
                    t = time.perf_counter()
                    client.post("/v1/chat", json={"message": q}).raise_for_status()
                    chat.append(time.perf_counter() - t)
                for q in questions[:60]:
                    t = time.perf_counter()
                    with client.stream("POST", "/v1/chat/stream", json={"message": q}) as r:
                        seen = False
                        for _line in r.iter_lines():
                            if not seen:
                                first.append(time.perf_counter() - t)
                                seen = True
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        print(f"/v1/chat end to end (other core busy): p50 {pct(chat, 0.5):.1f} ms  p95 {pct(chat, 0.95):.1f} ms  "
              f"max {max(chat) * 1000:.0f} ms")
        print(f"/v1/chat/stream first event: p50 {pct(first, 0.5):.1f} ms  p95 {pct(first, 0.95):.1f} ms  "
              f"(mean {statistics.mean(first) * 1000:.0f} ms)")
    finally:
        busy.terminate()


if __name__ == "__main__":
    main()
