"""Random sequences of user actions on the real window, for a bounded time: a crash, a hang or a bug fails it.

Run by tests/test_gui_fuzz.py in a child process (a segmentation fault or a
hang then fails one test instead of ending the whole run), and by hand to
hunt for crashes or to replay one:

    uv run python tests/gui_fuzz.py --seed 7 --seconds 12
    uv run python tests/gui_fuzz.py --replay run.log       # the ACTION lines of an earlier run, in order
    uv run python tests/gui_fuzz.py --seed 7 --include-known   # also the sequences of KNOWN_UNFIXED

It prints ``SEED n``, then one ``ACTION {json}`` line per action *before*
doing it (so the last line before a crash names the culprit), and ends with
``RESULT {json}`` (with the dialogs answered and the networks built). The
exit status is 0 when nothing went wrong; 1 when the application's error
handler reported an exception (raised in a slot, in a worker thread, or
inside a Qt override, where the guard caught it), an action raised, or Qt
printed a warning of a kind listed in ``BAD_QT_MESSAGES``; 2 for a mistake
in the arguments; 3 for a mistake of this script (``SCRIPT ERROR`` and its
traceback). A crash kills the process (a negative status for the
parent); ``faulthandler`` prints the Python stacks to stderr first, and again
if the run hangs past its time.

Every random choice is made when an action is drawn and written into its
ACTION line, including how the window's questions will be answered
(``ask_unsaved``, ``ask_yes_no``, ``ask_save_path``, ``ask_vocab_size``,
``ask_restore`` and the file dialogs), so a replay does the same thing; the
answer ``"dialog"`` opens the window's real dialog instead.
Message boxes and dialogs that open anyway are answered by a timer that
clicks one of their buttons (chosen by a generator seeded from the seed) and
are listed in the result. Run mode is replayed as the same number of
minibatches, not the same milliseconds.

The actions are the ``ACTIONS`` table: a name, a weight, a function that
draws the arguments and a function that performs them. Add one there.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Qt warnings that mean a bug (anything at critical or fatal level does too). The offscreen
# platform's "This plugin does not support ..." and similar notes are not among them.
BAD_QT_MESSAGES = (
    "QPainter::",  # painting on a device that is not ready, unbalanced save/restore
    "QObject::",  # connections to missing signals, timers or children across threads
    "QThread: Destroyed while thread",
    "Recursive repaint",
    "Timers cannot",
    "QBasicTimer",
    "QWidget::setMinimumSize",
    "QLayout: Attempting to add",
    "Cannot create children for a parent",
    "qt.core.qobject.connect",
)
SIZES = ((1280, 720), (1366, 768), (1920, 1080), (1024, 700), (800, 600), (520, 400))
PROMPT_TEXTS = ("the", "he", "day", "life in the", "i want to", "naïve", "日本語 の", "😀 🙂", "qwzx vuyt", "x" * 120,
                "day, night.", "  ", "\u200b", "DROP TABLE;", "he he he he", "ÆØÅ")


# ---- running the event loop ------------------------------------------------------------------------------


def spin(ms: int) -> None:
    """Let the event loop run for ``ms`` milliseconds (painting, timers, queued signals)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(max(0, int(ms)), loop.quit)
    loop.exec()


def wait_until(condition, timeout_ms: int, step_ms: int = 10) -> bool:
    """Run the event loop until ``condition()`` holds (True) or ``timeout_ms`` passed (False)."""
    end = time.monotonic() + timeout_ms / 1000
    while not condition():
        if time.monotonic() >= end:
            return False
        spin(step_ms)
    return True


# ---- the run -----------------------------------------------------------------------------------------------


