"""Lexical tokenizer choice, measured: BM25 over the 2,642 procedure names with (a) our folded
syllable unigrams + bigrams and (b) underthesea word segmentation (folded words), on dev `answer`
turns without history. Also the tokenizers' speed.

    python bench/tokenizers.py
"""

from __future__ import annotations

import json
import time
import unicodedata
from pathlib import Path

import numpy as np

from assistant.lexical import LexicalIndex
from assistant.query import analyse
from assistant.text import fold, lexical_tokens

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared/data"


def segmented(text: str) -> list[str]:
    from underthesea import word_tokenize

    return [fold(w).replace(" ", "_") for w in word_tokenize(unicodedata.normalize("NFC", text))]


def main() -> None:
    records = [json.loads(x) for x in (SHARED / "procedures/dichvucong_2642.jsonl").read_text(encoding="utf-8").splitlines()]
    codes = [r["ma_thu_tuc"] for r in records]
    names = [unicodedata.normalize("NFC", f"{r['ten_thu_tuc']} {r['linh_vuc']}") for r in records]
    gold = [json.loads(x) for x in (SHARED / "gold/dev.jsonl").read_text(encoding="utf-8").splitlines()]
    turns = [g for g in gold if g["expected_behavior"] == "answer" and g["expected_sources"] and not g["history"]]
    text = " ".join(names)
    for label, tok in (("syllable uni+bigrams (folded)", lexical_tokens), ("underthesea words (folded)", segmented)):
        t = time.perf_counter()
        docs = [tok(n) for n in names]
        speed = len(text) / (time.perf_counter() - t)
        index = LexicalIndex.build(codes, docs)
        hit1 = hit5 = 0
        for g in turns:
            q = analyse(g["question"])
            scores = index.scores(tok(q.expanded))
            top = [codes[i] for i in np.argsort(-scores)[:5] if scores[i] > 0]
            hit1 += bool(top[:1]) and top[0] in g["expected_sources"]
            hit5 += bool(set(top) & set(g["expected_sources"]))
        print(f"{label:32s} hit@1 {hit1 / len(turns):.3f}  hit@5 {hit5 / len(turns):.3f}  "
              f"({len(turns)} turns)  {speed / 1e6:.2f} M chars/s")


if __name__ == "__main__":
    main()
