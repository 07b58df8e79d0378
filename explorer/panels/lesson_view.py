"""Lesson mode: one guided, screen-sized path through backpropagation, every number readable.

``LessonView(session, batch, chapters)`` walks the steps of the chapters
(``core.lessons.load_lessons``) over the learner-sized minibatch
(``core.lessons.LessonBatch``). A step shows its text (Markdown), where it
comes from (file and line, for the teacher who edits it), the stage's formula
with the shapes, and its arrays as tables of numbers side by side: the
operands, then the result. V-wide arrays show the columns that matter, with
the full heatmap one click away. Pointing at an entry of a result highlights
the operand entries that made it and writes its arithmetic out with the real
numbers (``LessonBatch.entry_formula`` and ``entry_sources``).

Predict, then reveal (on unless ``predict_check`` is unticked): a step with a
question hides its result until the learner clicks an answer; the feedback
says why, and the tally (``core.lessons.Tally``) counts. The last step of a
chapter offers its Explorer panel (``explore_requested``).

Steps with a ``widget:`` other than tables are drawn by the classes of
``explorer.panels.lesson_steps.STEP_WIDGETS``.

Everything computed comes from ``core.lessons``; this module only draws it.
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QCheckBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.lessons import Chapter, LessonBatch, Step, Tally, TablePart, make_question, number_text
from core.specs import axis_title

from ..guard import qt_override
from ..widgets.flow import FlowLayout
from ..widgets.heatmap import Heatmap
from ..widgets.wheel import ignore_wheel_unless_focused
from .lesson_steps import STEP_WIDGETS

__all__ = ["LessonView", "NumberTable", "TableGroup"]

RESULT_COLOUR = "#d4670b"
MUTED = "#666666"
HIGHLIGHT = QColor("#ffd54f")
CELL_PADDING = 10  # pixels a cell's text needs beyond its own width (the cell's margins)
TABLE_FONT = 0.92  # of the window's font size: a 2×12 table fits beside the text on a 1280-pixel screen
WIDE = 16777215  # (Qt's largest widget size)
HOVERED = QColor("#ff9800")
HOVER_HINT = "Point at an entry of the result: the entries that made it light up, and its arithmetic is written here."


def _tint(value: float, scale: float, kind: str) -> QColor:
    """A pale colour for a cell: red above 0, blue below (signed), or shades of green (from 0)."""
    if not np.isfinite(value) or scale <= 0:
        return QColor("white")
    a = min(1.0, abs(float(value)) / scale)
    if kind == "signed":
        base = (214, 96, 77) if value > 0 else (67, 147, 195)
    else:
        base = (120, 198, 121)
    mix = 0.45 * a
    return QColor(*(int(255 + (b - 255) * mix) for b in base))


class NumberTable(QTableWidget):
    """One ``TablePart`` as a table of numbers, exactly as large as its cells (it never scrolls).

    ``hovered(r, c)`` follows the pointer (``(-1, -1)`` when it leaves);
    ``texts()`` is what the cells show; ``highlight(cells)`` marks operand entries.
    """

    hovered = Signal(int, int)

    def __init__(self, part: TablePart, kind: str, vocab, parent=None):
        super().__init__(part.values.shape[0], part.values.shape[1], parent)
        self.part, self.kind = part, kind
        self.setObjectName(f"lesson_table_{part.name}")
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the arrow keys move through the lesson
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalHeaderLabels(part.col_labels)
        self.setVerticalHeaderLabels(part.row_labels)
        self.setMouseTracking(True)
        self.cellEntered.connect(self.hovered.emit)
        vals = part.values
        finite = vals[np.isfinite(vals)] if vals.dtype.kind == "f" else vals
        scale = float(np.max(np.abs(finite))) if finite.size and kind != "index" else 0.0
        self._base: dict[tuple[int, int], QColor] = {}
        self._cells = {part.index_of(r, c): (r, c) for r in range(vals.shape[0]) for c in range(vals.shape[1])}
        for r in range(vals.shape[0]):
            for c in range(vals.shape[1]):
                v = vals[r, c]
                if kind == "index":
                    text = f"{vocab[int(v)]} ({int(v)})"
                    colour = QColor("#f4f4f4")
                else:
                    text = number_text(v)
                    colour = _tint(v, scale, kind)
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setBackground(QBrush(colour))
                item.setForeground(QBrush(QColor("#1e1e1e")))
                self._base[(r, c)] = colour
                self.setItem(r, c, item)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * TABLE_FONT)
        self.setFont(font)
        self.horizontalHeader().setFont(font)
        self.verticalHeader().setFont(font)
        for r, c in self._base:
            self.item(r, c).setFont(font)  # (an item's own font: the one marking an entry makes bold)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.resizeColumnsToContents()
        widest = max([self.columnWidth(c) for c in range(self.columnCount())] + [20])
        widest = max(widest, self._needed_width() + CELL_PADDING)  # room for a number marked in bold
        for c in range(self.columnCount()):
            self.setColumnWidth(c, widest + 2)  # one width for every column: the numbers line up
        row_h = self.fontMetrics().height() + 4  # (two 12-row tables one above the other fit 720 pixels)
        for r in range(self.rowCount()):
            self.setRowHeight(r, row_h)
        if not any(part.row_labels):
            self.verticalHeader().hide()
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setFixedSize(self._natural_size())

    def _needed_width(self) -> int:
        """The widest cell text, in bold (how a marked entry is drawn)."""
        bold = QFont(self.font())
        bold.setBold(True)
        fm = QFontMetrics(bold)
        return max([fm.horizontalAdvance(self.item(r, c).text()) for (r, c) in self._base] + [0])

    def cut_cells(self) -> list[tuple[int, int]]:
        """Cells whose text, in the font it is drawn in now, is wider than its column (drawn cut short)."""
        out = []
        for (r, c) in self._base:
            item = self.item(r, c)
            if QFontMetrics(item.font()).horizontalAdvance(item.text()) + CELL_PADDING > self.columnWidth(c):
                out.append((r, c))
        return out

    def _natural_size(self) -> QSize:
        frame = 2 * self.frameWidth()
        vh = self.verticalHeader()
        left = vh.sizeHint().width() if not vh.isHidden() else 0
        width = left + sum(self.columnWidth(c) for c in range(self.columnCount())) + frame
        height = self.horizontalHeader().sizeHint().height() + sum(
            self.rowHeight(r) for r in range(self.rowCount())) + frame
        return QSize(width, height)

    def texts(self) -> list[list[str]]:
        return [[self.item(r, c).text() for c in range(self.columnCount())] for r in range(self.rowCount())]

    def cell_of(self, index) -> tuple[int, int] | None:
        """The table cell showing array entry ``index`` (None when it is left out)."""
        return self._cells.get(tuple(int(i) for i in index))

    def highlight(self, cells, colour: QColor = HIGHLIGHT) -> None:
        """Mark ``cells`` (table cells), every other cell back to its own colour."""
        marked = set(cells)
        for (r, c), base in self._base.items():
            item = self.item(r, c)
            item.setBackground(QBrush(colour if (r, c) in marked else base))
            font = item.font()
            font.setBold((r, c) in marked)
            item.setFont(font)

    def highlighted(self) -> list[tuple[int, int]]:
        return [rc for rc in self._base if self.item(*rc).font().bold()]

    @qt_override(fallback=None)
    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().leaveEvent(event)
        self.hovered.emit(-1, -1)


class TableGroup(QWidget):
    """A table with its title (name, shape, meaning), and for a cut V-wide array a button to the full heatmap."""

    full_requested = Signal(str)

    def __init__(self, batch: LessonBatch, name: str, result: bool, parent=None):
        super().__init__(parent)
        self.name = name
        self.part = batch.part(name)
        spec = batch.model.specs.get(name)
        kind = spec.kind if spec is not None else "signed"
        self.table = NumberTable(self.part, kind, batch.vocab)
        array = np.asarray(batch.array(name))
        shape = "×".join(str(s) for s in array.shape) or "one number"
        meaning = " × ".join(axis_title(a) for a in batch.axes(name))
        colour = RESULT_COLOUR if result else "#1e1e1e"
        title = f"<b style='color:{colour}'>{html.escape(name)}</b> &nbsp;{shape}"
        if meaning:
            title += f" <span style='color:{MUTED}'>({html.escape(meaning)})</span>"
        if self.part.cut:
            rows, cols = self.part.values.shape
            shown = []
            if array.ndim == 1:  # (a vector is drawn as one row: its entries are the columns)
                shown.append(f"{cols} of {array.shape[0]} columns")
            else:
                if len(self.part.rows) < array.shape[0]:
                    shown.append(f"{rows} of {array.shape[0]} rows")
                if len(self.part.cols) < array.shape[1]:
                    shown.append(f"{cols} of {array.shape[1]} columns")
            title += f"<br><span style='color:{MUTED}'>showing {', '.join(shown)}: the words that matter</span>"
        self.title = QLabel(title)
        self.title.setObjectName(f"lesson_title_{name}")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(3)
        lay.addWidget(self.title)
        lay.addWidget(self.table)
        self.full_button = None
        if self.part.cut:
            self.full_button = QPushButton("Full heatmap…")
            self.full_button.setObjectName(f"lesson_full_{name}")
            self.full_button.setToolTip(f"All of {name}, as a heatmap")
            self.full_button.clicked.connect(lambda: self.full_requested.emit(self.name))
            lay.addWidget(self.full_button, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addStretch(1)
        width = max(self.table.width(), 150)
        self.title.setFixedWidth(width)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    @qt_override
    def sizeHint(self) -> QSize:  # noqa: N802
        lay = self.layout()
        width = max(self.table.width(), 150)
        return QSize(width, lay.totalHeightForWidth(width) if lay.hasHeightForWidth() else lay.sizeHint().height())

    @qt_override
    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self.sizeHint()


class AnswerButton(QPushButton):
    """A button whose text wraps (a question's choices can be a list of words)."""

    def __init__(self, text: str, parent=None):
        super().__init__(parent)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 5, 8, 5)
        lay.addWidget(self.label)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def choice_text(self) -> str:
        return self.label.text()

    @qt_override(fallback=lambda: True)
    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    @qt_override
    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self.layout().totalHeightForWidth(width)

    @qt_override
    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(200, self.heightForWidth(200))

    @qt_override
    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(80, self.heightForWidth(max(80, self.width())))


