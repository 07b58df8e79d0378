"""One handler for unexpected exceptions in the window.

Errors a user can cause (a bad file, a bad value) are caught where they happen
and shown as one line. Anything else -- a bug -- ends up here: ``sys.excepthook``
(which PySide6 also calls for an exception raised inside a Qt slot or virtual
method) and ``threading.excepthook`` for worker threads. The handler writes the
full traceback to a log file in the user's log folder and shows a dialog with
one clear line and the log's path. The application keeps running.

The log folder is ``$BACKPROP_EXPLORER_LOGS`` when set (tests use it), else
``platformdirs.user_log_dir("backprop-explorer")``.

A crash no Python code can catch (a segmentation fault in a library, an
abort) is traced by ``faulthandler`` into ``crash.log`` in the same folder
(``enable_crash_log``, at the window's start): the Python stack of every
thread at the moment of the crash, under a line with the time and process id.
A run that ends normally takes its line back out (``disable_crash_log``), so
the file holds only runs that crashed.
"""

from __future__ import annotations

import datetime
import faulthandler
import os
import sys
import threading
import traceback
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox

LOG_ENV = "BACKPROP_EXPLORER_LOGS"
LOG_NAME = "backprop-explorer.log"
CRASH_LOG_NAME = "crash.log"
MAX_LOG_BYTES = 1_000_000  # the log is renamed to .1 when it grows past this


def log_dir() -> Path:
    """The folder the error log goes to (it may not exist yet)."""
    root = os.environ.get(LOG_ENV)
    if root:
        return Path(root).expanduser()
    import platformdirs

    return Path(platformdirs.user_log_dir("backprop-explorer"))


def log_path() -> Path:
    return log_dir() / LOG_NAME


def write_log(text: str) -> Path | None:
    """Append ``text`` (with a time stamp) to the error log; returns its path, or None if it cannot be written."""
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > MAX_LOG_BYTES:
            os.replace(path, path.with_name(LOG_NAME + ".1"))
        stamp = datetime.datetime.now().isoformat(timespec="seconds")
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"==== {stamp}\n{text.rstrip()}\n\n")
        return path
    except OSError:
        return None


_crash_log = None  # (open file, its size before this run's line, faulthandler was on before)


def crash_log_path() -> Path:
    return log_dir() / CRASH_LOG_NAME


def enable_crash_log() -> Path | None:
    """Trace a hard crash of this process into ``crash.log``; returns its path, or None if it cannot be written."""
    global _crash_log
    if _crash_log is not None:
        return Path(_crash_log[0].name)
    path = crash_log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > MAX_LOG_BYTES:
            os.replace(path, path.with_name(CRASH_LOG_NAME + ".1"))
        f = open(path, "ab")  # faulthandler writes to its descriptor directly, in bytes
        start = f.tell()
        stamp = datetime.datetime.now().isoformat(timespec="seconds")
        f.write(f"==== {stamp} Backprop Explorer (process {os.getpid()}) stopped by a crash:\n".encode())
        f.flush()
    except OSError:
        return None
    was_enabled = faulthandler.is_enabled()
    faulthandler.enable(file=f, all_threads=True)
    _crash_log = (f, start, was_enabled)
    return path


def disable_crash_log() -> None:
    """The run ends normally: stop tracing, and take this run's line back out of the crash log."""
    global _crash_log
    if _crash_log is None:
        return
    f, start, was_enabled = _crash_log
    _crash_log = None
    faulthandler.disable()
    if was_enabled and sys.stderr is not None:  # as it was before (``python -X faulthandler``, a test runner)
        try:
            faulthandler.enable(file=sys.stderr, all_threads=True)
        except (ValueError, OSError, AttributeError):
            pass
    try:
        f.truncate(start)
    except OSError:
        pass
    finally:
        f.close()
    path = Path(f.name)
    try:
        if path.stat().st_size == 0:
            path.unlink()
    except OSError:
        pass


