"""Training throughput: the project against a strong NumPy port, the exercise's algorithm and PyTorch.

Two modes.

**In process** (default). All implementations train the same model (the
exercise's defaults: V = 250, d = 50, H = 200, sigmoid, batch 100, learning
rate 0.1, momentum 0.9, the same initial weights) on the same minibatches of
the real corpus, in one process, taking turns: project, strong port, exercise,
PyTorch, matmul floor, project, ... Each turn trains a whole epoch (or
``--batches`` minibatches, scaled to an epoch). Reported per precision: the
median seconds per epoch of each, the ratios of the project to each (medians
of the per-round ratios, so a busy moment on a shared machine hits both sides
of a ratio alike), and the matmul floor: the model's six matrix products
alone at batch-100 shapes, timed the same way.

* project: ``Trainer.run`` (the fast path with the per-batch loss and
  finiteness checks and the loss history), without validation passes.
* strong: bench/reference_numpy_strong.py, the port a competent NumPy user
  writes (no one-hot, in place, ``np.add.at`` on rows).
* exercise: bench/reference_numpy.py, the exercise's algorithm written line
  for line in NumPy (fresh arrays, one-hot targets, ``np.add.at`` on rows).
* PyTorch: bench/reference_torch.py, when torch can be imported (it is not a
  dependency; see BENCHMARKS.md for installing it for a run).

**Whole process** (``--whole-process``): what a user waits for. Each
contender is a fresh process that trains like ``backprop-explorer train``
(validation passes included; the project's own command is timed as it is),
run with ``--epochs 1`` and ``--epochs 2``; seconds per epoch are
``wall(2) − wall(1)``, so start-up, loading and the final evaluations cancel.
Every thread setting of each is a contender of its own (the project as the
command runs it, with one BLAS thread, and with ``OPENBLAS_NUM_THREADS=2``;
each reference at 1 and 2 threads), they take turns within each round (the
order rotates, and whether 1 or 2 epochs runs first alternates), and the
project is compared with the best setting of each reference (lowest median).
PyTorch runs under ``--torch-python`` (a Python with torch and NumPy). With
``--busy`` a busy loop (``python -c "while True: pass"``) holds one core for
the whole run.

Run from the repository root:

    uv run python bench/train_throughput.py --threads 1 --torch-threads 1
    uv run python bench/train_throughput.py --whole-process --rounds 3 [--busy]
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "hinton"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DEFAULT_DATA), help="the Hinton corpus folder (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=5, help="turns per implementation and precision (default 5)")
    p.add_argument("--batches", type=int, default=0, help="minibatches per turn (default: a whole epoch)")
    p.add_argument("--dtypes", default="float32,float64", help="comma-separated (default float32,float64)")
    p.add_argument("--threads", type=int, default=0, help="NumPy's BLAS threads (sets OPENBLAS_NUM_THREADS)")
    p.add_argument("--torch-threads", type=int, default=0, help="torch.set_num_threads (default: torch's own)")
    p.add_argument("--fast-module", help="time this file as core/fast.py (e.g. an older version, for before/after)")
    p.add_argument("--only", default="project,strong,exercise,torch,floor",
                   help="which to time, of project, overlap, auto (the project with --overlap on, auto), strong, "
                        "exercise, torch, floor (default %(default)s); with --whole-process, of project, project2 "
                        "(2 BLAS threads), overlap-on, overlap-auto, strong, exercise, torch")
    p.add_argument("--whole-process", action="store_true", help="time whole processes: wall(2 epochs) − wall(1 epoch)")
    p.add_argument("--torch-python", default="/tmp/torchenv/bin/python",
                   help="with --whole-process: a Python with torch and NumPy (default %(default)s; skipped if absent)")
    p.add_argument("--thread-counts", default="1,2",
                   help="with --whole-process: the references' thread settings (default %(default)s)")
    p.add_argument("--busy", action="store_true", help="with --whole-process: keep one core busy with a busy loop")
    p.add_argument("--give-up", type=float, default=4.0,
                   help="with --whole-process: a run longer than this many times the fastest 2-epoch run so far "
                        "is stopped and its contender dropped, recorded as slower than that (default 4)")
    args = p.parse_args(argv)
    args.dtypes = [s.strip() for s in args.dtypes.split(",") if s.strip()]
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    return args


def command_line(args) -> str:
    env = f"OPENBLAS_NUM_THREADS={args.threads} " if args.threads else ""
    ours = Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()
    python = "uv run python" if ours else sys.executable  # e.g. the Python that has torch
    return env + f"{python} bench/train_throughput.py " + shlex.join(sys.argv[1:])


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.whole_process:
        return whole_process(args)
    if args.threads:  # before NumPy (and its BLAS) is loaded
        os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))

    import numpy as np

    if args.fast_module:  # before core.trainer imports core.fast
        from _common import use_fast_module

        use_fast_module(args.fast_module)

    import reference_numpy
    import reference_numpy_strong
    import reference_torch
    from core.corpus import Corpus, load_hinton_folder
    from core.model import CONTEXT, Config, FourGramModel
    from core.trainer import Trainer

    corpus = load_hinton_folder(args.data)
    # No validation set: the project's runs time training alone, like the others.
    bare = Corpus(corpus.name, corpus.kind, corpus.source, corpus.vocab, corpus.train, corpus.train[:0], corpus.test)
    config = Config()
    per_epoch = len(corpus.train) // config.batch_size
    n_batches = args.batches or per_epoch
    scale = per_epoch / n_batches
    lr, mu, bs = config.learning_rate, config.momentum, config.batch_size
    start_weights = FourGramModel(corpus.vocab, config).params

    torch_ok = reference_torch.available() and "torch" in args.only
    if torch_ok:
        import torch

        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)

    def epoch_rows(epoch):
        """The training rows in the order of ``epoch``: the trainer's permutation."""
        order = np.random.default_rng([config.seed, epoch]).permutation(len(corpus.train))
        return np.ascontiguousarray(corpus.train[order])

    print(machine_line(np, torch_ok))
    print(f"fast path: {sys.modules['core.fast'].__file__}")
    print(f"corpus: {corpus.describe()}; {per_epoch} minibatches of {bs} per epoch; "
          f"{n_batches} minibatches per turn{' (scaled to an epoch)' if scale != 1 else ''}")
    print(f"load before: {load_average()}")
    results = {}
    for dtype_name in args.dtypes:
        dtype = np.dtype(dtype_name)
        runners, last_ce = {}, {}

        def project_runner(overlap):
            trainer = Trainer(bare, config, fast_dtype=dtype, valid_every=10**9, overlap=overlap)

            def project():
                before = len(trainer.history)
                trainer.run(n_batches)
                return float(np.mean(trainer.history.train_ce[before:]))

            return project

        for name, overlap in (("project", "off"), ("overlap", "on"), ("auto", "auto")):
            if name in args.only:
                runners[name] = project_runner(overlap)

        def numpy_runner(ref):
            ref_state = {"step": 0}

            def reference():
                losses = []
                for _ in range(n_batches):
                    epoch, b = divmod(ref_state["step"], per_epoch)
                    if b == 0 or "rows" not in ref_state:
                        ref_state["rows"] = epoch_rows(epoch)
                    chunk = ref_state["rows"][b * bs : (b + 1) * bs]
                    losses.append(ref.train_batch(chunk[:, :CONTEXT], chunk[:, CONTEXT], lr, mu))
                    ref_state["step"] += 1
                return float(np.mean(losses))

            return reference

        if "strong" in args.only:
            runners["strong"] = numpy_runner(reference_numpy_strong.ReferenceNumpyStrong(start_weights, dtype))
        if "exercise" in args.only:
            runners["exercise"] = numpy_runner(reference_numpy.ReferenceNumpy(start_weights, dtype))

        if torch_ok:
            tref = reference_torch.ReferenceTorch(start_weights, dtype, lr, mu)
            t_state = {"step": 0}

            def pytorch():
                losses = []
                for _ in range(n_batches):
                    epoch, b = divmod(t_state["step"], per_epoch)
                    if b == 0 or "rows" not in t_state:
                        t_state["rows"] = tref.tensor(epoch_rows(epoch))
                    chunk = t_state["rows"][b * bs : (b + 1) * bs]
                    losses.append(tref.train_batch(chunk[:, :CONTEXT], chunk[:, CONTEXT]))
                    t_state["step"] += 1
                return float(np.mean(losses))

            runners["torch"] = pytorch

        if "floor" in args.only:
            runners["floor"] = matmul_floor(np, dtype, config, len(corpus.vocab), n_batches)

        times = {k: [] for k in runners}
        for r in range(args.rounds):
            for name, run in runners.items():
                t0 = time.perf_counter()
                ce = run()
                times[name].append((time.perf_counter() - t0) * scale)
                if ce is not None:
                    last_ce[name] = ce
        results[dtype_name] = times
        report(dtype_name, times, last_ce, torch_ok or "torch" not in args.only)
    print(f"load after: {load_average()}")
    print(f"reproduce: {command_line(args)}")
    return 0


