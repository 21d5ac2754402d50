"""Indexing one taught example (`assistant.taught`): its file is loaded like any example-question
file (`ingest.examples`) and switched in as its own source, or removed with its file.

The caller holds the write locks (the process's and the folder's). No `recover()` here: it would drop
the chunks another worker's ingest has staged on a shared Chroma server.
"""

from __future__ import annotations

import os
from typing import Any

from assistant.store import Store
from assistant.taught import Taught, source_id
from ingest import examples
from ingest.pipeline import to_indexed


def teach(store: Store, taught: Taught, row: dict[str, Any]) -> None:
    """Write the example's file and index it; on failure the previous file (a merge) or none is left."""
    path = taught.path(row["id"])
    previous = path.with_name(f".{path.name}.previous")
    if path.exists():
        os.replace(path, previous)
    ok = False
    try:
        taught.write(row)
        store.replace([to_indexed(src, "official") for src in examples.load(path)])
        ok = True
    finally:
        if ok:
            previous.unlink(missing_ok=True)
        elif previous.exists():
            os.replace(previous, path)
        else:
            path.unlink(missing_ok=True)


def forget(store: Store, taught: Taught, eid: str) -> None:
    """Take the example out of the index, then delete its file."""
    store.remove([source_id(eid)])
    taught.path(eid).unlink(missing_ok=True)
