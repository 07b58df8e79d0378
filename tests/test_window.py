"""The main window, driven for real (offscreen): controls, stages, run mode, files, divergence, errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QImage
from PySide6.QtWidgets import QLineEdit, QPushButton

from explorer import dialogs
from explorer.app import create_window, display_problem, missing_xcb_packages
from explorer.main_window import PANELS

# The default network's stages and the diagram box each belongs to (stable: core/stages.py documents them).
STAGE_BOXES = [
    ("embed", "embedding"), ("hidden_input", "hidden"), ("hidden", "hidden"), ("logits", "output"),
    ("softmax", "output"), ("loss", "loss"), ("output_error", "output"), ("output_weights", "output"),
    ("back_to_hidden", "output"), ("through_activation", "hidden"), ("hidden_weights", "hidden"),
    ("back_to_embeddings", "hidden"), ("embedding_gradient", "embedding"), ("update", "embedding"),
]
STAGE_NAMES = [name for name, _ in STAGE_BOXES]
N_STAGES = len(STAGE_NAMES)

HINTON = Path(__file__).resolve().parents[2] / "shared" / "data" / "hinton"
CONTROL_ACTIONS = ("action_step_stage", "action_step_batch", "action_run", "action_reset")


class Answers:
    """Scripted answers to the window's questions, with a record of what was asked."""

    def __init__(self, unsaved=dialogs.DISCARD, yes_no=False, save_path=""):
        self.unsaved, self.yes_no, self.save_path = unsaved, yes_no, save_path
        self.asked: list[str] = []

    def install(self, window):
        window.ask_unsaved = lambda parent, doing: self.asked.append(doing) or self.unsaved
        window.ask_yes_no = lambda parent, title, text: self.asked.append(text) or self.yes_no
        window.ask_save_path = lambda parent: self.save_path
        return self


@pytest.fixture
def window(qtbot, demo_corpus):
    w = create_window(corpus=demo_corpus)
    w.answers = Answers().install(w)
    qtbot.addWidget(w)
    yield w
    w.shutdown()


def action(w, name) -> QAction:
    found = w.findChild(QAction, name)
    assert found is not None, name
    return found


# ---- assembly ------------------------------------------------------------------------------


def test_window_opens_on_the_demo_corpus_and_says_so(window):
    assert "built-in demo corpus" in window.windowTitle()
    assert "built-in demo corpus" in window.status_corpus.text()
    assert "22,205" in window.status_corpus.text()
    assert window.status_epoch.text() == "Epoch 1"
    assert window.status_batch.text() == f"Batch 0/{window.session.trainer.batches_per_epoch}"