def whole_process_contenders(args):
    """(name, family, argv without --epochs, extra environment) of every contender asked for."""
    bench = ROOT / "bench"
    command = Path(sys.executable).parent / "backprop-explorer"  # the entry point of the environment we run in
    data = ["--data", args.data]
    out = []
    if "project" in args.only:  # as the command runs: it sets OPENBLAS_NUM_THREADS=1 itself
        out.append(("project", "project", [str(command), "train", *data], {}))
    if "project2" in args.only:
        out.append(("project, 2 BLAS threads", "project2", [str(command), "train", *data], {"OPENBLAS_NUM_THREADS": "2"}))
    for mode in ("on", "auto"):
        if f"overlap-{mode}" in args.only:
            out.append((f"project, --overlap {mode}", f"overlap-{mode}", [str(command), "train", *data, "--overlap", mode], {}))
    for family, script in (("strong", "reference_numpy_strong.py"), ("exercise", "reference_numpy.py")):
        if family in args.only:
            for t in [int(c) for c in args.thread_counts.split(",")]:
                out.append((f"{family}, {t} BLAS thread{'s' * (t > 1)}", family,
                            [sys.executable, str(bench / script), *data], {"OPENBLAS_NUM_THREADS": str(t)}))
    if "torch" in args.only:
        if Path(args.torch_python).exists():
            for t in [int(c) for c in args.thread_counts.split(",")]:
                out.append((f"PyTorch, {t} thread{'s' * (t > 1)}", "torch",
                            [args.torch_python, str(bench / "reference_torch.py"), *data, "--threads", str(t)],
                            {"OMP_NUM_THREADS": str(t), "OPENBLAS_NUM_THREADS": str(t)}))
        else:
            print(f"PyTorch skipped: {args.torch_python} does not exist (see BENCHMARKS.md)")
    return out


