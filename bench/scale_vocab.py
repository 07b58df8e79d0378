"""Seconds per minibatch against the vocabulary size V, and against each V's own six-product floor.

A generated text corpus (bench/synthetic_corpus.py: 30,000 made-up words
with Zipf frequencies, 1.5 million words in all, so the 20,000th word still
occurs a few times) read with ``--vocab-size V`` for each V asked for; the
exercise's network otherwise (d = 50, H = 200, sigmoid, batch 100, float32).
For each V, in one process, taking turns: ``Trainer.run`` (the fast path as
the app and the command run it, without validation passes) and the floor,
the model's six matrix products alone at that V's shapes
(bench/train_throughput.py's ``matmul_floor``). Reported: the median
milliseconds per minibatch of each, and the median of the per-round ratios.

    OPENBLAS_NUM_THREADS=1 uv run python bench/scale_vocab.py [--vocab 250,1000,5000,20000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vocab", default="250,1000,5000,20000", help="vocabulary sizes (default %(default)s)")
    p.add_argument("--rounds", type=int, default=7, help="turns of each, per V (default 7)")
    p.add_argument("--seconds", type=float, default=1.0, help="about this long per turn (default 1)")
    p.add_argument("--distinct", type=int, default=30_000)
    p.add_argument("--words", type=int, default=1_500_000)
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))

    import numpy as np

    from core.corpus import Corpus, load_text
    from core.model import Config
    from core.trainer import Trainer
    from synthetic_corpus import synthetic_corpus
    from train_throughput import load_average, matmul_floor

    path = synthetic_corpus(args.distinct, args.words)
    config = Config()
    print(f"corpus: {path}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'default')}; "
          f"{time.strftime('%Y-%m-%d %H:%M')}; load before: {load_average()}")
    rows = []
    for V in [int(v) for v in args.vocab.split(",")]:
        corpus = load_text(path, V)
        bare = Corpus(corpus.name, corpus.kind, corpus.source, corpus.vocab, corpus.train, corpus.train[:0], corpus.test)
        trainer = Trainer(bare, config, valid_every=10**9)
        trainer.run(20)  # buffers made, first epoch's order drawn
        t0 = time.perf_counter()
        trainer.run(20)
        n = max(20, int(args.seconds / ((time.perf_counter() - t0) / 20)))
        floor = matmul_floor(np, np.float32, config, corpus.vocab_size, n)
        times = {"project": [], "floor": []}
        loads = []
        for _ in range(args.rounds):
            loads.append(os.getloadavg()[0])
            for name, run in (("project", lambda: trainer.run(n)), ("floor", floor)):
                t0 = time.perf_counter()
                run()
                times[name].append((time.perf_counter() - t0) / n * 1e3)
        ratios = [a / b for a, b in zip(times["project"], times["floor"])]
        row = (corpus.vocab_size, statistics.median(times["project"]), statistics.median(times["floor"]),
               statistics.median(ratios), min(loads), max(loads), len(corpus.train), n)
        rows.append(row)
        print(f"V={row[0]:>6}: project {row[1]:.3f} ms, floor {row[2]:.3f} ms per minibatch; project / floor {row[3]:.2f} "
              f"(per round {' '.join(f'{r:.2f}' for r in ratios)}); load {row[4]:.2f}–{row[5]:.2f}; "
              f"{row[6]} training 4-grams, {n} minibatches a turn", flush=True)
    print("\n| V | ms per minibatch | six products alone | ÷ floor (median of per-round ratios) | load |")
    print("| --- | --- | --- | --- | --- |")
    for V, pr, fl, ratio, lo, hi, *_ in rows:
        print(f"| {V:,} | {pr:.3f} | {fl:.3f} | {ratio:.2f} | {lo:.1f}–{hi:.1f} |")
    print(f"load after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
