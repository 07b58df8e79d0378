"""The default network's fast path now against an earlier commit's, in one run, taking turns.

The earlier commit's code (``--before REV``, default: the commit before the
network became a list of layers) is exported with ``git archive`` into a
temporary folder outside the repository. Each side runs in a worker process
of its own that imports its own ``core`` (the two cannot share a process):
``Trainer.run`` (the fast path with its per-minibatch loss and finiteness
checks and the loss history; no validation passes) on the exercise's default
network (V = 250, d = 50, H = 200, sigmoid, batch 100, lr 0.1, momentum 0.9,
seed 1) of the real corpus, from the same initial weights on the same
minibatches. Three sides: before; now, as the trainer runs (a gradient
health reading every ``HEALTH_EVERY`` minibatches); and now without health
readings (the fast path alone, as before had it). The workers wait for each
other and take turns, the order rotating every round, so a busy moment on a
shared machine hits every side alike. Reported: the median seconds per epoch
of each (wall clock, and the worker's CPU time, which a busy machine
disturbs less), the medians of the per-round ratios to before, and the mean
training CE of each side's last turn (the same to 4 decimals when they train
the same model).

    uv run python bench/before_after.py [--before REV] [--rounds 7] [--batches 0] [--dtype float32]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import closing_lines, load_average, spread

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "hinton"
REDESIGN = "9d7c832"  # "The network as a list of layers"


def worker(root: str, data: str, dtype_name: str, health_every: int | None) -> int:
    """Train on request: a line "N" on stdin → N minibatches, a JSON line {"seconds", "ce"} on stdout."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the app sets it
    sys.path.insert(0, root)
    import numpy as np

    from core.corpus import Corpus, load_hinton_folder
    from core.model import Config
    from core.trainer import Trainer

    corpus = load_hinton_folder(data)
    bare = Corpus(corpus.name, corpus.kind, corpus.source, corpus.vocab, corpus.train, corpus.train[:0], corpus.test)
    trainer = Trainer(bare, Config(), fast_dtype=np.dtype(dtype_name), valid_every=10**9)
    if health_every is not None:
        trainer.health.every = health_every
    import core.fast

    print(json.dumps({"ready": core.fast.__file__, "per_epoch": trainer.batches_per_epoch}), flush=True)
    for line in sys.stdin:
        n = int(line)
        before = len(trainer.history)
        t0, c0 = time.perf_counter(), time.process_time()
        trainer.run(n)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        ce = float(np.mean(trainer.history.train_ce[before:]))
        print(json.dumps({"seconds": seconds, "cpu": cpu, "ce": ce}), flush=True)
    return 0


class Side:
    def __init__(self, label: str, root: Path, args, health_every: int | None = None):
        self.label = label
        extra = [] if health_every is None else ["--health-every", str(health_every)]
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(root), "--data", args.data, "--dtype", args.dtype, *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root,
        )
        hello = json.loads(self.proc.stdout.readline())
        self.fast_file, self.per_epoch = hello["ready"], hello["per_epoch"]
        self.seconds: list[float] = []
        self.cpu: list[float] = []
        self.ce = float("nan")

    def turn(self, n: int, scale: float) -> None:
        self.proc.stdin.write(f"{n}\n")
        self.proc.stdin.flush()
        out = json.loads(self.proc.stdout.readline())
        self.ce = out["ce"]
        self.seconds.append(out["seconds"] * scale)
        self.cpu.append(out["cpu"] * scale)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def export(rev: str, into: Path) -> str:
    full = subprocess.run(["git", "rev-parse", "--verify", rev + "^{commit}"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    archive = subprocess.Popen(["git", "archive", full, "core"], cwd=ROOT, stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(into)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise SystemExit(f"git archive {rev} failed")
    return full


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", default=REDESIGN + "^", help="the commit to compare with (default %(default)s)")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="the Hinton corpus folder (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=7, help="turns of each side (default 7)")
    p.add_argument("--batches", type=int, default=0, help="minibatches per turn (default: a whole epoch)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--health-every", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.data, args.dtype, args.health_every)

    with tempfile.TemporaryDirectory(prefix="before-") as tmp:
        rev = export(args.before, Path(tmp))
        now_rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                 text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "core"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
        now = f"now ({now_rev}{'+' if dirty else ''})"
        sides = [Side(f"before ({rev[:7]})", Path(tmp), args), Side(now, ROOT, args),
                 Side(now + " no health", ROOT, args, health_every=0)]
        per_epoch = sides[1].per_epoch
        n = args.batches or per_epoch
        scale = per_epoch / n
        print(f"{args.dtype}; {n} minibatches per turn{' (scaled to an epoch)' if scale != 1 else ''} of "
              f"{per_epoch} per epoch; {args.rounds} rounds; OPENBLAS_NUM_THREADS="
              f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset (the workers set 1)')}")
        for s in sides:
            print(f"  {s.label}: {s.fast_file}")
        print(f"load before: {load_average()}")
        ratios = {(s.label, k): [] for s in sides[1:] for k in ("seconds", "cpu")}
        try:
            for r in range(args.rounds):
                for s in sides[r % 3:] + sides[:r % 3]:  # the order rotates
                    s.turn(n, scale)
                for s in sides[1:]:
                    for k in ("seconds", "cpu"):
                        ratios[s.label, k].append(getattr(s, k)[-1] / getattr(sides[0], k)[-1])
                print(f"  round {r + 1}: " + ", ".join(f"{s.label} {s.seconds[-1]:.3f} s (CPU {s.cpu[-1]:.3f} s)"
                                                       for s in sides) + f"; load {os.getloadavg()[0]:.2f}", flush=True)
        finally:
            for s in sides:
                s.close()
    print(f"\nseconds per epoch, median of {args.rounds} (min … max): wall clock, then CPU time of the worker")
    for s in sides:
        print(f"  {s.label:<24} {statistics.median(s.seconds):6.3f}  ({min(s.seconds):.3f} … {max(s.seconds):.3f})"
              f"   CPU {statistics.median(s.cpu):6.3f}  ({min(s.cpu):.3f} … {max(s.cpu):.3f})"
              f"   mean CE of its last turn {s.ce:.4f}")
    for (label, k), v in ratios.items():
        print(f"  {label} ÷ before, {'wall clock' if k == 'seconds' else 'CPU time'}: median of the per-round "
              f"ratios {spread(v)}")
    closing_lines("before_after.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
