"""Load, with uploads and deletes while clients chat, against a real `assistant serve` on loopback.

    python bench/load.py --data-dir SCRATCH_COPY_OF_DIR --clients 8 32 64 --requests 2000 --seconds 120

Each level runs `--clients` threads until `--requests` requests or `--seconds` have passed, whichever
comes first, with a mix like the widget's traffic: a new question (55 %), a follow-up in the client's
session (20 %), search (10 %), the streamed chat (10 %), feedback on the last answer (5 %). An admin
uploads a small handbook every `--upload-every` seconds and deletes the one before (so the index is
rebuilt while everyone chats). The server runs with ASSISTANT_RATE_LIMIT=off. It prints, per level:
throughput, errors (5xx, transport errors), load shed (429/503), p50/p95/p99 per endpoint, the
server's RSS (start, max, end), the uploads and how long each took, and the index views the server
built (`assistant_index_rebuilds_total`). The data dir is changed (uploads): give it a scratch copy.

Questions are drawn from dev.jsonl's first turns, so they repeat as citizens' do (the server
remembers query embeddings and first-turn answers); `--fresh` asks each question of the question
bank at most once instead, the worst case where nothing asked before helps.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "data" / "gold" / "dev.jsonl"
BANK = ROOT.parent / "shared" / "data" / "questions" / "bank.jsonl"
ADMIN_KEY = "bench-load-admin-key"
UPLOADS = itertools.count(1)
HANDBOOK = """---
title: "Hướng dẫn thử tải số {n}"
audience: citizen
---
# Hướng dẫn thử tải số {n}
## Lệ phí
Lệ phí thử tải số {n} là {n}.000 đồng.
## Nơi nộp
Nộp tại Bộ phận một cửa của xã.
"""


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Level:
    """One concurrency level: the clients, the uploader and the RSS sampler, and what they saw."""

    def __init__(self, url: str, pid: int, clients: int, requests: int, seconds: float, upload_every: float,
                 questions: list[str], follow_ups: list[str], fresh: bool) -> None:
        self.url, self.pid, self.clients = url, pid, clients
        self.requests, self.deadline = requests, time.time() + seconds
        self.upload_every, self.questions, self.follow_ups = upload_every, questions, follow_ups
        self.fresh = fresh
        self.lock = threading.Lock()
        self.sent = 0
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: dict[int, int] = defaultdict(int)
        self.failures: list[str] = []
        self.rss: list[float] = []
        self.uploads: list[float] = []
        self.done = threading.Event()

    def _take(self) -> bool:
        with self.lock:
            if self.sent >= self.requests or time.time() > self.deadline:
                self.done.set()
                return False
            self.sent += 1
            return True

    def _note(self, kind: str, started: float, status: int | None, error: str | None = None) -> None:
        with self.lock:
            self.latency[kind].append(time.perf_counter() - started)
            if status is not None:
                self.status[status] += 1
            if error or (status is not None and status >= 500):
                self.failures.append(f"{kind}: {error or status}")

    def question(self, rng: random.Random) -> str:
        """A question to ask: any (they repeat), or with `fresh` one nobody has asked yet."""
        if not self.fresh:
            return rng.choice(self.questions)
        with self.lock:
            return self.questions.pop() if self.questions else rng.choice(self.follow_ups)

    def client(self, seed: int) -> None:
        rng = random.Random(seed)
        session, message = None, None
        with httpx.Client(base_url=self.url, timeout=60) as http:
            while self._take():
                r = rng.random()
                started = time.perf_counter()
                try:
                    if r < 0.55 or (r < 0.75 and session is None):
                        kind, resp = "chat", http.post("/v1/chat", json={"message": self.question(rng)})
                    elif r < 0.75:
                        kind, resp = "follow-up", http.post("/v1/chat", json={"message": rng.choice(self.follow_ups),
                                                                              "session_id": session})
                    elif r < 0.85:
                        kind, resp = "search", http.get("/v1/search", params={"q": self.question(rng)})
                    elif r < 0.95:
                        kind = "stream"
                        with http.stream("POST", "/v1/chat/stream", json={"message": self.question(rng)}) as resp:
                            for _ in resp.iter_lines():
                                pass
                    else:
                        kind = "feedback"
                        resp = http.post("/v1/feedback", json={"message_id": message, "rating": "up"}) if message else \
                            http.get("/healthz")
                    if kind in ("chat", "follow-up") and resp.status_code == 200:
                        body = resp.json()
                        session, message = body["session_id"], body["message_id"]
                    elif kind == "follow-up" and resp.status_code == 404:
                        session = None  # the session expired or is not this caller's: start again
                    self._note(kind, started, resp.status_code)
                except httpx.HTTPError as exc:
                    self._note("transport", started, None, f"{type(exc).__name__}: {exc}")

    def uploader(self) -> None:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        previous: str | None = None
        first = True
        with httpx.Client(base_url=self.url, timeout=600, headers=headers) as http:
            while not self.done.wait(2.0 if first else self.upload_every):
                first, n = False, next(UPLOADS)  # numbered across levels: each upload is a new handbook
                started = time.perf_counter()
                files = {"file": (f"thu-tai-{n}.md", HANDBOOK.format(n=n).encode(), "text/markdown")}
                resp = http.post("/v1/documents", files=files)
                if previous:
                    http.delete(f"/v1/documents/{previous}")
                took = time.perf_counter() - started
                if resp.status_code == 200:
                    self.uploads.append(took)
                    previous = f"doc:thu-tai-{n}"
                else:
                    self.failures.append(f"upload {n}: {resp.status_code} {resp.text[:200]}")

    def sampler(self) -> None:
        while not self.done.wait(0.5):
            self.rss.append(rss_mb(self.pid))

    def run(self) -> dict:
        workers = [threading.Thread(target=self.client, args=(i,)) for i in range(self.clients)]
        extra = [threading.Thread(target=self.uploader), threading.Thread(target=self.sampler)]
        self.rss.append(rss_mb(self.pid))
        started = time.perf_counter()
        for t in workers + extra:
            t.start()
        for t in workers:
            t.join()
        elapsed = time.perf_counter() - started
        self.done.set()
        for t in extra:
            t.join()
        self.rss.append(rss_mb(self.pid))
        shed = self.status.get(429, 0) + self.status.get(503, 0)
        return {
            "clients": self.clients, "requests": self.sent, "seconds": round(elapsed, 1),
            "rps": round(self.sent / elapsed, 1), "errors": len(self.failures), "shed": shed,
            "status": dict(self.status),
            "latency_ms": {k: {"n": len(v), "p50": round(percentile(v, 0.5) * 1000, 1),
                               "p95": round(percentile(v, 0.95) * 1000, 1), "p99": round(percentile(v, 0.99) * 1000, 1)}
                           for k, v in sorted(self.latency.items())},
            "rss_mb": {"start": round(self.rss[0]), "max": round(max(self.rss)), "end": round(self.rss[-1])},
            "uploads_s": [round(x, 1) for x in self.uploads], "failures": self.failures[:5],
        }


def metric(url: str, name: str) -> float | None:
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True, help="a scratch copy of an index (uploads change it)")
    ap.add_argument("--clients", type=int, nargs="+", default=[8, 32, 64], help="concurrency levels, run in turn")
    ap.add_argument("--requests", type=int, default=2000, help="requests per level at most")
    ap.add_argument("--seconds", type=float, default=120, help="seconds per level at most")
    ap.add_argument("--upload-every", type=float, default=60, help="seconds between admin uploads")
    ap.add_argument("--port", type=int, default=8791)
    ap.add_argument("--fresh", action="store_true", help="each question asked at most once (from the question bank)")
    args = ap.parse_args(argv)

    from assistant.auth import hash_key

    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines()]
    questions = [r["question"] for r in rows if not r["history"]]
    follow_ups = [r["question"] for r in rows if r["history"]]
    bank = [json.loads(line)["question"] for line in BANK.read_text(encoding="utf-8").splitlines()]
    random.Random(0).shuffle(bank)
    env = dict(os.environ, ASSISTANT_DATA_DIR=str(args.data_dir), ASSISTANT_RATE_LIMIT="off",
               ASSISTANT_API_KEYS=f"admin:{hash_key(ADMIN_KEY)}")
    log = (args.data_dir / "bench-load-server.log").open("wb")
    server = subprocess.Popen([str(ROOT / ".venv/bin/assistant"), "serve", "--host", "127.0.0.1", "--port",
                               str(args.port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{args.port}"
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise SystemExit(f"the server did not start: see {log.name}")
        for q in questions[:20]:  # warm
            httpx.post(url + "/v1/chat", json={"message": q}, timeout=60)
        for clients in args.clients:
            before = metric(url, "assistant_index_rebuilds_total")
            asked = [q for q in bank if q not in questions[:20]] if args.fresh else questions
            out = Level(url, server.pid, clients, args.requests, args.seconds, args.upload_every,
                        asked, follow_ups, args.fresh).run()
            bank = asked if args.fresh else bank  # a later level asks what this one did not
            after = metric(url, "assistant_index_rebuilds_total")
            out["index_rebuilds"] = None if before is None or after is None else int(after - before)
            print(json.dumps(out, ensure_ascii=False))
            sys.stdout.flush()
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
