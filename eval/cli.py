"""`assistant eval ...`: plugged into the `assistant` command through the `assistant.commands` entry point."""

from __future__ import annotations

import argparse
import hashlib
import inspect
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from eval.gold import GoldError, GoldTurn, load_gold, write_gold

RUNS_DIR = Path("eval/runs")
API_KEY_ENV = "ASSISTANT_EVAL_API_KEY"
DEFAULT_CONCURRENCY = 4


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _open_assistant() -> tuple[Any, Callable[[], None]]:
    try:
        from assistant.service import Assistant
    except ImportError as exc:
        raise ValueError(f"in-process mode needs assistant.service ({exc}); or give --url") from None
    from assistant.settings import get_settings

    settings = get_settings()
    kwargs = {"purpose": "assistant eval"} if "purpose" in inspect.signature(Assistant.open).parameters else {}
    assistant = Assistant.open(settings, **kwargs)
    return assistant, assistant.close


def warn_missing_sources(turns: list[GoldTurn], known: Callable[[str], bool], where: str) -> None:
    """One stderr line when expected sources (procedure codes or source ids) are not in the index,
    so those turns cannot be hit: how many, and the first five."""
    expected = sorted({s for t in turns for s in t.expected_sources})
    missing = [s for s in expected if not known(s)]
    if missing:
        shown = ", ".join(missing[:5]) + (", …" if len(missing) > 5 else "")
        print(f"warning: {len(missing)} of the {len(expected)} sources this gold file expects are not in {where} "
              f"({shown}); turns expecting only those cannot be hit: ingest them or use a gold file for this index",
              file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    import httpx

    from assistant.client import HttpAssistant
    from eval import report
    from eval.gate import failures, load_thresholds
    from eval.runner import run_turns

    try:
        thresholds = load_thresholds(args.thresholds, args.min or [], args.max or [])
        turns = load_gold(args.gold)
    except (GoldError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.limit is not None:
        turns = turns[: args.limit]
    tag = args.tag or (args.out.name if args.out else datetime.now().strftime("%Y%m%d-%H%M%S"))
    out_dir: Path = args.out or RUNS_DIR / tag
    target = args.url or "in-process"

    closers: list[Callable[[], None]] = []
    quote_checker = None
    concurrency = args.concurrency or DEFAULT_CONCURRENCY
    if args.url:
        client: Any = HttpAssistant(args.url, args.api_key or os.environ.get(API_KEY_ENV), args.timeout)
        closers.append(client.close)
        try:
            warn_missing_sources(turns, client.has_procedure, f"the index at {args.url}")
        except (RuntimeError, httpx.HTTPError) as exc:  # GET /v1/procedures/{code} did not answer
            print(f"note: expected sources not checked against the server ({exc})", file=sys.stderr)
        if args.check_quotes:
            print("note: --check-quotes needs the index, so it works in-process only; skipped", file=sys.stderr)
    else:
        if args.concurrency and args.concurrency > 1:
            print("note: in-process runs are sequential (--concurrency applies to --url)", file=sys.stderr)
        concurrency = 1
        try:
            client, close = _open_assistant()
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        closers.append(close)
        warn_missing_sources(turns, client.store.manifest.keys().__contains__, "the index")
        if args.check_quotes:
            from assistant.settings import get_settings
            from eval.quotes import ManifestQuoteChecker

            checker = ManifestQuoteChecker(get_settings().index_dir)
            closers.append(checker.close)
            quote_checker = checker
    started = _now()
    try:
        records = run_turns(turns, client, out_dir, concurrency=concurrency, audience=args.audience,
                            quote_checker=quote_checker, progress=not args.no_progress)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished turns are in {out_dir / 'results.jsonl'}; run the same command "
              f"with --out {out_dir} to resume", file=sys.stderr)
        return 130
    finally:
        for close in reversed(closers):
            close()

    run_info = {"tag": tag, "gold": str(args.gold), "gold_sha256": hashlib.sha256(args.gold.read_bytes()).hexdigest(),
                "target": target, "audience": args.audience, "limit": args.limit, "started_at": started,
                "finished_at": _now(), "quotes_checked": quote_checker is not None}
    doc = report.build(records, run_info)
    if thresholds:
        doc["gate"] = {"min": thresholds.min, "max": thresholds.max,
                       "failures": failures(doc["metrics"], thresholds)}
    report.write(out_dir, doc, records)
    gate = doc.get("gate")
    m = doc["metrics"]
    print(f"{doc['n_turns']} turns → {out_dir}/report.html")
    print("  " + "  ".join(f"{name} {report.fmt(name, m[name])}" for name in
                           ("hit@1", "hit@5", "mrr", "behavior_macro_recall", "fact_accuracy",
                            "citation_validity", "latency_p50", "errors")))
    if m["errors"]:
        print(f"warning: {m['errors']} turns failed; rerun with --out {out_dir} to retry them", file=sys.stderr)
    if gate and gate["failures"]:
        print("gate failed:", file=sys.stderr)
        for line in gate["failures"]:
            print(f"  {line}", file=sys.stderr)
        return 2
    if gate:
        print("gate passed")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    import json

    from eval.compare import compare, render

    try:
        result = compare(args.run_a, args.run_b)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else render(result), end="\n" if args.json else "")
    return 0


