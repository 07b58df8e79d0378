"""Dialogs and background work for the main window.

* ``ask_unsaved`` / ``confirm``: the questions asked before work is discarded;
* ``ask_vocab_size`` (``VocabSizeDialog``): how many words of a text file make the vocabulary;
* ``DivergenceDialog``: explains a diverged run and offers the ways on;
* ``DownloadDialog``: downloads the Hinton corpus with a progress bar, cancellable;
* ``BackgroundTask``: runs a function in a thread (loading a corpus) and reports
  the result or a one-line error back on the GUI thread.

The dialogs that only inform or offer a choice open non-modally (``open()``),
so the window -- and a test -- keeps running while they are up.
"""

from __future__ import annotations

import html
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QThread, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

SAVE, DISCARD, CANCEL = "save", "discard", "cancel"


def ask_unsaved(parent, doing: str) -> str:
    """Ask what to do with unsaved training before ``doing`` ("closing", "resetting"...).

    Returns ``"save"``, ``"discard"`` or ``"cancel"``.
    """
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Question)
    box.setWindowTitle("Unsaved training")
    box.setText("The network has training that is not saved in a checkpoint.")
    box.setInformativeText(f"Save it before {doing}?")
    box.setStandardButtons(QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel)
    box.setDefaultButton(QMessageBox.Save)
    answer = box.exec()
    return {QMessageBox.Save: SAVE, QMessageBox.Discard: DISCARD}.get(QMessageBox.StandardButton(answer), CANCEL)


def confirm_discard(parent, doing: str) -> bool:
    """A two-way question (Discard / Cancel), for places that cannot offer to save."""
    answer = QMessageBox.question(
        parent,
        "Unsaved training",
        f"The network has training that is not saved. Discard it and go on {doing}?",
        QMessageBox.Discard | QMessageBox.Cancel,
        QMessageBox.Cancel,
    )
    return answer == QMessageBox.Discard


def show_message(parent, title: str, text: str, icon=QMessageBox.Warning) -> QMessageBox:
    """A non-modal message box (returned, so tests can read and close it)."""
    box = QMessageBox(icon, title, text, QMessageBox.Ok, parent)
    box.setTextInteractionFlags(Qt.TextSelectableByMouse)
    box.open()
    return box


class VocabSizeDialog(QDialog):
    """Asks how many words of a text file make the vocabulary (as ``train --vocab-size``).

    ``value()`` is the size chosen; the field takes 2 to ``MAX_VOCAB_SIZE``.
    """

    def __init__(self, path, value: int, parent=None):
        from core.corpus import MAX_VOCAB_SIZE

        super().__init__(parent)
        self.setWindowTitle("Vocabulary size")
        self.setObjectName("vocab_size_dialog")
        text = QLabel(
            f"Train on <b>{html.escape(Path(path).name)}</b> with a vocabulary of its most frequent words. "
            "4-grams with another word are skipped. A larger vocabulary makes every step slower "
            "(the output layer has one unit per word)."
        )
        text.setWordWrap(True)
        self.spin = QSpinBox()
        self.spin.setObjectName("vocab_size")
        self.spin.setRange(2, MAX_VOCAB_SIZE)
        self.spin.setGroupSeparatorShown(True)
        self.spin.setValue(max(2, min(int(value), MAX_VOCAB_SIZE)))
        self.spin.setSuffix(" words")
        self.spin.setToolTip(f"2 to {MAX_VOCAB_SIZE:,} words; the exercise uses 250")
        row = QHBoxLayout()
        row.addWidget(QLabel("Vocabulary size:"))
        row.addWidget(self.spin, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Open")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(text)
        lay.addLayout(row)
        lay.addWidget(buttons)
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("x") * 60)  # the text in a few lines, not many
        self.spin.setFocus()
        self.spin.selectAll()

    def value(self) -> int:
        return int(self.spin.value())


def ask_vocab_size(parent, path, value: int) -> int | None:
    """The vocabulary size for the text file ``path`` (``value`` offered first); None when cancelled."""
    dialog = VocabSizeDialog(path, value, parent)
    return dialog.value() if dialog.exec() == QDialog.Accepted else None


