"""A layout that puts its widgets side by side and starts a new row when the next one does not fit.

The lesson's tables sit side by side on a wide screen and wrap onto the next
row on a laptop, so that nothing ever needs a horizontal scroll bar.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem

from ..guard import qt_override

__all__ = ["FlowLayout"]


class FlowLayout(QLayout):
    """Items left to right, wrapping; each row's items aligned to the top (``hspacing``/``vspacing`` apart)."""

    def __init__(self, parent=None, hspacing: int = 18, vspacing: int = 10):
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self.hspacing, self.vspacing = hspacing, vspacing
        self.setContentsMargins(0, 0, 0, 0)

    @qt_override(fallback=None)
    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 (Qt name)
        self._items.append(item)

    @qt_override(fallback=lambda: 0)
    def count(self) -> int:
        return len(self._items)

    @qt_override(fallback=None)
    def itemAt(self, index: int):  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    @qt_override(fallback=None)
    def takeAt(self, index: int):  # noqa: N802
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    @qt_override(fallback=lambda: Qt.Orientation(0))
    def expandingDirections(self):  # noqa: N802
        return Qt.Orientation(0)

    @qt_override(fallback=lambda: False)
    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    @qt_override(fallback=lambda: -1)
    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._arrange(QRect(0, 0, width, 0), move=False)

    @qt_override(fallback=None)
    def setGeometry(self, rect: QRect) -> None:  # noqa: N802
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    @qt_override(fallback=QSize)
    def sizeHint(self) -> QSize:  # noqa: N802
        return self.minimumSize()

    @qt_override(fallback=QSize)
    def minimumSize(self) -> QSize:  # noqa: N802
        """As wide as the widest item (narrower, it would be cut), as tall as one row of it."""
        size = QSize()
        for item in self._visible():
            size = size.expandedTo(item.sizeHint())
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def _visible(self) -> list[QLayoutItem]:
        return [i for i in self._items if i.widget() is None or not i.widget().isHidden()]

    def rows(self, width: int) -> list[list[QLayoutItem]]:
        """The items of each row at ``width`` pixels."""
        rows: list[list[QLayoutItem]] = [[]]
        x = 0
        for item in self._visible():
            w = item.sizeHint().width()
            if rows[-1] and x + w > width:
                rows.append([])
                x = 0
            rows[-1].append(item)
            x += w + self.hspacing
        return [r for r in rows if r]

    def _arrange(self, rect: QRect, move: bool) -> int:
        m = self.contentsMargins()
        inner = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        y = inner.y()
        for row in self.rows(inner.width()):
            x = inner.x()
            height = max(item.sizeHint().height() for item in row)
            for item in row:
                hint = item.sizeHint()
                if move:
                    item.setGeometry(QRect(QPoint(x, y), hint))
                x += hint.width() + self.hspacing
            y += height + self.vspacing
        return max(0, y - self.vspacing - rect.y()) + m.bottom()
