"""The network as a diagram: its boxes with their live shapes, forward and backward arrows.

    input x ──x──▶ embedding ──e──▶ hidden ──h──▶ output ──p──▶ loss
            ◀──────────────de───────────dh──────────dz_o──

The boxes are the model's (``model.boxes``, one per hidden layer). Each shows
its parameters and the arrays it computes, with the numbers of the current
network filled in (``W_emb: V×d = 250×50``). The box of the current stage is
highlighted (``stage.box``), in blue on the forward pass and in orange on the
backward pass, and the arrow the stage sends its result along
(``stage.arrow``) is drawn bold. Clicking a box emits ``layer_clicked(key)``
with the box's key ("input", "embedding", "hidden", "output", "loss"); the main
window shows that layer's tensors.
"""

from __future__ import annotations

import html

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from core.text import decimals

from ..guard import qt_override

FWD = QColor("#1f6fb4")
FWD_FILL = QColor("#dbe9f7")
BWD = QColor("#d4670b")
BWD_FILL = QColor("#fbe6d2")
BOX_FILL = QColor("#f7f7f5")
BOX_EDGE = QColor("#8a8a8a")
TEXT = QColor("#1b1b1b")
MUTED = QColor("#6b6b6b")
IDLE_ARROW = QColor("#b4b4b4")


@dataclass
class BoxText:
    title: str
    lines: list[str]


