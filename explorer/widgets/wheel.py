"""Combo boxes and spin boxes in scrolling panels leave the mouse wheel to the scroll area.

By default Qt lets the wheel change a combo box's choice or a spin box's value
whenever the pointer passes over it: scrolling down a panel then silently
changes a setting (a hidden layer's activation from sigmoid to relu).
``ignore_wheel_unless_focused(root)`` gives every combo box and spin box under
``root`` the strong focus policy (a click or Tab focuses it, the wheel does
not) and one shared event filter that passes a wheel event on to the parent
widgets (the scroll area scrolls) unless the box has the keyboard focus.
Calling it again is cheap and picks up boxes added since.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QWidget

from ..guard import qt_override

__all__ = ["ignore_wheel_unless_focused", "WheelGuard"]

GUARDED = "_wheel_guarded"  # a property set on each box that wears the filter


class WheelGuard(QObject):
    """The event filter: a wheel event over an unfocused box is ignored, so it goes on to the parents."""

    @qt_override(fallback=lambda: False)
    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            event.ignore()
            return True  # the box does not see it; ignored, Qt hands it to the parent (the scroll area)
        return False


_guard: WheelGuard | None = None


def _shared_guard() -> WheelGuard:
    global _guard
    if _guard is None:
        _guard = WheelGuard()
    return _guard


def ignore_wheel_unless_focused(root: QWidget) -> int:
    """Put the wheel guard on every combo box and spin box under ``root`` not yet guarded; how many it put."""
    guard = _shared_guard()
    count = 0
    for kind in (QComboBox, QAbstractSpinBox):
        for box in root.findChildren(kind):
            if box.property(GUARDED):
                continue
            box.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            box.installEventFilter(guard)
            box.setProperty(GUARDED, True)
            count += 1
    return count