class DivergenceDialog(QMessageBox):
    """Explains why training stopped and offers the ways on.

    The core has already put the last good weights back. With a
    ``suggested_learning_rate`` (the last one that trained, or a smaller one),
    the first and default button keeps those weights and sets it:
    ``restore_requested(learning_rate)``; "keep" just closes (the learning rate
    stays); ``reset_requested`` asks for new weights.
    """

    reset_requested = Signal()
    restore_requested = Signal(float)

    def __init__(self, explanation: str, parent=None, *, suggested_learning_rate: float | None = None,
                 learning_rate: float | None = None):
        super().__init__(parent)
        self.setIcon(QMessageBox.Warning)
        self.setWindowTitle("Training diverged")
        self.setText("Training stopped: the numbers blew up.")
        self.setInformativeText(explanation)
        self.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.suggested_learning_rate = suggested_learning_rate
        self.restore_button = None
        if suggested_learning_rate is not None:
            self.restore_button = self.addButton(
                f"Restore the last good weights, learning rate {suggested_learning_rate:g}", QMessageBox.AcceptRole
            )
            self.restore_button.clicked.connect(lambda: self.restore_requested.emit(suggested_learning_rate))
        keep = "Keep the last good weights"
        if suggested_learning_rate is not None and learning_rate is not None:
            keep += f", learning rate {learning_rate:g}"
        self.keep_button = self.addButton(keep, QMessageBox.RejectRole)
        self.reset_button = self.addButton("Reset to new weights", QMessageBox.DestructiveRole)
        self.setDefaultButton(self.restore_button or self.keep_button)
        self.reset_button.clicked.connect(self.reset_requested)

    @property
    def explanation(self) -> str:
        return self.informativeText()


class BackgroundTask(QThread):
    """Run ``fn()`` in a thread; ``succeeded(result)`` or ``failed(one line)`` arrive on the GUI thread.

    Errors of the project (``ExplorerError``) become their message. Anything
    else also goes to ``sys.excepthook`` (the window's error handler logs it).
    """

    succeeded = Signal(object)
    failed = Signal(str)

    def __init__(self, fn, parent=None):
        super().__init__(parent)
        self._fn = fn

    def run(self) -> None:
        from core.errors import ExplorerError

        try:
            result = self._fn()
        except ExplorerError as err:
            self.failed.emit(str(err))
        except MemoryError:
            self.failed.emit("out of memory")
        except Exception as err:  # a bug: log it, and still give the caller its answer
            sys.excepthook(type(err), err, err.__traceback__)
            self.failed.emit(f"unexpected error ({type(err).__name__}: {err})")
        else:
            self.succeeded.emit(result)


class _DownloadThread(QThread):
    """Runs ``core.download.download_hinton``; its callbacks become signals (queued to the GUI thread)."""

    progress = Signal(str, int, int, int, object)  # name, index, n_files, done, total or None
    succeeded = Signal(str)  # the folder
    failed = Signal(str)  # one line
    cancelled_ = Signal(str)

    def __init__(self, dest=None, prefix=None, timeout=30.0, parent=None):
        super().__init__(parent)
        self.dest, self.prefix, self.timeout = dest, prefix, timeout
        self.cancel_event = threading.Event()

    def run(self) -> None:
        from core.download import DownloadCancelled, download_hinton
        from core.errors import ExplorerError

        try:
            folder = download_hinton(
                self.dest,
                self.prefix,
                progress=lambda *a: self.progress.emit(*a),
                cancelled=self.cancel_event.is_set,
                timeout=self.timeout,
            )
        except DownloadCancelled as err:
            self.cancelled_.emit(str(err))
        except ExplorerError as err:
            self.failed.emit(str(err))
        except Exception as err:
            sys.excepthook(type(err), err, err.__traceback__)
            self.failed.emit(f"unexpected error ({type(err).__name__}: {err})")
        else:
            self.succeeded.emit(str(folder))


