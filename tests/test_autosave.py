"""Never losing training: which training counts as unsaved, autosaves, their restore offer, the crash log."""

from __future__ import annotations

import datetime
import faulthandler
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core import checkpoint
from core.corpus import load_text
from core.trainer import Trainer
from explorer import dialogs
from explorer.app import create_window

REPO = Path(__file__).resolve().parents[1]


class Answers:
    """Scripted answers to the window's questions, with a record of what was asked."""

    def __init__(self, unsaved=dialogs.DISCARD, restore=False):
        self.unsaved, self.restore = unsaved, restore
        self.asked: list[str] = []
        self.restore_texts: list[str] = []

    def install(self, window):
        window.ask_unsaved = lambda parent, doing: self.asked.append(doing) or self.unsaved
        window.ask_yes_no = lambda parent, title, text: self.asked.append(text) or False
        window.ask_save_path = lambda parent: ""
        if hasattr(window, "ask_restore"):
            window.ask_restore = lambda parent, text: self.restore_texts.append(text) or self.restore
        return self


@pytest.fixture
def window(qtbot, demo_corpus):
    w = create_window(corpus=demo_corpus)
    w.answers = Answers().install(w)
    qtbot.addWidget(w)
    yield w
    w.shutdown()


# ---- what counts as unsaved training ------------------------------------------------------------


