"""The `assistant` command. Sub-commands from other packages (e.g. `eval`) plug in through the
`assistant.commands` entry-point group, so the runtime never imports them.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from assistant.settings import get_settings


def _lines(arg: str) -> list[str]:
    """`-` reads one item per non-empty line from stdin."""
    if arg == "-":
        return [line.strip() for line in sys.stdin if line.strip()]
    return [arg]


def cmd_ingest(args: argparse.Namespace) -> int:
    from assistant.store import Store
    from ingest.pipeline import ingest

    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    store = Store(get_settings(), purpose="assistant ingest")
    try:
        summary = ingest(store, [Path(p) for p in args.paths], audience=args.audience, prune=args.prune,
                         progress=not args.json and sys.stderr.isatty() or args.progress)
    finally:
        store.close()
    if args.json:
        print(json.dumps(summary.as_dict(), ensure_ascii=False))
    else:
        print(f"added {summary.added}, updated {summary.updated}, unchanged {summary.unchanged}, "
              f"removed {summary.removed}, chunks written {summary.chunks}, failed {len(summary.failed)}")
        for f in summary.failed:
            print(f"  failed: {f['path']}: {f['error']}")
    return 1 if summary.failed else 0


def _open(args: argparse.Namespace, purpose: str) -> Any:
    """The assistant in-process (holding the data dir), or a running server's HTTP API with `--url`."""
    if args.url:
        from assistant.client import HttpAssistant

        return HttpAssistant(args.url, args.api_key)
    from assistant.service import Assistant

    return Assistant.open(get_settings(), purpose=purpose)


def cmd_search(args: argparse.Namespace) -> int:
    assistant = _open(args, "assistant search")
    try:
        for query in _lines(args.query):
            hits = assistant.search(query, k=args.k, audience=args.audience)
            payload = {"query": query, "results": hits}
            if args.json or args.query == "-":
                print(json.dumps(payload, ensure_ascii=False), flush=True)
            else:
                for i, h in enumerate(hits, 1):
                    print(f"{i}. [{h['procedure_code'] or h['source_id']}] {h['title']}  "
                          f"(score {h['score']:.3f}, facet {h['facet'] or '-'}, {h['section'] or ''})")
    finally:
        assistant.close()
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    assistant = _open(args, "assistant ask")
    try:
        for question in _lines(args.question):
            out = assistant.chat(question, session_id=args.session, audience=args.audience, explain=args.explain)
            if args.json or args.question == "-" or args.explain:
                print(json.dumps(out, ensure_ascii=False, indent=None if args.question == "-" else 2), flush=True)
            else:
                print(out["answer"])
                for c in out["citations"]:
                    where = c.get("url") or (f"page {c['page']}" if c.get("page") else "")
                    print(f"  [{c['n']}] {c['title']} — {c.get('section') or ''} {where}")
    finally:
        assistant.close()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run("assistant.api.app:create_app", factory=True, host=args.host, port=args.port,
                log_level="warning", access_log=False)
    return 0


def cmd_hash_key(args: argparse.Namespace) -> int:
    from assistant.auth import hash_key

    print(f"{args.role}:{hash_key(args.key)}")
    return 0


def cmd_examples_export(args: argparse.Namespace) -> int:
    from assistant.taught import Taught

    turns = Taught(get_settings().data_dir).gold()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in turns), encoding="utf-8")
    print(f"wrote {len(turns)} taught examples to {out} (gold format: `assistant eval run {out}`)")
    return 0


def add_target(p: argparse.ArgumentParser) -> None:
    """`--audience` in-process, or `--url` (and `--api-key`) to ask a running server instead."""
    p.add_argument("--audience", choices=["citizen", "official"], default="citizen",
                   help="who is asking, in-process (over --url the API key decides)")
    p.add_argument("--url", help="a running server's base URL, e.g. http://127.0.0.1:8000: ask it over HTTP "
                                 "instead of opening the data dir")
    p.add_argument("--api-key", help="Bearer key for --url (an official's key sees official sources)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="Administrative-procedure assistant.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="index files, folders and portal JSONL records")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="files or folders: Markdown, TXT, PDF, DOCX, HTML, portal or example-question JSONL")
    p.add_argument("--audience", choices=["citizen", "official"], default=None,
                   help="who may see these sources (a file declaring `official` stays official)")
    p.add_argument("--prune", action="store_true", help="remove indexed sources no longer given")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--progress", action="store_true", help="show the progress bar even when not a terminal")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("search", help="ranked procedures for a query ('-' reads queries from stdin)")
    p.add_argument("query", help="the query; '-' reads one per line from stdin and prints JSON lines")
    p.add_argument("-k", type=int, default=5, help="how many results (default 5)")
    add_target(p)
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question ('-' reads questions from stdin)")
    p.add_argument("question", help="the question; '-' reads one per line from stdin and prints JSON lines")
    p.add_argument("--session", default=None, help="continue the conversation with this session_id")
    add_target(p)
    p.add_argument("--json", action="store_true", help="print the answer JSON")
    p.add_argument("--explain", action="store_true", help="include candidates, scores and the reason (in-process only)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", help="run the HTTP API, widget and demo page")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("hash-key", help="print the ASSISTANT_API_KEYS entry for an API key")
    p.add_argument("key", help="the API key to give the caller (keep it secret; only its hash is configured)")
    p.add_argument("--role", choices=["official", "admin"], default="official",
                   help="what the key may do (default official)")
    p.set_defaults(func=cmd_hash_key)

    p = sub.add_parser("examples", help="the example questions officials taught in the review console")
    examples = p.add_subparsers(dest="examples_command", required=True)
    p = examples.add_parser("export", help="write the taught examples as a gold file, a regression set for "
                                           "`assistant eval run` (reads the data dir's taught/ folder: works while "
                                           "the server runs)")
    p.add_argument("--out", required=True, metavar="FILE", help="the gold JSON Lines file to write")
    p.set_defaults(func=cmd_examples_export)

    for ep in entry_points(group="assistant.commands"):
        try:
            register = ep.load()
        except ImportError as exc:  # a broken plugin must not take the core commands down
            print(f"warning: command plugin {ep.name!r} not loaded: {exc}", file=sys.stderr)
            continue
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Exception as exc:  # user-facing errors: one line, no traceback
        from assistant.store import DataDirLocked, DiskFull
        from assistant.vectors import EmbedderMismatch, VectorStoreUnreachable

        message = _server_error(args, exc)
        known = (DataDirLocked, DiskFull, EmbedderMismatch, VectorStoreUnreachable, ValueError)
        if message is None and isinstance(exc, known):
            message = str(exc)
        if message is not None:
            print(f"error: {message}", file=sys.stderr)
            return 2
        raise


def _server_error(args: argparse.Namespace, exc: Exception) -> str | None:
    """With `--url`: a server's refusal (`assistant.client` raises RuntimeError) or an unreachable server."""
    import httpx

    url = getattr(args, "url", None)
    if url and isinstance(exc, httpx.HTTPError):
        return f"cannot reach {url} ({exc or type(exc).__name__}); is `assistant serve` running there?"
    if url and isinstance(exc, RuntimeError):
        return str(exc)
    return None


if __name__ == "__main__":
    sys.exit(main())