class DownloadDialog(QDialog):
    """Download the Hinton corpus with a progress bar and a Cancel button.

    ``start()`` begins; the dialog then ends in one of three states, announced by
    ``finished_download(folder)`` (success), ``download_failed(message)`` or
    ``download_cancelled()``. ``dest``, ``prefix`` and ``timeout`` are passed to
    ``core.download.download_hinton`` (tests use a local mirror).
    """

    finished_download = Signal(str)
    download_failed = Signal(str)
    download_cancelled = Signal()

    def __init__(self, parent=None, *, dest=None, prefix=None, timeout=30.0):
        super().__init__(parent)
        self.setWindowTitle("Download the Hinton corpus")
        self.setMinimumWidth(460)
        self.folder: str | None = None
        self.error: str | None = None
        self.status_label = QLabel("Connecting…")
        self.status_label.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.detail_label = QLabel(
            "The 4-gram corpus of the classic exercise (about 4 MB, four files), "
            "checked against its sha256 checksums and kept in your cache folder."
        )
        self.detail_label.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.cancel_button = QPushButton("Cancel")
        self.buttons.addButton(self.cancel_button, QDialogButtonBox.RejectRole)
        self.cancel_button.clicked.connect(self.cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.detail_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.bar)
        layout.addWidget(self.buttons)
        self._thread = _DownloadThread(dest, prefix, timeout, self)
        self._thread.progress.connect(self._on_progress)
        self._thread.succeeded.connect(self._on_succeeded)
        self._thread.failed.connect(self._on_failed)
        self._thread.cancelled_.connect(self._on_cancelled)
        self._done = False

    # ---- control -----------------------------------------------------------------------
    def start(self) -> None:
        self.open()
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.isRunning()

    def cancel(self) -> None:
        """Ask the download to stop (it stops within one chunk), or close when it has ended."""
        if self._done:
            self.accept() if self.folder else self.reject()
            return
        self._thread.cancel_event.set()
        self.status_label.setText("Cancelling…")
        self.cancel_button.setEnabled(False)

    def wait_stopped(self, ms: int = 5000) -> None:
        """Cancel and wait for the thread (when the window closes)."""
        if self._thread.isRunning():
            self._thread.cancel_event.set()
            self._thread.wait(ms)

    def reject(self) -> None:  # Escape or the close box: cancel first
        if not self._done:
            self.cancel()
            return
        super().reject()

    # ---- reports from the thread ---------------------------------------------------------------
    def _on_progress(self, name: str, index: int, n_files: int, done: int, total) -> None:
        from core.download import HINTON_SIZES

        sizes = list(HINTON_SIZES.values())
        before = sum(sizes[:index])
        whole = sum(sizes)
        self.bar.setValue(int(1000 * min(1.0, (before + done) / whole)))
        total_text = f" of {total / 1e6:.1f} MB" if total else ""
        self.status_label.setText(f"File {index + 1} of {n_files}: {name}, {done / 1e6:.1f} MB{total_text}")

    def _finish(self, text: str, ok: bool) -> None:
        self._done = True
        self.status_label.setText(text)
        self.cancel_button.setText("Close")
        self.cancel_button.setEnabled(True)
        if ok:
            self.bar.setValue(self.bar.maximum())

    def _on_succeeded(self, folder: str) -> None:
        self.folder = folder
        self._finish(f"Done: the corpus is in {folder}", True)
        self.finished_download.emit(folder)

    def _on_failed(self, message: str) -> None:
        self.error = message
        self._finish(f"Download failed: {message}", False)
        self.download_failed.emit(message)

    def _on_cancelled(self, message: str) -> None:
        self.error = "cancelled"
        self._finish("Download cancelled; nothing half-written was kept.", False)
        self.download_cancelled.emit()


__all__ = [
    "SAVE",
    "DISCARD",
    "CANCEL",
    "ask_unsaved",
    "confirm_discard",
    "show_message",
    "DivergenceDialog",
    "BackgroundTask",
    "DownloadDialog",
]