def test_default_corpus_is_demo_when_nothing_is_downloaded(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("BACKPROP_EXPLORER_CACHE", str(tmp_path / "empty-cache"))
    w = create_window()
    qtbot.addWidget(w)
    assert w.session.corpus.kind == "demo"


def test_default_corpus_is_hinton_once_downloaded(qtbot, tmp_path, monkeypatch):
    if not (HINTON / "vocab.txt").is_file():
        pytest.skip(f"the real corpus is not at {HINTON}")
    from core.download import HINTON_FILES

    monkeypatch.setenv("BACKPROP_EXPLORER_CACHE", str(tmp_path))
    (tmp_path / "hinton").mkdir()
    for name in HINTON_FILES:
        shutil.copy(HINTON / name, tmp_path / "hinton" / name)
    w = create_window()
    qtbot.addWidget(w)
    assert w.session.corpus.kind == "hinton"
    assert "372,550" in w.status_corpus.text()
    assert w.session.corpus.name in w.windowTitle()


def test_window_opens_on_a_checkpoint_and_finds_its_corpus(qtbot, demo_corpus, tmp_path, monkeypatch):
    from core.trainer import Trainer

    monkeypatch.setenv("BACKPROP_EXPLORER_CACHE", str(tmp_path / "empty-cache"))
    trainer = Trainer(demo_corpus)
    trainer.run(4)
    trainer.save(tmp_path / "four.npz")
    w = create_window(model=tmp_path / "four.npz")
    qtbot.addWidget(w)
    assert w.session.trainer.step == 4
    np.testing.assert_array_equal(w.session.model.params["W_h"], trainer.model.params["W_h"])
    assert w.checkpoint_path == tmp_path / "four.npz"
    assert "next is minibatch 5" in w.stage_label.text()


def test_every_panel_is_there_and_listed_in_the_view_menu(window):
    for attr, cls, _title in PANELS:
        assert isinstance(window.panels[attr], cls), attr
        assert window.docks[attr].widget() is not None
    view_menu = [m for m in window.menuBar().actions() if m.text() == "&View"][0].menu()
    titles = {a.text() for a in view_menu.actions()}
    assert {title for _attr, _cls, title in PANELS} <= titles


def test_clicking_a_gradient_entry_runs_the_gradient_check(window):
    for _ in range(8):  # up to the output-weights stage: dW_o is on screen
        window.action_step_stage.trigger()
    assert window.session.stage.name == "output_weights"
    dW_o = window.session.stage.arrays["dW_o"]
    window.matrix_view.entry_clicked.emit("dW_o", (3, 5))
    result = window.gradcheck_view.result
    assert result is not None and result.name == "W_o" and result.index == (3, 5)
    assert result.analytic == dW_o[3, 5]
    assert result.rel_error < 1e-6


def test_control_actions_exist_with_shortcuts(window):
    for name in CONTROL_ACTIONS:
        a = action(window, name)
        assert a.shortcuts(), name
    assert action(window, "action_run").isCheckable()
    rows = dict(window.shortcut_rows())
    assert any("F10" in keys for keys in rows)  # documented in Help > Keyboard shortcuts
    box = window.show_shortcuts()
    assert "F10" in box.text() and "Step stage" in box.text()
    box.close()


def test_help_how_to_use_covers_the_teaching_batch_the_gradient_check_the_map_and_health(window):
    from PySide6.QtGui import QTextDocument

    action(window, "action_guide").trigger()
    box = window.last_message_box
    doc = QTextDocument()
    doc.setHtml(box.text())
    text = " ".join(doc.toPlainText().split())
    # every panel and control it names is one the window has, spelled as on screen
    titles = {title for _attr, _cls, title in PANELS}
    for title in ("Matrices", "Predictions", "Embedding gradient", "Gradient check", "Embedding map",
                  "Gradient health", "Hyperparameters", "Write it yourself"):
        assert title in titles and title in text, title
    grad, check = window.embedding_grad_view, window.gradcheck_view
    assert grad.teach_button.text().startswith("Teaching batch") and "Teaching batch switches to minibatches of 2" in text
    assert grad.naive_check.text().startswith("Show the naive update") and "Show the naive update" in text
    assert "the sum of its contributions" in text
    assert check.check_button.text() == "Check" and check.check_all_button.text() == "Check all"
    assert "finite difference" in text and "relative error" in text and "Check all" in text
    write = window.write_view
    for button in (write.run_button, write.train_button):
        assert button.text() in text, button.text()
    assert write.gallery_combo.itemText(0).rstrip("…") in text
    assert "nearest words" in text and "distance" in text and "Find a word" in text
    assert "vanishing gradients" in text
    assert f"stage {N_STAGES} updates every weight" in text
    box.close()


# ---- stepping --------------------------------------------------------------------------------


def test_stepping_goes_through_every_stage_in_order(window):
    s = window.session
    step = action(window, "action_step_stage")
    assert window.stage_label.text() == f"Between minibatches: next is minibatch 1, stage 1/{N_STAGES} Embed"
    assert window.network_view.highlighted is None
    for i, (name, box) in enumerate(STAGE_BOXES):
        step.trigger()
        stage = s.stage
        assert stage.name == name
        assert window.stage_label.text() == f"Stage {i + 1}/{N_STAGES}: {stage.title} — {stage.formula}"
        assert window.network_view.highlighted == box == stage.box
        assert window.stage_strip.current == i
    assert s.trainer.step == 1
    assert window.status_batch.text().startswith("Batch 1/")
    assert window.isWindowModified()  # unsaved training
    step.trigger()  # the next minibatch starts again at stage 1
    assert s.stage.name == "embed" and s.stage.batch == 1


def test_clicking_a_box_of_the_diagram_shows_that_layers_arrays(window, qtbot):
    matrix = window.matrix_view
    if not hasattr(matrix, "show_layer"):
        pytest.skip("no matrix view yet")
    window.show()
    qtbot.waitExposed(window)
    for _ in range(3):
        window.session.step_stage()  # at "hidden": h computed
    window.docks["embedding_grad_view"].raise_()
    network = window.network_view
    qtbot.mouseClick(network, Qt.LeftButton, pos=network.box_rect("output").center().toPoint())
    assert matrix.current_name() == "W_o"  # the output layer's arrays; z_o is not computed yet
    qtbot.mouseClick(network, Qt.LeftButton, pos=network.box_rect("hidden").center().toPoint())
    assert matrix.current_name() == "h"  # the array of the current stage is selected
    assert not window.docks["matrix_view"].visibleRegion().isEmpty()


def test_step_batch_finishes_the_minibatch_in_progress(window):
    s = window.session
    for _ in range(3):
        action(window, "action_step_stage").trigger()
    action(window, "action_step_batch").trigger()
    assert s.trainer.step == 1 and s.stage.name == "update"
    action(window, "action_step_batch").trigger()  # a whole one
    assert s.trainer.step == 2


@pytest.mark.parametrize("field_name", ["learning_rate_input", "prompt_input"])
def test_letters_give_way_to_a_text_field_but_f_keys_work(window, qtbot, field_name):
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    field = window.findChild(QLineEdit, field_name)
    if field is None:
        pytest.skip(f"no {field_name} in this window")
    field.setFocus()
    qtbot.waitUntil(field.hasFocus)
    field.setText("i want to")
    qtbot.keyClick(field, Qt.Key_N)
    qtbot.keyClick(field, Qt.Key_B)
    qtbot.keyClick(field, Qt.Key_Space)
    assert field.text() == "i want tonb "
    assert window.session.stage is None  # typed, not a step
    assert not window.session.running
    qtbot.keyClick(field, Qt.Key_F10)
    assert window.session.stage is not None and window.session.stage.name == "embed"


def test_reset_asks_first_when_training_is_unsaved(window):
    s = window.session
    s.step_batch()
    window.answers.unsaved = dialogs.CANCEL
    action(window, "action_reset").trigger()
    assert s.trainer.step == 1 and window.answers.asked
    window.answers.unsaved = dialogs.DISCARD
    action(window, "action_reset").trigger()
    assert s.trainer.step == 0 and not s.dirty


def test_a_new_network_from_the_hyperparameters_asks_the_window_first(window):
    s = window.session
    s.step_batch()
    window.hyperparams_view.inputs["hidden_width_1"].setText("33")
    window.answers.unsaved = dialogs.CANCEL
    assert not window.hyperparams_view.apply_new_network()
    assert window.answers.asked == ["building a new network"] and s.trainer.step == 1
    window.answers.unsaved = dialogs.DISCARD
    assert window.hyperparams_view.apply_new_network()
    assert s.model.params["W_h"].shape[1] == 33
    assert "Hidden (σ)" == window.network_view.box_texts()["hidden"].title
    assert "W_h: 3d×H = 150×33" in window.network_view.box_texts()["hidden"].lines


# ---- run mode ------------------------------------------------------------------------------------


def test_run_trains_and_pause_stops_at_once(window, qtbot):
    s = window.session
    run = action(window, "action_run")
    run.trigger()
    assert s.running and run.isChecked() and run.text() == "Pause"
    qtbot.waitUntil(lambda: s.trainer.step >= 5, timeout=10_000)
    qtbot.waitUntil(lambda: window.status_speed.text() != "– examples/s", timeout=10_000)
    run.trigger()
    assert not s.running and not run.isChecked()
    steps = s.trainer.step
    with qtbot.waitSignal(_timer_fired(200), timeout=5000):
        pass  # the event loop runs for 200 ms: a live timer would train more
    assert s.trainer.step == steps
    assert window.status_batch.text().startswith(f"Batch {steps % s.trainer.batches_per_epoch}/")


def _timer_fired(ms):
    timer = QTimer()
    timer.setSingleShot(True)
    timer.start(ms)
    _timer_fired.keep = timer
    return timer.timeout


def test_closing_mid_run_is_clean(window, qtbot):
    s = window.session
    window.show()
    action(window, "action_run").trigger()
    qtbot.waitUntil(lambda: s.trainer.step >= 2, timeout=10_000)
    assert window.close()
    assert not s.running and not s._timer.isActive()
    assert window.answers.asked == ["closing"]  # unsaved training: it asked
    steps = s.trainer.step
    with qtbot.waitSignal(_timer_fired(100), timeout=5000):
        pass
    assert s.trainer.step == steps


def test_close_cancel_keeps_the_window_and_save_writes_a_checkpoint(window, qtbot, tmp_path):
    window.show()
    window.session.step_batch()
    window.answers.unsaved = dialogs.CANCEL
    assert not window.close()
    assert window.isVisible()
    window.answers.unsaved = dialogs.SAVE
    window.answers.save_path = str(tmp_path / "work")
    assert window.close()
    assert (tmp_path / "work.npz").is_file()


# ---- files ------------------------------------------------------------------------------------------


def test_checkpoint_round_trip_and_a_bad_file_is_refused(window, tmp_path):
    s = window.session
    s.run_batches(3)
    assert window.save_checkpoint_to(tmp_path / "a.npz")
    assert not s.dirty and not window.isWindowModified()
    saved = s.model.params["W_o"].copy()
    s.run_batches(2)
    assert window.load_checkpoint_from(tmp_path / "a.npz")
    assert s.trainer.step == 3
    np.testing.assert_array_equal(s.model.params["W_o"], saved)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a checkpoint at all")
    assert not window.load_checkpoint_from(bad)
    assert "bad.npz" in window.last_message_box.text()
    assert s.trainer.step == 3  # nothing changed; the window keeps working
    s.step_stage()


def test_save_a_picture_of_the_window(window, tmp_path):
    assert window.save_picture_to(tmp_path / "view")
    image = QImage(str(tmp_path / "view.png"))
    assert (image.width(), image.height()) == (window.width(), window.height())
    assert not window.save_picture_to(tmp_path / "missing-folder" / "x.png")
    assert window.last_message_box.isVisible()


def test_open_corpus_runs_in_the_background_and_errors_are_shown(window, qtbot, tmp_path):
    text = tmp_path / "story.txt"
    words = "the cat sat on the mat and the dog sat on the log while the bird sang".split()
    text.write_text("\n".join(" ".join(words[i:] + words[:i]) for i in range(len(words))) * 20, encoding="utf-8")
    with qtbot.waitSignal(window.corpus_loaded, timeout=10_000):
        assert window.open_corpus(str(text))
    s = window.session
    assert s.corpus.source.endswith("story.txt")
    assert "story" in window.windowTitle()
    assert s.model.vocab_size == s.corpus.vocab_size
    s.step_stage()

    with qtbot.waitSignal(window.corpus_failed, timeout=10_000) as blocker:
        window.open_corpus(str(tmp_path / "nowhere.txt"))
    assert "no such file" in blocker.args[0]
    assert window.last_message_box.isVisible() and "nowhere.txt" in window.last_message_box.text()
    assert s.corpus.source.endswith("story.txt")


# ---- divergence --------------------------------------------------------------------------------------


def test_learning_rate_100_diverges_is_explained_and_weights_stay_finite(window, qtbot):
    s = window.session
    field = window.hyperparams_view.inputs["learning_rate"]
    field.setText("100")
    field.editingFinished.emit()
    assert s.trainer.learning_rate == 100
    with qtbot.waitSignal(s.diverged, timeout=20_000) as blocker:
        action(window, "action_run").trigger()
    assert not s.running and not action(window, "action_run").isChecked()
    dialog = window.divergence_dialog
    assert dialog.isVisible()
    assert dialog.explanation == blocker.args[0]
    assert "diverged" in dialog.explanation and "learning rate 100" in dialog.explanation
    assert all(np.isfinite(v).all() for v in s.model.params.values())
    assert np.isfinite(s.trainer.history.train_ce).all()
    # no plot holds a non-finite value
    for curve in (window.loss_view.raw_curve, window.loss_view.smooth_curve, window.loss_view.valid_curve):
        _x, y = curve.getOriginalDataset()
        assert y is None or np.isfinite(np.asarray(y)).all()
    shown = window.matrix_view.displayed_array()
    assert shown is None or np.isfinite(shown).all()
    assert all(np.isfinite(p) for _w, p in window.predictions_view.shown_predictions())
    window.embedding_map_view.refresh()
    assert np.isfinite(window.embedding_map_view.coords).all()
    # "Reset to new weights"
    dialog.reset_button.click()
    assert s.trainer.step == 0 and s.model.all_finite()


def test_divergence_offers_the_last_learning_rate_that_trained_and_run_goes_on(window, qtbot):
    s = window.session
    for _ in range(2):
        action(window, "action_step_batch").trigger()  # minibatches at the default learning rate, 0.1
    field = window.hyperparams_view.inputs["learning_rate"]
    field.setText("100")
    field.editingFinished.emit()
    with qtbot.waitSignal(s.diverged, timeout=20_000):
        action(window, "action_run").trigger()
    dialog = window.divergence_dialog
    assert dialog.restore_button.text() == "Restore the last good weights, learning rate 0.1"
    assert dialog.defaultButton() is dialog.restore_button
    assert "learning rate 100" in dialog.keep_button.text()
    message = window.statusBar().currentMessage()  # short, said once
    assert message == f"Diverged at minibatch {s.trainer.diverged.batch + 1} with learning rate 100: last good weights restored."
    dialog.restore_button.click()
    assert s.trainer.learning_rate == 0.1 and field.text() == "0.1"
    # Run now trains on from the last good weights instead of diverging again.
    target = s.trainer.step + 30
    s.stop_after = target
    with qtbot.waitSignal(s.running_changed, timeout=20_000, check_params_cb=lambda running: not running):
        action(window, "action_run").trigger()
    assert s.trainer.diverged is None and s.trainer.step == target


def test_a_long_status_message_stops_before_the_permanent_fields(window, qtbot):
    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    bar = window.statusBar()
    text = "A message far too long for the status bar. " * 20
    bar.showMessage(text, 5000)
    shown = bar.currentMessage()
    assert shown.endswith("…") and text.startswith(shown[:-1])
    assert bar.full_message == text and bar.toolTip() == text
    first_field = min(label.x() for label in (window.status_epoch, window.status_batch, window.status_speed))
    assert 6 + bar.fontMetrics().horizontalAdvance(shown) < first_field  # Qt draws it from x = 6
    window.resize(1920, 1000)  # more room: more of the message
    qtbot.waitUntil(lambda: len(bar.currentMessage()) > len(shown))
    bar.showMessage("Saved.", 5000)
    assert bar.currentMessage() == "Saved." and bar.toolTip() == ""


# ---- the exception handler ------------------------------------------------------------------------------


@pytest.mark.qt_no_exception_capture
def test_unexpected_exception_in_a_slot_is_logged_and_shown(qtbot, tmp_path, monkeypatch):
    from explorer.errors import ErrorHandler, log_path

    monkeypatch.setenv("BACKPROP_EXPLORER_LOGS", str(tmp_path / "logs"))
    shown = []
    handler = ErrorHandler(show=lambda summary, path: shown.append((summary, path))).install()
    try:
        button = QPushButton("boom")
        qtbot.addWidget(button)
        button.clicked.connect(lambda: 1 / 0)
        qtbot.mouseClick(button, Qt.LeftButton)
        qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    finally:
        handler.uninstall()
    summary, path = shown[0]
    assert "ZeroDivisionError" in summary and "division by zero" in summary
    assert path == str(log_path()) and str(tmp_path) in path
    log = log_path().read_text(encoding="utf-8")
    assert "Traceback" in log and "ZeroDivisionError" in log
    assert button.isEnabled()  # the application is still alive


@pytest.mark.qt_no_exception_capture
def test_error_dialog_shows_one_line_and_the_log_path(qtbot, tmp_path, monkeypatch):
    from explorer.errors import ErrorHandler

    monkeypatch.setenv("BACKPROP_EXPLORER_LOGS", str(tmp_path / "logs"))
    handler = ErrorHandler().install()
    try:
        timer = QTimer()
        timer.setSingleShot(True)
        timer.timeout.connect(lambda: {}["missing key"])
        timer.start(0)
        qtbot.waitUntil(lambda: handler.dialog is not None and handler.dialog.isVisible(), timeout=5000)
    finally:
        handler.uninstall()
    assert "KeyError" in handler.dialog.text()
    assert str(tmp_path / "logs") in handler.dialog.informativeText()
    handler.dialog.close()


@pytest.mark.qt_no_exception_capture
def test_a_bug_in_a_background_task_is_logged_and_reported(qtbot, tmp_path, monkeypatch):
    from explorer.errors import ErrorHandler, log_path

    monkeypatch.setenv("BACKPROP_EXPLORER_LOGS", str(tmp_path / "logs"))
    shown = []
    handler = ErrorHandler(show=lambda summary, path: shown.append(summary)).install()
    try:
        task = dialogs.BackgroundTask(lambda: [][1])
        with qtbot.waitSignal(task.failed, timeout=5000) as blocker:
            task.start()
        task.wait()
        qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    finally:
        handler.uninstall()
    assert "IndexError" in blocker.args[0]
    assert "IndexError" in shown[0]
    assert "IndexError" in log_path().read_text(encoding="utf-8")


# ---- --screenshot and the display checks --------------------------------------------------------------------


def test_screenshot_writes_a_png_of_the_expected_size(qtbot, tmp_path, capsys):
    from explorer.cli import main

    out = tmp_path / "shot.png"
    assert main(["--data", "demo", "--screenshot", str(out), "--steps", "3"]) == 0
    image = QImage(str(out))
    assert not image.isNull()
    assert (image.width(), image.height()) == (1600, 1000)
    assert out.stat().st_size > 20_000
    assert "Saved" in capsys.readouterr().out


def test_screenshot_shows_the_mode_the_window_opens_in_at_the_size_asked(qtbot, tmp_path, capsys, monkeypatch):
    from PySide6.QtCore import QSettings

    from explorer import app as app_module
    from explorer.cli import main
    from explorer.main_window import settings_path

    monkeypatch.setenv("BACKPROP_EXPLORER_SETTINGS", str(tmp_path / "fresh"))
    shown = []
    real = app_module._screenshot

    def spy(window, path, **kwargs):
        window.grab = lambda real_grab=window.grab: (shown.append(window.mode), real_grab())[1]
        return real(window, path, **kwargs)

    monkeypatch.setattr(app_module, "_screenshot", spy)
    out = tmp_path / "shot.png"
    assert main(["--data", "demo", "--screenshot", str(out), "--size", "1366x768"]) == 0
    assert shown == ["lesson"]  # a fresh settings folder: the window opens in Lesson mode, and so does the picture
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1366, 768)
    assert not settings_path().exists()  # read, never written
    assert main(["--data", "demo", "--screenshot", str(out), "--mode", "explorer"]) == 0
    assert shown[-1] == "explorer"
    assert QImage(str(out)).size().toTuple() == (1600, 1000)
    settings_path().parent.mkdir(parents=True)
    settings = QSettings(str(settings_path()), QSettings.Format.IniFormat)
    settings.setValue("window/mode", "explorer")
    settings.sync()
    assert main(["--data", "demo", "--screenshot", str(out), "--size", "1280x720"]) == 0
    assert shown[-1] == "explorer"  # the mode last used
    assert QImage(str(out)).size().toTuple() == (1280, 720)
    capsys.readouterr()
    assert main(["--data", "demo", "--screenshot", str(out), "--size", "big"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1366x768" in err


def test_run_app_shows_the_window_and_returns_when_it_closes(tmp_path):
    # run_app() runs the application's own event loop, which a test process
    # cannot restart afterwards: it runs in a child process.
    script = tmp_path / "close_it.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            from argparse import Namespace
            from PySide6.QtCore import QTimer
            from PySide6.QtWidgets import QApplication
            from explorer.app import run_app
            from explorer.main_window import MainWindow

            app = QApplication([])  # run_app uses the application that exists
            seen = {}

            def close_it():
                shown = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
                seen["stage"] = shown[0].stage_label.text() if shown else None
                for w in shown:
                    w.confirm_on_close = False
                    w.close()

            QTimer.singleShot(500, close_it)
            status = run_app(Namespace(data="demo", model=None, screenshot=None, steps=2, run_batches=0))
            print("STAGE", seen.get("stage"))
            sys.exit(status)
            """
        )
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert "STAGE Stage 2/14: Hidden input" in done.stdout


def test_screenshot_refuses_a_bad_path_with_one_line(qtbot, tmp_path, capsys):
    from explorer.cli import main

    assert main(["--data", "demo", "--screenshot", str(tmp_path / "nowhere" / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err


def test_no_display_gives_one_clear_line():
    problem = display_problem(environ={}, platform="linux")
    assert "xvfb-run" in problem and "--screenshot" in problem and "\n" not in problem
    assert display_problem(environ={"QT_QPA_PLATFORM": "offscreen"}, platform="linux") is None
    assert "no display" in display_problem(environ={"QT_QPA_PLATFORM": "xcb"}, platform="linux")
    assert display_problem(environ={"WAYLAND_DISPLAY": "wayland-0"}, platform="linux") is None
    assert display_problem(environ={}, platform="darwin") is None


def test_missing_xcb_libraries_name_the_packages():
    missing = missing_xcb_packages(find_library=lambda name: None if name in ("xcb-cursor", "xcb-icccm") else "lib.so")
    assert missing == ["libxcb-cursor0", "libxcb-icccm4"]
    problem = display_problem(
        environ={"DISPLAY": ":0"}, platform="linux", find_library=lambda name: None if name == "xcb-keysyms" else "x"
    )
    assert "apt-get install libxcb-keysyms1" in problem


def test_run_app_without_a_display_exits_1(monkeypatch, capsys):
    from explorer.cli import main

    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert main(["--data", "demo"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no display" in err


# ---- what the window shows equals the core's numbers ------------------------------------------------


@pytest.fixture
def shown_window(window, qtbot):
    window.resize(1600, 1000)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_every_array_of_a_minibatch_shown_is_the_cores(shown_window):
    w = shown_window
    matrix = w.matrix_view
    step = action(w, "action_step_stage")
    for name in STAGE_NAMES:
        step.trigger()
        stage = w.session.stage
        assert stage.name == name
        assert stage.formula in matrix.header_text()
        for array_name, array in stage.arrays.items():
            assert matrix.show_tensor(array_name), array_name
            shown = matrix.displayed_array(array_name)
            np.testing.assert_array_equal(shown, array, err_msg=f"{name}: {array_name}")
            if matrix.heatmap.image_data is not None and array.dtype.kind == "f":
                image = np.asarray(matrix.heatmap.image_data, dtype=float).reshape(-1)
                np.testing.assert_array_equal(image, np.asarray(array, dtype=float).reshape(-1))


def test_typing_three_words_shows_the_cores_predictions(shown_window, qtbot):
    w = shown_window
    w.session.run_batches(200)
    prompt = w.findChild(QLineEdit, "prompt_input")
    prompt.clear()
    qtbot.keyClicks(prompt, "what time is")
    assert w.predictions_view.shown_predictions() == w.session.model.predict("what time is", k=10)
    prompt.clear()
    qtbot.keyClicks(prompt, "what time zzyzx")
    text = w.predictions_view.status_text()
    assert "zzyzx" in text and "not in the vocabulary" in text


def test_run_mode_fills_the_loss_curve_and_changes_the_weights(shown_window, qtbot):
    w = shown_window
    s = w.session
    before = s.model.params["W_o"].copy()
    s.stop_after = 300
    action(w, "action_run").trigger()
    qtbot.waitUntil(lambda: not s.running, timeout=60_000)
    assert s.trainer.step == 300
    x, y = w.loss_view.raw_curve.getOriginalDataset()
    assert len(y) == 300
    np.testing.assert_array_equal(np.asarray(y), s.trainer.history.train_ce)
    assert not np.array_equal(before, s.model.params["W_o"])
    assert np.isfinite(s.model.params["W_o"]).all()


# ---- the layout between runs ----------------------------------------------------------------------------------


def test_the_window_remembers_its_size_and_panels_between_runs(qtbot, demo_corpus, monkeypatch, tmp_path):
    from explorer.main_window import settings_path

    monkeypatch.setenv("BACKPROP_EXPLORER_SETTINGS", str(tmp_path))
    first = create_window(corpus=demo_corpus)
    qtbot.addWidget(first)
    assert not first.restore_layout()  # nothing saved yet: the default layout
    assert first.mode == "lesson"  # (and the first start opens Lesson mode)
    first.action_mode_explorer.trigger()
    first.confirm_on_close = False
    first.resize(760, 720)  # within the offscreen screen (800×800): restoring fits a window to its screen
    first.show()
    qtbot.waitExposed(first)
    first.docks["embedding_map_view"].raise_()  # the tab behind the predictions, brought to the front
    first.docks["gradcheck_view"].close()  # a panel the user closed
    qtbot.waitUntil(lambda: first.docks["gradcheck_view"].isHidden())
    first.close()
    assert settings_path().is_file() and settings_path().parent == tmp_path

    second = create_window(corpus=demo_corpus)
    qtbot.addWidget(second)
    assert second.restore_layout()
    second.confirm_on_close = False
    second.show()
    qtbot.waitExposed(second)
    assert (second.width(), second.height()) == (760, 720)
    assert second.docks["gradcheck_view"].isHidden()
    # the map's tab in front, as left (its panel is built as it comes into view: wait for that layout)
    qtbot.waitUntil(lambda: not second.docks["embedding_map_view"].visibleRegion().isEmpty())
    assert second.docks["predictions_view"].visibleRegion().isEmpty()  # behind it
    assert action(second, "action_reset_layout") is not None
    action(second, "action_reset_layout").trigger()  # View ▸ Reset layout: every panel back
    assert not second.docks["gradcheck_view"].isHidden()
    second.close()


def test_a_damaged_layout_file_gives_the_default_layout(qtbot, demo_corpus, monkeypatch, tmp_path):
    from explorer.main_window import settings_path

    monkeypatch.setenv("BACKPROP_EXPLORER_SETTINGS", str(tmp_path))
    settings_path().write_bytes(b"[window]\ngeometry=@ByteArray(\\x1\\x2garbage)\nstate=not a state\n\x00\xff")
    w = create_window(corpus=demo_corpus)
    qtbot.addWidget(w)
    assert not w.restore_layout()
    w.show()
    qtbot.waitExposed(w)
    assert w.mode == "lesson"  # no mode in the file: the first start's
    w.action_mode_explorer.trigger()
    assert all(not dock.isHidden() for dock in w.docks.values())
    w.shutdown()


def test_windows_for_scripts_and_screenshots_leave_the_saved_layout_alone(qtbot, demo_corpus, monkeypatch, tmp_path):
    from explorer.main_window import settings_path

    monkeypatch.setenv("BACKPROP_EXPLORER_SETTINGS", str(tmp_path))
    w = create_window(corpus=demo_corpus)
    qtbot.addWidget(w)
    w.confirm_on_close = False
    w.show()
    qtbot.waitExposed(w)
    w.close()
    assert not settings_path().exists()


def test_panels_behind_a_tab_are_built_when_first_shown_or_used(qtbot, demo_corpus):
    from explorer.main_window import DEFERRED_PANELS
    from explorer.panels.embedding_map_view import EmbeddingMapView

    w = create_window(corpus=demo_corpus)
    qtbot.addWidget(w)
    built = lambda: set(dict(w.panels))  # noqa: E731  (dict() does not build anything)
    assert not built() & set(DEFERRED_PANELS)  # not at start-up
    w.resize(1600, 1000)
    w.show()
    qtbot.waitExposed(w)
    assert not built() & set(DEFERRED_PANELS)  # still behind their tabs
    w.docks["embedding_map_view"].raise_()  # its tab comes forward
    qtbot.waitUntil(lambda: "embedding_map_view" in built())
    assert isinstance(w.docks["embedding_map_view"].widget().widget(), EmbeddingMapView)
    # Built later, a panel shows the state it missed: the embedding-gradient stage stepped to while unbuilt.
    for _ in range(13):
        w.action_step_stage.trigger()
    assert w.session.stage.name == "embedding_gradient" and "embedding_grad_view" not in built()
    assert w.embedding_grad_view.showing and w.embedding_grad_view.stage is w.session.stage
    w.shutdown()
