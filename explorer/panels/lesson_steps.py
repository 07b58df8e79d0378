"""The lesson's special steps: widgets the lesson view shows instead of tables.

``STEP_WIDGETS`` maps a step's ``widget:`` setting (``core.lessons.WIDGETS``
but ``tables``) to its class, constructed as ``cls(batch, session, parent=None)``
with the lesson's ``LessonBatch`` and the window's ``Session``:

* ``SketchStep``: the classic 5×3 embedding-layer sketch, live. Clicking an
  index of the 2×4 matrix moves it to the next row (its arrow chooses one);
  the gather, the gradient (each row's sum written out) and the overwrite
  ``dW[x] = δ`` follow.
* ``GradcheckStep``: one entry of a gradient checked by central finite
  differences on the lesson's minibatch.
* ``TrainStep``: the window's full-size network trains (the session's run
  mode), its loss falls, and typed words get the network's predictions.

Everything computed comes from ``core.lessons``; the widgets only draw it.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.lessons import EmbeddingSketch, LessonBatch, number_text, training_progress
from core.specs import format_value, subscript

from ..guard import qt_override
from ..widgets import on_screen
from .predictions_view import PredictionsView

# One pale colour per row of W: a row, the indices that name it, what they gathered and sent back share it.
ROW_COLOURS = ("#fde0dd", "#dbe9f6", "#dff2d8", "#fff0c2", "#ece2f4")
SUM_BORDER = "#d95f02"  # a row whose gradient is a sum
WRONG_COLOUR = "#b00020"  # a row the overwrite gets wrong
MUTED = "#666666"
CURVE_POINTS = 80  # block means on the training step's loss curve: one point per minibatch would be mostly noise


def _vector_text(values) -> str:
    return " ".join(number_text(v) for v in values)


class _Cell(QLabel):
    """One cell of a small table of numbers."""

    def __init__(self, text: str = "", parent=None):
        super().__init__(text, parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def paint(self, background: str | None = None, *, border: str | None = None, bold: bool = False,
              colour: str = "#1e1e1e") -> None:
        bg = background or "white"
        edge = f"2px solid {border}" if border else "1px solid #cccccc"
        weight = "bold" if bold else "normal"
        self.setStyleSheet(f"QLabel {{ background: {bg}; border: {edge}; color: {colour}; font-weight: {weight};"
                           " padding: 1px 5px; }")


class _Table(QWidget):
    """A titled grid of cells with row and column labels (``cells[r][c]``)."""

    def __init__(self, title: str, row_labels, col_labels, make_cell=None, parent=None):
        super().__init__(parent)
        make_cell = make_cell or (lambda r, c: _Cell())
        self.title = QLabel(title)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        grid = QGridLayout()
        grid.setHorizontalSpacing(2)
        grid.setVerticalSpacing(2)
        grid.setContentsMargins(0, 0, 0, 0)
        self.col_labels = []
        for c, text in enumerate(col_labels):
            label = QLabel(text)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setStyleSheet(f"color: {MUTED};")
            grid.addWidget(label, 0, c + 1)
            self.col_labels.append(label)
        self.row_labels = []
        self.cells: list[list[QWidget]] = []
        for r, text in enumerate(row_labels):
            label = QLabel(text)
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            label.setStyleSheet(f"color: {MUTED};")
            grid.addWidget(label, r + 1, 0)
            self.row_labels.append(label)
            row = []
            for c in range(len(col_labels)):
                cell = make_cell(r, c)
                grid.addWidget(cell, r + 1, c + 1)
                row.append(cell)
            self.cells.append(row)
        self.grid = grid
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addWidget(self.title)
        layout.addLayout(grid)
        layout.addStretch(1)

    def texts(self) -> list[list[str]]:
        return [[cell.text() for cell in row] for row in self.cells]


def _title(text: str, code: str = "") -> str:
    return f"<b>{text}</b>" + (f" &nbsp;<code>{code}</code>" if code else "")


class SketchStep(QWidget):
    """The embedding layer alone: W (5×3), the indices (2×4), the gather, δ, the summed gradient, the overwrite.

    Read-outs for tests and the lesson view: ``sketch`` (the core's
    ``EmbeddingSketch`` the widget draws), ``w_table``, ``index_buttons[n][k]``,
    ``gather_table``, ``delta_table``, ``grad_table`` (its last column says what
    each row is made of), ``equations[v]`` (row v's entry of column
    ``column()`` written out) and ``naive_table`` (the overwrite; its last
    column marks the rows it gets wrong). ``changed`` is emitted after an index
    changed and everything was redrawn.
    """

    changed = Signal()

    def __init__(self, batch: LessonBatch | None = None, session=None, parent=None):
        super().__init__(parent)
        self.batch, self.session = batch, session
        self.sketch = EmbeddingSketch()
        self._column = 0
        s = self.sketch
        rows = [f"row {v}" for v in range(s.V)]
        cols = [f"i={i}" for i in range(s.D)]
        N, K = s.index.shape
        places = [f"n={n}" for n in range(N)], [f"k={k}" for k in range(K)]

        self.w_table = _Table(_title(f"W ({s.V}×{s.D})", "the table"), rows, cols)
        self.index_table = _Table(_title(f"index ({N}×{K})", "x") + "<br><span style='color:#666'>click: next row"
                                  "</span>", *places, make_cell=self._index_button)
        self.index_buttons = self.index_table.cells
        self.gather_table = _Table(_title(f"forward: out = W[x] ({N}×{K}×{s.D})", "out[n, k] = W[x[n, k]]"), *places)
        self.delta_table = _Table(_title(f"backward: δ = ∂L/∂out ({N}×{K}×{s.D})", "δₙₖ arrives"), *places)
        self.grad_table = _Table(_title(f"dW ({s.V}×{s.D})", "np.add.at(dW, x, δ)"), rows, cols + ["made of"])
        self.naive_table = _Table(
            _title("the overwrite", "dW[x] = δ") + f" <span style='color:{WRONG_COLOUR}'>(wrong rows marked)</span>",
            rows, cols + [""])

        # Row v's sum written out, for one column i of dW.
        self.column_buttons = []
        pick = QHBoxLayout()
        pick.setSpacing(2)
        pick.addWidget(QLabel("<b>dW row by row</b>: each sum written out, column"))
        self._column_group = QButtonGroup(self)
        for i in range(s.D):
            b = QToolButton()
            b.setText(f"i={i}")
            b.setCheckable(True)
            b.setChecked(i == 0)
            b.setObjectName(f"sketch_column_{i}")
            self._column_group.addButton(b, i)
            pick.addWidget(b)
            self.column_buttons.append(b)
        pick.addStretch(1)
        self._column_group.idClicked.connect(self.set_column)
        self.equations = []
        eq_box = QVBoxLayout()
        eq_box.setSpacing(3)
        eq_box.addLayout(pick)
        for v in range(s.V):
            label = QLabel()
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            eq_box.addWidget(label)
            self.equations.append(label)
        eq_box.addStretch(1)
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setStyleSheet(f"color: {MUTED};")
        self.legend.setTextFormat(Qt.TextFormat.RichText)

        equations = QWidget()
        equations.setLayout(eq_box)
        equations.setMaximumWidth(560)  # a row's sum reads as one line, not a bar across the screen
        # room for a sum of two on one line (a longer sum wraps)
        equations.setMinimumWidth(self.fontMetrics().horizontalAdvance("dW[0, 0] = δ₀₀₀ + δ₁₂₀ = (−0.3) + (−0.3) = −0.6")
                                  + 24)
        eq_box.setContentsMargins(0, 0, 0, 0)
        self.equations_box = equations
        self._rows = [QHBoxLayout(), QHBoxLayout(), QHBoxLayout()]
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(8)
        layout.addLayout(self._rows[0])
        layout.addWidget(_rule())
        layout.addLayout(self._rows[1])
        layout.addLayout(self._rows[2])
        layout.addWidget(self.legend)
        layout.addStretch(1)
        # The widget's minimum size is the three rows' (``minimumSizeHint``), also as a window of its own.
        layout.setSizeConstraint(QVBoxLayout.SizeConstraint.SetNoConstraint)
        self._wide: bool | None = None
        self._arrange(False)
        self.setObjectName("sketch_step")
        self._refresh()
        self._narrow_minimum = layout.minimumSize()

    # ---- arrangement -----------------------------------------------------------------------------------------------
    def _arranged(self, wide: bool) -> list[list[QWidget]]:
        """Wide: the forward pass with each row's sum at its right, then δ, dW and the overwrite beside it (two rows).
        Narrow (under about 1150 pixels): three rows, the forward pass; δ and dW; each row's sum and the overwrite."""
        if wide:
            return [[self.w_table, self.index_table, self.gather_table, self.equations_box],
                    [self.delta_table, self.grad_table, self.naive_table], []]
        return [[self.w_table, self.index_table, self.gather_table], [self.delta_table, self.grad_table],
                [self.equations_box, self.naive_table]]

    def _arrange(self, wide: bool) -> None:
        if wide == self._wide:
            return
        self._wide = wide
        for row in self._rows:
            while row.count():
                row.takeAt(0)
        for row, widgets in zip(self._rows, self._arranged(wide)):
            row.setSpacing(16)
            for w in widgets:
                row.addWidget(w, 0, Qt.AlignmentFlag.AlignTop)
            row.addStretch(1)

    def wide_width(self) -> int:
        """The width the two-row arrangement needs."""
        m = self.layout().contentsMargins()
        rows = [sum(w.minimumSizeHint().width() for w in ws) + 16 * (len(ws) - 1) for ws in self._arranged(True)]
        return max(rows) + m.left() + m.right()

    def is_wide(self) -> bool:
        return bool(self._wide)

    @qt_override
    def minimumSizeHint(self):
        """The three-row arrangement's: given less than the two rows need, the step takes three."""
        return self._narrow_minimum

    @qt_override
    def resizeEvent(self, event) -> None:
        self._arrange(event.size().width() >= self.wide_width())
        super().resizeEvent(event)

    def _index_button(self, n: int, k: int) -> QToolButton:
        b = QToolButton()
        b.setObjectName(f"sketch_index_{n}_{k}")
        b.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        b.setToolTip(f"x[{n}, {k}]: click for the next row, or choose one from the arrow")
        menu = QMenu(b)
        for v in range(self.sketch.V):
            action = QAction(f"row {v}", menu)
            action.triggered.connect(lambda _=False, n=n, k=k, v=v: self.set_index(n, k, v))
            menu.addAction(action)
        b.setMenu(menu)
        b.clicked.connect(lambda _=False, n=n, k=k: self.cycle_index(n, k))
        return b

    # ---- changing it ----------------------------------------------------------------------------------------------
    def set_index(self, n: int, k: int, v: int) -> None:
        self.sketch.set_index(n, k, v)
        self._refresh()
        self.changed.emit()

    def cycle_index(self, n: int, k: int) -> None:
        self.sketch.cycle_index(n, k)
        self._refresh()
        self.changed.emit()

    def set_column(self, i: int) -> None:
        self._column = int(i)
        self.column_buttons[self._column].setChecked(True)
        self._refresh_equations()

    def column(self) -> int:
        return self._column

    # ---- drawing --------------------------------------------------------------------------------------------------
    def _refresh(self) -> None:
        s = self.sketch
        out, grad, naive = s.forward(), s.gradient(), s.naive()
        contributions = s.contributions()
        sums, wrong = set(s.sum_rows()), set(s.overwrite_rows())
        for v in range(s.V):
            for table in (self.w_table, self.grad_table, self.naive_table):
                table.row_labels[v].setStyleSheet(f"background: {ROW_COLOURS[v]}; color: #333; padding: 0 3px;")
            for i in range(s.D):
                self.w_table.cells[v][i].setText(number_text(s.W[v, i]))
                self.w_table.cells[v][i].paint(ROW_COLOURS[v])
                cell = self.grad_table.cells[v][i]
                cell.setText(number_text(grad[v, i]))
                cell.setToolTip(s.equation(v, i))
                cell.paint(ROW_COLOURS[v] if contributions[v] else None, border=SUM_BORDER if v in sums else None,
                           bold=v in sums)
                cell = self.naive_table.cells[v][i]
                cell.setText(number_text(naive[v, i]))
                cell.paint(ROW_COLOURS[v] if contributions[v] else None,
                           colour=WRONG_COLOUR if v in wrong else "#1e1e1e", bold=v in wrong)
            made = self.grad_table.cells[v][s.D]
            count = len(contributions[v])
            if count >= 2:
                made.setText(f"Σ sum of {count}")
                made.paint("#fff5eb", border=SUM_BORDER, bold=True, colour=SUM_BORDER)
            elif count == 1:
                made.setText("one δ")
                made.paint(None)
            else:
                made.setText("0: not used")
                made.paint(None, colour=MUTED)
            mark = self.naive_table.cells[v][s.D]
            if v in wrong:
                kept = s.overwrite_kept(v)
                mark.setText(f"≠ kept δ{subscript(kept[0])}{subscript(kept[1])} only" if kept else "≠")
                mark.paint("#fdecee", colour=WRONG_COLOUR, bold=True)
            else:
                mark.setText("= dW")
                mark.paint(None, colour=MUTED)
            for label in (self.grad_table.cells[v][s.D], mark):
                label.setProperty("sum", v in sums)
        for (n, k), v in np.ndenumerate(s.index):
            v = int(v)
            b = self.index_buttons[n][k]
            b.setText(str(v))
            b.setStyleSheet(f"QToolButton {{ background: {ROW_COLOURS[v]}; border: 1px solid #999; padding: 2px 8px;"
                            " font-weight: bold; }")
            cell = self.gather_table.cells[n][k]
            cell.setText(f"W[{v}]\n{_vector_text(out[n, k])}")
            cell.paint(ROW_COLOURS[v])
            cell = self.delta_table.cells[n][k]
            cell.setText(f"δ{subscript(n)}{subscript(k)} → row {v}\n{_vector_text(s.delta[n, k])}")
            cell.paint(ROW_COLOURS[v], border=SUM_BORDER if v in sums else None)
        self._refresh_equations()
        names = ", ".join(str(v) for v in sorted(sums)) or "none"
        unused = [v for v in range(s.V) if not contributions[v]]
        self.legend.setText(
            f"Rows gathered more than once get the <b style='color:{SUM_BORDER}'>sum</b> of their δ's "
            f"(now rows {names}); a row gathered once gets its one δ"
            + (f"; rows never gathered ({', '.join(map(str, unused))}) get 0" if unused else "")
            + f". The overwrite keeps one δ per row, so it is <b style='color:{WRONG_COLOUR}'>wrong</b> "
            f"exactly on the sums (rows {', '.join(map(str, sorted(wrong))) or 'none'}).")

    def _refresh_equations(self) -> None:
        s = self.sketch
        sums = set(s.sum_rows())
        for v, label in enumerate(self.equations):
            label.setText(s.equation(v, self._column))
            label.setStyleSheet(f"QLabel {{ background: {ROW_COLOURS[v]}; padding: 1px 4px;"
                                + (f" border-left: 3px solid {SUM_BORDER}; font-weight: bold;" if v in sums else "")
                                + " }")

    # ---- read-outs ------------------------------------------------------------------------------------------------
    def shown_sum_rows(self) -> list[int]:
        """The rows the gradient table marks as sums."""
        return [v for v in range(self.sketch.V) if self.grad_table.cells[v][self.sketch.D].text().startswith("Σ")]

    def shown_wrong_rows(self) -> list[int]:
        """The rows the overwrite table marks as wrong."""
        return [v for v in range(self.sketch.V) if self.naive_table.cells[v][self.sketch.D].text().startswith("≠")]


