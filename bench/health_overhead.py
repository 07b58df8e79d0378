"""What recording gradient health costs run mode: training with and without it, taking turns.

Two trainers of the same network on the real corpus, in one process, from
the same initial weights on the same minibatches: one records a gradient
health reading every ``core.health.HEALTH_EVERY`` minibatches (run mode's
cadence, ``Health.every``), the other none (``Health.every = 0``). Each turn
is ``Trainer.run`` over ``--batches`` minibatches (the fast path with its
loss and finiteness checks; no validation passes); the two alternate, the
order swapping every round. Reported per network: the median seconds per
epoch of each, and the median of the per-round ratios with ÷ without (the
overhead), which the gradient health panel's goal keeps ≤ 1.05.

    uv run python bench/health_overhead.py [--rounds 9] [--batches 1000] [--hidden-dims 200 --hidden-dims 100,100,100,100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from _common import closing_lines, load_average, spread

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "hinton"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DEFAULT_DATA), help="the Hinton corpus folder (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=9, help="turns of each trainer (default 9)")
    p.add_argument("--batches", type=int, default=1000, help="minibatches per turn (default 1000)")
    p.add_argument("--hidden-dims", action="append", help="a network to time (repeatable; default 200)")
    p.add_argument("--activation", default="sigmoid", help="of every hidden layer (default sigmoid)")
    p.add_argument("--every", type=int, default=0, help="readings every this many minibatches (default: run mode's)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    args = p.parse_args(argv)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the app sets it, before NumPy is imported
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from core.corpus import Corpus, load_hinton_folder
    from core.health import HEALTH_EVERY
    from core.model import Config, parse_hidden_dims
    from core.trainer import Trainer

    every = args.every or HEALTH_EVERY
    corpus = load_hinton_folder(args.data)
    bare = Corpus(corpus.name, corpus.kind, corpus.source, corpus.vocab, corpus.train, corpus.train[:0], corpus.test)
    print(f"{args.dtype}; {args.batches} minibatches per turn, scaled to an epoch; {args.rounds} rounds; "
          f"a reading every {every} minibatches; OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    print(f"load before: {load_average()}")
    for dims_text in args.hidden_dims or ["200"]:
        config = Config(hidden_dims=parse_hidden_dims(dims_text), activations=args.activation)
        trainers = {}
        for label, cadence in (("with health", every), ("without", 0)):
            t = Trainer(bare, config, fast_dtype=np.dtype(args.dtype), valid_every=10**9)
            t.health.every = cadence
            trainers[label] = t
        scale = trainers["without"].batches_per_epoch / args.batches
        times = {k: [] for k in trainers}
        cpu = {k: [] for k in trainers}
        ratios, cpu_ratios = [], []
        for r in range(args.rounds):
            for label in (list(trainers) if r % 2 == 0 else list(trainers)[::-1]):
                t0, c0 = time.perf_counter(), time.process_time()
                trainers[label].run(args.batches)
                times[label].append((time.perf_counter() - t0) * scale)
                cpu[label].append((time.process_time() - c0) * scale)
            ratios.append(times["with health"][-1] / times["without"][-1])
            cpu_ratios.append(cpu["with health"][-1] / cpu["without"][-1])
        on, off = trainers["with health"], trainers["without"]
        same = np.array_equal(on.history.train_ce, off.history.train_ce)
        print(f"\n== {config.describe_hidden()}: seconds per epoch, median of {args.rounds} (min … max): "
              "wall clock, then CPU time")
        for label, v in times.items():
            c = cpu[label]
            print(f"  {label:<12} {statistics.median(v):6.3f}  ({min(v):.3f} … {max(v):.3f})   "
                  f"CPU {statistics.median(c):6.3f}  ({min(c):.3f} … {max(c):.3f})")
        for what, v in (("wall clock", ratios), ("CPU time", cpu_ratios)):
            print(f"  with ÷ without, {what}: median of the per-round ratios {spread(v)}")
        print(f"  {len(on.health.readings)} readings against {len(off.health.readings)}; identical losses: {same}")
        # One reading alone, timed directly: its cost per minibatch at this cadence, against a minibatch's.
        fast, lr = on._fast_path(), on.learning_rate
        reads = []
        for k in range(200):
            c0 = time.process_time()
            on.health.record_fast(on.step, fast, lr)
            reads.append(time.process_time() - c0)
        read = statistics.median(reads)
        batch = statistics.median(cpu["without"]) / on.batches_per_epoch
        print(f"  one reading: median {read * 1e6:.0f} µs CPU (of 200); a minibatch {batch * 1e6:.0f} µs CPU; "
              f"one reading every {every}: {read / every / batch:.2%} of training")
    print()
    closing_lines("health_overhead.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