class Run:
    """One window, its scripted answers, and what went wrong."""

    def __init__(self, seed: int, folder: Path):
        self.seed = seed
        self.folder = folder
        self.problems: list[str] = []  # exceptions and bad Qt messages: any one fails the run
        self.dialogs: list[str] = []  # dialogs the closer answered
        self.qt_messages: dict[str, int] = {}
        self.answers: dict = {}  # the answers of the action being done
        self.saved: list[str] = []  # checkpoints written
        self.dialog_rng = random.Random(seed * 7919 + 1)
        self.window = None
        self.count = 0

    # ---- set-up ----------------------------------------------------------------------------------------
    def start(self) -> None:
        from PySide6.QtCore import QTimer, qInstallMessageHandler
        from PySide6.QtWidgets import QFileDialog

        from explorer.app import create_window, ensure_app
        from explorer.errors import install_error_handler

        app = ensure_app()
        qInstallMessageHandler(self._on_qt_message)
        # Everything the application's handler would tell the user is a problem: an exception in a slot
        # (sys.excepthook), in a worker thread (threading.excepthook) or caught by the guard of a Qt override.
        self.handler = install_error_handler(show=self._on_error_shown)
        # File dialogs answer from the action's arguments instead of waiting for a person.
        QFileDialog.getOpenFileName = staticmethod(lambda *a, **k: (self._answer("open_path", ""), ""))
        QFileDialog.getSaveFileName = staticmethod(lambda *a, **k: (self._answer("save_path", ""), ""))
        QFileDialog.getExistingDirectory = staticmethod(lambda *a, **k: self._answer("folder", ""))
        w = create_window(data="demo")
        self.window = w
        w.confirm_on_close = False
        w.ask_unsaved = self._ask("unsaved", w.ask_unsaved, "discard")
        w.ask_yes_no = self._ask("yes_no", w.ask_yes_no, False)
        w.ask_save_path = lambda parent: self._answer("save_path", "")
        w.ask_restore = self._ask("restore", w.ask_restore, False)
        real_vocab = w.ask_vocab_size
        w.ask_vocab_size = lambda parent, path, offered: (
            real_vocab(parent, path, offered) if self._answer("vocab_size", offered) == "dialog"
            else self._answer("vocab_size", offered))
        if hasattr(w, "enable_autosave"):
            w.enable_autosave(self.folder / "autosave", interval=1.0)
        self.networks: list[str] = []  # the shapes of the networks built, in order of first appearance
        w.session.network_changed.connect(self._on_network_changed)
        self._on_network_changed()
        w.resize(1366, 768)
        w.show()
        self.window = w
        self.closer = QTimer()
        self.closer.setInterval(40)
        self.closer.timeout.connect(self._close_dialogs)
        self.closer.start()
        self.app = app
        spin(400)

    def _on_network_changed(self) -> None:
        c = self.window.session.config if self.window is not None else None
        if c is None:
            return
        v = self.window.session.model.vocab_size
        shape = f"V={v} d={c.embed_dim} {c.describe_hidden()} N={c.batch_size} std={c.init_std:g}"
        if shape not in self.networks:
            self.networks.append(shape)

    def _answer(self, key: str, default):
        return self.answers.get(key, default)

    def _ask(self, key: str, real, default):
        """A question of the window: the action's scripted answer, or ``"dialog"``: the real dialog (the
        closer answers it)."""
        def ask(*args):
            answer = self.answers.get(key, default)
            return real(*args) if answer == "dialog" else answer

        return ask

    def _on_error_shown(self, summary: str, path) -> None:
        """The error handler's report (queued to the GUI thread): the summary and the traceback it logged."""
        detail = ""
        try:
            text = Path(path).read_text(encoding="utf-8") if path else ""
            detail = text.rsplit("\n==== ", 1)[-1].strip()  # the last entry: the one just written
        except OSError:
            pass
        self.problems.append(f"the error handler reported: {summary}\n{detail}".strip())

    def _on_qt_message(self, mode, context, message: str) -> None:
        from PySide6.QtCore import QtMsgType

        kind = {QtMsgType.QtCriticalMsg: "critical", QtMsgType.QtFatalMsg: "fatal"}.get(mode, "")
        first = message.splitlines()[0][:160] if message else ""
        self.qt_messages[first] = self.qt_messages.get(first, 0) + 1
        if kind or any(bad in message for bad in BAD_QT_MESSAGES):
            self.problems.append(f"Qt {kind or 'warning'}: {message}")
            # also on stderr at once: after a fatal message Qt aborts, and the result is never printed
            print(f"Qt {kind or 'warning'}: {message}", file=sys.stderr, flush=True)

    def _close_dialogs(self) -> None:
        """Answer every message box or dialog that is up, with a button drawn from the dialog generator."""
        from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

        for w in QApplication.topLevelWidgets():
            if not (isinstance(w, (QMessageBox, QDialog)) and w.isVisible()):
                continue
            if isinstance(w, QMessageBox):
                buttons = [b for b in w.buttons() if b.isVisible() and b.isEnabled()]
                if buttons:
                    b = buttons[self.dialog_rng.randrange(len(buttons))]
                    said = " ".join(w.text().split())[:120]
                    self.dialogs.append(f"{type(w).__name__} {w.windowTitle()!r} ({said}): {b.text()!r}")
                    b.click()
                    continue
            self.dialogs.append(f"{type(w).__name__} {w.windowTitle()!r}: closed")
            if isinstance(w, QDialog):
                w.reject()
            else:
                w.close()

    def finish(self) -> None:
        spin(50)  # reports still queued for the error handler arrive
        self.closer.stop()
        w = self.window
        if w is not None:
            s = w.session
            s.pause()
            w.shutdown()
            w.close()
        self.handler.uninstall()
        spin(50)

    # ---- one action ------------------------------------------------------------------------------------------
    def do(self, name: str, args: dict) -> None:
        self.count += 1
        print("ACTION " + json.dumps({"n": self.count, "action": name, "args": args}, ensure_ascii=False), flush=True)
        self.answers = args.get("answers", {})
        before = len(self.problems)
        try:
            ACTIONS[name][2](self, args)
        except Exception:
            self.problems.append(f"action {name} raised: {traceback.format_exc().strip()}")
        spin(args.get("settle_ms", 15))
        if len(self.problems) > before:
            print("PROBLEM after action", self.count, flush=True)


