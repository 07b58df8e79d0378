"""The window's speed: run mode, interaction, start-up and memory, measured offscreen.

Sub-commands (each prints its figures and the command that reproduces them):

* ``run``: the window in run mode for a fixed number of minibatches, taking
  turns with an identical headless ``Trainer`` (same corpus, configuration and
  seed, so both meet the same validation passes at the same steps). Reports
  the lateness of a separate 10 ms timer (actual interval − 10 ms: p50, p99,
  worst), redraws per second (session announcements, and paint events of the
  loss plot, the matrix heatmap, the prediction chart and the network
  diagram, counted by an event filter), and window examples/s ÷ headless
  examples/s.
* ``interaction``: one keystroke in ``prompt_input`` until the prediction
  chart has repainted (the last letter of a phrase, and every keystroke of
  typing the phrase, and three unknown words, into an empty prompt); one
  ``action_step_stage`` until the matrix heatmap has repainted (every stage
  of several minibatches).
* ``startup``: a fresh process that runs the ``backprop-explorer`` command's
  ``main()`` with ``--data``; the time from just before the process is
  spawned to the end of the main window's first paint (median of several).
* ``memory``: a long run in the window (10 epochs by default), sampling the
  resident memory after each epoch; peak RSS (VmHWM) at the end, with the
  timer lateness and redraw rate per epoch (so slow-downs as the loss curve
  grows show up).

"Repainted" means the widget's Paint event has been delivered and the event
loop has come back (a zero-time single-shot timer posted from the event
filter at the Paint event fires after the whole backing-store update). The
offscreen platform paints for real: ``update()`` leads to Paint events and
rasterisation into the offscreen backing store, exactly as on screen
(nothing is forced with ``grab()``).

Run from the repository root:

    QT_QPA_PLATFORM=offscreen uv run python bench/window.py run --data ../shared/data/hinton
    QT_QPA_PLATFORM=offscreen uv run python bench/window.py interaction --data demo
    QT_QPA_PLATFORM=offscreen uv run python bench/window.py interaction --data synthetic --vocab-size 5000
    QT_QPA_PLATFORM=offscreen uv run python bench/window.py startup
    QT_QPA_PLATFORM=offscreen uv run python bench/window.py memory --epochs 10

``--data synthetic`` is a generated corpus of 8,000 different words
(bench/synthetic_corpus.py, written to a cache folder on first use); with
``--vocab-size`` a text corpus keeps its N most frequent words, as
``backprop-explorer train --vocab-size`` does.

``OPENBLAS_NUM_THREADS`` is passed through (it must be set before NumPy is
imported, so set it on the command line) and printed with the figures.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "hinton"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

PROBE_MS = 10  # the interval of the responsiveness probe
# Typed into the prompt by `interaction`: three words no corpus has, so every keystroke searches for suggestions.
JUNK = "qwzx vuyt ksszkhq"


# ---- helpers ----------------------------------------------------------------------------------


def context_line(args) -> str:
    """Date, load average, BLAS threads and the command that reproduces the figures."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    env = f"OPENBLAS_NUM_THREADS={threads} " if threads != "unset" else ""
    cmd = f"{env}QT_QPA_PLATFORM=offscreen uv run python bench/window.py {shlex.join(args.argv)}"
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return f"{now} · load average {load} · OPENBLAS_NUM_THREADS={threads} · {os.cpu_count()} cores\n  {cmd}"


