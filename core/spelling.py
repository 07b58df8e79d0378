"""Vocabulary words spelt like a given word, fast enough to run on every keystroke.

``Speller(words).close_matches(word, n, cutoff)`` returns exactly what
``difflib.get_close_matches(word, words, n, cutoff)`` returns (the same words,
in the same order), without scoring every word of a large vocabulary.

difflib scores a word ``x`` by ``SequenceMatcher(None, x, word).ratio()``,
2·M / (len(x) + len(word)) with M the characters of the matching blocks.
Its ``quick_ratio`` counts instead every character the two words have in
common (as multisets), which is at least M: an upper bound on the score. The
speller computes that bound for all words at once with NumPy (one count
array per character of the query, cached), then scores words in decreasing
order of their bound and stops as soon as the bound falls below the n-th
best score found: a word whose bound is lower cannot enter the top n. A
word with no character in common scores exactly 0 and is never scored.
"""

from __future__ import annotations

import difflib
import heapq

import numpy as np

MEMO_SIZE = 512  # words remembered with their suggestions (the other words of a prompt repeat on every keystroke)


class Speller:
    """Close matches among a fixed list of words (see the module docstring)."""

    def __init__(self, words):
        self.words = list(words)
        self._lengths = np.fromiter((len(w) for w in self.words), dtype=np.int64, count=len(self.words))  # (V,)
        self._char_counts: dict[str, np.ndarray] = {}  # character -> (V,) its count in each word
        self._memo: dict[tuple[str, int], list[str]] = {}

    def _counts(self, ch: str) -> np.ndarray:
        counts = self._char_counts.get(ch)
        if counts is None:
            counts = np.fromiter((w.count(ch) for w in self.words), dtype=np.int64, count=len(self.words))
            self._char_counts[ch] = counts
        return counts

    def upper_bounds(self, word: str) -> np.ndarray:
        """(V,) difflib's ``quick_ratio`` of every word against ``word``: at least its ``ratio``."""
        common = np.zeros(len(self.words), dtype=np.int64)  # (V,) characters in common, as multisets
        for ch in set(word):
            np.add(common, np.minimum(self._counts(ch), word.count(ch)), out=common)
        total = self._lengths + len(word)  # (V,)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, 2.0 * common / np.maximum(total, 1), 1.0)

    def close_matches(self, word: str, n: int = 3, cutoff: float = 0.6) -> list[str]:
        """``difflib.get_close_matches(word, self.words, n, cutoff)``, found without scoring every word."""
        if not n > 0:
            raise ValueError(f"n must be > 0: {n!r}")
        if not 0.0 <= cutoff <= 1.0:
            raise ValueError(f"cutoff must be in [0.0, 1.0]: {cutoff!r}")
        if not self.words:
            return []
        bound = self.upper_bounds(word)  # (V,)
        matcher = difflib.SequenceMatcher()
        matcher.set_seq2(word)
        best: list[tuple[float, str]] = []  # a min-heap of the n best (score, word) so far
        candidates = np.flatnonzero((bound >= cutoff) & (bound > 0.0))
        for i in candidates[np.argsort(-bound[candidates], kind="stable")]:
            if len(best) == n and bound[i] < best[0][0]:
                break  # this bound and every later one is below the n-th best score
            x = self.words[i]
            matcher.set_seq1(x)
            score = matcher.ratio()
            if score >= cutoff:
                item = (score, x)
                if len(best) < n:
                    heapq.heappush(best, item)
                elif item > best[0]:
                    heapq.heapreplace(best, item)
        if cutoff <= 0.0 and (len(best) < n or best[0][0] <= 0.0):
            # Words with no character in common score exactly 0; among equal scores the greater word wins.
            zeros = [(0.0, self.words[i]) for i in np.flatnonzero(bound <= 0.0)]
            best = heapq.nlargest(n, best + zeros)
        return [x for _score, x in sorted(best, reverse=True)]

    def suggest(self, word: str, k: int = 3) -> list[str]:
        """Up to ``k`` words spelt most like ``word``: those scoring at least 0.5, or else the best ones."""
        key = (word, k)
        found = self._memo.get(key)
        if found is None:
            found = self.close_matches(word, k, 0.5) or self.close_matches(word, k, 0.0)
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = found
        return list(found)


__all__ = ["Speller"]
