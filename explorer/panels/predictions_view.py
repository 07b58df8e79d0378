"""Live predictions: type three words, see the network's most probable next words.

The view asks the core (``model.predict``) on every keystroke and whenever the
weights change, so the bars move while the network trains. Beside the chart,
the *corpus evidence*: which words actually followed the same three words in
the training set and how often, next to the probability the network gives
them. A learner can see the network approach the counts, and see it guess
sensibly for contexts the training set never contained.

Any text is accepted, cut into words as the corpora are (``core.text.tokenize``:
"day," is "day ,", "don't" is "do n't"). Fewer than three words gives a hint,
more than three uses the last three, an unknown word is named with the nearest vocabulary words
(clickable, to replace it). Clicking a predicted word appends it, so a sentence
can be grown one word at a time.
"""

from __future__ import annotations

import html
from collections import Counter

from PySide6.QtCore import QPoint, QRect, QSize, QStringListModel, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QCompleter,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import ExplorerError, UnknownWordError
from core.text import tokenize

from ..guard import qt_override
from ..widgets import on_screen

CONTEXT = 3
EXAMPLE_PHRASES = ("life in the", "i want to", "the dog is")  # first one the corpus knows well wins
EVIDENCE_ROWS = 12  # continuation rows shown in the table; the rest are summarised
MAX_K = 50
MIN_BARS_HEIGHT = 150  # pixels: the least room for the bars under the chart's header
MIN_BARS = 10  # bars the chart always has room for (squeezed to the text's height), when it has that many
MIN_EVIDENCE_ROWS = 3  # training-set rows the table shows at the least (it scrolls for more)

BAR_COLOUR = QColor(107, 174, 214)  # a word the training set never showed after this context
SEEN_COLOUR = QColor(33, 113, 181)  # a word that did follow these three words in training
HOVER_FILL = QColor(236, 242, 250)
TEXT_COLOUR = QColor(30, 30, 30)
MUTED_COLOUR = QColor(110, 110, 110)


def _fmt_p(p: float) -> str:
    """A probability as a plain decimal with two or three significant digits, never a bare 0."""
    if p >= 0.001 or p == 0:
        return f"{p:.3f}"
    if p >= 1e-5:
        return f"{p:.5f}"
    return f"{p:.1e}"


def _nice_top(p: float) -> float:
    """The smallest of 0.001, 0.002, 0.005, 0.01, … 1 that is at least ``p``."""
    for top in (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0):
        if p <= top + 1e-12:
            return top
    return 1.0