def cmd_export_ragas(args: argparse.Namespace) -> int:
    from eval.ragas import export_run

    try:
        n = export_run(args.run_dir, args.out)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {n} rows to {args.out}")
    return 0


def cmd_import_ragas(args: argparse.Namespace) -> int:
    from eval.ragas import import_file

    try:
        turns = import_file(args.file)
    except (GoldError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n = write_gold(args.out, turns)
    print(f"wrote {n} gold turns to {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `eval` and its sub-commands to the `assistant` parser."""
    p_eval = subparsers.add_parser("eval", help="run gold Q&A, report, compare and gate")
    sub = p_eval.add_subparsers(dest="eval_command", required=True)

    p = sub.add_parser("run", help="ask every gold turn and write results, metrics and reports",
                       description="Resumable: rerun with the same --out to skip the turns already answered.")
    p.add_argument("gold", type=Path, help="gold JSONL file")
    p.add_argument("--url", help="the assistant's HTTP base URL (POST {url}/v1/chat); in-process when unset")
    p.add_argument("--api-key", help=f"Bearer key for --url (default: env {API_KEY_ENV})")
    p.add_argument("--out", type=Path, help=f"run folder (default: {RUNS_DIR}/<tag or timestamp>)")
    p.add_argument("--tag", help="name of the run (default: the --out folder name or a timestamp)")
    p.add_argument("--concurrency", type=int, help=f"parallel requests with --url (default {DEFAULT_CONCURRENCY})")
    p.add_argument("--limit", type=int, help="only the first N turns")
    p.add_argument("--audience", choices=["citizen", "official"], default="citizen",
                   help="in-process audience (over HTTP the API key decides)")
    p.add_argument("--min", action="append", metavar="METRIC=VALUE", help="gate: fail below (repeatable)")
    p.add_argument("--max", action="append", metavar="METRIC=VALUE", help="gate: fail above (repeatable)")
    p.add_argument("--thresholds", type=Path, help='gate file {"min": {...}, "max": {...}}')
    p.add_argument("--check-quotes", action="store_true", help="in-process: check each quote is in its source")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per HTTP request (default 120)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("compare", help="metric deltas and flipped turns between two runs")
    p.add_argument("run_a", type=Path, help="the baseline run folder")
    p.add_argument("run_b", type=Path, help="the run folder to compare with it")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("export-ragas", help="a run as a RAGAS dataset (question, answer, contexts, ground_truth)")
    p.add_argument("run_dir", type=Path, help="a run folder (with results.jsonl)")
    p.add_argument("out", type=Path, help="the RAGAS JSONL file to write")
    p.set_defaults(func=cmd_export_ragas)

    p = sub.add_parser("import-ragas", help="a RAGAS dataset as a gold file")
    p.add_argument("file", type=Path, help="a RAGAS dataset as JSON Lines (0.1 or 0.2+ columns)")
    p.add_argument("out", type=Path, help="the gold JSONL file to write")
    p.set_defaults(func=cmd_import_ragas)
