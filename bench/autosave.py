"""What autosaving costs: a checkpoint written on the GUI thread, and the window in run mode while it autosaves.

Two parts, both printed with the date, the load average and the command:

* ``save``: a checkpoint of the default network (``Trainer.save``, as File ▸
  Save does) with a loss history of ten Hinton epochs (37,250 minibatches),
  against what the GUI thread does for an autosave instead (copy the weights
  and the history: ``Autosaver.save_now`` without the write). Median, fastest
  and slowest of ``--repeats``.
* ``window``: the window (all panels, offscreen) in run mode for turns of
  ``--seconds``, taking turns without and with an ``Autosaver`` that writes
  every ``--interval`` seconds (60 in the app; far more often here, so that
  each turn holds several writes). Reported per kind of turn: the lateness of
  a separate 10 ms timer (each interval − 10 ms: p50, p99, worst), the
  minibatches trained per second, and the autosaves written.

Run from the repository root:

    OPENBLAS_NUM_THREADS=1 QT_QPA_PLATFORM=offscreen uv run python bench/autosave.py save
    OPENBLAS_NUM_THREADS=1 QT_QPA_PLATFORM=offscreen uv run python bench/autosave.py window --data demo
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEN_EPOCHS = 37_250  # minibatches of batch size 100 in ten epochs of the Hinton corpus


def _header(args) -> None:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "(unset)")
    print(f"# {datetime.datetime.now():%Y-%m-%d %H:%M}, load {load:.2f}, OPENBLAS_NUM_THREADS={threads}")
    print("# " + " ".join(shlex.quote(a) for a in ["python", "bench/autosave.py", *sys.argv[1:]]))


def _corpus(data: str):
    from core.corpus import load_source

    return load_source(data)


def cmd_save(args) -> None:
    from core.history import History
    from core.trainer import Trainer

    trainer = Trainer(_corpus(args.data))
    trainer.run(50)
    while len(trainer.history) < TEN_EPOCHS:
        trainer.history.add_train(3.0)
    folder = Path(tempfile.mkdtemp())
    writes, copies = [], []
    for _ in range(args.repeats):
        a = time.perf_counter()
        trainer.model.state()
        History.from_arrays(trainer.history.to_arrays())
        b = time.perf_counter()
        trainer.save(folder / "x.npz")
        c = time.perf_counter()
        copies.append(b - a)
        writes.append(c - b)
    size = (folder / "x.npz").stat().st_size
    params = sum(v.size for v in trainer.model.params.values())
    _header(args)
    print(f"corpus {trainer.corpus.name}; {params:,} parameters (+ as many velocities); history {len(trainer.history):,}")
    for name, t in (("Trainer.save (write, GUI thread)", writes), ("snapshot copy (GUI thread)", copies)):
        ms = [1000 * x for x in t]
        print(f"{name:34s} median {statistics.median(ms):7.2f} ms   min {min(ms):7.2f}   max {max(ms):7.2f}")
    print(f"file {size / 1024:.0f} KB")


def cmd_window(args) -> None:
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    from explorer.app import create_window, ensure_app
    from explorer.autosave import Autosaver

    app = ensure_app()
    window = create_window(corpus=_corpus(args.data))
    window.confirm_on_close = False
    window.resize(1600, 1000)
    window.show()
    session = window.session
    folder = Path(tempfile.mkdtemp())
    results = {False: [], True: []}  # with autosave: [(lateness list, minibatches/s, writes)]

    def turn(with_autosave: bool) -> None:
        saver = Autosaver(session, folder, args.interval) if with_autosave else None
        writes = []
        if saver is not None:
            saver.saved.connect(lambda _p, step: writes.append(step))
        late, last = [], [time.perf_counter()]

        def probe():
            now = time.perf_counter()
            late.append(max(0.0, now - last[0] - 0.010))
            last[0] = now

        timer = QTimer()
        timer.setTimerType(Qt.PreciseTimer)
        timer.setInterval(10)
        timer.timeout.connect(probe)
        loop = QEventLoop()
        start_step = session.trainer.step
        t0 = time.perf_counter()
        timer.start()
        session.start()
        QTimer.singleShot(int(args.seconds * 1000), loop.quit)
        loop.exec()
        session.pause()
        timer.stop()
        elapsed = time.perf_counter() - t0
        if saver is not None:
            saver.close(remove=True)
        results[with_autosave].append((late[5:], (session.trainer.step - start_step) / elapsed, len(writes)))

    for i in range(args.rounds):
        for kind in ((False, True) if i % 2 == 0 else (True, False)):
            turn(kind)
    window.close()
    _header(args)
    print(f"corpus {session.corpus.name}; {args.rounds} turns of {args.seconds:g} s each way; "
          f"autosave every {args.interval:g} s")
    for kind in (False, True):
        late = sorted(1000 * x for r in results[kind] for x in r[0])
        p = lambda q: late[min(len(late) - 1, int(q * len(late)))]  # noqa: E731
        speed = statistics.median(r[1] for r in results[kind])
        writes = sum(r[2] for r in results[kind])
        print(f"{'with autosave' if kind else 'without':14s} lateness p50 {p(0.5):6.1f}  p99 {p(0.99):6.1f}  "
              f"worst {late[-1]:6.1f} ms   {speed:7.0f} minibatches/s   {writes} autosaves")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("save")
    s.add_argument("--data", default="demo")
    s.add_argument("--repeats", type=int, default=9)
    w = sub.add_parser("window")
    w.add_argument("--data", default="demo")
    w.add_argument("--seconds", type=float, default=4.0)
    w.add_argument("--rounds", type=int, default=4)
    w.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args()
    {"save": cmd_save, "window": cmd_window}[args.command](args)


if __name__ == "__main__":
    main()
