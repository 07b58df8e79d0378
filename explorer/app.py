"""Starting the window: ``create_window`` (no event loop) and ``run_app`` (the command's default).

``create_window`` is what tests, ``--screenshot`` and ``main()`` share: it makes
the QApplication if there is none, picks the corpus (the Hinton corpus when it
has been downloaded, else the built-in demo corpus), builds a ``Session`` and
returns the ``MainWindow``.

``run_app`` checks, before Qt gets a chance to abort the process, that a
display exists and that the system libraries of Qt's X11 plugin are installed;
otherwise it prints one line saying what to do and returns 1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from core.errors import CheckpointError, ExplorerError, InputError

PROG = "backprop-explorer"
SCREENSHOT_SIZE = (1600, 1000)

# Libraries the xcb platform plugin of Qt 6 loads, with the Debian/Ubuntu package of each.
XCB_LIBRARIES = (
    ("xcb", "libxcb1"),
    ("X11-xcb", "libx11-xcb1"),
    ("xcb-cursor", "libxcb-cursor0"),
    ("xcb-icccm", "libxcb-icccm4"),
    ("xcb-keysyms", "libxcb-keysyms1"),
    ("xcb-image", "libxcb-image0"),
    ("xcb-render-util", "libxcb-render-util0"),
    ("xcb-randr", "libxcb-randr0"),
    ("xcb-shape", "libxcb-shape0"),
    ("xcb-xfixes", "libxcb-xfixes0"),
    ("xcb-xkb", "libxcb-xkb1"),
    ("xcb-sync", "libxcb-sync1"),
    ("xcb-shm", "libxcb-shm0"),
    ("xcb-util", "libxcb-util1"),
    ("xkbcommon", "libxkbcommon0"),
    ("xkbcommon-x11", "libxkbcommon-x11-0"),
    ("fontconfig", "libfontconfig1"),
    ("EGL", "libegl1"),
    ("GL", "libgl1"),
    ("dbus-1", "libdbus-1-3"),
)

# ---- the application object --------------------------------------------------------------------


def ensure_app():
    """The QApplication (created, named and styled on first use)."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else PROG])
    app.setApplicationName("Backprop Explorer")
    app.setApplicationDisplayName("Backprop Explorer")
    app.setOrganizationName("backprop-explorer")
    app.setOrganizationDomain("backprop-explorer.invalid")
    from . import widgets  # noqa: F401  (importing it configures pyqtgraph for the whole application)

    return app


# ---- choosing the corpus ------------------------------------------------------------------------------


def default_corpus():
    """The downloaded Hinton corpus when it is in the cache, else the built-in demo corpus."""
    from core.corpus import load_demo, load_hinton_folder
    from core.download import find_cached

    folder = find_cached()
    if folder is not None:
        try:
            return load_hinton_folder(folder)
        except ExplorerError:
            pass  # a damaged cache must not stop the window from opening
    return load_demo()


def _corpus_for_checkpoint(path):
    """A corpus whose vocabulary is the checkpoint's: the Hinton corpus (if cached) or the demo corpus."""
    from core import checkpoint
    from core.corpus import load_demo, load_hinton_folder
    from core.download import find_cached

    ckpt = checkpoint.load(path)
    candidates = []
    folder = find_cached()
    if folder is not None:
        candidates.append(lambda: load_hinton_folder(folder))
    candidates.append(load_demo)
    for make in candidates:
        corpus = make()
        if list(corpus.vocab) == list(ckpt.vocab):
            return corpus
    made_for = f" ({ckpt.corpus_name})" if ckpt.corpus_name else ""
    raise CheckpointError(
        f"{Path(path).name} was made for another corpus{made_for}: give that corpus with --data SOURCE"
    )


def create_window(data=None, model=None, corpus=None, config=None, vocab_size=None, lessons=None):
    """Build the main window (and the QApplication if needed) without starting the event loop.

    ``data``: a source for ``core.corpus.load_source`` ("demo", "hinton", a folder,
    a text file); default: the Hinton corpus when downloaded, else the demo corpus.
    ``vocab_size``: for a text file, how many of its most frequent words make the
    vocabulary (default 250, as ``train --vocab-size``); it needs ``data``.
    ``corpus``: an already loaded ``Corpus`` (instead of ``data``).
    ``model``: a checkpoint file to continue from. ``config``: a ``core.model.Config``.
    ``lessons``: a folder of lesson files for Lesson mode (default: the built-in lessons).
    Raises ``ExplorerError`` (one line) for a source or checkpoint that cannot be used.
    """
    from core.corpus import load_source

    from .main_window import MainWindow
    from .session import Session

    if vocab_size is not None and (data is None or corpus is not None):
        raise InputError("--vocab-size is for a text corpus: give the file with --data FILE")
    ensure_app()
    if corpus is None:
        if data is not None:
            corpus = load_source(data, vocab_size)
        elif model is not None:
            corpus = _corpus_for_checkpoint(model)
        else:
            corpus = default_corpus()
    session = Session(corpus, config)
    window = MainWindow(session, lessons=lessons)
    if model is not None:
        session.load_checkpoint(model)
        window.checkpoint_path = Path(model)
    return window


# ---- the platform checks ----------------------------------------------------------------------------------


def missing_xcb_packages(find_library=None) -> list[str]:
    """Debian packages of the X11 plugin's libraries that cannot be found (empty when all are there)."""
    if find_library is None:
        import ctypes.util  # here, not at start-up: only a check of the X11 libraries needs it

        find_library = ctypes.util.find_library
    return [package for lib, package in XCB_LIBRARIES if not find_library(lib)]


