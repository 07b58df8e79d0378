"""Dialogs and background work for the main window.

* ``ask_unsaved`` / ``confirm``: the questions asked before work is discarded;
* ``ask_vocab_size`` (``VocabSizeDialog``): how many words of a text file make the vocabulary;
* ``DivergenceDialog``: explains a diverged run and offers the ways on;
* ``DownloadDialog``: asks, then downloads the Hinton corpus with a progress bar
  (cancellable, Retry after a failure, from a mirror if one is given);
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

from PySide6.QtCore import QSize, QThread, Qt, Signal
from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from .guard import qt_override

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

    @qt_override(fallback=None)
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

    @qt_override(fallback=None)
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
    """Download the Hinton corpus: ask first, then a progress bar and Cancel; Retry after a failure.

    It opens on a question that says what the download is (four files, their
    size, checked against sha256), where it comes from and where it goes, or
    that the files are already there (and whether they are the corpus in
    use). The user may give a mirror (a URL prefix, as ``download --from``) or
    open a folder that holds the files instead.

    ``start()`` begins (the Download / Retry button); the attempt ends in one
    of three states, announced by ``finished_download(folder)``,
    ``download_failed(message)`` (the whole message shown, wrapped, selectable)
    or ``download_cancelled()``. ``train_requested(folder)`` asks to train on
    files already there; ``folder_requested()`` to choose a folder instead.
    ``dest``, ``prefix`` and ``timeout`` go to ``core.download.download_hinton``;
    ``in_use`` is the folder of the corpus in use, if it is a Hinton one.
    """

    finished_download = Signal(str)
    download_failed = Signal(str)
    download_cancelled = Signal()
    train_requested = Signal(str)
    folder_requested = Signal()

    def __init__(self, parent=None, *, dest=None, prefix=None, timeout=30.0, in_use: str | None = None):
        from core.download import cache_dir, find_cached

        super().__init__(parent)
        self.setObjectName("download_dialog")
        self.setWindowTitle("Download the Hinton corpus")
        self.setSizeGripEnabled(True)
        self.setMinimumWidth(480)
        self.dest = Path(dest) if dest is not None else cache_dir()
        self.timeout = timeout
        self.folder: str | None = None
        self.error: str | None = None
        self.cached = find_cached(self.dest)  # the folder, if the four files are there and intact
        self.in_use = self.cached is not None and in_use is not None and _same_folder(in_use, self.cached)

        self.info_label = QLabel(self._info_text(prefix))
        self.info_label.setObjectName("download_info")
        self.info_label.setWordWrap(True)
        self.info_label.setTextFormat(Qt.RichText)
        self.info_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.mirror_edit = QLineEdit(prefix or "")
        self.mirror_edit.setObjectName("download_mirror")
        self.mirror_edit.setPlaceholderText("optional: a URL prefix the file names are appended to")
        self.mirror_edit.setToolTip(
            "A mirror of the four files in one folder, reachable through an http://, https:// or file:// URL "
            "(as the command line's download --from). Empty: the public addresses."
        )
        self.mirror_edit.setClearButtonEnabled(True)
        self.mirror_edit.textChanged.connect(lambda text: self.info_label.setText(self._info_text(text.strip())))
        self.mirror_row = QWidget()
        mirror_row = QHBoxLayout(self.mirror_row)
        mirror_row.setContentsMargins(0, 0, 0, 0)
        mirror_row.addWidget(QLabel("Mirror:"))
        mirror_row.addWidget(self.mirror_edit, 1)
        self.mirror_row.setVisible(self.cached is None)
        self.status_label = QLabel(self._first_status())
        self.status_label.setObjectName("download_status")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.error_text = _MessageText()  # the whole message of a failure: wrapped anywhere, selectable
        self.error_text.setObjectName("download_error")
        self.error_text.setReadOnly(True)
        self.error_text.setWordWrapMode(QTextOption.WrapAtWordBoundaryOrAnywhere)
        self.error_text.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        self.error_text.hide()
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.bar.hide()

        self.download_button = QPushButton("Download")
        self.download_button.setObjectName("download_button")
        self.download_button.clicked.connect(self.start)
        self.download_button.setVisible(self.cached is None)  # intact files would not be downloaded again
        self.train_button = QPushButton("Train on it")
        self.train_button.setObjectName("download_train_button")
        self.train_button.setToolTip("Open these files as the corpus (a new network)")
        self.train_button.clicked.connect(lambda: self.train_requested.emit(str(self.cached or self.folder)))
        self.train_button.setVisible(self.cached is not None and not self.in_use)
        self.folder_button = QPushButton("Open a folder instead…")
        self.folder_button.setObjectName("download_folder_button")
        self.folder_button.setToolTip("A folder that already holds the four files (e.g. copied from elsewhere)")
        self.folder_button.clicked.connect(self.folder_requested)
        self.cancel_button = QPushButton("Close" if self.cached is not None else "Cancel")
        self.cancel_button.setObjectName("download_close_button")
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.folder_button)
        buttons.addStretch(1)
        for b in (self.train_button, self.download_button, self.cancel_button):
            buttons.addWidget(b)
        default = self.train_button if self.train_button.isVisibleTo(self) else self.download_button
        if self.in_use:
            default = self.cancel_button
        default.setDefault(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.info_label)
        layout.addWidget(self.mirror_row)
        layout.addWidget(self.status_label)
        layout.addWidget(self.error_text, 1)
        layout.addWidget(self.bar)
        layout.addLayout(buttons)
        self._thread: _DownloadThread | None = None
        self._new_thread(prefix or None)
        self._done = True  # nothing running: Cancel closes

    # ---- texts ---------------------------------------------------------------------------------------
    def _info_text(self, prefix) -> str:
        from core.download import DEFAULT_PREFIX, HINTON_FILES, HINTON_SIZES

        names = ", ".join(HINTON_FILES)
        size = sum(HINTON_SIZES.values()) / 1e6
        source = prefix if prefix else f"{DEFAULT_PREFIX.split('/')[2]} (files pinned to one commit)"
        return (
            "<p>The 4-gram corpus of the classic exercise: "
            f"{len(HINTON_FILES)} files ({html.escape(names)}), {size:.1f} MB in all, "
            "each checked against its sha256 checksum.</p>"
            f"<p><b>From:</b> {html.escape(source)}<br><b>Into:</b> {html.escape(str(self.dest))}</p>"
        )

    def _first_status(self) -> str:
        if self.cached is None:
            return "Download it now? Nothing is written under a file's name until its checksum matches."
        where = f"Already downloaded: the four files are in {self.cached}, intact."
        if self.in_use:
            return where + " It is the corpus in use."
        return where + " Another corpus is in use: “Train on it” switches to it."

    # ---- control -----------------------------------------------------------------------
    def _new_thread(self, prefix=None) -> None:
        self._thread = _DownloadThread(self.dest, prefix, self.timeout, self)
        self._thread.progress.connect(self._on_progress)
        self._thread.succeeded.connect(self._on_succeeded)
        self._thread.failed.connect(self._on_failed)
        self._thread.cancelled_.connect(self._on_cancelled)

    def mirror(self) -> str | None:
        """The mirror typed (None: the public addresses); raises InputError if it is not a URL prefix."""
        from core.download import file_urls

        text = self.mirror_edit.text().strip()
        if not text:
            return None
        file_urls(text)  # checks it
        return text

    def start(self) -> None:
        """Download (or retry) now, from the mirror typed or the public addresses."""
        from core.errors import ExplorerError

        if self.running:
            return
        try:
            prefix = self.mirror()
        except ExplorerError as err:
            self._on_failed(str(err), emit=False)
            return
        if self._thread.isFinished() or self._thread.prefix != prefix:  # a thread runs once: a new one
            self._new_thread(prefix)
        self._done = False
        self.folder = self.error = None
        self.error_text.hide()
        self.error_text.clear()
        self.status_label.setText("Connecting…")
        self.bar.setValue(0)
        self.bar.show()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setEnabled(True)
        self.cancel_button.setDefault(True)
        for b in (self.download_button, self.train_button, self.folder_button, self.mirror_edit):
            b.setEnabled(False)
        self.train_button.hide()
        if not self.isVisible():
            self.open()
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def cancel(self) -> None:
        """Ask the download to stop (it stops within one chunk), or close when nothing runs."""
        if self._done:
            self.accept() if self.folder else self.reject()
            return
        self._thread.cancel_event.set()
        self.status_label.setText("Cancelling…")
        self.cancel_button.setEnabled(False)

    def wait_stopped(self, ms: int = 5000) -> None:
        """Cancel and wait for the thread (when the window closes)."""
        if self._thread is not None and self._thread.isRunning():
            self._thread.cancel_event.set()
            self._thread.wait(ms)

    @qt_override
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
        for b in (self.download_button, self.folder_button, self.mirror_edit):
            b.setEnabled(True)
        self.download_button.setText("Retry")
        self.download_button.setVisible(not ok)
        (self.cancel_button if ok else self.download_button).setDefault(True)
        if ok:
            self.bar.setValue(self.bar.maximum())

    def _on_succeeded(self, folder: str) -> None:
        self.folder = folder
        self._finish(f"Done: the corpus is in {folder}", True)
        self.finished_download.emit(folder)

    def _on_failed(self, message: str, emit: bool = True) -> None:
        self.error = message
        self._finish(
            "Download failed (nothing unverified was kept). Retry, give a mirror, or open a folder "
            "that holds the files:",
            False,
        )
        self.bar.hide()
        self.error_text.setPlainText(message)
        self.error_text.show()
        self._fit_error()
        if emit:
            self.download_failed.emit(message)

    def _fit_error(self) -> None:
        """Make the message box tall enough for the whole message (up to a dozen lines; it scrolls beyond)."""
        box = self.error_text
        self.layout().activate()
        doc = box.document()
        doc.setTextWidth(max(100, box.viewport().width()))
        lines = sum(max(1, b.layout().lineCount()) for b in _blocks(doc))
        line_h = box.fontMetrics().lineSpacing()
        margins = box.contentsMargins().top() + box.contentsMargins().bottom() + 2 * int(doc.documentMargin()) + 4
        box.setMinimumHeight(min(12, max(2, lines)) * line_h + margins)
        self.adjustSize()

    def _on_cancelled(self, message: str) -> None:
        self.error = "cancelled"
        self._finish("Download cancelled; nothing half-written was kept.", False)
        self.download_cancelled.emit()


class _MessageText(QPlainTextEdit):
    """A read-only text box whose preferred height is its minimum one (set to fit its text), not 192 pixels."""

    @qt_override
    def sizeHint(self) -> QSize:
        return QSize(super().sizeHint().width(), self.minimumHeight())


def _blocks(doc):
    block = doc.begin()
    while block.isValid():
        yield block
        block = block.next()


def _same_folder(a, b) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


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
