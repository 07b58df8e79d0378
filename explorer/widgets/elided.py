"""A one-line label that ends in "…" when it is narrower than its text, the whole text in its tooltip.

A plain QLabel in a toolbar that runs out of room is moved behind the
toolbar's "»" button: the window then shows no stage at all. ``ElidedLabel``
asks for little width, takes what there is, and shortens its text to fit.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QLabel, QSizePolicy

from ..guard import qt_override

__all__ = ["ElidedLabel"]


class ElidedLabel(QLabel):
    """``text()`` is the text set (as for any label); ``shown_text()`` what fits and is drawn; the tooltip
    holds the full text when it is cut."""

    def __init__(self, text: str = "", parent=None, minimum: int = 120, tip: str = ""):
        super().__init__(parent)
        self._full = ""
        self._tip = tip  # a tooltip of its own: shown always (it says at least as much as the text)
        self._minimum = minimum
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setText(text)

    @qt_override
    def text(self) -> str:  # (Python callers: the text set, not the shortened one Qt draws)
        return self._full

    def shown_text(self) -> str:
        return QLabel.text(self)

    @qt_override
    def setText(self, text: str) -> None:
        self._full = text
        self._fit()

    def _fit(self) -> None:
        room = self.contentsRect().width()
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(room, 0))
        super().setText(shown if room > 0 else self._full)
        self.setToolTip(self._tip or (self._full if shown != self._full else ""))

    @qt_override
    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + 4, hint.height())

    @qt_override
    def minimumSizeHint(self) -> QSize:
        return QSize(self._minimum, super().minimumSizeHint().height())

    @qt_override(fallback=None)
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()