def summary_line(exc: BaseException) -> str:
    """One line a user can read about an unexpected exception."""
    from core.errors import ExplorerError

    if isinstance(exc, ExplorerError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "Out of memory: try smaller sizes (batch, hidden or embedding size)."
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"Something went wrong ({name}{': ' + text if text else ''})."


class ErrorHandler(QObject):
    """Logs unexpected exceptions and tells the user; see the module docstring.

    ``show(summary, log_path_or_None)`` presents the message; the default opens a
    non-modal message box (kept in ``dialog``). Exceptions may arrive from any
    thread: the report travels to the GUI thread through a queued signal.
    """

    _report = Signal(str, str)

    def __init__(self, show=None, parent=None):
        super().__init__(parent)
        self.show = show or self._show_dialog
        self.dialog: QMessageBox | None = None
        self.count = 0  # unexpected exceptions seen
        self._unseen = 0  # arrived while the dialog was still open
        self._previous_hook = None
        self._previous_thread_hook = None
        self._report.connect(self._on_report, Qt.QueuedConnection)

    # ---- installation --------------------------------------------------------------------
    def install(self) -> "ErrorHandler":
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        sys.excepthook = self.handle
        threading.excepthook = self._thread_hook
        return self

    def uninstall(self) -> None:
        if sys.excepthook == self.handle:
            sys.excepthook = self._previous_hook or sys.__excepthook__
        if threading.excepthook == self._thread_hook:
            threading.excepthook = self._previous_thread_hook or threading.__excepthook__

    # ---- handling ------------------------------------------------------------------------
    def handle(self, exc_type, exc, tb) -> None:
        """The ``sys.excepthook``: log, then report to the GUI thread."""
        if issubclass(exc_type, KeyboardInterrupt):
            app = QApplication.instance()
            if app is not None:
                app.quit()
            return
        self.count += 1
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        path = write_log(text)
        if path is None:  # the log cannot be written: the terminal is the last resort
            sys.stderr.write(text)
        self._report.emit(summary_line(exc), str(path) if path else "")

    def report(self, exc: BaseException, path: Path | None) -> None:
        """Tell the user about ``exc``, already logged at ``path`` (explorer.guard does the logging)."""
        self.count += 1
        self._report.emit(summary_line(exc), str(path) if path else "")

    def _thread_hook(self, args) -> None:
        if args.exc_type is SystemExit:
            return
        self.handle(args.exc_type, args.exc_value, args.exc_traceback)

    @Slot(str, str)
    def _on_report(self, summary: str, path: str) -> None:
        self.show(summary, path or None)

    def _show_dialog(self, summary: str, path: str | None) -> None:
        where = f"The details were written to {path}" if path else "The details could not be written to a log file."
        if self.dialog is not None and self.dialog.isVisible():
            self._unseen += 1
            errors = "error" if self._unseen == 1 else "errors"
            self.dialog.setInformativeText(f"{where}\n\n({self._unseen} more {errors} since this one.)")
            return
        self._unseen = 0
        box = QMessageBox(QMessageBox.Warning, "Backprop Explorer: unexpected error", summary, QMessageBox.Ok)
        box.setInformativeText(where + "\n\nThe application keeps working; you may want to save your training.")
        box.setTextInteractionFlags(Qt.TextSelectableByMouse)
        box.setAttribute(Qt.WA_DeleteOnClose, False)
        parent = QApplication.activeWindow()
        if parent is not None:
            box.setParent(parent, box.windowFlags())
        self.dialog = box
        box.open()


_handler: ErrorHandler | None = None


def install_error_handler(show=None) -> ErrorHandler:
    """Install the application's one handler (idempotent); returns it."""
    global _handler
    if _handler is None:
        _handler = ErrorHandler(show=show).install()
    elif show is not None:
        _handler.show = show
    return _handler


def uninstall_error_handler() -> None:
    global _handler
    if _handler is not None:
        _handler.uninstall()
        _handler = None


__all__ = [
    "ErrorHandler",
    "install_error_handler",
    "uninstall_error_handler",
    "log_dir",
    "log_path",
    "write_log",
    "crash_log_path",
    "enable_crash_log",
    "disable_crash_log",
]