def pct(values, q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; NaN for no values."""
    import numpy as np

    return float(np.percentile(values, q)) if len(values) else float("nan")


def peak_rss_mb() -> float:
    """VmHWM (peak resident set size) of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def corpus_source(data: str) -> str:
    """``synthetic`` means the generated large corpus (bench/synthetic_corpus.py), written to a cache folder."""
    if data == "synthetic":
        from synthetic_corpus import synthetic_corpus

        return str(synthetic_corpus())
    return data


def make_window(data: str, size=(1600, 1000), vocab_size: int | None = None):
    from core.corpus import DEFAULT_VOCAB_SIZE, load_source
    from explorer.app import create_window, ensure_app

    app = ensure_app()
    corpus = load_source(corpus_source(data), vocab_size or DEFAULT_VOCAB_SIZE)
    window = create_window(corpus=corpus)
    window.confirm_on_close = False
    window.resize(*size)
    window.show()
    return app, window


def settle(ms: int = 300) -> None:
    """Let the event loop run for ``ms`` milliseconds (layout, first paints)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


class PaintCounter:
    """Counts Paint events of a set of widgets (an event filter; it never swallows events)."""

    def __init__(self, widgets: dict):
        from PySide6.QtCore import QEvent, QObject

        counter = self

        class _Filter(QObject):
            def eventFilter(self, obj, event):  # noqa: N802 (Qt name)
                if event.type() == QEvent.Type.Paint:
                    name = counter._names.get(id(obj))
                    if name is not None:
                        counter.counts[name] += 1
                return False

        self._filter = _Filter()
        self._names = {id(w): k for k, w in widgets.items()}
        self.counts = {k: 0 for k in widgets}
        self._widgets = widgets
        for w in widgets.values():
            w.installEventFilter(self._filter)

    def reset(self) -> None:
        for k in self.counts:
            self.counts[k] = 0


class PaintWaiter:
    """Runs the event loop until ``widget`` has painted and the loop has come back (see module docstring)."""

    def __init__(self, widget):
        from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer

        waiter = self
        self.loop = QEventLoop()
        self.painted_at = None
        self.armed = False

        class _Filter(QObject):
            def eventFilter(self, obj, event):  # noqa: N802
                if waiter.armed and event.type() == QEvent.Type.Paint:
                    waiter.armed = False
                    QTimer.singleShot(0, waiter._done)
                return False

        self._filter = _Filter()
        widget.installEventFilter(self._filter)
        self._timeout = QTimer()
        self._timeout.setSingleShot(True)
        self._timeout.timeout.connect(self._give_up)
        self.timed_out = False

    def arm(self) -> None:
        self.armed = True
        self.painted_at = None
        self.timed_out = False

    def _done(self) -> None:
        self.painted_at = time.perf_counter()
        self.loop.quit()

    def _give_up(self) -> None:
        self.timed_out = True
        self.loop.quit()

    def wait(self, timeout_ms: int = 2000) -> float | None:
        """perf_counter() when the paint is over, or None after ``timeout_ms`` without one."""
        if self.painted_at is None:
            self._timeout.start(timeout_ms)
            self.loop.exec()
            self._timeout.stop()
        return self.painted_at


# ---- run mode ----------------------------------------------------------------------------------


def window_segment(app, window, batches: int, probe_times: list, counter: PaintCounter, announcements: list):
    """Run the window for ``batches`` minibatches; (seconds, batches run)."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    s = window.session
    start_step = s.trainer.step
    loop = QEventLoop()

    def on_history():
        if s.running:
            announcements[0] += 1
            if s.trainer.step - start_step >= batches:
                s.pause()

    def on_running(running):
        if not running:
            loop.quit()

    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(PROBE_MS)
    stamps: list[float] = []
    probe.timeout.connect(lambda: stamps.append(time.perf_counter()))
    s.history_changed.connect(on_history)
    s.running_changed.connect(on_running)
    try:
        stamps.append(time.perf_counter())
        probe.start()
        t0 = time.perf_counter()
        if hasattr(s, "stop_after"):
            s.stop_after = start_step + batches  # stop exactly there (a session that supports it)
        s.start()
        loop.exec()
        elapsed = time.perf_counter() - t0
    finally:
        probe.stop()
        s.history_changed.disconnect(on_history)
        s.running_changed.disconnect(on_running)
    probe_times.append(stamps)
    return elapsed, s.trainer.step - start_step


def cmd_run(args) -> None:
    import numpy as np

    from core.trainer import Trainer

    app, window = make_window(args.data, vocab_size=args.vocab_size)
    s = window.session
    if args.weights_hz:
        s.weights_hz = args.weights_hz
    if args.redraw_hz:
        s.redraw_hz = args.redraw_hz
    headless = Trainer(s.corpus, s.config)
    settle(500)
    views = {
        "loss plot": window.loss_view.plot_widget.viewport(),
        "matrix heatmap": window.matrix_view.heatmap.plot_widget.viewport(),
        "prediction chart": window.predictions_view.chart,
        "network diagram": window.network_view,
    }
    counter = PaintCounter(views)
    in_run = [0.0]  # seconds the window spends inside Trainer.run (the rest is redrawing and the event loop)
    run = s.trainer.run

    def timed_run(*a, **k):
        t = time.perf_counter()
        try:
            return run(*a, **k)
        finally:
            in_run[0] += time.perf_counter() - t

    s.trainer.run = timed_run
    # Warm up both (first buffers, the epoch permutation), then take turns.
    headless.run(args.warmup)
    window_segment(app, window, args.warmup, [], counter, [0])
    if headless.step != s.trainer.step:
        headless.run(s.trainer.step - headless.step)
    per_round = max(1, args.batches // args.rounds)
    rows = []
    probe_runs: list[list[float]] = []
    announcements = [0]
    counter.reset()
    in_run[0] = 0.0
    w_time = w_batches = h_time = h_batches = 0.0
    for r in range(args.rounds):
        t0 = time.perf_counter()
        ran_h = headless.run(per_round)
        th = time.perf_counter() - t0
        tw, ran_w = window_segment(app, window, per_round, probe_runs, counter, announcements)
        if headless.step < s.trainer.step:  # the window may overshoot by part of a chunk: keep them level
            headless.run(s.trainer.step - headless.step)
        rows.append((ran_h / th, ran_w / tw))
        w_time += tw
        w_batches += ran_w
        h_time += th
        h_batches += ran_h
    lateness = np.concatenate([np.diff(np.array(st)) * 1000 - PROBE_MS for st in probe_runs if len(st) > 1])
    n = s.config.batch_size
    ratios = [w / h for h, w in rows]
    print(f"Window, run mode: {s.corpus.name}, {int(w_batches):,} minibatches in the window "
          f"in {args.rounds} turns with {int(h_batches):,} headless (batch {n})")
    print(f"  {context_line(args)}")
    print(f"  10 ms timer lateness: p50 {pct(lateness, 50):.1f} ms · p99 {pct(lateness, 99):.1f} ms · "
          f"worst {lateness.max():.1f} ms ({len(lateness)} intervals; {int((lateness > 50).sum())} over 50 ms, "
          f"{int((lateness > 100).sum())} over 100 ms)")
    print(f"  redraws per second: {announcements[0] / w_time:.1f} announcements/s; paints/s: "
          + ", ".join(f"{k} {v / w_time:.1f}" for k, v in counter.counts.items()))
    print(f"  examples/s: window {w_batches * n / w_time:,.0f} · headless {h_batches * n / h_time:,.0f} · "
          f"window/headless {(w_batches / w_time) / (h_batches / h_time):.2f} "
          f"(per turn: {', '.join(f'{x:.2f}' for x in ratios)}; median {statistics.median(ratios):.2f})")
    print(f"  window time inside Trainer.run: {100 * in_run[0] / w_time:.0f}% "
          f"({in_run[0] / w_batches * 1000:.2f} ms per minibatch there, headless {h_time / h_batches * 1000:.2f} ms)")
    print(f"  the session: chunk {getattr(s, 'chunk_seconds', float('nan')) * 1000:.1f} ms, "
          f"redraw_hz {getattr(s, 'redraw_hz', float('nan')):g}, weights_hz {getattr(s, 'weights_hz', float('nan')):g}; validation every {s.trainer.valid_every} "
          f"minibatches and at epoch ends; peak RSS {peak_rss_mb():.0f} MB")
    if hasattr(s, "redraw_seconds"):
        light, heavy = s.redraw_seconds
        print(f"  a redraw costs (session's estimate, handlers and painting): {light * 1000:.1f} ms (the loss curve), "
              f"{heavy * 1000:.1f} ms (with the views of the weights and the status bar, "
              f"{getattr(s, 'weights_hz', 0):g}/s)")
    window.shutdown()
    window.close()


# ---- interaction ---------------------------------------------------------------------------------


def common_phrase(session) -> str:
    """"life in the" (or another example phrase the vocabulary has), else the training set's most common context."""
    import numpy as np

    for phrase in ("life in the", "i want to", "the dog is"):
        if all(w in session.model.index for w in phrase.split()):
            return phrase
    ctx, counts = np.unique(session.corpus.train[:, :3], axis=0, return_counts=True)
    return " ".join(session.vocab[i] for i in ctx[int(np.argmax(counts))])


def cmd_interaction(args) -> None:
    from PySide6.QtTest import QTest

    app, window = make_window(args.data, vocab_size=args.vocab_size)
    for attr in args.show or ():  # panels that start behind a tab: float them, so that every panel is on screen
        dock = window.docks[attr]
        dock.setFloating(True)
        dock.resize(700, 600)
        dock.show()
    settle(500)
    s = window.session
    pv = window.predictions_view
    prompt = pv.prompt
    prompt.setFocus()
    # ---- keystroke to repainted predictions
    chart_waiter = PaintWaiter(pv.chart)
    phrase = common_phrase(s)

    def key(ch: str) -> float:
        chart_waiter.arm()
        t0 = time.perf_counter()
        QTest.keyClick(prompt, ch)
        t1 = chart_waiter.wait()
        if t1 is None:
            raise SystemExit(f"the prediction chart did not repaint after typing {ch!r} into {prompt.text()!r}")
        return (t1 - t0) * 1000

    keys = []  # the last letter of the phrase: a cut-short word becomes a vocabulary word
    for i in range(args.repeats):
        prompt.setText(phrase[:-1])  # the last word cut short: not a vocabulary word (or another one)
        prompt.setCursorPosition(len(prompt.text()))
        settle(20)
        keys.append(key(phrase[-1]))
        assert pv.context_words() == tuple(phrase.lower().split()[-3:]), pv.status_text()
    def type_out(text: str, rounds: int) -> list[float]:
        """Every keystroke of typing ``text`` into an empty prompt (hints, unknown prefixes, completion)."""
        times = []
        for _ in range(rounds):
            prompt.clear()
            settle(20)
            for ch in text:
                times.append(key(ch))
            pv._completer.popup().hide()
        return times

    typed = type_out(phrase, max(1, args.repeats // 10))
    assert pv.context_words() == tuple(phrase.lower().split()[-3:]), pv.status_text()
    junk = type_out(JUNK, max(1, args.repeats // 10))  # words the vocabulary lacks: the suggestions are searched
    assert pv.context_words() is None, pv.status_text()
    # ---- one stage step to repainted matrix view
    heat_waiter = PaintWaiter(window.matrix_view.heatmap.plot_widget.viewport())
    table_waiter = PaintWaiter(window.matrix_view.heatmap.table.viewport())
    step = window.action_step_stage
    per_stage: dict[str, list[float]] = {}
    order: list[float] = []
    for _ in range(args.minibatches * len(s.model.stage_specs)):
        heat_waiter.arm()
        table_waiter.arm()
        t0 = time.perf_counter()
        step.trigger()
        stage = s.stage
        # word-index stages show a table instead of the heatmap
        waiter = table_waiter if window.matrix_view.heatmap.showing_table else heat_waiter
        t1 = waiter.wait()
        heat_waiter.armed = table_waiter.armed = False
        if t1 is None:
            raise SystemExit(f"the matrix view did not repaint after stage {stage.name}")
        per_stage.setdefault(stage.name, []).append((t1 - t0) * 1000)
        order.append((t1 - t0) * 1000)
        settle(5)
    steps = [x for v in per_stage.values() for x in v]
    if os.environ.get("BENCH_VERBOSE"):
        print("  every step, in order:", " ".join(f"{x:.0f}" for x in order))
    slow = sorted(((statistics.median(v), k) for k, v in per_stage.items()), reverse=True)[:3]
    print(f"Window, interaction: {s.corpus.name}")
    print(f"  {context_line(args)}")
    shown = f"; also on screen: {', '.join(args.show)}" if args.show else ""
    print(f"  Vocabulary {s.corpus.vocab_size:,} words; the phrase {phrase!r}; a {s.config.batch_size}-example "
          f"minibatch{shown}")
    print(f"  keystroke in prompt_input → prediction chart repainted: median {statistics.median(keys):.1f} ms · "
          f"p90 {pct(keys, 90):.1f} ms · worst {max(keys):.1f} ms ({len(keys)} keystrokes completing the last word)")
    print(f"  typing the phrase from an empty prompt, every keystroke: median {statistics.median(typed):.1f} ms · "
          f"p90 {pct(typed, 90):.1f} ms · worst {max(typed):.1f} ms ({len(typed)} keystrokes)")
    print(f"  typing {JUNK!r} (unknown words) from an empty prompt: median {statistics.median(junk):.1f} ms · "
          f"p90 {pct(junk, 90):.1f} ms · worst {max(junk):.1f} ms ({len(junk)} keystrokes)")
    print(f"  action_step_stage → matrix view repainted: median {statistics.median(steps):.1f} ms · "
          f"p90 {pct(steps, 90):.1f} ms · worst {max(steps):.1f} ms ({len(steps)} stages); slowest stages: "
          + ", ".join(f"{k} {m:.1f} ms" for m, k in slow))
    window.shutdown()
    window.close()


# ---- start-up ----------------------------------------------------------------------------------------

_CHILD = r"""
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer

import explorer.main_window as main_window

painted = []

def report():
    print(f"FIRST_PAINT {time.time():.6f}", flush=True)
    import os
    os._exit(0)

class Filter(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and not painted:
            painted.append(True)
            QTimer.singleShot(0, report)  # after the whole first frame
        return False

f = Filter()
show = main_window.MainWindow.show

def show_and_watch(self):  # watch the main window's own events only (a filter on the application would slow it)
    self.installEventFilter(f)
    show(self)

main_window.MainWindow.show = show_and_watch
from explorer.cli import main
sys.exit(main(sys.argv[1:]))
"""


def cmd_startup(args) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    times = []
    for _ in range(args.repeats):
        t0 = time.time()
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, "--data", corpus_source(args.data)]
            + (["--vocab-size", str(args.vocab_size)] if args.vocab_size else []),
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
        )
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("FIRST_PAINT")]
        if not lines:
            raise SystemExit(f"no first paint: {out.stderr.strip()[-500:]}")
        times.append(float(lines[0].split()[1]) - t0)
    print(f"Window, start-up: `backprop-explorer --data {args.data}` (offscreen), process spawn → first frame painted")
    print(f"  {context_line(args)}")
    print(f"  median {statistics.median(times) * 1000:.0f} ms · best {min(times) * 1000:.0f} ms · "
          f"worst {max(times) * 1000:.0f} ms ({len(times)} starts: "
          + ", ".join(f"{t * 1000:.0f}" for t in times) + " ms)")


# ---- memory ----------------------------------------------------------------------------------------


def cmd_memory(args) -> None:
    import numpy as np

    app, window = make_window(args.data, vocab_size=args.vocab_size)
    settle(500)
    s = window.session
    per_epoch = s.trainer.batches_per_epoch
    views = {"loss plot": window.loss_view.plot_widget.viewport()}
    counter = PaintCounter(views)
    start_rss = rss_mb()
    print(f"Window, memory: {s.corpus.name}, {args.epochs} epochs × {per_epoch:,} minibatches in run mode")
    print(f"  {context_line(args)}")
    print(f"  before the run: RSS {start_rss:.0f} MB, peak {peak_rss_mb():.0f} MB")
    total_time = 0.0
    for epoch in range(args.epochs):
        probe_runs: list[list[float]] = []
        ann = [0]
        counter.reset()
        tw, ran = window_segment(app, window, per_epoch - s.trainer.batch_in_epoch, probe_runs, counter, ann)
        total_time += tw
        lat = np.diff(np.array(probe_runs[0])) * 1000 - PROBE_MS
        print(f"  epoch {epoch + 1}: {ran:,} minibatches in {tw:.1f} s ({ran * s.config.batch_size / tw:,.0f} ex/s) · "
              f"RSS {rss_mb():.0f} MB, peak {peak_rss_mb():.0f} MB · lateness p99 {pct(lat, 99):.1f} ms, "
              f"worst {lat.max():.1f} ms · {ann[0] / tw:.1f} announcements/s, "
              f"loss plot {counter.counts['loss plot'] / tw:.1f} paints/s", flush=True)
    h = s.trainer.history
    print(f"  after {s.trainer.step:,} minibatches ({total_time:.0f} s): peak RSS (VmHWM) {peak_rss_mb():.0f} MB; "
          f"loss curve {len(h):,} points; last validation CE {h.valid[-1][1]:.3f}")
    window.shutdown()
    window.close()


# ---- command line ------------------------------------------------------------------------------------


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("run", "interaction", "startup", "memory"):
        q = sub.add_parser(name)
        q.add_argument("--data", default=str(DEFAULT_DATA), help="corpus: a Hinton folder, demo, a text file, or synthetic (a generated corpus of 8,000 "
                       "different words, bench/synthetic_corpus.py) (default: %(default)s)")
        if name == "run":
            q.add_argument("--batches", type=int, default=3000, help="minibatches in the window (default 3000)")
            q.add_argument("--rounds", type=int, default=3, help="turns window/headless (default 3)")
            q.add_argument("--warmup", type=int, default=100, help="minibatches before measuring (default 100)")
            q.add_argument("--weights-hz", type=float, help="the session's weights_hz (default: the app's)")
            q.add_argument("--redraw-hz", type=float, help="the session's redraw_hz (default: the app's)")
        if name in ("run", "interaction", "memory", "startup"):
            q.add_argument("--vocab-size", type=int, help="for a text corpus: the most frequent N words (default 250)")
        if name == "interaction":
            q.add_argument("--repeats", type=int, default=30, help="keystrokes (default 30)")
            q.add_argument("--minibatches", type=int, default=3, help="minibatches stepped stage by stage (default 3)")
            q.add_argument("--show", action="append", metavar="PANEL",
                           help="float this dock, so that it is on screen too (embedding_grad_view, "
                           "embedding_map_view, gradcheck_view); may be repeated")
        if name == "startup":
            q.add_argument("--repeats", type=int, default=5, help="starts (default 5)")
        if name == "memory":
            q.add_argument("--epochs", type=int, default=10, help="epochs (default 10)")
    args = p.parse_args(argv)
    args.argv = argv
    {"run": cmd_run, "interaction": cmd_interaction, "startup": cmd_startup, "memory": cmd_memory}[args.command](args)


if __name__ == "__main__":
    main()