class NetworkView(QWidget):
    """See the module docstring. ``highlighted`` is the layer key of the current stage (or None)."""

    layer_clicked = Signal(str)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        self.setMinimumSize(560, 130)
        self.setToolTip("")
        self.highlighted: str | None = None
        self.active_arrow: tuple[str, int] | None = None
        self.backward = False
        self.stage_title = ""
        self.stage_name = ""
        self._loss_text = ""
        self._hover: str | None = None
        self._rects: dict[str, QRectF] = {}
        session.stage_changed.connect(self._on_stage_changed)
        session.network_changed.connect(self._on_network_changed)
        session.weights_changed.connect(self._on_weights_changed)
        self._on_stage_changed(session.stage)

    # ---- session events ---------------------------------------------------------------
    def _on_stage_changed(self, stage) -> None:
        if stage is None:
            self.highlighted = None
            self.active_arrow = None
            self.backward = False
            self.stage_title = ""
            self.stage_name = ""
        else:
            self.highlighted = stage.box
            self.active_arrow = stage.arrow
            self.backward = stage.is_backward
            self.stage_title = stage.title
            self.stage_name = stage.name
        self._loss_text = self.loss_text()
        self.update()

    def _on_network_changed(self) -> None:
        self._loss_text = self.loss_text()
        self.update()

    def _on_weights_changed(self) -> None:
        """Only the loss box's text can change: repaint that box alone (run mode does this many times a second)."""
        text = self.loss_text()
        if text == self._loss_text:
            return
        self._loss_text = text
        rect = self._layout().get("loss")
        self.update() if rect is None else self.update(rect.toAlignedRect().adjusted(-4, -4, 4, 4))

    def loss_text(self) -> str:
        """The loss box's last line: the loss of the minibatch on screen once computed, else the last one trained."""
        stage = self.session.stage
        if stage is not None and stage.loss is not None:
            return f"L = {decimals(stage.loss)}"
        ce = self.session.trainer.history.train_ce
        return f"last L = {decimals(ce[-1])}" if len(ce) else ""

    def tooltip_for(self, key: str) -> str:
        """What pointing at box ``key`` says: its arrays; for the loss box, why a loss is above a uniform guess's."""
        names = ", ".join(self.session.model.box_of(key).tensors)
        tip = f"Click to show this layer's arrays: {names}"
        note = self.session.loss_note() if key == "loss" else None
        cut = self.cut_text(key) if self._layout() else []
        if cut:  # the box is too small for its text: the tooltip has it whole, first
            whole = "<br>".join(html.escape(t, quote=False) for t in self.full_text(key))
            tip = f"<p>{whole}</p><p>{html.escape(tip, quote=False)}</p>"
            if note:
                tip += f"<p>{html.escape(note, quote=False)}</p>"
        elif note:  # rich text, so that the long sentence wraps
            tip = f"<p>{html.escape(tip, quote=False)}</p><p>{html.escape(note, quote=False)}</p>"
        return tip

    # ---- the text of each box -------------------------------------------------------------
    @property
    def layers(self) -> tuple[str, ...]:
        """The keys of the boxes, in the order they are drawn."""
        return tuple(b.key for b in self.session.model.boxes)

    def box_texts(self) -> dict[str, BoxText]:
        """Title and lines of every box, with the current network's numbers (``model.boxes``)."""
        out = {b.key: BoxText(b.title, list(b.lines)) for b in self.session.model.boxes}
        if "loss" in out:
            out["loss"].lines.append(self._loss_text or "cross-entropy")
        return out

    # ---- geometry --------------------------------------------------------------------------
    @qt_override
    def sizeHint(self) -> QSize:
        return QSize(1100, 170)

    @qt_override
    def minimumSizeHint(self) -> QSize:
        return QSize(560, 130)

    def _layout(self) -> dict[str, QRectF]:
        w, h = self.width(), self.height()
        margin = 8.0
        caption = 22.0
        keys = self.layers
        count = len(keys)
        gap = max(34.0, min(70.0, w * 0.045)) * 4 / max(4, count - 1)
        box_w = (w - 2 * margin - (count - 1) * gap) / count
        box_h = max(60.0, min(h - 2 * margin - caption, 124.0))
        top = margin + max(0.0, (h - caption - 2 * margin - box_h) / 2)
        return {key: QRectF(margin + i * (box_w + gap), top, box_w, box_h) for i, key in enumerate(keys)}

    def box_rect(self, layer: str) -> QRectF:
        """Where the box of ``layer`` is drawn (widget coordinates)."""
        return self._layout()[layer]

    def layer_at(self, pos) -> str | None:
        for key, rect in self._layout().items():
            if rect.contains(QPointF(pos)):
                return key
        return None

    # ---- mouse ------------------------------------------------------------------------------
    @qt_override
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.LeftButton:
            key = self.layer_at(event.position())
            if key is not None:
                self.layer_clicked.emit(key)
                return
        super().mousePressEvent(event)

    @qt_override
    def mouseMoveEvent(self, event) -> None:
        key = self.layer_at(event.position())
        if key != self._hover:
            self._hover = key
            self.setCursor(Qt.PointingHandCursor if key else Qt.ArrowCursor)
            self.update()
        if key:
            QToolTip.showText(event.globalPosition().toPoint(), self.tooltip_for(key), self)
        else:
            QToolTip.hideText()
        super().mouseMoveEvent(event)

    @qt_override
    def leaveEvent(self, event) -> None:
        self._hover = None
        self.update()
        super().leaveEvent(event)

    # ---- painting ----------------------------------------------------------------------------
    @qt_override
    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.fillRect(self.rect(), self.palette().base())
        rects = self._layout()
        texts = self.box_texts()
        base = self._box_font(rects)
        self._draw_arrows(p, rects, base)
        dirty = QRectF(event.rect())  # often only the loss box (see _on_weights_changed)
        for key in self.layers:
            if dirty.intersects(rects[key].adjusted(-3, -3, 3, 3)):
                self._draw_box(p, key, rects[key], texts[key], base)
        self._draw_caption(p, base)
        p.end()

    def _draw_box(self, p: QPainter, key: str, rect: QRectF, text: BoxText, base: QFont) -> None:
        current = key == self.highlighted
        update_stage = self.stage_name == "update" and any(
            self.session.model.specs[n].role == "parameter" for n in self.session.model.box_of(key).tensors
        )
        edge, fill, width = BOX_EDGE, BOX_FILL, 1.2
        if current or update_stage:
            colour = BWD if self.backward else FWD
            edge, fill, width = colour, (BWD_FILL if self.backward else FWD_FILL), 3.0 if current else 2.0
        if key == self._hover:
            width += 0.8
        p.setPen(QPen(edge, width))
        p.setBrush(fill)
        p.drawRoundedRect(rect, 8, 8)

        for font, colour, at, _full, shown in self._box_lines(key, rect, text, base):
            p.setFont(font)
            p.setPen(colour)
            p.drawText(at, shown)

    def _box_lines(self, key: str, rect: QRectF, text: BoxText, base: QFont) -> list[tuple]:
        """What box ``key`` draws, line by line: (font, colour, where, full text, text drawn). The text drawn
        ends in "…" when the box is too narrow for it; the lines that find no room are left out."""
        pad = 8.0
        inner = rect.adjusted(pad, 5, -pad, -4)
        width = int(inner.width())
        title_font = QFont(base)
        title_font.setBold(True)
        title_font.setPointSizeF(base.pointSizeF() * 1.08)
        fm_title = QFontMetrics(title_font)
        fm = QFontMetrics(base)
        out = []
        y = inner.top() + fm_title.ascent()
        out.append((title_font, TEXT, QPointF(inner.left(), y), text.title,
                    fm_title.elidedText(text.title, Qt.ElideRight, width)))
        y += fm_title.descent() + 3
        footer = self.stage_title if key == self.highlighted else ""
        room = inner.bottom() - (fm.height() + 2 if footer else 0)
        for line in text.lines:
            if y + fm.height() > room + 1:
                break
            y += fm.ascent()
            colour = MUTED if line in ("word indices", "cross-entropy") else TEXT
            out.append((base, colour, QPointF(inner.left(), y), line, fm.elidedText(line, Qt.ElideRight, width)))
            y += fm.descent() + 1
        if footer:
            badge = QFont(base)
            badge.setBold(True)
            label = f"▶ {footer}"
            fm_badge = QFontMetrics(badge)
            out.append((badge, BWD if self.backward else FWD,
                        QPointF(inner.left(), inner.bottom() - fm_badge.descent()), label,
                        fm_badge.elidedText(label, Qt.ElideRight, width)))
        return out

    def _box_font(self, rects: dict[str, QRectF]) -> QFont:
        """The boxes' font: smaller (down to 78 %, 7 points) when the boxes are narrow."""
        base = QFont(self.font())
        scale = max(0.78, min(1.0, rects["input"].width() / 190))
        base.setPointSizeF(max(7.0, base.pointSizeF() * scale))
        return base

    def cut_text(self, key: str) -> list[str]:
        """The texts of box ``key`` drawn shortened with "…" or left out for lack of room, in full."""
        rects = self._layout()
        text = self.box_texts()[key]
        lines = self._box_lines(key, rects[key], text, self._box_font(rects))
        drawn = {full for *_, full, shown in lines if shown == full}
        return [t for t in self.full_text(key) if t not in drawn]

    def full_text(self, key: str) -> list[str]:
        """Every text of box ``key``: its title, its lines and, for the current stage's box, the stage."""
        text = self.box_texts()[key]
        return [text.title] + text.lines + ([f"▶ {self.stage_title}"] if key == self.highlighted else [])

    def _draw_arrows(self, p: QPainter, rects: dict[str, QRectF], base: QFont) -> None:
        small = QFont(base)
        small.setPointSizeF(base.pointSizeF() * 0.95)
        p.setFont(small)
        fm = QFontMetrics(small)
        boxes = self.session.model.boxes
        for i in range(len(boxes) - 1):
            a, b = rects[boxes[i].key], rects[boxes[i + 1].key]
            y_fwd = a.top() + a.height() * 0.30
            y_bwd = a.top() + a.height() * 0.72
            active_fwd = self.active_arrow == ("fwd", i)
            self._arrow(p, QPointF(a.right() + 2, y_fwd), QPointF(b.left() - 2, y_fwd),
                        FWD if active_fwd else IDLE_ARROW if self.backward else FWD.lighter(140), 3.0 if active_fwd else 1.6)
            p.setPen(FWD if active_fwd or not self.backward else MUTED)
            label = boxes[i].sends
            p.drawText(QPointF((a.right() + b.left()) / 2 - fm.horizontalAdvance(label) / 2, y_fwd - 5), label)
            if boxes[i].receives:  # no gradient flows back into the word indices
                active_bwd = self.active_arrow == ("bwd", i)
                colour = BWD if active_bwd else (BWD.lighter(150) if self.backward else IDLE_ARROW)
                self._arrow(p, QPointF(b.left() - 2, y_bwd), QPointF(a.right() + 2, y_bwd), colour, 3.0 if active_bwd else 1.4,
                            dashed=not active_bwd)
                p.setPen(BWD if active_bwd else MUTED)
                label = boxes[i].receives
                p.drawText(QPointF((a.right() + b.left()) / 2 - fm.horizontalAdvance(label) / 2, y_bwd + fm.ascent() + 3), label)

    @staticmethod
    def _arrow(p: QPainter, start: QPointF, end: QPointF, colour: QColor, width: float, dashed: bool = False) -> None:
        pen = QPen(colour, width)
        if dashed:
            pen.setStyle(Qt.DashLine)
        p.setPen(pen)
        head = 5.0 + width
        direction = 1.0 if end.x() > start.x() else -1.0
        p.drawLine(start, QPointF(end.x() - direction * head * 0.8, end.y()))
        tip = QPolygonF(
            [end, QPointF(end.x() - direction * head, end.y() - head * 0.6), QPointF(end.x() - direction * head, end.y() + head * 0.6)]
        )
        path = QPainterPath()
        path.addPolygon(tip)
        p.fillPath(path, colour)

    def _draw_caption(self, p: QPainter, base: QFont) -> None:
        small = QFont(base)
        small.setPointSizeF(base.pointSizeF() * 0.92)
        p.setFont(small)
        fm = QFontMetrics(small)
        y = self.height() - 6 - fm.descent()
        x = 10.0
        parts = [
            (FWD, "→ forward: activations"),
            (BWD, "← backward: gradients (dashed until they flow)"),
            (MUTED, "Click a box to see its arrays."),
        ]
        if self.session.stage is None:
            parts.append((MUTED, "Between minibatches."))
        for colour, text in parts:
            p.setPen(colour)
            p.drawText(QPointF(x, y), text)
            x += fm.horizontalAdvance(text) + 22


__all__ = ["NetworkView"]