class Hidden(QFrame):
    """The place of a result not revealed yet: as large as its table, with a question mark."""

    def __init__(self, name: str, parent=None):
        super().__init__(parent)
        self.name = name
        self.setObjectName(f"lesson_hidden_{name}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("QFrame { background: #fff7ef; border: 1px dashed #d4670b; }")
        label = QLabel(f"<b style='color:{RESULT_COLOUR}'>{html.escape(name)}</b><br>?<br>"
                       "<span style='color:#666'>predict first</span>")
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(True)
        label.setStyleSheet("border: none; background: transparent;")
        lay = QVBoxLayout(self)
        lay.addWidget(label)
        self.setFixedSize(150, 80)  # one size for every result: its shape can be a question


class LessonView(QWidget):
    """The lesson: see the module docstring.

    Read-outs for tests and the window: ``position`` (index into ``steps``, a list of
    (chapter, step) pairs), ``step``, ``chapter``, ``groups`` (name → ``TableGroup`` on
    screen), ``question`` (the step's ``Question`` or None), ``answer_buttons``,
    ``feedback``, ``tally``, ``step_widget`` (a ``STEP_WIDGETS`` instance), ``problem``
    (a lesson file that could not be read, or None).
    """

    explore_requested = Signal(str)  # a chapter's Explorer panel (``Chapter.panel``)
    write_requested = Signal(str)  # a backward stage, to write in the Explorer's "Write it yourself" panel
    step_changed = Signal(int)  # the position, after the step is drawn

    def __init__(self, session, batch: LessonBatch | None, chapters: list[Chapter], problem: str | None = None,
                 panel_titles: dict[str, str] | None = None, seed=None, parent=None):
        super().__init__(parent)
        self.setObjectName("lesson_view")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the keys of the lesson (→, ←, Space) work from here
        self.session, self.batch, self.chapters, self.problem = session, batch, list(chapters), problem
        self.panel_titles = dict(panel_titles or {})
        self.rng = np.random.default_rng(seed)
        self.steps: list[tuple[Chapter, Step]] = [(c, s) for c in self.chapters for s in c.steps]
        self.position = 0
        self.tally = Tally()
        self._questions: dict[int, object] = {}  # position → Question
        self._answers: dict[int, tuple[int, bool, str]] = {}  # position → (choice, right, feedback)
        # (chapter, widget name) → its widget: the steps of a chapter that show one kind of widget share it, with
        # what the learner did in it (the sketch's clicked indices carry from one sketch step to the next)
        self._step_widgets: dict[tuple[int, str], QWidget] = {}
        self.groups: dict[str, TableGroup] = {}
        self.hidden: dict[str, Hidden] = {}
        self.question = None
        self.answer_buttons: list[AnswerButton] = []
        self.step_widget: QWidget | None = None
        self.heatmap_dialog: QDialog | None = None

        # the line across the top: where in the lesson, predict first
        self.position_label = QLabel()
        self.position_label.setObjectName("lesson_position")
        self.position_label.setTextFormat(Qt.TextFormat.RichText)
        self.position_label.setWordWrap(True)
        self.predict_check = QCheckBox("Predict before each result shows")
        self.predict_check.setObjectName("lesson_predict")
        self.predict_check.setChecked(True)
        self.predict_check.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.predict_check.toggled.connect(lambda _on: self._draw())
        self.back_button = QPushButton("◀ Back")
        self.back_button.setObjectName("lesson_back")
        self.next_button = QPushButton("Next ▶")
        self.next_button.setObjectName("lesson_next")
        for b in (self.back_button, self.next_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.back_button.clicked.connect(self.back)
        self.next_button.clicked.connect(self.next)
        top = QHBoxLayout()
        top.addWidget(self.position_label, 1)
        top.addWidget(self.predict_check)
        top.addSpacing(12)
        top.addWidget(self.back_button)
        top.addWidget(self.next_button)

        # the left column: the step's words, the question, the chapter's end
        self.title_label = QLabel()
        self.title_label.setObjectName("lesson_step_title")
        font = QFont(self.title_label.font())
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.title_label.setFont(font)
        self.title_label.setWordWrap(True)
        self.where_label = QLabel()
        self.where_label.setObjectName("lesson_where")
        self.where_label.setStyleSheet(f"color: {MUTED};")
        self.where_label.setWordWrap(True)
        self.text_label = QLabel()
        self.text_label.setObjectName("lesson_text")
        self.text_label.setTextFormat(Qt.TextFormat.MarkdownText)
        self.text_label.setWordWrap(True)
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.question_box = QFrame()
        self.question_box.setObjectName("lesson_question")
        self.question_box.setFrameShape(QFrame.Shape.StyledPanel)
        self.question_box.setStyleSheet("#lesson_question { background: #f3f7fc; }")
        self.prompt_label = QLabel()
        self.prompt_label.setObjectName("lesson_prompt")
        self.prompt_label.setWordWrap(True)
        self.prompt_label.setTextFormat(Qt.TextFormat.RichText)
        self.buttons_layout = QVBoxLayout()
        self.buttons_layout.setSpacing(4)
        self.feedback = QLabel()
        self.feedback.setObjectName("lesson_feedback")
        self.feedback.setWordWrap(True)
        self.feedback.setTextFormat(Qt.TextFormat.RichText)
        self.feedback.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        q = QVBoxLayout(self.question_box)
        q.setContentsMargins(8, 6, 8, 6)
        q.addWidget(self.prompt_label)
        q.addLayout(self.buttons_layout)
        q.addWidget(self.feedback)
        self.tally_label = QLabel()
        self.tally_label.setObjectName("lesson_tally")
        self.tally_label.setWordWrap(True)
        self.tally_label.setTextFormat(Qt.TextFormat.RichText)
        self.explore_button = QPushButton()
        self.explore_button.setObjectName("lesson_explore")
        self.explore_button.clicked.connect(self._explore)
        self.write_button = QPushButton()
        self.write_button.setObjectName("lesson_write")
        self.write_button.setToolTip("Switch to Explorer mode and write this stage's backward pass in Python; "
                                     "the checker compares it with the network's")
        self.write_button.clicked.connect(self._write)
        left_inner = QWidget()
        left = QVBoxLayout(left_inner)
        left.setContentsMargins(0, 0, 6, 0)
        left.setSpacing(8)
        left.addWidget(self.title_label)
        left.addWidget(self.where_label)
        left.addWidget(self.text_label)
        left.addWidget(self.question_box)
        left.addWidget(self.tally_label)
        left.addWidget(self.explore_button, 0, Qt.AlignmentFlag.AlignLeft)
        left.addWidget(self.write_button, 0, Qt.AlignmentFlag.AlignLeft)
        left.addStretch(1)
        self.left_scroll = _VerticalScroll(left_inner, "lesson_left_scroll")

        # the right column: formula, the tables (or the step's widget), the arithmetic of the entry pointed at
        self.formula_label = QLabel()
        self.formula_label.setObjectName("lesson_formula")
        self.formula_label.setTextFormat(Qt.TextFormat.RichText)
        self.formula_label.setWordWrap(True)
        self.formula_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tables_widget = QWidget()
        self.tables_widget.setObjectName("lesson_tables")
        self.flow = FlowLayout(self.tables_widget)
        self.widget_holder = QWidget()
        self.widget_layout = QVBoxLayout(self.widget_holder)
        self.widget_layout.setContentsMargins(0, 0, 0, 0)
        area = QWidget()
        area_lay = QVBoxLayout(area)
        area_lay.setContentsMargins(0, 0, 0, 0)
        area_lay.addWidget(self.tables_widget)
        area_lay.addWidget(self.widget_holder)
        area_lay.addStretch(1)
        self.tables_scroll = _VerticalScroll(area, "lesson_tables_scroll")
        self.arithmetic = QLabel()
        self.arithmetic.setObjectName("lesson_arithmetic")
        self.arithmetic.setTextFormat(Qt.TextFormat.PlainText)
        self.arithmetic.setWordWrap(True)
        self.arithmetic.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.arithmetic.setFrameShape(QFrame.Shape.StyledPanel)
        self.arithmetic.setStyleSheet("QLabel { background: #fffbe6; color: #222; padding: 4px; }")
        self.arithmetic.setMinimumHeight(self.arithmetic.fontMetrics().height() * 3 + 12)
        self.arithmetic.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        right_w = QWidget()
        right = QVBoxLayout(right_w)
        right.setContentsMargins(6, 0, 0, 0)
        right.setSpacing(6)
        right.addWidget(self.formula_label)
        right.addWidget(self.tables_scroll, 1)
        right.addWidget(self.arithmetic)

        # Tables: the words on the left, the tables beside them. A step widget (the sketch...) takes the
        # whole width, under the words.
        self.body = body = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        body.setSpacing(6)
        body.addWidget(self.left_scroll, 2)
        body.addWidget(right_w, 5)
        self._beside()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 6)
        lay.setSpacing(6)
        lay.addLayout(top)
        lay.addLayout(body, 1)

        self.session.network_changed.connect(self._on_network_changed)
        self._corpus = session.corpus
        self._draw()

    # ---- where in the lesson --------------------------------------------------------------------------------
    @property
    def step(self) -> Step | None:
        return self.steps[self.position][1] if self.steps else None

    @property
    def chapter(self) -> Chapter | None:
        return self.steps[self.position][0] if self.steps else None

    def at_end(self) -> bool:
        return not self.steps or self.position == len(self.steps) - 1

    def next(self) -> bool:
        """The next step; False at the end of the lesson."""
        if self.at_end():
            return False
        self.go_to(self.position + 1)
        return True

    def back(self) -> bool:
        if self.position == 0:
            return False
        self.go_to(self.position - 1)
        return True

    def go_to(self, position: int) -> None:
        if not self.steps:
            return
        self.position = max(0, min(int(position), len(self.steps) - 1))
        self._draw()

    def restart(self) -> None:
        """From the first step, with new questions and a new tally."""
        self._questions.clear()
        self._answers.clear()
        self.tally = Tally()
        self.go_to(0)

    def chapter_end(self) -> bool:
        """The step on screen is its chapter's last."""
        if not self.steps:
            return False
        return self.at_end() or self.steps[self.position + 1][0] is not self.chapter

    # ---- the session ----------------------------------------------------------------------------------------
    def _on_network_changed(self) -> None:
        """Another corpus: the lesson's minibatch is drawn from it (its questions too)."""
        if self.session.corpus is self._corpus or self.batch is None:
            return
        self._corpus = self.session.corpus
        self.batch = LessonBatch(self._corpus)
        for w in self._step_widgets.values():
            w.deleteLater()
        self._step_widgets.clear()
        self._questions.clear()
        self._answers.clear()
        self.tally = Tally()
        self._draw()

    # ---- drawing --------------------------------------------------------------------------------------------
    def _clear(self) -> None:
        while self.flow.count():
            item = self.flow.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.groups, self.hidden = {}, {}
        while self.widget_layout.count():
            item = self.widget_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()  # (kept, with what the learner did in it, for a step back)
        self.step_widget = None
        while self.buttons_layout.count():
            item = self.buttons_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.answer_buttons = []
        self.arithmetic.clear()

    def _draw(self) -> None:
        self._clear()
        if self.problem is not None or not self.steps or self.batch is None:
            self._draw_problem()
            self.step_changed.emit(self.position)
            return
        chapter, step = self.chapter, self.step
        ci = self.chapters.index(chapter)
        si = chapter.steps.index(step)
        self.position_label.setText(
            f"<b>Chapter {ci + 1} of {len(self.chapters)}: {html.escape(chapter.title)}</b>"
            f" &nbsp;<span style='color:{MUTED}'>step {si + 1} of {len(chapter.steps)} "
            f"({self.position + 1} of {len(self.steps)} in all)</span>")
        self.title_label.setText(step.title)
        self.where_label.setText(f"from {step.where}")
        self.text_label.setText(step.text)
        self.back_button.setEnabled(self.position > 0)
        self.next_button.setEnabled(not self.at_end())
        if step.widget == "tables":
            self._beside()
            self._draw_tables(step)
        else:
            self._draw_widget(step)
        self._draw_end()
        if step.widget != "tables":
            self._above()  # (once the words are all in)
        self.step_changed.emit(self.position)

    def _draw_problem(self) -> None:
        self.position_label.setText("<b>Lesson mode</b>")
        self.title_label.setText("The lessons could not be read")
        self.where_label.setText("")
        self.text_label.setText(self.problem or "There are no lessons.")
        self.formula_label.setText("")
        self.question_box.hide()
        self.tally_label.hide()
        self.explore_button.hide()
        self.write_button.hide()
        self.back_button.setEnabled(False)
        self.next_button.setEnabled(False)

    def _draw_tables(self, step: Step) -> None:
        b = self.batch
        results = set(b.results(step)) if step.stage else set()
        question = self._question_for(step)
        hide = question is not None and self.position not in self._answers
        if step.stage is not None:
            stage = b.stages[step.stage]
            shapes = b.shapes_text(step, hide_results=hide and question.kind == "shape")  # (not the answer)
            self.formula_label.setText(  # (a paragraph each: the formula's underscores stay clear of the shapes)
                f"<p style='margin:0 0 3px 0; font-size:13pt'>{html.escape(stage.formula)}</p>"
                f"<p style='margin:0; color:#333'>{html.escape(shapes)}</p>")
        else:
            self.formula_label.setText("")
        for name in b.shows(step):
            if hide and name in results:
                self.hidden[name] = Hidden(name)
                self.flow.addWidget(self.hidden[name])
                continue
            group = TableGroup(b, name, name in results)
            group.full_requested.connect(self.show_full)
            group.table.hovered.connect(lambda r, c, n=name: self._on_hover(n, r, c))
            self.groups[name] = group
            self.flow.addWidget(group)
        self.tables_widget.show()
        self._draw_question(question)
        self.arithmetic.setText(HOVER_HINT if not hide and results else "")
        self.arithmetic.setVisible(bool(results) and not hide)

    def _beside(self) -> None:
        """The words in a column left of the tables."""
        self.body.setDirection(QBoxLayout.Direction.LeftToRight)
        self.body.setStretch(0, 2)
        self.left_scroll.setMinimumSize(280, 0)
        self.left_scroll.setMaximumSize(420, WIDE)
        self.left_scroll.widget().layout().setSpacing(8)

    def _above(self) -> None:
        """The words across the top, the step's widget under them with the whole width."""
        self.body.setDirection(QBoxLayout.Direction.TopToBottom)
        self.body.setStretch(0, 0)
        self.left_scroll.setMinimumSize(0, 0)
        self.left_scroll.setMaximumWidth(WIDE)
        self.left_scroll.widget().layout().setSpacing(3)  # the widget needs the height
        self._fit_words()

    def _fit_words(self) -> None:
        if self.body.direction() != QBoxLayout.Direction.TopToBottom:
            return
        inner = self.left_scroll.widget().layout()
        width = max(200, self.width() - 24)
        need = inner.totalHeightForWidth(width) if inner.hasHeightForWidth() else inner.sizeHint().height()
        self.left_scroll.setFixedHeight(min(need + 2, max(120, self.height() // 3)))

    @qt_override(fallback=None)
    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit_words()

    def _draw_widget(self, step: Step) -> None:
        self.formula_label.setText("")
        self.tables_widget.hide()
        self.arithmetic.hide()
        self._draw_question(None)
        key = (self.chapters.index(self.chapter), step.widget)
        widget = self._step_widgets.get(key)
        if widget is None:
            if step.widget not in STEP_WIDGETS:
                raise KeyError(f"no lesson step widget {step.widget!r} (known: {', '.join(STEP_WIDGETS)})")
            widget = STEP_WIDGETS[step.widget](self.batch, self.session)
            self._step_widgets[key] = widget
        self.widget_layout.addWidget(widget)
        ignore_wheel_unless_focused(widget)  # the lesson scrolls under the wheel; its choices stay as they are
        widget.show()
        self.step_widget = widget

    # ---- questions ------------------------------------------------------------------------------------------
    def _question_for(self, step: Step):
        if not step.question or not self.predict_check.isChecked():
            return None
        q = self._questions.get(self.position)
        if q is None:
            q = make_question(step.question, step, self.batch, self.rng)
            self._questions[self.position] = q
        return q

    def _draw_question(self, question) -> None:
        self.question = question
        self.question_box.setVisible(question is not None)
        if question is None:
            return
        self.prompt_label.setText(f"<b>Predict:</b> {html.escape(question.prompt)}")
        answered = self._answers.get(self.position)
        for i, choice in enumerate(question.choices):
            button = AnswerButton(choice)
            button.setObjectName(f"lesson_answer_{i}")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _=False, i=i: self.answer(i))
            if answered is not None:
                button.setEnabled(False)
                if i == question.answer:  # the right answer green, a wrong pick red
                    button.setStyleSheet("QPushButton { background: #d8f0d2; } QLabel { font-weight: bold; }")
                elif i == answered[0]:
                    button.setStyleSheet("QPushButton { background: #f9d9dc; } QLabel { color: #7a0010; }")
            self.buttons_layout.addWidget(button)
            self.answer_buttons.append(button)
        self.feedback.setText(answered[2] if answered is not None else "")
        self.feedback.setVisible(answered is not None)

    def answer(self, choice: int) -> bool:
        """The learner's prediction: feedback, the tally, and the result revealed. True when right."""
        if self.question is None or self.position in self._answers:
            return False
        right, why = self.question.check(choice)
        self.tally.add(right)
        colour = "#1b7a1b" if right else "#b00020"
        head, _sep, rest = why.partition(". ")
        text = f"<b style='color:{colour}'>{html.escape(head)}.</b> " + html.escape(rest).replace("\n", "<br>")
        self._answers[self.position] = (int(choice), right, text)
        self._draw()
        return right

    # ---- the end of a chapter and of the lesson ----------------------------------------------------------------
    def _draw_end(self) -> None:
        chapter = self.chapter
        end = self.chapter_end()
        title = self.panel_titles.get(chapter.panel, chapter.panel) if chapter.panel else None
        self.explore_button.setVisible(end and chapter.panel is not None)
        if title:
            self.explore_button.setText(f"Explore it in the {title} panel ▶")
            self.explore_button.setToolTip("Switch to Explorer mode, with this panel in front")
        stage = self.writable_stage()
        self.write_button.setVisible(stage is not None)
        if stage is not None:
            self.write_button.setText(f"Write {stage.replace('_', ' ')} yourself ▶")
        if self.at_end():
            self.tally_label.setText(f"<b>End of the lesson.</b> {self.tally.text().capitalize()}.")
            self.tally_label.show()
        elif self.tally.asked:
            self.tally_label.setText(f"<span style='color:{MUTED}'>So far: {self.tally.text()}.</span>")
            self.tally_label.show()
        else:
            self.tally_label.hide()

    def writable_stage(self) -> str | None:
        """The step's stage when it is one of the backward pass's (a learner can write it), else None."""
        step = self.step
        if step is None or step.widget != "tables" or not step.stage or self.batch is None:
            return None
        spec = next((s for s in self.batch.model.stage_specs if s.name == step.stage), None)
        return step.stage if spec is not None and spec.backward else None

    def _write(self) -> None:
        stage = self.writable_stage()
        if stage is not None:
            self.write_requested.emit(stage)

    def _explore(self) -> None:
        if self.chapter is not None and self.chapter.panel:
            self.explore_requested.emit(self.chapter.panel)

    # ---- pointing at an entry --------------------------------------------------------------------------------
    def _on_hover(self, name: str, r: int, c: int) -> None:
        """Pointing at an entry: it, and the operand entries that made it, marked; its arithmetic written out."""
        for group in self.groups.values():
            group.table.highlight(())
        group = self.groups.get(name)
        if r < 0 or group is None:
            self.arithmetic.setText(HOVER_HINT if self.batch.results(self.step) else "")
            return
        index = group.part.index_of(r, c)
        group.table.highlight([(r, c)], HOVERED)
        for source, entries in self.batch.entry_sources(name, index).items():
            other = self.groups.get(source)
            if other is not None and source != name:
                other.table.highlight([rc for rc in map(other.table.cell_of, entries) if rc is not None])
        self.arithmetic.setText(self.batch.entry_text(name, index))

    def point_at(self, name: str, index) -> None:
        """As if the pointer were on entry ``index`` of table ``name`` (scripts and screenshots)."""
        r, c = self.groups[name].table.cell_of(index)
        self._on_hover(name, r, c)

    def show_full(self, name: str) -> QDialog:
        """A V-wide array in full, as a heatmap (a window beside the lesson)."""
        if self.heatmap_dialog is not None:
            self.heatmap_dialog.close()
        dialog = QDialog(self)
        dialog.setObjectName("lesson_heatmap")
        dialog.setWindowTitle(f"{name}: all of it")
        heatmap = Heatmap()
        spec = self.batch.model.specs.get(name)
        axes = (spec.axes if spec is not None and spec.axes else ()) + (None, None)
        heatmap.set_data(self.batch.array(name), row_axis=axes[0], col_axis=axes[1],
                         kind=spec.kind if spec is not None else "signed", labels={"word": self.batch.vocab},
                         name=f"lesson {name}", levels=spec.levels if spec is not None else None)
        lay = QVBoxLayout(dialog)
        lay.addWidget(heatmap)
        dialog.heatmap = heatmap
        dialog.resize(900, 420)
        dialog.show()
        self.heatmap_dialog = dialog
        return dialog


class _VerticalScroll(QScrollArea):
    """Scrolls up and down: its widget takes the area's width (and is laid out to fit it)."""

    def __init__(self, widget: QWidget, name: str):
        super().__init__()
        self.setObjectName(name)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidgetResizable(True)
        self.setWidget(widget)  # (a horizontal scroll bar would show a widget wider than the area: tests look)
