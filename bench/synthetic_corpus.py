"""A large synthetic text corpus for measuring the window with a big vocabulary.

``synthetic_corpus()`` writes (once, into a cache folder, never into the
repository) a plain-text corpus of made-up words, one sentence per line, and
returns its path. Same arguments, same bytes: the words, their frequencies and
the sentences all come from a fixed seed.

* ``distinct`` pseudo-words (default 8,000), spelt from a few syllables so
  that prefixes are shared as in a real language (completion and the
  suggestions for unknown words have work to do);
* word frequencies follow Zipf's law (frequency ∝ 1 / rank), so with the
  default ~420,000 words the 5,000th most frequent word still occurs a few
  dozen times: ``--vocab-size 5000`` gives a vocabulary of 5,000 words;
* each word prefers a few followers (a sparse Markov chain mixed with the
  Zipf draw), so three-word contexts repeat with a handful of different
  continuations, as in real text.

Run on its own, it prints the path (and writes the file if needed):

    uv run python bench/synthetic_corpus.py [--distinct 8000] [--words 420000]

The default file is about 3 MB. The folder is ``$BACKPROP_BENCH_CACHE`` when
set, else ``backprop-explorer-bench`` in the system's temporary folder.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

SYLLABLES = (
    "ba be bi bo bu da de di do du fa fe fi fo ka ke ki ko ku la le li lo lu ma me mi mo mu "
    "na ne ni no nu pa pe pi po ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo za "
    "ze zo an en in on ar er or al el il ol st tr pl gr"
).split()


def cache_folder() -> Path:
    root = os.environ.get("BACKPROP_BENCH_CACHE")
    return Path(root) if root else Path(tempfile.gettempdir()) / "backprop-explorer-bench"


def make_words(distinct: int, rng: np.random.Generator) -> list[str]:
    """``distinct`` different pseudo-words of 1-4 syllables, shorter ones more common (they come first)."""
    words: list[str] = []
    seen: set[str] = set()
    syl = np.array(SYLLABLES)
    while len(words) < distinct:
        n = 1 + min(3, int(rng.geometric(0.45)) - 1 + (len(words) > 400))  # the most frequent words are short
        w = "".join(syl[rng.integers(0, len(syl), n)])
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def make_text(distinct: int = 8000, total_words: int = 420_000, seed: int = 5) -> str:
    """The corpus as one string (see the module docstring)."""
    rng = np.random.default_rng(seed)
    words = np.array(make_words(distinct, rng))
    zipf = 1.0 / np.arange(1, distinct + 1)
    zipf /= zipf.sum()
    cdf = np.cumsum(zipf)
    followers = rng.choice(distinct, size=(distinct, 4), p=zipf)  # (W, 4) each word's favourite followers
    # Sentence lengths 4..18 words.
    lengths = rng.integers(4, 19, size=total_words // 8 + 1)
    lengths = lengths[: np.searchsorted(np.cumsum(lengths), total_words) + 1]
    n = int(lengths.sum())
    fresh = np.searchsorted(cdf, rng.random(n))  # (n,) a Zipf draw for every position
    fresh = np.minimum(fresh, distinct - 1)
    follow = rng.random(n) < 0.55  # ... or, more often than not, one of the previous word's followers
    pick = rng.integers(0, 4, n)
    ids = np.empty(n, dtype=np.int64)
    starts = np.zeros(n, dtype=bool)
    starts[np.concatenate([[0], np.cumsum(lengths)[:-1]])] = True
    prev = 0
    for i in range(n):  # a few hundred thousand steps of plain Python: well under a second
        if starts[i] or not follow[i]:
            prev = fresh[i]
        else:
            prev = followers[prev, pick[i]]
        ids[i] = prev
    lines = np.split(words[ids], np.cumsum(lengths)[:-1])
    return "\n".join(" ".join(line) for line in lines) + "\n"


def synthetic_corpus(distinct: int = 8000, total_words: int = 420_000, seed: int = 5, folder=None) -> Path:
    """The path of the corpus file, written first if it is not in the cache folder yet."""
    folder = Path(folder) if folder is not None else cache_folder()
    path = folder / f"synthetic-{distinct}w-{total_words}-s{seed}.txt"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_text(make_text(distinct, total_words, seed), encoding="utf-8")
        os.replace(tmp, path)
    return path


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--distinct", type=int, default=8000, help="different words (default 8000)")
    p.add_argument("--words", type=int, default=420_000, help="words in all (default 420000)")
    p.add_argument("--seed", type=int, default=5)
    args = p.parse_args(argv)
    path = synthetic_corpus(args.distinct, args.words, args.seed)
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