class BarChart(QWidget):
    """Horizontal bars, one row per word: the word, a bar for its probability, the number.

    The bar scale runs from 0 to a round value just above the top probability
    (written in the header), so small probabilities early in training are
    still visible, and the printed numbers are exact. Clicking a row emits
    ``word_clicked``.
    """

    word_clicked = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[tuple[str, float]] = []
        self._seen: set[str] = set()
        self._hover = -1
        self._empty_text = ""
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._hold_minimum()

    # ---- data ------------------------------------------------------------------------
    def set_rows(self, rows, seen=(), empty_text: str = "") -> None:
        count = len(self._rows)
        self._rows = [(str(w), float(p)) for w, p in rows]
        self._seen = set(seen)
        self._empty_text = empty_text
        self._hover = -1
        if len(self._rows) != count:  # the size hint depends on the number of rows only
            self._hold_minimum()
            self.updateGeometry()
        self.update()

    def rows(self) -> list[tuple[str, float]]:
        return list(self._rows)

    # ---- geometry --------------------------------------------------------------------
    def _metrics(self):
        fm = self.fontMetrics()
        header_h = fm.height() * 2 + 6
        row_h = fm.height() + 8
        if self._rows:  # squeeze the rows (not below the text height) rather than cut the last ones off
            row_h = min(row_h, max(fm.height() + 1, (self.height() - header_h - 4) // len(self._rows)))
        label_w = max([fm.horizontalAdvance(w) for w, _ in self._rows] + [fm.horizontalAdvance("word")]) + 14
        label_w = min(label_w, max(60, self.width() // 3))
        num_w = fm.horizontalAdvance("0.000 ") + 10
        x0 = label_w
        x1 = max(x0 + 20, self.width() - num_w - 8)
        return fm, row_h, header_h, label_w, x0, x1

    def row_rect(self, i: int) -> QRect:
        """The clickable rectangle of row ``i`` (widget coordinates)."""
        _, row_h, header_h, *_ = self._metrics()
        return QRect(0, header_h + i * row_h, self.width(), row_h)

    def row_at(self, y: int) -> int:
        _, row_h, header_h, *_ = self._metrics()
        i = (y - header_h) // row_h if y >= header_h else -1
        return i if 0 <= i < len(self._rows) else -1

    @qt_override
    def sizeHint(self) -> QSize:
        h = self.fontMetrics().height()
        return QSize(320, 2 * h + 6 + max(len(self._rows), 5) * (h + 8) + 6)

    def _hold_minimum(self) -> None:
        # A layout that fits wrapped text (height for width) may squeeze a widget below its minimum size
        # hint, never below its minimum height: the bars keep their room, the panel scrolls instead.
        self.setMinimumHeight(self.minimumSizeHint().height())

    @qt_override
    def minimumSizeHint(self) -> QSize:
        """Room for ``MIN_BARS`` bars at the least (``MIN_BARS_HEIGHT`` pixels at the least) under the header."""
        h = self.fontMetrics().height()
        bars = max(MIN_BARS_HEIGHT, min(len(self._rows), MIN_BARS) * (h + 1) + 4)
        return QSize(200, 2 * h + 6 + bars)

    # ---- painting ----------------------------------------------------------------------
    @qt_override
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        fm, row_h, header_h, label_w, x0, x1 = self._metrics()
        if not self._rows:
            painter.setPen(MUTED_COLOUR)
            painter.drawText(self.rect().adjusted(8, 8, -8, -8), Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap,
                             self._empty_text)
            return
        top = _nice_top(max(p for _, p in self._rows))
        span = x1 - x0
        bottom = header_h + len(self._rows) * row_h
        # Header: what the bars are, and a scale with three ticks.
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(TEXT_COLOUR)
        painter.drawText(QRect(4, 2, self.width() - 8, fm.height()), Qt.AlignmentFlag.AlignLeft,
                         "p(next word | the three words)")
        painter.setFont(self.font())
        tick_y = 4 + fm.height()
        for frac in (0.0, 0.5, 1.0):
            x = x0 + round(frac * span)
            painter.setPen(QPen(QColor(225, 225, 225), 1))
            painter.drawLine(x, header_h - 2, x, bottom)
            painter.setPen(MUTED_COLOUR)
            text = f"{frac * top:g}"
            w = fm.horizontalAdvance(text)
            tx = min(max(x - w // 2, x0), self.width() - w - 2)
            painter.drawText(tx, tick_y + fm.ascent(), text)
        # Rows.
        for i, (word, p) in enumerate(self._rows):
            y = header_h + i * row_h
            if i == self._hover:
                painter.fillRect(QRect(0, y, self.width(), row_h), HOVER_FILL)
            painter.setPen(TEXT_COLOUR)
            shown = fm.elidedText(word, Qt.TextElideMode.ElideRight, label_w - 10)
            painter.drawText(QRect(4, y, label_w - 10, row_h), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             shown)
            w = max(1, round(min(p / top, 1.0) * span)) if p > 0 else 0
            colour = SEEN_COLOUR if word in self._seen else BAR_COLOUR
            painter.fillRect(QRect(x0, y + 3, w, row_h - 6), colour)
            painter.setPen(TEXT_COLOUR)
            painter.drawText(QRect(x0 + w + 5, y, self.width() - x0 - w - 5, row_h),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, _fmt_p(p))
        painter.setPen(QPen(QColor(150, 150, 150), 1))
        painter.drawLine(x0, header_h - 2, x0, bottom)

    # ---- mouse -------------------------------------------------------------------------
    @qt_override
    def mouseMoveEvent(self, event) -> None:
        i = self.row_at(int(event.position().y()))
        if i != self._hover:
            self._hover = i
            self.setCursor(Qt.CursorShape.PointingHandCursor if i >= 0 else Qt.CursorShape.ArrowCursor)
            self.setToolTip(f"click to append “{self._rows[i][0]}”" if i >= 0 else "")
            self.update()

    @qt_override
    def leaveEvent(self, event) -> None:
        if self._hover != -1:
            self._hover = -1
            self.update()

    @qt_override
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            i = self.row_at(int(event.position().y()))
            if i >= 0:
                self.word_clicked.emit(self._rows[i][0])


class PredictionsView(QWidget):
    """Three words in, the top-k next words out, with the training set's own counts beside them."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self._shown: list[tuple[str, float]] = []
        self._context: tuple[str, ...] | None = None
        self._evidence: list[tuple[str, int, float, float]] = []
        self._evidence_total = 0
        self._example = ""
        self._fixes: list[tuple[str, str]] = []  # (unknown word, suggestion) behind each link
        self._stale = False  # the weights changed while the view was hidden

        self._build()
        self._completer_model = QStringListModel(self)
        self._completer = QCompleter(self._completer_model, self)
        self._completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self._completer.setModelSorting(QCompleter.ModelSorting.CaseInsensitivelySortedModel)
        self._completer.setMaxVisibleItems(10)
        self._completer.setWidget(self.prompt)
        self._completer.activated[str].connect(self._insert_completion)

        self.prompt.textChanged.connect(self._refresh)
        self.prompt.textEdited.connect(self._update_completion)
        self.k_spin.valueChanged.connect(self._refresh)
        self.chart.word_clicked.connect(self.append_word)
        self.status.linkActivated.connect(self._apply_suggestion)
        session.weights_changed.connect(self._on_weights_changed)
        session.network_changed.connect(self._on_network_changed)
        self._on_network_changed()

    def _build(self) -> None:
        self.prompt = QLineEdit()
        self.prompt.setObjectName("prompt_input")
        self.prompt.setPlaceholderText("type three words, e.g. “life in the”")
        self.prompt.setClearButtonEnabled(True)
        self.prompt.setToolTip("The network predicts the word that follows the last three words you type.\n"
                               "Words are completed from the vocabulary as you type.")
        self.k_spin = QSpinBox()
        self.k_spin.setObjectName("top_k")
        self.k_spin.setRange(1, MAX_K)
        self.k_spin.setValue(10)
        self.k_spin.setToolTip("How many of the most probable next words to show")

        self.status = QLabel()
        self.status.setObjectName("prompt_status")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)

        self.chart = BarChart()
        self.chart.setObjectName("prediction_chart")
        self.caption = QLabel(
            f"Click a word to append it. <span style='color:{SEEN_COLOUR.name()}'>■</span> dark bars: "
            "words that followed these three words in the training set."
        )
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: #555;")

        self.evidence_title = QLabel()
        self.evidence_title.setObjectName("evidence_title")
        self.evidence_title.setWordWrap(True)
        self.evidence_table = QTableWidget(0, 4)
        self.evidence_table.setObjectName("evidence_table")
        self.evidence_table.setHorizontalHeaderLabels(["next word", "count", "share", "model p"])
        self.evidence_table.horizontalHeaderItem(2).setToolTip("count ÷ all occurrences of the three words")
        self.evidence_table.horizontalHeaderItem(3).setToolTip("the network's probability for this next word")
        self.evidence_table.verticalHeader().setVisible(False)
        self.evidence_table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.evidence_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.evidence_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.evidence_table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.evidence_table.setMinimumHeight(self._evidence_height(MIN_EVIDENCE_ROWS))
        hdr = self.evidence_table.horizontalHeader()
        hdr.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in (1, 2, 3):
            hdr.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.evidence_more = QLabel()
        self.evidence_more.setObjectName("evidence_more")
        self.evidence_more.setStyleSheet("color: #555;")

        top = QHBoxLayout()
        top.addWidget(QLabel("Three words:"))
        top.addWidget(self.prompt, 1)
        top.addWidget(QLabel("top k"))
        top.addWidget(self.k_spin)

        left = QVBoxLayout()
        left.addWidget(self.chart, 1)
        left.addWidget(self.caption)
        right = QVBoxLayout()
        right.addWidget(self.evidence_title)
        right.addWidget(self.evidence_table, 1)
        right.addWidget(self.evidence_more)
        right.addStretch(0)  # keeps the title at the top when there is no table to show
        self._body = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self._body.addLayout(left, 3)
        self._body.addLayout(right, 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addLayout(self._body, 1)

    @qt_override
    def resizeEvent(self, event) -> None:
        """Chart and evidence side by side when there is room, one above the other when narrow."""
        wide = event.size().width() >= 600
        want = QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        if self._body.direction() != want:
            self._body.setDirection(want)
            # One above the other, the chart keeps the room for its k bars and the evidence
            # table scrolls after a few rows.
            self.evidence_table.setMaximumHeight(16_777_215 if wide else self._evidence_height(5))
            self._body.setStretch(0, 3 if wide else 1)
            self._body.setStretch(1, 2 if wide else 0)
        super().resizeEvent(event)

    def _evidence_height(self, rows: int) -> int:
        """The evidence table's height for its header and ``rows`` rows."""
        table = self.evidence_table
        row = table.verticalHeader().defaultSectionSize()
        return table.horizontalHeader().sizeHint().height() + rows * row + 2 * table.frameWidth() + 2

    # ---- session events ----------------------------------------------------------------------
    def _on_network_changed(self) -> None:
        """A new network or corpus: new vocabulary for completion, new counts, maybe a new example."""
        vocab = self.session.vocab
        self._completer_model.setStringList(sorted(vocab, key=str.lower))
        self.k_spin.setMaximum(max(1, min(MAX_K, len(vocab))))
        text = self.prompt.text()
        was_example = not text.strip() or text == self._example
        self._example = self._pick_example()
        if was_example and text != self._example:
            self.prompt.setText(self._example)  # refreshes through textChanged
            return
        self._refresh()

    def _on_weights_changed(self) -> None:
        """Predict again with the new weights; when hidden (or its tab is behind another), once shown again."""
        if not on_screen(self):
            self._stale = True
            return
        self._refresh()

    @qt_override
    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        self._catch_up()

    def _catch_up(self) -> None:
        if self._stale:
            self._refresh()

    def _pick_example(self) -> str:
        """A phrase the training set contains a few times, or else its first three words."""
        model, corpus = self.session.model, self.session.corpus
        for phrase in EXAMPLE_PHRASES:
            words = phrase.split()
            if all(w in model.index for w in words):
                if sum(self._counts(tuple(model.index[w] for w in words)).values()) >= 3:
                    return phrase
        if len(corpus.train):
            return " ".join(model.vocab[i] for i in corpus.train[0, :CONTEXT])
        return " ".join(model.vocab[:CONTEXT])

    def _counts(self, key: tuple[int, ...]) -> Counter:
        """Continuations of a context in the training set."""
        return self.session.corpus.continuations(key)

    # ---- the prediction ------------------------------------------------------------------------
    def _refresh(self) -> None:
        """Read the text, ask the model, and redraw the chart and the evidence."""
        self._stale = False
        tokens = tokenize(self.prompt.text())  # as the corpora are cut: "day," is "day ,"
        model = self.session.model
        if len(tokens) < CONTEXT:
            left = CONTEXT - len(tokens)
            hint = f"Type {CONTEXT} words; {len(tokens)} so far" + (f" ({left} more)." if tokens else ".")
            self._show_nothing(hint, "hint")
            return
        context = tokens[-CONTEXT:]
        unknown = []
        for w in dict.fromkeys(context):
            try:
                model.word_index(w)
            except UnknownWordError as err:
                unknown.append(err)
        if unknown:
            self._show_nothing(self._unknown_html(unknown), "error", rich=True)
            return
        k = self.k_spin.value()
        try:
            shown = model.predict(context, k)
            p = model.probabilities(context)  # (V,)
            indices = model.context_indices(context)
        except ExplorerError as err:
            self._show_nothing(str(err), "error")
            return
        self._context = tuple(model.vocab[i] for i in indices)  # as the vocabulary spells them ("nt" for "n't")
        self._shown = shown
        quoted = html.escape(" ".join(self._context))
        note = ""
        if len(tokens) > CONTEXT:
            note = f" <span style='color:#777'>(using the last three of your {len(tokens)} words)</span>"
        self._set_status(f"Next word after <b>“{quoted}”</b>{note}", "ok", rich=True)
        counts = self._counts(tuple(int(i) for i in indices))
        self._show_evidence(counts, p)
        self.chart.set_rows(shown, seen={model.vocab[i] for i in counts})

    def _unknown_html(self, errors: list[UnknownWordError]) -> str:
        """The message for unknown words, each suggestion a link that puts it in place."""
        self._fixes = []
        parts = []
        for err in errors:
            links = []
            for s in err.suggestions:
                links.append(f"<a href='fix:{len(self._fixes)}'>{html.escape(s)}</a>")
                self._fixes.append((err.word, s))
            near = f"; nearest vocabulary words: {', '.join(links)}" if links else ""
            parts.append(f"“{html.escape(err.word)}” is not in the vocabulary{near}")
        tail = " <span style='color:#777'>(click one to use it)</span>" if self._fixes else ""
        return ". ".join(parts) + "." + tail

    def _apply_suggestion(self, link: str) -> None:
        """Replace the last occurrence of an unknown word by the chosen vocabulary word."""
        try:
            wrong, right = self._fixes[int(link.removeprefix("fix:"))]
        except (ValueError, IndexError):
            return
        tokens = tokenize(self.prompt.text())
        for i in range(len(tokens) - 1, -1, -1):
            if tokens[i] == wrong:
                tokens[i] = right
                break
        self.prompt.setText(" ".join(tokens) + " ")
        self.prompt.setFocus()

    def _show_nothing(self, message: str, kind: str, rich: bool = False) -> None:
        self._context = None
        self._shown = []
        self._evidence = []
        self._evidence_total = 0
        self._set_status(message, kind, rich=rich)
        self.chart.set_rows([], empty_text="The predictions appear here once three vocabulary words are typed.")
        self.evidence_title.setText("")
        self.evidence_table.setRowCount(0)
        self.evidence_table.setVisible(False)
        self.evidence_more.setText("")

    def _set_status(self, message: str, kind: str, rich: bool = False) -> None:
        colour = {"ok": "#1e1e1e", "hint": "#8a5a00", "error": "#b00020"}[kind]
        body = message if rich else html.escape(message)
        self.status.setText(f"<span style='color:{colour}'>{body}</span>")
        self.status.setProperty("kind", kind)

    def _show_evidence(self, counts: Counter, p) -> None:
        """The training set's continuations of the context, with the model's probability for each."""
        model = self.session.model
        total = sum(counts.values())
        rows = sorted(counts.items(), key=lambda kv: (-kv[1], model.vocab[kv[0]]))
        self._evidence = [(model.vocab[i], c, c / total, float(p[i])) for i, c in rows]
        self._evidence_total = total
        phrase = html.escape(" ".join(self._context))
        if total == 0:
            self.evidence_title.setText(
                f"<b>In the training set</b>, “{phrase}” never occurs: the network is generalising "
                "from similar contexts."
            )
        else:
            times = "once" if total == 1 else f"{total:,} times"
            kinds = "1 word" if len(rows) == 1 else f"{len(rows)} different words"
            self.evidence_title.setText(
                f"<b>In the training set</b>, “{phrase}” occurs {times}, followed by {kinds}:"
            )
        shown = self._evidence[:EVIDENCE_ROWS]
        table = self.evidence_table
        table.setVisible(bool(shown))
        table.setUpdatesEnabled(False)
        table.setRowCount(len(shown))
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for r, (word, c, share, mp) in enumerate(shown):
            for col, (text, align) in enumerate(
                ((word, None), (f"{c:,}", right), (f"{100 * share:.1f} %", right), (_fmt_p(mp), right))
            ):
                item = table.item(r, col)
                if item is None:
                    item = QTableWidgetItem()
                    table.setItem(r, col, item)
                item.setText(text)
                if align is not None:
                    item.setTextAlignment(align)
        table.setUpdatesEnabled(True)
        rest = self._evidence[EVIDENCE_ROWS:]
        if rest:
            n = sum(c for _, c, _, _ in rest)
            words = "1 more word" if len(rest) == 1 else f"{len(rest)} more words"
            times = "1 occurrence" if n == 1 else f"{n:,} occurrences"
            self.evidence_more.setText(f"… and {words} ({times}).")
        else:
            self.evidence_more.setText("")

    # ---- completion ----------------------------------------------------------------------------
    def _word_before_cursor(self) -> str:
        before = self.prompt.text()[: self.prompt.cursorPosition()]
        if not before or before[-1].isspace():
            return ""
        return before.split()[-1]

    def _update_completion(self, _text: str = "") -> None:
        """Offer vocabulary words that start like the word being typed."""
        prefix = self._word_before_cursor()
        popup = self._completer.popup()
        if not prefix:
            popup.hide()
            return
        self._completer.setCompletionPrefix(prefix)
        n = self._completer.completionCount()
        if n == 0 or (n == 1 and self._completer.currentCompletion().lower() == prefix.lower()):
            popup.hide()
            return
        rect = self.prompt.cursorRect()
        rect.setWidth(popup.sizeHintForColumn(0) + popup.verticalScrollBar().sizeHint().width() + 12)
        if self.status.isVisible():  # open below the hint line under the prompt, not over it
            below = self.prompt.mapFromGlobal(self.status.mapToGlobal(QPoint(0, self.status.height())))
            rect.setBottom(max(rect.bottom(), below.y()))
        self._completer.complete(rect)

    def _insert_completion(self, word: str) -> None:
        """Replace the word being typed by the chosen vocabulary word, then a space."""
        text, cur = self.prompt.text(), self.prompt.cursorPosition()
        before, after = text[:cur], text[cur:]
        prefix = self._word_before_cursor()
        before = before[: len(before) - len(prefix)] + word + " "
        self.prompt.setText(before + after.lstrip())
        self.prompt.setCursorPosition(len(before))

    # ---- actions and read-outs ------------------------------------------------------------------
    def append_word(self, word: str) -> None:
        """Append ``word`` to the sentence; the model then predicts from the new last three words."""
        text = self.prompt.text().rstrip()
        self.prompt.setText(f"{text} {word} " if text else f"{word} ")
        self.prompt.setCursorPosition(len(self.prompt.text()))
        self.prompt.setFocus()

    def set_text(self, text: str) -> None:
        self.prompt.setText(text)

    def shown_predictions(self) -> list[tuple[str, float]]:
        """The (word, probability) pairs the chart shows, most probable first."""
        self._catch_up()
        return self.chart.rows()

    def context_words(self) -> tuple[str, ...] | None:
        """The three (lower-cased) words the prediction is for, or None when there is none."""
        self._catch_up()
        return self._context

    def evidence(self) -> list[tuple[str, int, float, float]]:
        """Every training-set continuation of the context: (word, count, share of counts, model p)."""
        self._catch_up()
        return list(self._evidence)

    def status_text(self) -> str:
        """The status line as plain text."""
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setHtml(self.status.text())
        return doc.toPlainText()


__all__ = ["PredictionsView", "BarChart"]
