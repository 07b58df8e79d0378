"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import importlib.util
import os
import shlex
import statistics
import sys


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: what else the machine was doing."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" (1, 5, 15 min; {os.cpu_count()} CPUs)"


def spread(values) -> str:
    """'1.023 (0.941 … 1.130)': the median, then the smallest and largest."""
    return f"{statistics.median(values):.3f} ({min(values):.3f} … {max(values):.3f})"


def closing_lines(script: str) -> None:
    """The load after a run and the command that reproduces it."""
    print(f"load after: {load_average()}")
    print(f"reproduce: uv run python bench/{script} " + shlex.join(sys.argv[1:]))


def use_fast_module(path):
    """Make ``core.fast`` the file at ``path``: another version of core/fast.py, for before/after timings.

    Call it before ``core.trainer`` is first imported. Older versions are
    adapted so today's trainer can drive them: one from before
    ``FastPath.train_trusted`` existed gets one that calls its ``train_batch``
    (which checks and converts its input); one from before the network was a
    list of layers (one hidden layer only) finds the ``core.model.PARAM_NAMES``
    it imports, and gets the ``fits`` test the trainer asks.
    """
    import core.model

    if not hasattr(core.model, "PARAM_NAMES"):  # the one-hidden-layer parameter names such a version reads
        core.model.PARAM_NAMES = tuple(core.model.param_shapes(core.model.Config(), 2))
    spec = importlib.util.spec_from_file_location("core.fast", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["core.fast"] = module
    spec.loader.exec_module(module)
    fast_path = module.FastPath
    if not hasattr(fast_path, "train_trusted"):
        fast_path.train_trusted = lambda self, x, t, learning_rate, momentum: self.train_batch(
            x, t, learning_rate, momentum
        )
    if not hasattr(fast_path, "fits"):
        fast_path.fits = lambda self, model: (
            self.activation == model.config.activation and self.shapes == model.shapes()
        )
    return module


def train_like_the_command(label, make, argv=None) -> int:
    """Train a reference port as ``backprop-explorer train`` trains the project, and print the same final lines.

    ``make(params, dtype, learning_rate, momentum, threads)`` returns the port: an
    object with ``prepare(rows)`` (an epoch's rows (M, 4), converted once per
    epoch), ``train_rows(prepared_rows, learning_rate, momentum)`` (one
    minibatch, returns its CE) and ``evaluate(rows)`` (mean CE of NumPy rows).
    The same initial weights (``FourGramModel``'s, from the seed), the same
    minibatches in the same order (the trainer's permutation per epoch), and
    the validation passes at the trainer's cadence, inline (a port has no
    second thread). ``--threads`` goes to ``make`` (PyTorch's
    ``set_num_threads``); NumPy's BLAS threads come from
    ``OPENBLAS_NUM_THREADS``, which must be set before the process starts.
    """
    import argparse
    import os
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    p = argparse.ArgumentParser(description=f"train the {label} like `backprop-explorer train`")
    p.add_argument("--data", default=str(root.parent / "shared" / "data" / "hinton"))
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--precision", default="float32")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (PyTorch only; 0: its default)")
    args = p.parse_args(argv)

    import numpy as np

    from core.corpus import load_source
    from core.model import Config, FourGramModel
    from core.trainer import validation_interval

    corpus = load_source(args.data)
    config = Config()
    lr, mu, bs = config.learning_rate, config.momentum, config.batch_size
    port = make(FourGramModel(corpus.vocab, config).params, np.dtype(args.precision), lr, mu, args.threads)
    per_epoch = len(corpus.train) // bs
    valid_every = validation_interval(per_epoch)
    print(f"{label}: {corpus.describe()}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}",
          flush=True)
    start = time.perf_counter()
    losses = []
    for epoch in range(args.epochs):
        order = np.random.default_rng([config.seed, epoch]).permutation(len(corpus.train))
        rows = port.prepare(corpus.train[order])
        losses = []
        for b in range(per_epoch):
            losses.append(port.train_rows(rows[b * bs : (b + 1) * bs], lr, mu))
            if (b + 1) % valid_every == 0 or b + 1 == per_epoch:
                valid = port.evaluate(corpus.valid)
        print(f"Epoch {epoch + 1}/{args.epochs} done: mean Train CE {np.mean(losses):.3f}, Validation CE {valid:.3f}",
              flush=True)
    elapsed = time.perf_counter() - start
    print(f"Final Training CE {np.mean(losses):.3f}")
    print(f"Final Validation CE {port.evaluate(corpus.valid):.3f}")
    print(f"Final Test CE {port.evaluate(corpus.test):.3f}")
    print(f"Time {elapsed:.1f} s ({elapsed / args.epochs:.2f} s per epoch)", flush=True)
    return 0
