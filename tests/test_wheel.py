"""The mouse wheel over a panel scrolls it; it never changes a setting it passes over (pytest-qt, the real window).

A combo box or spin box takes the wheel only once it has the keyboard focus
(a click or Tab); otherwise the wheel goes on to the scroll area around it.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QScrollArea, QWidget

from explorer.app import create_window
from explorer.guard import is_guarded
from explorer.widgets.wheel import WheelGuard


@pytest.fixture
def window(qtbot, demo_corpus):
    w = create_window(corpus=demo_corpus)
    w.confirm_on_close = False
    qtbot.addWidget(w)
    w.resize(1280, 720)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.shutdown()


def wheel(widget: QWidget, steps: int = -1) -> None:
    """One notch of the wheel (down for negative ``steps``) over the middle of ``widget``, through its window
    as the system delivers it (a real wheel event goes on to the parents when the widget ignores it)."""
    window = widget.window().windowHandle()
    at = widget.mapTo(widget.window(), QPoint(widget.width() // 2, widget.height() // 2))
    QTest.wheelEvent(window, QPointF(at), QPoint(0, 120 * steps))


def scroll_area_of(widget: QWidget) -> QScrollArea:
    parent = widget.parentWidget()
    while not isinstance(parent, QScrollArea):
        parent = parent.parentWidget()
    return parent


def show_hyperparams(window, qtbot, height: int = 260):
    dock = window.docks["hyperparams_view"]
    dock.raise_()
    view = window.panel("hyperparams_view")
    qtbot.waitUntil(lambda: not dock.visibleRegion().isEmpty())
    dock.setFloating(True)  # short: the panel scrolls
    dock.resize(420, height)
    qtbot.waitUntil(lambda: dock.height() <= height + 40)
    return view


def test_the_wheel_over_an_activation_scrolls_the_hyperparameters_and_leaves_it_alone(window, qtbot):
    view = show_hyperparams(window, qtbot)
    combo = view.inputs["hidden_activation_1"]
    combo.setCurrentText("sigmoid")
    scroll = scroll_area_of(combo)
    bar = scroll.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    bar.setValue(bar.maximum() // 2)
    qtbot.waitUntil(lambda: combo.visibleRegion().isEmpty() is False)
    before = bar.value()
    window.activateWindow()
    window.setFocus()
    assert not combo.hasFocus()
    wheel(combo, -1)
    assert combo.currentText() == "sigmoid"  # not switched to the next activation
    assert bar.value() > before  # the panel scrolled down instead
    # Focused (clicked or tabbed to), the combo box takes the wheel as ever.
    combo.window().activateWindow()
    combo.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(combo.hasFocus)
    wheel(combo, -1)
    assert combo.currentText() != "sigmoid"
    # A hidden layer added since the panel was built: its activation is guarded too.
    view.add_layer()
    added = view.inputs[f"hidden_activation_{len(view.layer_rows)}"]
    qtbot.waitUntil(lambda: added.focusPolicy() == Qt.FocusPolicy.StrongFocus)


def test_every_combo_and_spin_box_of_every_panel_ignores_the_wheel_unless_focused(window, qtbot):
    for name in window.docks:
        window.panel(name)  # built (panels behind a tab are built when first used)
    boxes = [b for kind in (QComboBox, QAbstractSpinBox) for b in window.findChildren(kind)
             if scroll_area_of(b) is not None]
    assert len(boxes) >= 10
    unguarded = [f"{type(b).__name__} {b.objectName() or b.toolTip()[:40]!r}" for b in boxes
                 if b.focusPolicy() != Qt.FocusPolicy.StrongFocus]
    assert unguarded == []
    spin = window.predictions_view.k_spin
    value = spin.value()
    assert not spin.hasFocus()
    wheel(spin, 1)
    assert spin.value() == value


def test_the_wheel_guard_never_raises(qtbot):
    assert is_guarded(WheelGuard.eventFilter)
    guard = WheelGuard()
    assert guard.eventFilter(guard, QEvent(QEvent.Type.Wheel)) is False  # not a widget: left alone