def test_the_teaching_batch_s_own_minibatches_are_not_unsaved_training(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    window.docks["embedding_grad_view"].raise_()
    grad = window.panel("embedding_grad_view")
    s = window.session
    assert grad.teaching_batch()  # batch size 2, trained on to a minibatch with a repeated word
    assert grad.teaching_batch()  # finishes that one, trains on to the next such minibatch
    assert s.trainer.step > 0
    assert not s.dirty and not window.isWindowModified()
    assert window.reset() and window.answers.asked == []  # nothing of the user's to lose: no question

    # a minibatch the user steps through is the user's training: it is asked about
    assert grad.teaching_batch()
    window.step_batch()
    assert s.dirty and window.isWindowModified()
    # and stays so when the teaching batch trains on afterwards
    assert grad.teaching_batch() and s.dirty
    assert window.reset() and len(window.answers.asked) == 1


def test_run_mode_and_run_batches_are_the_user_s_training(window):
    window.session.run_batches(3)
    assert window.session.dirty
    window.answers.unsaved = dialogs.CANCEL
    assert not window.reset()
    assert window.answers.asked == ["resetting to new weights"]


# ---- autosaving -----------------------------------------------------------------------------------


def autosave_files(folder) -> list[str]:
    return sorted(p.name for p in Path(folder).glob("autosave-*") if not p.name.endswith(".lock"))


def autosave_now(qtbot, window) -> int:
    """Autosave the session now; the step the file holds."""
    with qtbot.waitSignal(window.autosaver.saved, timeout=10_000) as blocker:
        assert window.autosaver.save_now()
    return blocker.args[1]


def test_windows_for_scripts_and_tests_neither_write_nor_offer_autosaves(window, tmp_path, demo_corpus):
    state = Path(os.environ["BACKPROP_EXPLORER_STATE"])
    left = Trainer(demo_corpus)
    left.run(2)
    left.save(state / "autosave-20240101-000000-1.npz")  # as if a crash had left it
    s = window.session
    s.run_batches(3)
    s.start()
    s.pause()
    assert window.autosaver is None
    assert not window.offer_restore() and window.answers.restore_texts == []
    assert autosave_files(state) == ["autosave-20240101-000000-1.npz"]


def test_pausing_run_mode_autosaves_an_ordinary_checkpoint(window, qtbot, tmp_path):
    saver = window.enable_autosave(tmp_path, interval=3600)
    s = window.session
    s.start()
    qtbot.waitUntil(lambda: s.trainer.step >= 3, timeout=10_000)
    with qtbot.waitSignal(saver.saved, timeout=10_000) as blocker:
        s.pause()
    path, step = Path(blocker.args[0]), blocker.args[1]
    assert path.parent == tmp_path and path.name.startswith("autosave-") and path.suffix == ".npz"
    assert step == s.trainer.step > 0
    ckpt = checkpoint.load(path, vocab=s.vocab)  # an ordinary checkpoint
    assert ckpt.step == step and ckpt.corpus_name == "built-in demo corpus"
    for name, value in s.model.params.items():
        np.testing.assert_array_equal(ckpt.state[name], value)
    np.testing.assert_array_equal(ckpt.history.train_ce, s.trainer.history.train_ce)
    assert "Autosaved" in window.statusBar().currentMessage()
    # nothing new since: pausing again, or the interval, writes nothing
    s.start()
    s.pause()
    assert not saver.save_now() and not saver.busy


def test_run_mode_autosaves_every_interval_while_it_runs(window, qtbot, tmp_path):
    saver = window.enable_autosave(tmp_path, interval=0.2)
    steps = []
    saver.saved.connect(lambda _path, step: steps.append((step, window.session.running)))
    window.session.start()
    qtbot.waitUntil(lambda: len(steps) >= 2, timeout=20_000)
    window.session.pause()
    (first, running1), (second, running2) = steps[:2]
    assert running1 and running2  # written while run mode went on
    assert 0 < first < second


def test_stepping_is_autosaved_at_the_interval_too(window, qtbot, tmp_path):
    saver = window.enable_autosave(tmp_path, interval=0.05)
    with qtbot.waitSignal(saver.saved, timeout=10_000) as blocker:
        window.step_batch()  # no run mode, no pause: the interval catches it
    assert blocker.args[1] == 1


def test_saving_or_discarding_the_training_removes_the_autosave(window, qtbot, tmp_path):
    folder = tmp_path / "state"
    saver = window.enable_autosave(folder, interval=3600)
    s = window.session
    s.run_batches(2)
    autosave_now(qtbot, window)
    assert autosave_files(folder) == sorted([saver.path.name, saver.path.with_suffix(".json").name])
    assert window.save_checkpoint_to(tmp_path / "mine.npz")  # saved in the user's file
    saver.wait()
    assert autosave_files(folder) == []

    s.run_batches(2)
    autosave_now(qtbot, window)
    assert window.reset()  # discarded (the question was answered "discard")
    saver.wait()
    assert autosave_files(folder) == []

    s.run_batches(2)
    autosave_now(qtbot, window)
    window.close()  # a clean exit, training discarded
    assert autosave_files(folder) == []
    assert list(folder.glob("*.lock")) == []


# ---- restoring -------------------------------------------------------------------------------------


def crashed_run(qtbot, corpus, folder, batches: int = 5) -> tuple[Path, dict]:
    """A window that trained, autosaved, and then stopped without closing (its lock released, as a kill does)."""
    w = create_window(corpus=corpus)
    qtbot.addWidget(w)
    w.enable_autosave(folder, interval=3600)
    w.session.run_batches(batches)
    autosave_now(qtbot, w)
    path = w.autosaver.path
    weights = {k: v.copy() for k, v in w.session.model.params.items()}
    w.autosaver.close(remove=False)  # the process ends without a clean exit
    w.confirm_on_close = False
    w.hide()
    return path, weights


def test_an_autosave_a_crash_left_is_offered_restored_and_stays_unsaved(window, qtbot, tmp_path, demo_corpus):
    old, weights = crashed_run(qtbot, demo_corpus, tmp_path, batches=7)
    window.answers.restore = True
    saver = window.enable_autosave(tmp_path, interval=3600)
    assert window.offer_restore()
    (text,) = window.answers.restore_texts
    made = datetime.datetime.fromtimestamp(old.stat().st_mtime if old.exists() else time.time())
    assert f"{made:%H:%M}" in text and "7 minibatches" in text and "built-in demo corpus" in text
    assert "Discard deletes the autosave" in text
    s = window.session
    assert s.trainer.step == 7
    for name, value in weights.items():
        np.testing.assert_array_equal(s.model.params[name], value)
    assert s.dirty and window.isWindowModified() and window.checkpoint_path is None
    assert "Restored" in window.statusBar().currentMessage()
    saver.wait()  # the old run's file became this run's
    assert not old.exists() and saver.path.exists()
    assert checkpoint.load(saver.path).step == 7
    # still the user's unsaved training: closing asks
    window.answers.unsaved = dialogs.CANCEL
    window.close()
    assert window.answers.asked == ["closing"] and saver.path.exists()


def test_declining_deletes_the_autosave_and_closing_the_question_keeps_it(window, qtbot, tmp_path, demo_corpus):
    old, _ = crashed_run(qtbot, demo_corpus, tmp_path)
    window.enable_autosave(tmp_path, interval=3600)
    window.ask_restore = lambda parent, text: None  # closed without an answer
    assert not window.offer_restore()
    assert old.exists() and window.session.trainer.step == 0
    window.ask_restore = lambda parent, text: False  # Discard
    assert not window.offer_restore()
    assert autosave_files(tmp_path) == [] and window.session.trainer.step == 0


def test_the_autosave_of_a_window_still_running_is_not_offered(window, qtbot, tmp_path, demo_corpus):
    other = create_window(corpus=demo_corpus)
    qtbot.addWidget(other)
    other.enable_autosave(tmp_path, interval=3600)
    other.session.run_batches(2)
    autosave_now(qtbot, other)
    window.answers.restore = True
    window.enable_autosave(tmp_path, interval=3600)
    assert not window.offer_restore() and window.answers.restore_texts == []
    assert other.autosaver.path.exists()
    other.confirm_on_close = False
    other.close()


DEAD_RUN = """
import os, sys
from PySide6.QtCore import QLockFile
from core.corpus import load_demo
from core.trainer import Trainer
folder, name, autosaved = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
if autosaved:
    t = Trainer(load_demo())
    t.run(3)
    t.save(os.path.join(folder, name + ".npz"))
lock = QLockFile(os.path.join(folder, name + ".lock"))
lock.setStaleLockTime(0)
assert lock.tryLock(0)
os._exit(0)  # a crash: the lock file stays behind, its process gone
"""


def dead_run(tmp_path, folder, name: str, autosaved: bool) -> None:
    script = tmp_path / "dead_run.py"
    script.write_text(DEAD_RUN)
    subprocess.run([sys.executable, str(script), str(folder), name, "1" if autosaved else "0"], check=True,
                   timeout=60, cwd=REPO, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert (folder / f"{name}.lock").exists()


def test_after_crashes_and_a_restore_only_the_living_runs_locks_are_left(window, qtbot, tmp_path, demo_corpus):
    folder = tmp_path / "state"
    folder.mkdir()
    dead_run(tmp_path, folder, "autosave-20240101-000000-1-aaaaaa", autosaved=True)
    dead_run(tmp_path, folder, "autosave-20240101-000001-2-bbbbbb", autosaved=False)  # crashed before a save
    other = create_window(corpus=demo_corpus)  # a window running now: its lock stays
    qtbot.addWidget(other)
    other.enable_autosave(folder, interval=3600)
    window.answers.restore = True
    saver = window.enable_autosave(folder, interval=3600)
    assert window.offer_restore() and window.session.trainer.step == 3
    saver.wait()
    locks = sorted(p.name for p in folder.glob("*.lock"))
    assert locks == sorted([saver.path.with_suffix(".lock").name, other.autosaver.path.with_suffix(".lock").name])
    assert sorted(p.name for p in folder.glob("*.npz")) == [saver.path.name]
    other.confirm_on_close = False
    other.close()


def test_an_autosave_made_on_another_corpus_loads_that_corpus(window, qtbot, tmp_path):
    text = tmp_path / "tiny.txt"
    text.write_text("the cat sat on the mat and the dog sat on the log\n" * 40)
    tiny = load_text(text)
    old, weights = crashed_run(qtbot, tiny, tmp_path / "state", batches=4)
    window.answers.restore = True
    saver = window.enable_autosave(tmp_path / "state", interval=3600)
    with qtbot.waitSignal(saver.restored, timeout=10_000):
        assert window.offer_restore()
    assert "text file tiny.txt" in window.answers.restore_texts[0]
    s = window.session
    assert s.corpus.name == "text file tiny.txt" and s.vocab == tiny.vocab and s.trainer.step == 4
    np.testing.assert_array_equal(s.model.params["W_emb"], weights["W_emb"])
    assert "tiny.txt" in window.status_corpus.text()


def test_an_autosave_whose_corpus_is_gone_is_kept_and_the_message_says_why(window, qtbot, tmp_path):
    text = tmp_path / "tiny.txt"
    text.write_text("the cat sat on the mat and the dog sat on the log\n" * 40)
    old, _ = crashed_run(qtbot, load_text(text), tmp_path / "state", batches=3)
    text.unlink()
    window.answers.restore = True
    saver = window.enable_autosave(tmp_path / "state", interval=3600)
    with qtbot.waitSignal(saver.restore_failed, timeout=10_000) as blocker:
        assert window.offer_restore()
    message = blocker.args[0]
    assert "text file tiny.txt" in message and "not available now" in message and "kept" in message
    assert "\n" not in message and "Traceback" not in message
    assert message in window.last_message_box.text()
    assert old.exists() and window.session.trainer.step == 0 and window.session.corpus.kind == "demo"


def test_an_unreadable_autosave_is_set_aside_with_a_message(window, qtbot, tmp_path):
    bad = tmp_path / "autosave-20240101-000000-1.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip file")
    window.answers.restore = True
    saver = window.enable_autosave(tmp_path, interval=3600)
    with qtbot.waitSignal(saver.restore_failed, timeout=5000) as blocker:
        assert not window.offer_restore()
    assert "could not be read" in blocker.args[0] and "unreadable" in blocker.args[0]
    assert window.answers.restore_texts == []
    assert not bad.exists() and (tmp_path / (bad.name + ".unreadable")).exists()
    assert not window.offer_restore()  # not offered again


# ---- a real kill -----------------------------------------------------------------------------------

TRAINING_WINDOW = """
import sys
from explorer.app import create_window, ensure_app

app = ensure_app()
window = create_window(data="demo")
saver = window.enable_autosave(interval=float(sys.argv[1]))
saver.saved.connect(lambda path, step: print("AUTOSAVED", step, path, flush=True))
window.show()
window.session.start()
print("RUNNING", flush=True)
app.exec()
"""


def _lines(stream, out: queue.Queue) -> None:
    for line in stream:
        out.put(line.rstrip("\n"))
    out.put(None)


@pytest.mark.slow
def test_a_training_window_killed_with_sigkill_leaves_an_autosave_predict_can_use(tmp_path, qtbot, demo_corpus):
    state = tmp_path / "state"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", BACKPROP_EXPLORER_STATE=str(state))
    script = tmp_path / "training_window.py"
    script.write_text(TRAINING_WINDOW)
    child = subprocess.Popen(
        [sys.executable, str(script), "0.4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env, cwd=REPO,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(child.stdout, lines), daemon=True).start()
    saves = []
    try:
        while len(saves) < 2:  # two autosaves while run mode goes on
            line = lines.get(timeout=60)
            assert line is not None, child.stderr.read()
            if line.startswith("AUTOSAVED"):
                saves.append(line.split(" ", 2)[1:])
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    while (line := lines.get(timeout=30)) is not None:  # whatever it printed before it died
        if line.startswith("AUTOSAVED"):
            saves.append(line.split(" ", 2)[1:])
    step, path = int(saves[-1][0]), Path(saves[-1][1])
    assert step > int(saves[0][0]) > 0
    assert [p.name for p in state.glob("autosave-*.npz")] == [path.name]

    # the real command line uses it as any checkpoint
    ckpt = checkpoint.load(path)
    assert ckpt.step == step and ckpt.corpus_name == "built-in demo corpus"
    words = ["the", "day", "was"]
    done = subprocess.run(
        [sys.executable, "-m", "explorer.cli", "predict", "--model", str(path), *words],
        capture_output=True, text=True, timeout=60, env=env, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.strip()]
    assert len(rows) == 10 and all(row[0] in ckpt.vocab for row in rows)

    # and the next window offers it (the dead process's lock does not hold it back)
    w = create_window(corpus=demo_corpus)
    qtbot.addWidget(w)
    w.ask_restore = lambda parent, text: f"{step:,} minibatches" in text
    w.enable_autosave(state, interval=3600)
    assert w.offer_restore() and w.session.trainer.step == step
    w.confirm_on_close = False
    w.close()
    assert list(state.glob("autosave-*.npz")) == []


# ---- the interactive app: autosave on, the offer at start, the crash log --------------------------

APP = """
import sys
from argparse import Namespace
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from explorer import main_window
from explorer.app import run_app
from explorer.errors import crash_log_path

app = QApplication([])  # run_app uses the application that exists
asked = []
main_window._ask_restore = lambda parent, text: asked.append(text) or True

def look():
    (w,) = [w for w in QApplication.topLevelWidgets() if isinstance(w, main_window.MainWindow) and w.isVisible()]
    print("ASKED", len(asked), "STEP", w.session.trainer.step, "DIRTY", w.session.dirty, flush=True)
    print("AUTOSAVER", w.autosaver is not None, "INTERVAL", w.autosaver.interval if w.autosaver else None)
    print("CRASHLOG", crash_log_path().read_text().startswith("===="), flush=True)
    if sys.argv[1] == "crash":
        import faulthandler
        faulthandler._sigsegv()
    w.confirm_on_close = False
    w.close()

QTimer.singleShot(800, look)
sys.exit(run_app(Namespace(data="demo", model=None, screenshot=None, steps=0, run_batches=0)))
"""


def run_the_app(tmp_path, how: str) -> subprocess.CompletedProcess:
    script = tmp_path / "app.py"
    script.write_text(APP)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, str(script), how], capture_output=True, text=True, timeout=60, env=env,
                          cwd=REPO)


@pytest.mark.slow
def test_the_app_autosaves_offers_a_crash_s_autosave_at_start_and_leaves_no_trace_when_it_closes(tmp_path, demo_corpus):
    state, logs = Path(os.environ["BACKPROP_EXPLORER_STATE"]), Path(os.environ["BACKPROP_EXPLORER_LOGS"])
    left = Trainer(demo_corpus)
    left.run(6)
    left.save(state / "autosave-20240101-000000-1-abcdef.npz")  # as a killed run leaves it
    done = run_the_app(tmp_path, "close")
    assert done.returncode == 0, done.stderr
    assert "ASKED 1 STEP 6 DIRTY True" in done.stdout
    assert "AUTOSAVER True INTERVAL 60.0" in done.stdout and "CRASHLOG True" in done.stdout
    assert list(state.glob("autosave-*")) == []  # restored, then a clean exit
    assert not (logs / "crash.log").exists()  # nothing crashed


@pytest.mark.slow
def test_a_hard_crash_of_the_app_leaves_a_trace_in_the_crash_log(tmp_path):
    logs = Path(os.environ["BACKPROP_EXPLORER_LOGS"])
    done = run_the_app(tmp_path, "crash")
    assert done.returncode == -signal.SIGSEGV
    trace = (logs / "crash.log").read_text()
    assert trace.startswith("====") and "stopped by a crash" in trace
    assert "Segmentation fault" in trace and "in look" in trace  # the Python stack of the crash


def test_the_crash_log_keeps_earlier_crashes_and_drops_runs_that_ended_well(tmp_path, monkeypatch):
    from explorer import errors

    monkeypatch.setenv("BACKPROP_EXPLORER_LOGS", str(tmp_path))
    (tmp_path / "crash.log").write_text("==== an earlier crash\nFatal Python error: Segmentation fault\n")
    before = (tmp_path / "crash.log").read_text()
    was_enabled = faulthandler.is_enabled()
    try:
        assert errors.enable_crash_log() == tmp_path / "crash.log"
        assert faulthandler.is_enabled()
        assert (tmp_path / "crash.log").read_text().startswith(before + "==== ")
    finally:
        errors.disable_crash_log()
    assert (tmp_path / "crash.log").read_text() == before
    assert faulthandler.is_enabled() == was_enabled


def test_a_restore_asks_before_it_replaces_training_of_this_run(window, qtbot, tmp_path, demo_corpus):
    old, _ = crashed_run(qtbot, demo_corpus, tmp_path, batches=4)
    window.session.run_batches(2)  # this run's own unsaved training
    window.answers.restore = True
    window.answers.unsaved = dialogs.CANCEL
    window.enable_autosave(tmp_path, interval=3600)
    assert not window.offer_restore()
    assert window.answers.asked == ["restoring the autosave"]
    assert window.session.trainer.step == 2 and old.exists()
