"""The corpus's own vocabulary, used to repair questions typed without diacritics or spaces.

`restore` puts diacritics back on a folded question from the accented bigrams and syllables of the
procedure names (the dense embedder reads 'dang ky khai sinh' poorly, 'đăng ký khai sinh' well);
`unglue` splits 'dangkykhaisinh' into known syllables and mends a one-slip typo of a syllable the
names do not have ('khia' -> 'khai', 'tow' -> 'to').
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
import re
from dataclasses import dataclass, field

from assistant.text import ABBREVIATIONS, fold_word, words

_WORD = re.compile(r"[0-9a-zà-ỹđ]+", re.I)


@dataclass
class Vocabulary:
    bigrams: dict[tuple[str, str], tuple[str, str]]
    unigrams: dict[str, str]
    syllables: set[str]
    counts: dict[str, int] = field(default_factory=dict)  # how often each folded syllable occurs

    @classmethod
    def build(cls, texts: Iterable[str]) -> "Vocabulary":
        bi: Counter[tuple[str, str]] = Counter()
        uni: Counter[str] = Counter()
        for text in texts:
            ws = words(text)
            uni.update(ws)
            bi.update(zip(ws, ws[1:]))
        best_bi: dict[tuple[str, str], tuple[tuple[str, str], int]] = {}
        for (a, b), n in bi.items():
            key = (fold_word(a), fold_word(b))
            if key not in best_bi or n > best_bi[key][1]:
                best_bi[key] = ((a, b), n)
        best_uni: dict[str, tuple[str, int]] = {}
        for w, n in uni.items():
            key = fold_word(w)
            if key not in best_uni or n > best_uni[key][1]:
                best_uni[key] = (w, n)
        return cls(
            bigrams={k: v[0] for k, v in best_bi.items()},
            unigrams={k: v[0] for k, v in best_uni.items()},
            # abbreviations count as syllables so 'dkhokinhdoanh' splits into 'dk ho kinh doanh'
            syllables={k for k in best_uni if k.isalpha()} | {k for k in ABBREVIATIONS if k.isalpha() and len(k) > 1},
            counts=dict(Counter(fold_word(w) for w in uni.elements())),
        )

    def restore(self, folded: str) -> str:
        toks = folded.split()
        out = list(toks)
        covered = [False] * len(toks)
        for i in range(len(toks) - 1):
            pair = self.bigrams.get((toks[i], toks[i + 1]))
            if pair:
                if not covered[i]:
                    out[i] = pair[0]
                out[i + 1] = pair[1]
                covered[i] = covered[i + 1] = True
        for i, t in enumerate(toks):
            if not covered[i] and t in self.unigrams:
                out[i] = self.unigrams[t]
        return " ".join(out)

    def unglue(self, text: str) -> str:
        """The question with glued words split ('đăngkýkhaisinh online' -> 'dang ky khai sinh online')."""

        tokens = [fold_word(m.group(0)) for m in _WORD.finditer(text)]
        position = iter(range(len(tokens)))

        def sub(m: re.Match[str]) -> str:
            i = next(position)
            word, folded = m.group(0), tokens[i]
            if folded in self.syllables or not folded.isalpha():
                return word
            split = self._split(folded) if len(folded) >= 5 else folded
            if split != folded:
                return split
            mended = self._mend(folded)
            # a mend counts only where it pairs with a neighbour as in the names ('khia sinh' -> 'khai sinh')
            beside = {tokens[i - 1]} if i else set()
            beside |= {tokens[i + 1]} if i + 1 < len(tokens) else set()
            if mended and any((b, mended) in self.bigrams or (mended, b) in self.bigrams for b in beside):
                return mended
            return word

        return _WORD.sub(sub, text)

    def _mend(self, token: str) -> str | None:
        """The syllable a 3- to 5-letter token is one slip from: two letters swapped, else one letter
        too many; the most frequent one in the names."""
        if not 3 <= len(token) <= 5:
            return None
        for options in ([token[:i] + token[i + 1] + token[i] + token[i + 2:] for i in range(len(token) - 1)],
                        [token[:i] + token[i + 1:] for i in range(len(token))]):
            known = [w for w in options if w in self.counts and len(w) >= 2]
            if known:
                return max(known, key=lambda w: self.counts[w])
        return None

    def _split(self, token: str) -> str:
        """Fewest known syllables covering the token, the ones that pair into known bigrams first
        ('kethon' -> 'ket hon', not 'ke thon'); the token unchanged when none does."""
        n = len(token)
        # best[end][last] = (number of parts, -known bigrams, parts) over token[:end] ending in `last`
        best: list[dict[str, tuple[int, int, list[str]]]] = [dict() for _ in range(n + 1)]
        best[0][""] = (0, 0, [])
        for end in range(1, n + 1):
            for start in range(max(0, end - 7), end):
                piece = token[start:end]
                if piece not in self.syllables:
                    continue
                for last, (count, minus_bi, parts) in best[start].items():
                    cand = (count + 1, minus_bi - ((last, piece) in self.bigrams), parts + [piece])
                    if piece not in best[end] or cand[:2] < best[end][piece][:2]:
                        best[end][piece] = cand
        if not best[n]:
            return token
        parts = min(best[n].values(), key=lambda x: x[:2])[2]
        # accept only a plausible split: real syllables, not a word chopped into letters
        if len(parts) >= 2 and all(len(p) >= 2 for p in parts):
            return " ".join(parts)
        return token