def display_problem(environ=None, platform: str | None = None, find_library=None) -> str | None:
    """One line saying why the window cannot open here, or None when it can (or we cannot tell)."""
    env = os.environ if environ is None else environ
    platform = platform or sys.platform
    if not platform.startswith("linux"):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "")
    if qpa and not qpa.startswith("xcb"):
        return None  # the user chose a platform (offscreen, wayland, ...): let Qt use it
    if not env.get("DISPLAY") and (qpa or not env.get("WAYLAND_DISPLAY")):
        return (
            f"{PROG}: no display to open the window on (DISPLAY is not set); "
            f"run it in a desktop session, or under `xvfb-run {PROG}`, "
            f"or render a picture with `{PROG} --screenshot shot.png`"
        )
    if not qpa and env.get("WAYLAND_DISPLAY"):
        return None  # a Wayland session: Qt uses its Wayland plugin
    missing = missing_xcb_packages(find_library)
    if missing:
        return (
            f"{PROG}: Qt's X11 plugin needs system libraries that are missing; "
            f"install them with: sudo apt-get install {' '.join(missing)}"
        )
    return None


# ---- the command ---------------------------------------------------------------------------------------------


def run_app(args) -> int:
    """Open the window (or, with ``args.screenshot``, render it to a PNG); the exit status.

    Errors of the project (``ExplorerError``) go up to the command line, which
    prints their one line; anything unexpected is logged and summed up in one line.
    """
    try:
        return _run_app(args)
    except (ExplorerError, KeyboardInterrupt, MemoryError):
        raise
    except Exception as err:
        import traceback

        from .errors import summary_line, write_log

        path = write_log(traceback.format_exc())
        where = f"; details in {path}" if path else ""
        print(f"{PROG}: error: {summary_line(err)}{where}", file=sys.stderr)
        return 1


def _run_app(args) -> int:
    screenshot = getattr(args, "screenshot", None)
    if screenshot:
        _check_screenshot_path(Path(screenshot))
        if not os.environ.get("QT_QPA_PLATFORM"):
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
    else:
        problem = display_problem()
        if problem:
            print(problem, file=sys.stderr)
            return 1

    window = create_window(
        data=getattr(args, "data", None),
        model=getattr(args, "model", None),
        vocab_size=getattr(args, "window_vocab_size", None),
        lessons=getattr(args, "lessons", None),
    )
    session = window.session
    if getattr(args, "run_batches", 0):
        session.run_batches(args.run_batches)
    for _ in range(getattr(args, "steps", 0) or 0):
        if session.step_stage() is None:
            break
    if screenshot:
        size = getattr(args, "size", None) or SCREENSHOT_SIZE
        return _screenshot(window, screenshot, size=size, mode=getattr(args, "mode", None))

    return _interactive(window)


def _interactive(window) -> int:
    """Show the window and run the event loop until it closes; the exit status."""
    import signal

    from PySide6.QtCore import QTimer

    from .errors import disable_crash_log, enable_crash_log, install_error_handler

    app = ensure_app()
    install_error_handler()
    enable_crash_log()  # a crash no handler sees still leaves a trace in the log folder
    window.restore_layout()
    window.enable_autosave()
    window.show()
    QTimer.singleShot(0, window.offer_restore)  # once the window is on screen: training a crash left unsaved
    # Ctrl+C in the terminal closes the window (asking about unsaved training). Python
    # handles signals only between bytecodes, so a timer lets it run now and then.
    previous = signal.signal(signal.SIGINT, lambda *_: window.close())
    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(250)
    try:
        status = app.exec()
    finally:
        wake.stop()
        signal.signal(signal.SIGINT, previous)
        window.shutdown()
        disable_crash_log()
    return int(status)


def _check_screenshot_path(path: Path) -> None:
    if path.suffix.lower() != ".png":
        raise InputError(f"the screenshot must be a .png file, not {path.name!r}")
    if not path.parent.resolve().is_dir():
        raise InputError(f"cannot write the screenshot: folder {path.parent} does not exist")


def _screenshot(window, path, size=SCREENSHOT_SIZE, mode=None) -> int:
    """Render ``window`` at ``size`` to ``path`` (PNG) once the event loop has laid it out.

    ``mode``: "lesson" or "explorer"; by default the one the window would open in (Lesson mode on a
    fresh settings folder). The saved settings are read, never written."""
    from PySide6.QtCore import QEventLoop, QTimer

    path = Path(path)
    _check_screenshot_path(path)
    ensure_app()
    loop = QEventLoop()  # a local loop: quitting it leaves the application's own loop alone
    window.confirm_on_close = False
    window.resize(*size)
    window.set_mode(mode or window.saved_mode())
    window.show()
    result = {}

    def grab():
        try:
            image = window.grab().toImage()
            result["size"] = (image.width(), image.height())
            result["ok"] = image.save(str(path), "PNG")
        finally:
            window.shutdown()
            window.close()
            loop.quit()

    # Two turns of the event loop: the first lays out the docks, the second paints.
    QTimer.singleShot(0, lambda: QTimer.singleShot(50, grab))
    loop.exec()
    window.deleteLater()
    if not result.get("ok"):
        raise ExplorerError(f"could not write the screenshot to {path}")
    print(f"Saved {path} ({result['size'][0]}×{result['size'][1]})")
    return 0


__all__ = ["create_window", "run_app", "ensure_app", "default_corpus", "display_problem", "missing_xcb_packages"]