def whole_process(args) -> int:
    """Seconds per epoch of whole processes, wall(--epochs 2) − wall(--epochs 1), contenders taking turns."""
    contenders = whole_process_contenders(args)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    print(f"whole process; {len(contenders)} contenders, {args.rounds} rounds; "
          f"{'a busy loop on one core (pid %d)' % busy.pid if busy else 'no busy loop'}")
    print(f"load before: {load_average()}")
    times = {name: [] for name, *_ in contenders}
    finals, dropped = {}, {}
    loads = []
    fastest = [float("inf")]  # the fastest 2-epoch wall time so far
    try:
        for r in range(args.rounds):
            loads.append(os.getloadavg()[0])
            k = r % len(contenders)
            for name, _, argv, env in contenders[k:] + contenders[:k]:
                if name in dropped:
                    continue
                wall = {}
                for epochs in ((1, 2) if r % 2 == 0 else (2, 1)):
                    limit = args.give_up * fastest[0] if fastest[0] < float("inf") else None
                    t0 = time.perf_counter()
                    try:
                        done = subprocess.run([*argv, "--epochs", str(epochs)], env={**os.environ, **env},
                                              capture_output=True, text=True, timeout=limit)
                    except subprocess.TimeoutExpired:
                        dropped[name] = limit
                        print(f"  round {r + 1} {name:<26} stopped: --epochs {epochs} took over {limit:.0f} s "
                              f"({args.give_up:g} × the fastest 2-epoch run); dropped   (load {os.getloadavg()[0]:.2f})",
                              flush=True)
                        break
                    wall[epochs] = time.perf_counter() - t0
                    if done.returncode:
                        print(f"{name} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
                        return 1
                    if epochs == 2:
                        finals[name] = [ln for ln in done.stdout.splitlines() if ln.startswith("Final ")]
                        fastest[0] = min(fastest[0], wall[2])
                if name in dropped:
                    times[name].append(float("inf"))
                    continue
                times[name].append(wall[2] - wall[1])
                print(f"  round {r + 1} {name:<26} {wall[2] - wall[1]:6.2f} s per epoch   (load {os.getloadavg()[0]:.2f})",
                      flush=True)
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    print(f"load after: {load_average()}; 1-minute load at the rounds' starts {fmt(loads)}")
    print(f"\n== whole process, seconds per epoch (wall(2) − wall(1)), median of {args.rounds} (min … max)")
    med = {k: statistics.median(v) for k, v in times.items()}
    for name, *_ in contenders:
        ce = "; ".join(ln.replace("Final ", "") for ln in finals.get(name, [])[:2])
        if name in dropped:
            done = [t for t in times[name] if t < float("inf")]
            print(f"  {name:<26} dropped: a run took over {dropped[name]:.0f} s"
                  f"{'; finished rounds ' + fmt(done) if done else ''}")
            continue
        print(f"  {name:<26} {med[name]:6.2f}  ({min(times[name]):.2f} … {max(times[name]):.2f})   after 2 epochs: {ce}")
    best = {}
    for name, family, *_ in contenders:
        if name in dropped:
            continue
        if family not in best or med[name] < med[best[family]]:
            best[family] = name
    if "project" in best:
        p = times[best["project"]]
        for family in ("project2", "overlap-on", "overlap-auto", "strong", "exercise", "torch"):
            if family in best:
                o = best[family]
                ratios = [a / b for a, b in zip(p, times[o])]
                print(f"  project / best {family:<9} ({o}): {med['project'] / med[o]:.3f} of the medians; "
                      f"per round {fmt(ratios)}")
    print(f"reproduce: {command_line(args)}")
    return 0


def matmul_floor(np, dtype, config, V, n_batches):
    """The six matrix products of a minibatch at batch-100 shapes, with preallocated outputs, nothing else."""
    N, D3, H = config.batch_size, 3 * config.embed_dim, config.hidden_dim
    rng = np.random.default_rng(0)
    e, W_h = rng.standard_normal((N, D3)).astype(dtype), rng.standard_normal((D3, H)).astype(dtype)
    h, W_o = rng.standard_normal((N, H)).astype(dtype), rng.standard_normal((H, V)).astype(dtype)
    dz_o, dz_h = rng.standard_normal((N, V)).astype(dtype), rng.standard_normal((N, H)).astype(dtype)
    z_h, z_o = np.empty((N, H), dtype), np.empty((N, V), dtype)
    dW_o, dh, dW_h, de = np.empty((H, V), dtype), np.empty((N, H), dtype), np.empty((D3, H), dtype), np.empty((N, D3), dtype)
    mm = np.matmul

    def floor():
        for _ in range(n_batches):
            mm(e, W_h, out=z_h)  # z_h = e·W_h
            mm(h, W_o, out=z_o)  # z_o = h·W_o
            mm(h.T, dz_o, out=dW_o)  # dW_o = hᵀ·dz_o
            mm(dz_o, W_o.T, out=dh)  # dh = dz_o·W_oᵀ
            mm(e.T, dz_h, out=dW_h)  # dW_h = eᵀ·dz_h
            mm(dz_h, W_h.T, out=de)  # de = dz_h·W_hᵀ
        return None

    return floor


def report(dtype_name, times, last_ce, torch_ok):
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n== {dtype_name}: seconds per epoch, median of {len(next(iter(times.values())))} (min … max)")
    labels = {"project": "project fast path", "overlap": "project, overlap on", "auto": "project, overlap auto", "strong": "strong NumPy port", "exercise": "exercise (NumPy)",
              "torch": "PyTorch", "floor": "6 matmuls alone"}
    for k, v in times.items():
        ce = f"   mean CE of its last turn {last_ce[k]:.4f}" if k in last_ce else ""
        print(f"  {labels[k]:<18} {med[k]:6.3f}  ({min(v):.3f} … {max(v):.3f}){ce}")
    if not torch_ok:
        print("  PyTorch            skipped: torch is not installed (see BENCHMARKS.md)")
    if "project" in times:
        p = times["project"]
        for other in ("overlap", "auto", "strong", "exercise", "torch"):
            if other in times:
                ratios = [a / b for a, b in zip(p, times[other])]
                print(f"  project / {other:<9} {statistics.median(ratios):.3f}  (per-round ratios {fmt(ratios)})")
        if "floor" in times:
            ratios = [a / b for a, b in zip(p, times["floor"])]
            print(f"  project / floor     {statistics.median(ratios):.3f}  (the floor is {1 / statistics.median(ratios):.0%} "
                  f"of the project's time; per round {fmt(ratios)})")


def fmt(values):
    return " ".join(f"{v:.2f}" for v in values)


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" (1, 5, 15 min; {os.cpu_count()} CPUs)"
    except OSError:
        return "unknown"


def machine_line(np, torch_ok) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    blas = ""
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]["name"] + " " + cfg["Build Dependencies"]["blas"]["version"]
    except Exception:  # older NumPy: no dict form
        pass
    line = f"machine: {cpu}, {os.cpu_count()} CPUs; Python {platform.python_version()}, NumPy {np.__version__} ({blas}), " \
           f"OPENBLAS_NUM_THREADS={threads}"
    if torch_ok:
        import torch

        line += f"; torch {torch.__version__} ({torch.get_num_threads()} threads)"
    return line + f"; {time.strftime('%Y-%m-%d %H:%M')}"


if __name__ == "__main__":
    sys.exit(main())