def _rule() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.HLine)
    line.setStyleSheet("color: #dddddd;")
    return line


# ---- checking a gradient by finite differences -----------------------------------------------------------------


class GradcheckStep(QWidget):
    """One entry of a gradient, checked: θ ± h, the two losses, the difference quotient, backprop's value.

    ``check`` is the core's ``FiniteDifference`` on screen; ``values[key]``
    the label showing each of its numbers (keys: ``theta``, ``h``,
    ``loss_plus``, ``loss_minus``, ``difference``, ``numeric``, ``analytic``,
    ``rel_error``). ``weight_combo`` chooses the parameter, ``another_button``
    another entry of it.
    """

    changed = Signal()

    ROWS = (
        ("theta", "θ = {entry}", "the weight, as this minibatch saw it"),
        ("h", "h", "the nudge, up and down"),
        ("loss_plus", "L(θ + h)", "the minibatch's loss with {entry} = θ + h"),
        ("loss_minus", "L(θ − h)", "… and with {entry} = θ − h"),
        ("difference", "L(θ + h) − L(θ − h)", "how much the loss moved"),
        ("numeric", "(L(θ + h) − L(θ − h)) / 2h", "the finite difference: the slope, measured"),
        ("analytic", "{gradient}", "what backpropagation computed for the same entry"),
        ("rel_error", "|a − n| / max(|a|, |n|)", "the relative error between the two"),
    )

    def __init__(self, batch: LessonBatch, session=None, parent=None, seed: int = 0):
        super().__init__(parent)
        self.batch, self.session = batch, session
        self._rng = np.random.default_rng(seed)
        self.weight_combo = QComboBox()
        self.weight_combo.setObjectName("gradcheck_weight")
        for name in batch.checkable():
            self.weight_combo.addItem(name, name)
        self.weight_combo.setToolTip("The parameter whose gradient is checked")
        self.another_button = QPushButton("Another entry")
        self.another_button.setObjectName("gradcheck_another")
        self.another_button.setToolTip("Check another entry of this parameter, chosen at random")
        self.entry_label = QLabel()
        self.entry_label.setObjectName("gradcheck_entry")
        self.entry_label.setWordWrap(True)
        self.entry_label.setTextFormat(Qt.TextFormat.RichText)
        self.batch_label = QLabel(
            "on the lesson's minibatch: " + ";  ".join(batch.context_text(n) for n in range(len(batch.t))))
        self.batch_label.setWordWrap(True)
        self.batch_label.setStyleSheet(f"color: {MUTED};")

        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(4)
        self.formulas, self.values, self.notes = {}, {}, {}
        for r, (key, _formula, _note) in enumerate(self.ROWS):
            formula, value, note = QLabel(), QLabel(), QLabel()
            value.setObjectName(f"gradcheck_{key}")
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value.setTextFormat(Qt.TextFormat.RichText)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setStyleSheet("font-family: monospace; font-size: 11pt;")
            note.setWordWrap(True)
            note.setStyleSheet(f"color: {MUTED};")
            grid.addWidget(formula, r, 0)
            grid.addWidget(value, r, 1)
            grid.addWidget(note, r, 2)
            self.formulas[key], self.values[key], self.notes[key] = formula, value, note
        grid.setColumnStretch(2, 1)
        for key in ("numeric", "analytic"):
            self.values[key].setStyleSheet("font-family: monospace; font-size: 12pt; font-weight: bold;")
        self.verdict_label = QLabel()
        self.verdict_label.setObjectName("gradcheck_verdict")
        self.verdict_label.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Check the gradient of</b>"))
        top.addWidget(self.weight_combo)
        top.addWidget(self.another_button)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.entry_label)
        layout.addWidget(self.batch_label)
        layout.addWidget(_rule())
        layout.addLayout(grid)
        layout.addWidget(_rule())
        layout.addWidget(self.verdict_label)
        layout.addStretch(1)
        self.setObjectName("gradcheck_step")

        self.weight_combo.activated.connect(lambda _i: self.another_entry())
        self.another_button.clicked.connect(lambda: self.another_entry())
        start = "W_h" if "W_h" in batch.checkable() else batch.checkable()[0]
        self.weight_combo.setCurrentIndex(self.weight_combo.findData(start))
        self.another_entry()

    def another_entry(self) -> None:
        """A random entry of the chosen parameter (another than the one on screen)."""
        name = self.weight_combo.currentData()
        avoid = self.check.index if getattr(self, "check", None) is not None and self.check.name == name else None
        self.show_entry(name, self.batch.pick_entry(name, self._rng, avoid=avoid))

    def show_entry(self, name: str, index) -> None:
        self.check = c = self.batch.finite_difference(name, index)
        self.weight_combo.setCurrentIndex(self.weight_combo.findData(name))
        entry, gradient = c.label(), c.label(c.gradient)
        self.entry_label.setText(f"<b>{entry}</b>: {html.escape(c.meaning)}")
        texts = {
            "theta": format_value(c.value, 10),
            "h": format_value(c.h),
            "loss_plus": format_value(c.loss_plus, 13),
            "loss_minus": format_value(c.loss_minus, 13),
            "difference": format_value(c.loss_plus - c.loss_minus, 6),
            "numeric": _digits(c.numeric, 10),
            "analytic": _digits(c.analytic, 10),
            "rel_error": f"{c.rel_error:.1e}".replace("-", "−"),
        }
        same = _common_prefix(texts["numeric"], texts["analytic"])
        for key, formula, note in self.ROWS:
            self.formulas[key].setText(formula.format(entry=entry, gradient=f"backprop: {gradient}"))
            text = html.escape(texts[key])
            if key in ("numeric", "analytic"):  # the digits the two share, in green
                text = f"<span style='color:#1b7837'>{html.escape(same)}</span>{html.escape(texts[key][len(same):])}"
            self.values[key].setText(text)
            self.notes[key].setText(note.format(entry=entry))
        good = c.rel_error < 1e-6
        self.verdict_label.setText(c.verdict)
        self.verdict_label.setStyleSheet(f"color: {'#1b7837' if good else WRONG_COLOUR}; font-weight: bold;")
        self.changed.emit()