# ---- the actions -------------------------------------------------------------------------------------------
# Each: (weight, draw(run, rng) -> args, perform(run, args)).


def _answers(run: Run, rng: random.Random) -> dict:
    """How every question the action may ask is answered."""
    ckpt = str(run.folder / f"ckpt{rng.randrange(3)}.npz")
    return {
        "unsaved": rng.choice(["discard", "discard", "save", "cancel", "dialog"]),
        "yes_no": rng.random() < 0.5 if rng.random() < 0.8 else "dialog",
        "save_path": rng.choice([ckpt, ckpt, "", str(run.folder / "missing-folder" / "x.npz")]),
        "vocab_size": rng.choice([None, 2, 5, 40, 250, 5000, "dialog"]),
        "restore": False,
    }


def _vocab(run: Run) -> list[str]:
    return list(run.window.session.vocab)


def draw_step_stage(run, rng):
    return {"times": rng.choice([1, 1, 2, 3, 5, 14, 20])}


def do_step_stage(run, args):
    for _ in range(args["times"]):
        run.window.action_step_stage.trigger()
        spin(2)


def draw_step_batch(run, rng):
    return {"times": rng.choice([1, 1, 2, 3]), "answers": _answers(run, rng)}


def do_step_batch(run, args):
    for _ in range(args["times"]):
        run.window.action_step_batch.trigger()
        spin(2)


def draw_run(run, rng):
    return {"batches": rng.choice([1, 3, 10, 30, 100]), "key": rng.random() < 0.3}


