"""No Python method that Qt calls may raise: every override in explorer/ wears ``explorer.guard.qt_override``.

(With PySide6 6.11 an exception escaping such an override ends the process.)
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QWidget

import explorer
from explorer import guard
from explorer.errors import ErrorHandler, log_path
from explorer.guard import PYQTGRAPH_HOOKS, QT_VIRTUALS, is_guarded, qt_override


def _framework(cls) -> bool:
    module = cls.__module__ or ""
    return module.startswith(("PySide6", "shiboken6", "pyqtgraph"))


def _explorer_classes():
    for info in pkgutil.walk_packages(explorer.__path__, "explorer."):
        module = importlib.import_module(info.name)
        for cls in vars(module).values():
            if inspect.isclass(cls) and cls.__module__ == module.__name__:
                yield cls


def _overrides(cls):
    """(name, function) of every method ``cls`` defines that Qt or pyqtgraph may call."""
    bases = [b for b in cls.__mro__[1:] if _framework(b)]
    if not bases:
        return
    for name, member in vars(cls).items():
        if name.startswith("__") or not inspect.isfunction(member):
            continue
        if name in PYQTGRAPH_HOOKS or any(name in vars(b) for b in bases):
            yield name, member


def test_every_override_of_a_qt_or_pyqtgraph_method_in_explorer_is_guarded():
    found, unguarded = [], []
    for cls in _explorer_classes():
        for name, member in _overrides(cls):
            found.append(f"{cls.__qualname__}.{name}")
            if not is_guarded(member):
                unguarded.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    assert not unguarded, "add @qt_override to: " + ", ".join(unguarded)
    # The walk sees the overrides it must (a walk that finds nothing proves nothing).
    for expected in ("WordLabels.paint", "WordLabels.boundingRect", "WordLabels.dataBounds", "BarChart.paintEvent",
                     "NetworkView.mousePressEvent", "PanelScroll.eventFilter", "IndexAxis.tickStrings"):
        assert expected in found


def test_the_walk_would_catch_a_new_unguarded_override():
    class Careless(QWidget):
        def paintEvent(self, event):  # noqa: N802
            pass

    class Careful(QWidget):
        @qt_override
        def paintEvent(self, event):  # noqa: N802
            pass

    assert [n for n, m in _overrides(Careless) if not is_guarded(m)] == ["paintEvent"]
    assert [n for n, m in _overrides(Careful) if not is_guarded(m)] == []


def test_pyqtgraphs_own_overrides_of_qt_virtuals_are_guarded_once_explorer_widgets_is_imported():
    import explorer.widgets  # noqa: F401

    for cls in (pg.GraphicsView, pg.ImageItem, pg.AxisItem, pg.ViewBox, pg.ScatterPlotItem, pg.PlotCurveItem,
                pg.ColorBarItem, pg.InfiniteLine, pg.GraphicsScene, pg.LegendItem, pg.TextItem):
        for klass in cls.__mro__:
            if not (klass.__module__ or "").startswith("pyqtgraph"):
                continue
            for name, member in vars(klass).items():
                if inspect.isfunction(member) and (name in QT_VIRTUALS or name.endswith("Event")):
                    assert is_guarded(member), f"{klass.__qualname__}.{name}"
    assert is_guarded(pg.GraphicsView.paintEvent) and is_guarded(pg.ImageItem.paint)


class _Boom(QWidget):
    """Paints red where it should, but raises first once ``fail`` is set."""

    def __init__(self):
        super().__init__()
        self.fail = True
        self.calls = 0
        self.resize(60, 40)

    @qt_override
    def paintEvent(self, event):  # noqa: N802
        self.calls += 1
        p = QPainter(self)
        if self.fail:
            raise ZeroDivisionError("a bug in a paint")
        p.fillRect(self.rect(), QColor("red"))
        p.end()


@pytest.fixture
def hook_calls(monkeypatch):
    calls = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: calls.append(exc))
    monkeypatch.setattr(guard, "_reported", set())
    return calls


def test_a_guarded_paint_that_raises_draws_nothing_and_is_logged_once(qtbot, hook_calls):
    w = _Boom()
    qtbot.addWidget(w)
    picture = w.grab().toImage()  # the paint raised: nothing of it drawn, and the process lives on
    w.grab()  # and again: logged (and reported) only once
    assert w.calls == 2
    assert QColor(picture.pixel(30, 20)) != QColor("red")
    assert len(hook_calls) == 1 and hook_calls[0][0] is ZeroDivisionError
    log = log_path().read_text(encoding="utf-8")
    assert log.count("ZeroDivisionError: a bug in a paint") == 1
    assert "_Boom.paintEvent" in log and "Traceback" in log
    w.fail = False
    fixed = w.grab().toImage()
    assert QColor(fixed.pixel(30, 20)) == QColor("red")  # the painter of the failed paint was ended


def test_a_guarded_failure_reaches_the_installed_error_handler_once(qtbot, monkeypatch):
    shown = []
    handler = ErrorHandler(show=lambda summary, path: shown.append((summary, path)))
    monkeypatch.setattr(sys, "excepthook", handler.handle)
    monkeypatch.setattr(guard, "_reported", set())
    w = _Boom()
    qtbot.addWidget(w)
    w.grab()
    w.grab()
    qtbot.waitUntil(lambda: len(shown) == 1)
    assert handler.count == 1
    assert "ZeroDivisionError" in shown[0][0] and shown[0][1] == str(log_path())


def test_the_fallback_is_the_base_class_answer_or_the_one_given(hook_calls):
    class Item(pg.GraphicsObject):
        @qt_override(fallback=QRectF)
        def boundingRect(self):  # noqa: N802
            raise ValueError("no rect")

        @qt_override
        def sizeHint(self, which, constraint):  # noqa: N802
            raise ValueError("no hint")

        @qt_override(fallback=None)
        def paint(self, p, *args):
            raise ValueError("no paint")

    item = Item()
    assert item.boundingRect() == QRectF()
    assert item.paint(None) is None
    image = QImage(20, 20, QImage.Format.Format_ARGB32)
    p = QPainter(image)
    item.paint(p)
    p.end()
    assert len(hook_calls) == 2  # one per place and kind of error


def test_a_raising_pyqtgraph_item_in_a_plot_does_not_end_the_process(qtbot, hook_calls):
    class Broken(pg.GraphicsObject):
        @qt_override(fallback=QRectF)
        def boundingRect(self):  # noqa: N802
            return QRectF(0, 0, 1, 1)

        @qt_override(fallback=None)
        def paint(self, p, *args):
            raise IndexError("list index out of range")

    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    plot.addItem(Broken())
    plot.plot(np.arange(5.0))
    plot.resize(200, 150)
    plot.grab()
    assert [c[0] for c in hook_calls] == [IndexError]


def test_a_guarded_method_connected_to_a_signal_gets_only_the_arguments_it_takes(qtbot):
    from PySide6.QtCore import QObject, Signal

    class Source(QObject):
        moved = Signal(object, object, object)

    class Sink:
        def __init__(self):
            self.calls = []

        @qt_override
        def changed(self, first=None):
            self.calls.append(first)

    source, sink = Source(), Sink()
    source.moved.connect(sink.changed)
    source.moved.emit(1, 2, 3)
    assert sink.calls == [1]
