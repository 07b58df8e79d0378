"""Python code that Qt calls must never raise: the guard every such method wears.

With PySide6 6.11, an exception that escapes a Python override of a Qt virtual
method (``paintEvent``, ``paint``, ``boundingRect``, ``resizeEvent``, the mouse
and key events, ``eventFilter``, ``sizeHint``, ``QThread.run``…) kills the
process while PySide reports it: no handler sees it, unsaved training is lost.
The same holds for pyqtgraph's hooks that its own overrides call
(``tickValues``, ``dataBounds``, ``viewRangeChanged``, a scatter plot's
tooltip function…).

``qt_override`` wraps such a method. When it raises, the wrapper

* writes the traceback to the application's error log, once per place and
  kind of error (a paint that fails fails again on every frame), and passes
  the error on once to ``sys.excepthook`` -- the application's error handler,
  which tells the user (or, under a test runner, the test's own hook);
* answers what the base class answers (the base method called with the same
  arguments), or ``fallback()`` when one is given (``fallback=None``: None):
  a paint draws nothing more, a size hint is Qt's own, an event gets Qt's
  default handling.

``guard_pyqtgraph()`` puts the same guard on pyqtgraph's own Python overrides
of Qt virtuals (its paint methods, its scene's mouse events…), so that a
numerical corner case inside the library cannot end the process either.
"""

from __future__ import annotations

import functools
import inspect
import sys
import traceback

from .errors import ErrorHandler, write_log

__all__ = ["qt_override", "is_guarded", "BASE", "QT_VIRTUALS", "PYQTGRAPH_HOOKS", "guard_pyqtgraph"]

BASE = object()  # fallback: what the base class's method answers

# Names of Qt virtual methods (and of Qt's event handlers: every name ending in "Event").
QT_VIRTUALS = frozenset({
    "paint", "boundingRect", "shape", "itemChange", "sizeHint", "minimumSizeHint", "heightForWidth",
    "hasHeightForWidth", "eventFilter", "event", "sceneEvent", "sceneEventFilter", "run",
})
# pyqtgraph looks these up by name (no base class defines them) and calls them from its own overrides
# of Qt virtuals: its paint methods and its scene's mouse events.
PYQTGRAPH_HOOKS = frozenset({"dataBounds", "pixelPadding", "hoverEvent", "mouseClickEvent", "mouseDragEvent"})

_reported: set[tuple] = set()  # (function, exception type, file, line) already logged


def is_guarded(func) -> bool:
    """True when ``func`` (a function or method) wears ``qt_override``."""
    return bool(getattr(func, "__qt_guarded__", False))


def qt_override(func=None, *, fallback=BASE):
    """Make ``func`` unable to raise; see the module docstring.

    ``@qt_override`` answers the base class's answer on failure;
    ``@qt_override(fallback=QRectF)`` answers ``QRectF()``; ``fallback=None`` answers None.
    """
    if func is None:
        return lambda f: qt_override(f, fallback=fallback)
    if is_guarded(func):
        return func
    name = func.__name__
    # Qt's signals pass a slot only the arguments it takes (found from its code): keep that behaviour
    # for a method that is also connected to a signal (pyqtgraph's viewRangeChanged is).
    params = inspect.signature(func).parameters.values()
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    most = None if any(p.kind == p.VAR_POSITIONAL for p in params) else sum(p.kind in kinds for p in params)

    @functools.wraps(func)
    def guarded(*args, **kwargs):
        if most is not None and len(args) > most:
            args = args[:most]
        try:
            return func(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 (the point: nothing may escape into Qt)
            _report(func, exc)
            return _fallback(guarded, name, fallback, args, kwargs)

    guarded.__qt_guarded__ = True
    return guarded


def _fallback(wrapper, name: str, fallback, args, kwargs):
    if fallback is None:
        return None
    if fallback is not BASE:
        try:
            return fallback()
        except Exception:  # noqa: BLE001
            return None
    if not args:
        return None
    obj = args[0]
    for cls in type(obj).__mro__:
        if cls.__dict__.get(name) is wrapper:
            base = getattr(super(cls, obj), name, None)
            break
    else:
        base = None
    if base is None:
        return None
    try:
        return base(*args[1:], **kwargs)
    except Exception:  # noqa: BLE001 (a pure virtual, or the base fails too: nothing more to do)
        return None


def _report(func, exc: BaseException) -> None:
    """Log ``exc`` (once per place) and hand it to ``sys.excepthook`` once; never raises."""
    try:
        tb = exc.__traceback__
        last = traceback.extract_tb(tb)[-1] if tb is not None else None
        key = (func.__module__, func.__qualname__, type(exc), last.filename if last else "", last.lineno if last else 0)
        if key not in _reported:
            _reported.add(key)
            text = "".join(traceback.format_exception(type(exc), exc, tb))
            path = write_log(
                f"Caught in {func.__module__}.{func.__qualname__}, which Qt calls; "
                f"it answered the safe default instead (logged once per place).\n{text}"
            )
            hook = sys.excepthook
            owner = getattr(hook, "__self__", None)
            if isinstance(owner, ErrorHandler):
                owner.report(exc, path)  # the dialog, without logging it a second time
            else:
                if path is None:
                    sys.stderr.write(text)
                hook(type(exc), exc, tb)
        if tb is not None:
            traceback.clear_frames(tb)  # drop the failed frames' locals now (an open QPainter ends)
    except Exception:  # noqa: BLE001 (reporting must not raise either)
        pass


def guard_pyqtgraph() -> int:
    """Put ``qt_override`` on pyqtgraph's Python overrides of Qt virtuals (once); returns how many."""
    import pyqtgraph as pg

    count = 0
    seen: set[type] = set()
    for value in vars(pg).values():
        if not inspect.isclass(value):
            continue
        for cls in value.__mro__:
            if cls in seen or not (cls.__module__ or "").startswith("pyqtgraph"):
                continue
            seen.add(cls)
            for attr, member in list(vars(cls).items()):
                if not inspect.isfunction(member) or is_guarded(member):
                    continue
                if attr in QT_VIRTUALS or (attr.endswith("Event") and not attr.startswith("_")):
                    fallback = _PYQTGRAPH_FALLBACK.get(attr, BASE)
                    setattr(cls, attr, qt_override(member, fallback=fallback))
                    count += 1
    return count


def _empty_rect():
    from PySide6.QtCore import QRectF

    return QRectF()


def _empty_path():
    from PySide6.QtGui import QPainterPath

    return QPainterPath()


# Answers for pyqtgraph's overrides whose base is pure virtual or would redo the work.
_PYQTGRAPH_FALLBACK = {"boundingRect": _empty_rect, "shape": _empty_path, "paint": None, "run": None}