def do_run(run, args):
    """Run mode until the given number of minibatches more, then pause (with Space when ``key``)."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    w = run.window
    s = w.session
    target = s.trainer.step + args["batches"]
    if args["key"]:
        QTest.keyClick(w, Qt.Key.Key_F5)
    else:
        w.action_run.trigger()
    if s.running:
        s.stop_after = target
        wait_until(lambda: not s.running or s.trainer.step >= target, 4000)
    if s.running:
        w.action_run.trigger()


def draw_reset(run, rng):
    return {"answers": _answers(run, rng), "key": rng.random() < 0.3}


def do_reset(run, args):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    if args["key"]:
        QTest.keyClick(run.window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    else:
        run.window.action_reset.trigger()


def draw_type(run, rng):
    vocab = _vocab(run)
    words = [rng.choice(vocab) if rng.random() < 0.6 else rng.choice(PROMPT_TEXTS) for _ in range(rng.randint(0, 5))]
    text = " ".join(words)
    if rng.random() < 0.2:
        text = text[: rng.randint(0, len(text))]  # cut inside a word
    return {"text": text, "mode": rng.choice(["keys", "keys", "set", "append", "backspace", "complete", "click"])}


def do_type(run, args):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    pv = run.window.predictions_view
    prompt = pv.prompt
    mode, text = args["mode"], args["text"]
    if mode == "set" or not text.isascii():
        prompt.setText(text)
    elif mode == "keys":
        prompt.clear()
        QTest.keyClicks(prompt, text)
    elif mode == "append":
        prompt.setFocus()
        prompt.end(False)
        QTest.keyClicks(prompt, " " + text)
    elif mode == "backspace":
        prompt.end(False)
        for _ in range(min(len(prompt.text()), len(text) + 1)):
            QTest.keyClick(prompt, Qt.Key.Key_Backspace)
    elif mode == "complete":
        prompt.clear()
        QTest.keyClicks(prompt, text[:3])
        QTest.keyClick(prompt, Qt.Key.Key_Down)
        QTest.keyClick(prompt, Qt.Key.Key_Return)
    elif mode == "click":
        rows = pv.chart.rows()
        if rows:
            rect = pv.chart.row_rect(len(text) % len(rows))
            QTest.mouseClick(pv.chart, Qt.MouseButton.LeftButton, pos=rect.center())
    pv.shown_predictions()


# Values typed into the hyperparameter fields: valid ones that keep the network small, and ones to refuse.
FIELD_VALUES = {
    "learning_rate": ["0.1", "0.5", "1", "100", "0", "-1", "abc", "1e309", "", "nan"],
    "momentum": ["0.9", "0", "0.5", "1", "-0.1", "x", ""],
    "batch_size": ["1", "2", "5", "100", "0", "-3", "1.5", "", "999999999"],
    "embed_dim": ["1", "2", "5", "10", "0", "abc", "100000"],
    "hidden_width": ["1", "3", "8", "24", "0", "-1", "99999999", "a", "", "4, 4"],
    "init_std": ["0.01", "0.1", "1", "100", "0", "-1", "1e400", "inf", "1e-300"],
    "seed": ["1", "2", "0", "-1", "4294967296", "abc"],
}
GENERIC_VALUES = ["1", "2", "0", "-1", "abc", "", "0.5"]


def draw_hyper(run, rng):
    hv = run.window.hyperparams_view
    if rng.random() < 0.15:  # a hidden layer added or removed (a fifth cannot be added: the button is disabled)
        return {"field": rng.choice(["add_layer", "remove_layer"]), "value": rng.randrange(5),
                "then": rng.choice(["apply", "nothing"]), "answers": _answers(run, rng)}
    name = rng.choice(sorted(hv.inputs))
    editor = hv.inputs[name]
    if hasattr(editor, "count") and hasattr(editor, "setCurrentIndex"):  # a combo box
        value = rng.randrange(max(1, editor.count()))
    else:  # hidden_width_2 draws from "hidden_width"
        value = rng.choice(FIELD_VALUES.get(name.rstrip("0123456789").rstrip("_"), GENERIC_VALUES))
    return {"field": name, "value": value, "then": rng.choice(["enter", "apply", "leave", "nothing"]),
            "answers": _answers(run, rng)}


def do_hyper(run, args):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QComboBox, QLineEdit

    hv = run.window.hyperparams_view
    run.window.docks["hyperparams_view"].raise_()
    if args["field"] == "add_layer":
        QTest.mouseClick(hv.add_layer_button, Qt.MouseButton.LeftButton)
    elif args["field"] == "remove_layer" and hv.remove_buttons:
        QTest.mouseClick(hv.remove_buttons[args["value"] % len(hv.remove_buttons)], Qt.MouseButton.LeftButton)
    editor = hv.inputs.get(args["field"])
    if editor is None:
        if args["then"] == "apply":
            hv.apply_button.click()
        return
    if isinstance(editor, QComboBox) and isinstance(args["value"], str):
        editor.setFocus()
        editor.lineEdit().selectAll()
        QTest.keyClick(editor.lineEdit(), Qt.Key.Key_Delete)
        QTest.keyClicks(editor.lineEdit(), args["value"])
    elif isinstance(editor, QComboBox):
        editor.setCurrentIndex(min(int(args["value"]), editor.count() - 1))
    elif isinstance(editor, QLineEdit):
        editor.setFocus()
        editor.selectAll()
        QTest.keyClick(editor, Qt.Key.Key_Delete)
        QTest.keyClicks(editor, str(args["value"]))
    then = args["then"]
    if then == "enter" and isinstance(editor, QLineEdit):
        QTest.keyClick(editor, Qt.Key.Key_Return)
    elif then == "apply":
        hv.apply_button.click()
    elif then == "leave":
        run.window.predictions_view.prompt.setFocus()


def _write_small_corpus(folder: Path, distinct: int = 40) -> Path:
    """A text file of ``distinct`` different words in 200 lines (the corpus of issue 10's item 1)."""
    path = folder / f"small{distinct}.txt"
    if not path.exists():
        rng = random.Random(distinct)
        words = ["he", "she", "day", "cat"] + [f"w{i}" for i in range(distinct - 4)]
        lines = [" ".join(rng.choice(words) for _ in range(rng.randint(4, 10))) for _ in range(200)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def draw_corpus(run, rng):
    choice = rng.choice(["small", "small", "demo", "junk", "missing", "tiny", "folder", "hinton"])
    return {"corpus": choice, "answers": _answers(run, rng)}


def do_corpus(run, args):
    """File ▸ Open corpus text file (small, junk, missing, tiny) or the built-in corpus; waits for the load."""
    w = run.window
    choice = args["corpus"]
    if choice == "demo":
        w.action_open_demo.trigger()
    elif choice == "hinton":  # not downloaded in the run's cache folder: a message, nothing lost
        w.action_open_hinton.trigger()
    elif choice == "folder":  # a folder without the corpus's files
        folder = run.folder / "not-a-corpus"
        folder.mkdir(exist_ok=True)
        (folder / "raw_sentences.txt").write_text("only one file\n", encoding="utf-8")
        run.answers = {**run.answers, "folder": str(folder)}
        w.action_open_corpus_folder.trigger()
    else:
        if choice == "small":
            path = _write_small_corpus(run.folder)
        elif choice == "tiny":
            path = _write_small_corpus(run.folder, 6)
        elif choice == "junk":
            path = run.folder / "junk.txt"
            path.write_bytes(bytes(range(256)) * 8)
        else:
            path = run.folder / "no-such-file.txt"
        run.answers = {**run.answers, "open_path": str(path)}
        w.action_open_corpus_file.trigger()
    wait_until(lambda: not w.loading, 10_000)
    spin(30)


def draw_find(run, rng):
    vocab = _vocab(run)
    word = rng.choice(["he", "he", rng.choice(vocab), "zzz", "", "日本"])
    return {"word": word, "then_corpus": rng.random() < 0.4, "answers": _answers(run, rng)}


def do_find(run, args):
    """Find a word in the embedding map (Enter); with ``then_corpus``, open the small corpus next (item 1)."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    w = run.window
    w.docks["embedding_map_view"].raise_()
    m = w.embedding_map_view
    spin(20)
    m.search_edit.setText(args["word"])
    QTest.keyClick(m.search_edit, Qt.Key.Key_Return)
    spin(20)
    if args["then_corpus"]:
        do_corpus(run, {"corpus": "small"})


def draw_gradcheck(run, rng):
    return {"how": rng.choice(["click", "click", "all", "all_cancel"]), "row": rng.randrange(1000),
            "col": rng.randrange(1000)}


def do_gradcheck(run, args):
    """Click an entry of the array in the matrix view (a gradient check), or Check all (maybe cancelled)."""
    w = run.window
    if args["how"] == "click":
        h = w.matrix_view.heatmap
        image = h.image_data
        if image is not None and image.size:
            h.select_cell(args["row"] % image.shape[0], args["col"] % image.shape[1])
    else:
        g = w.gradcheck_view
        w.docks["gradcheck_view"].raise_()
        g.check_all_button.click()
        if args["how"] == "all_cancel":
            spin(30)
            g.cancel_button.click()
        else:
            wait_until(lambda: not g.check_all_running, 3000)


def draw_checkpoint(run, rng):
    paths = run.saved + [str(run.folder / "corrupt.npz"), str(run.folder / "none.npz")]
    return {"how": rng.choice(["save", "save_as", "load", "open_dialog", "extreme"]), "path": rng.choice(paths),
            "extreme": rng.choice(["history", "weights", "both"]), "scale": rng.choice([1e300, 1e308, -1e308]),
            "answers": _answers(run, rng)}


def _extreme_checkpoint(run, what: str, scale: float) -> Path:
    """A checkpoint of the network on screen, rewritten with finite but huge values: the loss history, the
    weights, or both (a file the reader accepts: every view must draw it without raising)."""
    import numpy as np

    path = run.folder / "extreme.npz"
    run.window.session.save_checkpoint(path)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    for k, a in arrays.items():
        if a.dtype.kind != "f" or not a.size:
            continue
        if (what in ("history", "both") and k.startswith("history_")) or (
                what in ("weights", "both") and not k.startswith("history_")):
            arrays[k] = np.where(np.arange(a.size).reshape(a.shape) % 2, scale, -scale / 3).astype(a.dtype)
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)
    return path


def do_checkpoint(run, args):
    w = run.window
    how = args["how"]
    (run.folder / "corrupt.npz").write_bytes(b"PK\x03\x04 not really a zip file")
    if how == "save":
        w.action_save.trigger()
    elif how == "save_as":
        w.action_save_as.trigger()
    elif how == "load":
        w.load_checkpoint_from(args["path"])
    elif how == "extreme":
        w.load_checkpoint_from(_extreme_checkpoint(run, args.get("extreme", "history"), args.get("scale", 1e308)))
    else:
        run.answers = {**run.answers, "open_path": args["path"]}
        w.action_open_checkpoint.trigger()
    path = run.answers.get("save_path")
    if how.startswith("save") and path and Path(path).exists() and path not in run.saved:
        run.saved.append(path)


def draw_resize(run, rng):
    return {"size": list(rng.choice(SIZES))}


def do_resize(run, args):
    run.window.resize(*args["size"])
    spin(30)


def draw_tab(run, rng):
    docks = sorted(run.window.docks)
    return {"dock": rng.choice(docks), "how": rng.choice(["raise", "raise", "toggle", "matrix_tab"]),
            "tab": rng.randrange(6)}


def do_tab(run, args):
    w = run.window
    dock = w.docks[args["dock"]]
    if args["how"] == "raise":
        dock.show()
        dock.raise_()
    elif args["how"] == "toggle":
        dock.toggleViewAction().trigger()
        spin(20)
        if not dock.isVisible():
            dock.toggleViewAction().trigger()  # put it back: a later action may need it
    else:
        tabs = w.matrix_view.tabs
        if tabs.count():
            tabs.setCurrentIndex(args["tab"] % tabs.count())


def draw_panel_button(run, rng):
    return {"button": rng.choice(["test_ce", "teaching", "step_to_grad", "map_fit", "rescale"]),
            "answers": _answers(run, rng)}


def do_panel_button(run, args):
    w = run.window
    b = args["button"]
    if b == "test_ce":
        w.loss_view.test_button.click()
    elif b == "teaching":
        w.docks["embedding_grad_view"].raise_()
        w.embedding_grad_view.teach_button.click()
    elif b == "step_to_grad":
        w.embedding_grad_view.step_button.click()
    elif b == "map_fit":
        w.embedding_map_view.fit_button.click()
    else:
        w.matrix_view.heatmap.rescale_button.click()


def _activation_names() -> list[str]:
    from core.layers import ACTIVATIONS

    return sorted(ACTIVATIONS)


def draw_network(run, rng):
    """A whole new network typed into the hyperparameters panel: 0 to 4 hidden layers (now and then 5, refused),
    small widths (a fifth layer cannot be added: the button is disabled at four), one activation for all or one per
    layer, a small embedding and batch."""
    depth = rng.choice([0, 1, 1, 2, 2, 3, 4, 4, 5])
    widths = [rng.randint(1, 12) for _ in range(depth)]
    names = _activation_names()
    if rng.random() < 0.5:
        acts = [rng.choice(names) for _ in range(depth)]
    else:
        acts = [rng.choice(names)] * depth
    return {
        "widths": [str(w) for w in widths],
        "activations": acts,
        "embed_dim": str(rng.choice([1, 2, 4, 8])),
        "batch_size": str(rng.choice([1, 2, 3, 10, 50])),
        "init_std": rng.choice(["0.01", "0.1", "0.5", "1"]),
        "then": rng.choice(["apply", "apply", "enter"]),
        "answers": _answers(run, rng),
    }


def do_network(run, args):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    hv = run.window.hyperparams_view
    run.window.docks["hyperparams_view"].raise_()
    widths = args["widths"]
    while len(hv.layer_rows) > len(widths) and hv.remove_buttons:  # as many rows as layers (at most four)
        QTest.mouseClick(hv.remove_buttons[-1], Qt.MouseButton.LeftButton)
    for _ in range(len(widths) - len(hv.layer_rows)):
        QTest.mouseClick(hv.add_layer_button, Qt.MouseButton.LeftButton)
    typed = {"embed_dim": args["embed_dim"], "batch_size": args["batch_size"], "init_std": args["init_std"]}
    for i, (w, act) in enumerate(zip(widths, args["activations"]), 1):
        if f"hidden_width_{i}" in hv.inputs:
            typed[f"hidden_width_{i}"] = w
            hv.inputs[f"hidden_activation_{i}"].setCurrentText(act)
    for field, text in typed.items():
        line = hv.inputs[field]
        line.setFocus()
        line.selectAll()
        QTest.keyClick(line, Qt.Key.Key_Delete)
        QTest.keyClicks(line, text)
    if args["then"] == "enter":
        QTest.keyClick(hv.inputs["batch_size"], Qt.Key.Key_Return)
    else:
        hv.apply_button.click()


def draw_network_box(run, rng):
    return {"box": rng.randrange(100), "how": rng.choice(["click", "click", "hover"])}


def do_network_box(run, args):
    """Click (or hover over) a box of the network diagram: the matrix view shows that layer's tensors."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    w = run.window
    nv = w.network_view
    layers = nv.layers
    if not layers:
        return
    w.docks["network_view"].raise_()
    spin(10)
    rect = nv.box_rect(layers[args["box"] % len(layers)])
    if rect.isEmpty():
        return
    where = rect.center().toPoint()
    if args["how"] == "click":
        QTest.mouseClick(nv, Qt.MouseButton.LeftButton, pos=where)
    else:
        QTest.mouseMove(nv, where)


def draw_map_more(run, rng):
    vocab = _vocab(run)
    return {"what": rng.choice(["nearest", "k", "distance", "method", "labels"]), "row": rng.randrange(60),
            "k": rng.randint(1, 50), "words": [rng.choice(vocab + ["zzz", "", "日本"]) for _ in range(2)],
            "index": rng.randrange(6)}


def do_map_more(run, args):
    """The embedding map's other controls: a nearest word clicked, k, the distance of two words, the method."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    w = run.window
    w.docks["embedding_map_view"].raise_()
    m = w.embedding_map_view
    spin(10)
    what = args["what"]
    if what == "nearest":
        rows = m.nearest_table.rowCount()
        if rows:
            m.nearest_table.cellClicked.emit(args["row"] % rows, 0)  # as a click on the row does
    elif what == "k":
        m.k_spin.setValue(args["k"])
    elif what == "distance":
        for edit, word in zip(m.distance_edits, args["words"]):
            edit.clear()
            QTest.keyClicks(edit, word) if word.isascii() else edit.setText(word)
        QTest.keyClick(m.distance_edits[1], Qt.Key.Key_Return)
    elif what == "method":
        if m.method_combo.count():
            m.method_combo.setCurrentIndex(args["index"] % m.method_combo.count())
    else:
        m.all_labels_box.toggle()


def draw_grad_rows(run, rng):
    return {"what": rng.choice(["row", "row", "naive", "rows_combo"]), "row": rng.randrange(200)}


def do_grad_rows(run, args):
    """The embedding-gradient panel: select a touched word's row, show the naive update, all or touched rows."""
    w = run.window
    w.docks["embedding_grad_view"].raise_()
    g = w.embedding_grad_view
    spin(10)
    what = args["what"]
    if what == "row":
        table = g.word_table
        if table.rowCount():
            table.selectRow(args["row"] % table.rowCount())
    elif what == "naive":
        g.naive_check.toggle()
    else:
        combo = g.rows_combo
        if combo.count():
            combo.setCurrentIndex(args["row"] % combo.count())
            combo.activated.emit(combo.currentIndex())


def draw_gradcheck_pick(run, rng):
    vocab = _vocab(run)
    return {"name": rng.randrange(40), "spins": [rng.randrange(-5, 6000) for _ in range(2)],
            "word": rng.choice(vocab + ["zzz", ""]), "how": rng.choice(["spins", "word"])}


def do_gradcheck_pick(run, args):
    """The gradient check panel: pick a gradient, an entry (by index or by word), press Check."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    w = run.window
    w.docks["gradcheck_view"].raise_()
    g = w.gradcheck_view
    spin(10)
    if g.name_combo.count():
        g.name_combo.setCurrentIndex(args["name"] % g.name_combo.count())
    if args["how"] == "spins":
        for spin_box, value in zip(g.index_spins, args["spins"]):
            if spin_box.isVisible() and spin_box.isEnabled():
                spin_box.setValue(value)
    else:
        combo = g.word_combos[0]
        if combo.isVisible() and combo.isEnabled():
            combo.lineEdit().setText(args["word"])
            QTest.keyClick(combo.lineEdit(), Qt.Key.Key_Return)
    if g.check_button.isEnabled():
        g.check_button.click()


def draw_export(run, rng):
    what = rng.choice(["matrix", "loss", "map", "picture"])
    ext = {"matrix": rng.choice([".csv", ".npy", ".txt", ""]), "loss": ".png", "map": ".png",
           "picture": rng.choice([".png", ".jpg", ""])}[what]
    path = rng.choice([str(run.folder / f"export-{what}{ext}"), "", str(run.folder / "missing-folder" / f"x{ext}")])
    return {"what": what, "answers": {"save_path": path}}


def do_export(run, args):
    """File ▸ Export: the matrix on screen, the loss plot, the embedding map, a picture of the window."""
    w = run.window
    what = args["what"]
    if what == "matrix":
        w.matrix_view.export_action.trigger()
    elif what == "loss":
        w.loss_view.save_action.trigger()
    elif what == "map":
        w.embedding_map_view.export_action.trigger()
    else:
        w.action_save_picture.trigger()


def draw_help(run, rng):
    return {"which": rng.choice(["action_shortcuts", "action_guide", "action_about", "action_reset_layout"])}


def do_help(run, args):
    """Help ▸ …, or View ▸ Reset layout; a dialog that opens is answered by the closer."""
    getattr(run.window, args["which"]).trigger()
    spin(60)


def draw_loss_controls(run, rng):
    return {"what": rng.choice(["follow", "smoothing"]), "value": rng.randrange(0, 101)}


def do_loss_controls(run, args):
    lv = run.window.loss_view
    if args["what"] == "follow":
        lv.follow_box.toggle()
    else:
        slider = lv.smoothing_slider
        slider.setValue(slider.minimum() + args["value"] * (slider.maximum() - slider.minimum()) // 100)


def draw_keys(run, rng):
    return {"keys": [rng.choice(["N", "B", "Space", "F10", "F11", "F5", "F1"]) for _ in range(rng.randint(1, 6))],
            "focus": rng.choice(["window", "window", "prompt", "matrix"]), "answers": _answers(run, rng)}


def do_keys(run, args):
    """The keyboard shortcuts, pressed with the focus on the window, in the prompt or on the heatmap."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    w = run.window
    target = {"window": w, "prompt": w.predictions_view.prompt, "matrix": w.matrix_view.heatmap}[args["focus"]]
    target.setFocus()
    s = w.session
    for key in args["keys"]:
        QTest.keyClick(target, getattr(Qt.Key, f"Key_{key}"))
        spin(5)
    if s.running:  # Space or F5 left it running: pause it again, as do_run does
        w.action_run.trigger()


def do_inject(run, args):
    """A deliberate fault, for the tests of this script: it must notice each kind (never drawn)."""
    from PySide6.QtCore import QTimer, qWarning

    what = args["what"]
    if what == "exception":
        def fail():
            raise RuntimeError("injected: an exception in a slot")

        QTimer.singleShot(0, fail)
    elif what == "thread":
        import threading

        def work():
            raise RuntimeError("injected: an exception in a worker thread")

        t = threading.Thread(target=work)
        t.start()
        t.join()
    elif what == "override":  # caught by the guard of a Qt virtual: drawn as nothing, but reported
        from PySide6.QtWidgets import QWidget

        from explorer.guard import qt_override

        class Broken(QWidget):
            @qt_override
            def paintEvent(self, event):  # noqa: N802 (Qt name)
                raise RuntimeError("injected: an exception in paintEvent")

        run.broken = Broken()
        run.broken.resize(50, 50)
        run.broken.show()
        spin(50)
        run.broken.close()
    elif what == "qt_warning":
        qWarning("QPainter::begin: injected, a painter on a device that is not ready")
    elif what == "crash":
        faulthandler._sigsegv()
    elif what == "hang":
        time.sleep(float(args.get("seconds", 3600)))


ACTIONS = {
    "inject": (0, None, do_inject),
    "step_stage": (14, draw_step_stage, do_step_stage),
    "step_batch": (6, draw_step_batch, do_step_batch),
    "run": (6, draw_run, do_run),
    "reset": (3, draw_reset, do_reset),
    "type": (12, draw_type, do_type),
    "hyper": (10, draw_hyper, do_hyper),
    "corpus": (3, draw_corpus, do_corpus),
    "find": (4, draw_find, do_find),
    "gradcheck": (5, draw_gradcheck, do_gradcheck),
    "checkpoint": (4, draw_checkpoint, do_checkpoint),
    "resize": (4, draw_resize, do_resize),
    "tab": (6, draw_tab, do_tab),
    "panel_button": (4, draw_panel_button, do_panel_button),
    "network": (6, draw_network, do_network),
    "network_box": (4, draw_network_box, do_network_box),
    "map_more": (3, draw_map_more, do_map_more),
    "grad_rows": (3, draw_grad_rows, do_grad_rows),
    "gradcheck_pick": (3, draw_gradcheck_pick, do_gradcheck_pick),
    "export": (2, draw_export, do_export),
    "help": (1, draw_help, do_help),
    "loss_controls": (2, draw_loss_controls, do_loss_controls),
    "keys": (3, draw_keys, do_keys),
}


# Sequences that reach a failure already known and being fixed elsewhere: name -> a test on a drawn action
# (name, args) that is true when the action would reach it. Such actions are not drawn while the name is
# here (a replay still does what its log says); --include-known draws them. Remove a name once its fix is
# on main. Empty: every known failure is fixed.
KNOWN_UNFIXED: dict = {}


def draw(run: Run, rng: random.Random, known=KNOWN_UNFIXED) -> tuple[str, dict]:
    names = sorted(ACTIONS)
    while True:
        name = rng.choices(names, weights=[ACTIONS[n][0] for n in names])[0]
        args = ACTIONS[name][1](run, rng)
        if any(reaches(name, args) for reaches in known.values()):
            continue
        return name, args


# ---- the command ------------------------------------------------------------------------------------------


def read_replay(path: Path) -> tuple[int, list[tuple[str, dict]]]:
    seed, actions = 0, []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("SEED "):
            seed = int(line.split()[1])
        elif line.startswith("ACTION "):
            entry = json.loads(line[len("ACTION "):])
            actions.append((entry["action"], entry["args"]))
    return seed, actions


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seconds", type=float, default=12.0, help="time for actions (default 12), after start-up")
    p.add_argument("--max-actions", type=int, default=10_000)
    p.add_argument("--min-actions", type=int, default=0,
                   help="go on past --seconds until this many actions are done (a busy machine is slow)")
    p.add_argument("--replay", type=Path, help="do the ACTION lines of this log instead of random ones")
    p.add_argument("--include-known", action="store_true",
                   help="draw the sequences of KNOWN_UNFIXED too (to see whether they still fail)")
    p.add_argument("--hang-after", type=float, help="seconds after start-up after which a run counts as hung (default: --seconds + 60)")
    args = p.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # the run's files: in GUI_FUZZ_FOLDER when the caller names one (the tests: under pytest's tmp_path)
    given = os.environ.get("GUI_FUZZ_FOLDER")
    folder = Path(tempfile.mkdtemp(prefix="gui-fuzz-", dir=given))
    for env, sub in (("BACKPROP_EXPLORER_LOGS", "logs"), ("BACKPROP_EXPLORER_SETTINGS", "settings"),
                     ("BACKPROP_EXPLORER_CACHE", "cache"), ("BACKPROP_EXPLORER_STATE", "state")):
        os.environ.setdefault(env, str(folder / sub))
    faulthandler.enable()
    hang = args.seconds + 60 if args.hang_after is None else args.hang_after
    faulthandler.dump_traceback_later(120, exit=True)  # a hang: the stacks, then exit (status 1); start-up first
    replay = None
    seed = args.seed
    if args.replay:
        seed, replay = read_replay(args.replay)
    print(f"SEED {seed}", flush=True)
    run = Run(seed, folder)
    started = time.monotonic()
    try:
        run.start()
        faulthandler.dump_traceback_later(hang, exit=True)  # from here on, the actions' own limit
        rng = random.Random(seed)
        started = time.monotonic()
        if replay is not None:
            for name, action_args in replay:
                run.do(name, action_args)
        else:
            while (time.monotonic() - started < args.seconds or run.count < args.min_actions) \
                    and run.count < args.max_actions:
                name, action_args = draw(run, rng, {} if args.include_known else KNOWN_UNFIXED)
                run.do(name, action_args)
                if run.problems:
                    break  # the first problem is the one to look at: stop with the log that led to it
        run.finish()
    except Exception:  # a mistake of this script (drawing an action, starting, finishing), not of the app
        sys.excepthook = sys.__excepthook__
        print("SCRIPT ERROR " + traceback.format_exc(), flush=True)
        return 3
    result = {
        "seed": seed,
        "actions": run.count,
        "seconds": round(time.monotonic() - started, 1),
        "problems": run.problems,
        "dialogs": run.dialogs,
        "qt_messages": run.qt_messages,
        "minibatches": run.window.session.trainer.step if run.window else None,
        "networks": run.networks,
    }
    print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)
    faulthandler.cancel_dump_traceback_later()
    if run.problems:
        print(f"FOLDER {folder} (kept: the logs, settings and autosaves of this run)", flush=True)
        return 1
    if not given:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
