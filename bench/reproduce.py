"""The exercise's default run on the real corpus, from the command line, against the published result.

Runs ``backprop-explorer train --data DATA --epochs 10`` (the defaults: batch
100, learning rate 0.1, momentum 0.9, d = 50, H = 200, sigmoid, init std 0.01,
seed 1, float32 fast path) in a fresh process, exactly as a user would, and
prints its final lines, the time, the seconds per epoch and the comparison
with the published figures and the targets of the foundation issue.

    uv run python bench/reproduce.py [--data ../shared/data/hinton] [--epochs 10] [--precision float32]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = {"Training": 2.536, "Validation": 2.603, "Test": 2.612}
TARGETS = {"Validation": 2.63, "Test": 2.64}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "hinton"))
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--precision", choices=("float32", "float64"), default="float32")
    args = p.parse_args()

    command = [sys.executable, "-m", "explorer.cli", "train", "--data", args.data, "--epochs", str(args.epochs),
               "--precision", args.precision, "--quiet"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stdout + done.stderr, file=sys.stderr)
        return done.returncode
    finals = {m[1]: float(m[2]) for m in re.finditer(r"^Final (\w+) CE (\d+\.\d+)$", done.stdout, re.M)}
    timing = re.search(r"^Time ([\d.]+) s \(([\d.]+) s per epoch\)$", done.stdout, re.M)

    load = os.getloadavg()
    print(f"Ten epochs of the exercise on {args.data} ({args.precision}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset (the command sets 1)')})")
    print(f"  {time.strftime('%Y-%m-%d %H:%M')} · load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for split in ("Training", "Validation", "Test"):
        target = f"  target ≤ {TARGETS[split]}: {'met' if finals[split] <= TARGETS[split] else 'NOT met'}" \
            if split in TARGETS else ""
        print(f"  Final {split} CE {finals[split]:.3f}   (published {PUBLISHED[split]:.3f}){target}")
    print(f"  training time {timing[1]} s, {timing[2]} s per epoch (with the validation passes); "
          f"process wall time {wall:.1f} s (with start-up and loading)")
    print("reproduce: uv run python bench/reproduce.py " + " ".join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