# ---- now train it ----------------------------------------------------------------------------------------------


class TrainStep(QWidget):
    """The window's network trains in the session's run mode; its loss falls; typed words get its predictions.

    ``run_button`` starts and pauses the session's run mode (the same as the
    toolbar's Run: it never blocks the event loop); ``curve`` is the loss
    curve (block means of the training loss, ``core.lessons.training_progress``)
    and ``progress_label`` says the loss then and now; ``predictions`` is the
    Explorer's predictions panel (its object names prefixed with ``lesson_``).
    """

    def __init__(self, batch: LessonBatch | None, session, parent=None):
        super().__init__(parent)
        self.batch, self.session = batch, session
        self.progress = training_progress(())
        self._stale = False
        self.run_button = QPushButton()
        self.run_button.setObjectName("lesson_train_run")
        self.run_button.setCheckable(True)
        self.run_button.setToolTip("Train the full-size network (the toolbar's Run does the same)")
        self.run_button.clicked.connect(self._on_run_clicked)
        self.network_label = QLabel()
        self.network_label.setWordWrap(True)
        self.network_label.setStyleSheet(f"color: {MUTED};")
        self.progress_label = QLabel()
        self.progress_label.setObjectName("lesson_train_progress")
        self.progress_label.setWordWrap(True)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setObjectName("lesson_train_plot")
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setLabel("bottom", "minibatch")
        self.plot.setLabel("left", "cross-entropy")
        self.plot.showAxis("bottom")
        self.plot.showAxis("left")
        self.plot.disableAutoRange()  # the range is the whole curve's (``TrainingProgress.view_range``)
        self.plot.setMinimumSize(300, 200)
        # Its own size hint (480 high) is no height it needs: in the lesson view's scroll area it would scroll.
        self.plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        self.curve = self.plot.plot(pen=pg.mkPen((8, 81, 156), width=2))
        self.predictions = PredictionsView(session)
        for child in [self.predictions, *self.predictions.findChildren(QWidget)]:
            if child.objectName():  # the window has its own predictions panel: no two widgets of one name
                child.setObjectName("lesson_" + child.objectName())
        self.predictions.setObjectName("lesson_predictions")

        left = QVBoxLayout()
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.network_label, 1)
        left.addLayout(row)
        left.addWidget(self.plot, 1)
        left.addWidget(self.progress_label)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(12)
        layout.addLayout(left, 2)
        layout.addWidget(self.predictions, 3)
        self.setObjectName("train_step")

        session.running_changed.connect(self._on_running_changed)
        session.history_changed.connect(self._on_history_changed)
        session.network_changed.connect(self._on_network_changed)
        self._on_network_changed()
        self._on_running_changed(session.running)

    # ---- session events -------------------------------------------------------------------------------------------
    def _on_run_clicked(self, checked: bool) -> None:
        if checked:
            self.session.start()
        else:
            self.session.pause()
        self._on_running_changed(self.session.running)

    def _on_running_changed(self, running: bool) -> None:
        self.run_button.setChecked(running)
        self.run_button.setText("Pause" if running else "Train")

    def _on_network_changed(self) -> None:
        c = self.session.config
        self.network_label.setText(
            f"The window's network: d = {c.embed_dim}, {c.describe_hidden()}, minibatches of {c.batch_size}, "
            f"vocabulary of {len(self.session.vocab):,} words.")
        self._on_history_changed()

    def _on_history_changed(self) -> None:
        if not on_screen(self):
            self._stale = True
            return
        self._redraw()

    @qt_override
    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if self._stale:
            self._redraw()

    def _redraw(self) -> None:
        self._stale = False
        self.progress = p = training_progress(self.session.trainer.history.train_ce, points=CURVE_POINTS)
        self.curve.setData(p.x, p.y)
        (x0, x1), (y0, y1) = p.view_range(empty_top=float(np.log(max(2, len(self.session.vocab)))))
        self.plot.setXRange(x0, x1, padding=0)
        self.plot.setYRange(y0, y1, padding=0)
        self.progress_label.setText(p.text())


def _digits(v: float, n: int) -> str:
    """``v`` to ``n`` significant digits, trailing zeros kept: two such numbers line up digit by digit."""
    return f"{v:#.{n}g}".replace("-", "−")


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def plain_text(label: QLabel) -> str:
    """What a label shows, without its markup."""
    from PySide6.QtGui import QTextDocument

    doc = QTextDocument()
    doc.setHtml(label.text())
    return doc.toPlainText()


STEP_WIDGETS = {"sketch": SketchStep, "gradcheck": GradcheckStep, "train": TrainStep}

__all__ = ["STEP_WIDGETS", "SketchStep", "GradcheckStep", "TrainStep"]
