"""Every file dialog opens in the last folder used, in this run and the next (the real Qt dialogs, offscreen)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QFileDialog

from explorer import file_dialogs
from explorer.app import create_window


class FileDialogAnswer:
    """Answers the next file dialog when it opens: records its folder, then picks ``choice`` (None: Cancel)."""

    def __init__(self, qtbot):
        self.qtbot = qtbot
        self.folders: list[Path] = []

    def next(self, choice):
        def answer():
            dialog = QApplication.activeModalWidget()
            assert isinstance(dialog, QFileDialog), dialog
            self.folders.append(Path(dialog.directory().absolutePath()))
            if choice is None:
                dialog.reject()
            else:
                dialog.selectFile(str(choice))
                dialog.accept()

        QTimer.singleShot(0, answer)  # runs inside the dialog's own event loop, once it is up
        return self


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("BACKPROP_EXPLORER_SETTINGS", str(tmp_path / "settings"))
    return tmp_path / "settings"


def new_window(qtbot, demo_corpus):
    w = create_window(corpus=demo_corpus)
    w.confirm_on_close = False
    qtbot.addWidget(w)
    return w


def trigger(w, name):
    w.findChild(QAction, name).trigger()


def test_every_file_dialog_opens_in_the_last_folder_used_also_in_the_next_run(
    qtbot, demo_corpus, tmp_path, settings
):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    answer = FileDialogAnswer(qtbot)
    w = new_window(qtbot, demo_corpus)

    answer.next(a / "model.npz")
    trigger(w, "action_save_as")  # nothing used yet: the home folder
    assert (a / "model.npz").is_file()
    answer.next(None)
    trigger(w, "action_open_checkpoint")
    w.session.run_batches(2)
    answer.next(b / "W_h.csv")
    w.matrix_view.export_actions()[0].trigger()  # a panel's export: the same rule
    assert (b / "W_h.csv").is_file()
    answer.next(None)
    trigger(w, "action_save_picture")
    assert answer.folders == [Path.home(), a, a, b]
    w.shutdown()

    again = new_window(qtbot, demo_corpus)  # the next run remembers
    answer.next(None)
    trigger(again, "action_open_corpus_file")
    answer.next(None)
    trigger(again, "action_open_corpus_folder")
    assert answer.folders[-2:] == [b, b]
    again.shutdown()


def test_a_folder_that_is_gone_falls_back_to_home(tmp_path, settings):
    gone = tmp_path / "gone"
    gone.mkdir()
    file_dialogs.remember_folder(gone / "x.csv")
    assert file_dialogs.last_folder() == gone
    gone.rmdir()
    assert file_dialogs.last_folder() == Path.home()
