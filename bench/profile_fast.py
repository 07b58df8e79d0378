"""Where the fast path's time goes: a sampling profile of ``Trainer.run`` and a line-by-line one of a minibatch.

Needs pyinstrument and line_profiler in the environment for the run only
(they are not dependencies):

    uv pip install pyinstrument line_profiler
    OPENBLAS_NUM_THREADS=1 uv run python bench/profile_fast.py --batches 2000

With ``--fast-module PATH`` it profiles another version of core/fast.py (for
example the one before an optimisation) in place of the current one.

With ``--scatter`` it times instead the ways of computing the embedding
gradient (the scatter-add of η·de into dW_emb) on real minibatches:

    OPENBLAS_NUM_THREADS=1 uv run python bench/profile_fast.py --scatter
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "hinton"))
    p.add_argument("--batches", type=int, default=2000)
    p.add_argument("--dtype", default="float32")
    p.add_argument("--fast-module", help="a file to use as core.fast instead of the current one")
    p.add_argument("--no-lines", action="store_true", help="only the sampling profile")
    p.add_argument("--scatter", action="store_true", help="time the embedding-gradient options instead")
    args = p.parse_args(argv)
    if args.scatter:
        return scatter_options(args)

    import numpy as np

    if args.fast_module:  # must happen before core.trainer imports core.fast
        from _common import use_fast_module

        use_fast_module(args.fast_module)

    from pyinstrument import Profiler

    from core import fast as fast_module
    from core.corpus import Corpus, load_hinton_folder
    from core.model import Config
    from core.trainer import Trainer

    corpus = load_hinton_folder(args.data)
    bare = Corpus(corpus.name, corpus.kind, corpus.source, corpus.vocab, corpus.train, corpus.train[:0], corpus.test)
    trainer = Trainer(bare, Config(), fast_dtype=np.dtype(args.dtype), valid_every=10**9)
    trainer.run(20)  # buffers, caches
    print(f"fast path: {fast_module.__file__}; {args.dtype}; OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')}; load {os.getloadavg()[0]:.2f}")

    profiler = Profiler(interval=0.0002)
    t0 = time.perf_counter()
    profiler.start()
    trainer.run(args.batches)
    profiler.stop()
    elapsed = time.perf_counter() - t0
    print(f"{args.batches} minibatches in {elapsed:.2f} s under the sampler: "
          f"{elapsed / args.batches * 1e6:.0f} µs per minibatch")
    print(profiler.output_text(unicode=True, color=False, show_all=True))

    if not args.no_lines:
        from line_profiler import LineProfiler

        fp = trainer._fast_path()
        lp = LineProfiler()
        targets = [f for f in vars(type(fp)).values() if callable(f) and getattr(f, "__code__", None)]
        for f in targets:
            lp.add_function(f)
        lp.enable_by_count()
        trainer.run(args.batches)
        lp.disable_by_count()
        lp.print_stats(output_unit=1e-6, stripzeros=True)
    return 0


def scatter_options(args) -> int:
    """Every way tried of dW_emb[v] = Σ over (n, k) with x[n, k] = v of de[n, block k], on real minibatches."""
    import numpy as np

    from core.corpus import load_hinton_folder

    corpus = load_hinton_folder(args.data)
    dtype = np.dtype(args.dtype)
    pair = {np.dtype(np.float32): np.complex64, np.dtype(np.float64): np.complex128}[dtype]
    V, d, N = len(corpus.vocab), 50, 100
    rng = np.random.default_rng(0)
    rows = corpus.train[rng.permutation(len(corpus.train))[: 200 * N]]
    batches = [np.ascontiguousarray(rows[i * N : (i + 1) * N, :3], dtype=np.intp) for i in range(200)]
    de = rng.standard_normal((N, 3 * d)).astype(dtype)  # (N, 3d)
    de_rows = de.reshape(-1, d)  # (3N, d): one row per (n, k)
    G = np.zeros((V, d), dtype)
    G_flat = G.reshape(-1)
    lanes = d // 2
    G_pairs, de_pairs = G_flat.view(pair), de.reshape(-1).view(pair)
    pair_table = np.arange(V * lanes, dtype=np.intp).reshape(V, lanes)
    flat_table = np.arange(V * d, dtype=np.intp).reshape(V, d)
    pair_index = np.empty((N, 3, lanes), np.intp)
    flat_index = np.empty((N, 3, d), np.intp)
    onehot = np.zeros((V, 3 * N), dtype)
    all_rows = np.arange(3 * N)
    sorted_de = np.empty_like(de_rows)

    def add_at_rows(x):  # the straightforward way: whole rows
        G.fill(0)
        np.add.at(G, x.reshape(-1), de_rows)

    def add_at_per_position(x):
        G.fill(0)
        for k in range(3):
            np.add.at(G, x[:, k], de[:, k * d : (k + 1) * d])

    def add_at_floats(x):  # flat index, one float at a time
        G.fill(0)
        np.take(flat_table, x, axis=0, out=flat_index)
        np.add.at(G_flat, flat_index.reshape(-1), de.reshape(-1))

    def add_at_pairs(x):  # flat index, two floats at a time (the fast path's choice)
        G.fill(0)
        np.take(pair_table, x, axis=0, out=pair_index)
        np.add.at(G_pairs, pair_index.reshape(-1), de_pairs)

    def bincount(x):  # one bincount over flat indices (float64 only: the result is converted)
        np.take(flat_table, x, axis=0, out=flat_index)
        G[...] = np.bincount(flat_index.reshape(-1), weights=de.reshape(-1), minlength=V * d).reshape(V, d)

    def bincount_per_column(x):
        flat = x.reshape(-1)
        for j in range(d):
            G[:, j] = np.bincount(flat, weights=de_rows[:, j], minlength=V)

    def sort_reduceat(x):
        flat = x.reshape(-1)
        order = np.argsort(flat, kind="stable")
        words = flat[order]
        np.take(de_rows, order, axis=0, out=sorted_de)
        starts = np.flatnonzero(np.concatenate(([True], words[1:] != words[:-1])))
        G.fill(0)
        G[words[starts]] = np.add.reduceat(sorted_de, starts, axis=0)

    def one_hot_matmul(x):  # S (V, 3N) one-hot, then S·de_rows
        onehot.fill(0)
        onehot[x.reshape(-1), all_rows] = 1
        np.matmul(onehot, de_rows, out=G)

    options = [add_at_rows, add_at_per_position, add_at_floats, add_at_pairs, bincount, bincount_per_column,
               sort_reduceat, one_hot_matmul]
    expected = []
    for x in batches[:5]:
        ref = np.zeros((V, d), np.float64)
        np.add.at(ref, x.reshape(-1), de_rows.astype(np.float64))
        expected.append(ref)
    for f in options:
        for x, ref in zip(batches[:5], expected):
            f(x)
            np.testing.assert_allclose(G, ref, rtol=1e-5, atol=1e-5, err_msg=f.__name__)
    times = {f.__name__: [] for f in options}
    for _ in range(7):  # rounds, options taking turns
        for f in options:
            t0 = time.perf_counter()
            for x in batches:
                f(x)
            times[f.__name__].append((time.perf_counter() - t0) / len(batches))
    touched = np.mean([len(np.unique(x)) for x in batches])
    print(f"embedding gradient of one minibatch ({N}×3 words, {touched:.0f} distinct on average; d = {d}; {dtype}), "
          f"median of 7 rounds of {len(batches)} real minibatches; load {os.getloadavg()[0]:.2f}")
    base = statistics.median(times["add_at_rows"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:<22} {med * 1e6:7.1f} µs   {base / med:5.2f}× np.add.at on rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
