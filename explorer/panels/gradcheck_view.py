"""Gradient check: is the number backprop produced the true derivative of the loss?

Pick an entry of any gradient (a parameter's, or one of the intermediate
arrays dz_o, dh, dz_h, de), or click it in the matrix view, and the panel
nudges that entry by ±h, measures the loss on the *same* minibatch with the
*same* weights the on-screen gradients were computed with (the trainer's
``gradient_context()``: a float64 copy), and compares the central difference

    numeric = (L(θ+h) − L(θ−h)) / 2h

with the analytic value. The relative error |a − n| / max(|a|, |n|) gets a
verdict: below 1e-6 ok (green), below 1e-3 doubtful (amber), else wrong (red).

"Check all" samples entries of every parameter (the same choice as
``core.gradcheck.check_all``: half among the largest gradients, half at
random) and reports the worst relative error per parameter like a test
report. It runs in small pieces on a timer so the window stays responsive,
with a progress bar and a Cancel button.

Every result remembers the minibatch it was computed on; when a new
minibatch starts it is marked stale, and a new network clears it.
"""

from __future__ import annotations

import html
import math

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QFont, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import gradcheck
from core.errors import ExplorerError
from core.gradcheck import DOUBTFUL, GOOD, GradCheck
from core.specs import axis_title, column_text

from .. import widgets  # noqa: F401  (configures pyqtgraph once)
from ..guard import qt_override



def resolve(model, name: str) -> tuple[str, str] | None:
    """The gradient a click on array ``name`` checks (a name ``core.gradcheck`` takes) and a note, or None.

    A gradient checks itself (``dW_o`` checks W_o's gradient); an update ``ΔW_o`` the gradient it was made
    from; an activation such as ``z_h`` the loss's gradient with respect to it (``dz_h``).
    """
    spec = model.specs.get(name)
    if spec is None or spec.role == "input":
        return None
    if spec.role == "parameter" or spec.role == "gradient":
        return gradcheck.checked_name(model, name), ""
    if spec.role == "update":
        return spec.of, f"{name} is the update; checking the gradient {gradcheck.gradient_name(model, spec.of)} it was made from"
    grad = next((g.name for g in model.specs.values() if g.role == "gradient" and g.of == name), None)
    if grad is None:
        return None
    return grad, f"{name} is an activation; checking the gradient of the loss with respect to it, {grad}"


# Verdict → (text colour, background, badge text).
VERDICT_STYLE = {
    "ok": ("#1b6e32", "#e3f3e7", "✓ OK"),
    "doubtful": ("#8a5300", "#fff1d6", "? DOUBTFUL"),
    "wrong": ("#b71c1c", "#fde3e1", "✗ WRONG"),
}
STALE_STYLE = ("#666666", "#eeeeee")
CHUNK_SECONDS = 0.03  # work per timer tick of "Check all"


def entry_text(model, name: str, index: tuple[int, ...]) -> str:
    """"dW_o[17, 42]" for the gradient a check name (W_o, dz_h) stands for."""
    return f"{gradcheck.gradient_name(model, name)}[{', '.join(str(i) for i in index)}]"


def _sci(v: float) -> str:
    return f"{v:+.12e}"


def agreeing_digits_html(a: float, b: float) -> tuple[str, str]:
    """Both numbers in scientific notation with their common leading digits in bold green (none when
    either is NaN or infinite: "+nan" and "+inf" have no digits to compare)."""
    sa, sb = _sci(a), _sci(b)
    n = 0
    if math.isfinite(a) and math.isfinite(b) and sa.split("e")[1] == sb.split("e")[1]:
        mant_a, mant_b = sa.split("e")[0], sb.split("e")[0]
        while n < len(mant_a) and mant_a[n] == mant_b[n]:
            n += 1
        if n <= 2:  # only the sign (and maybe the first digit): nothing worth marking
            n = 0

    def mark(s):
        return f"<b style='color:#1b6e32'>{html.escape(s[:n])}</b>{html.escape(s[n:])}" if n else html.escape(s)

    return mark(sa), mark(sb)


def explanation(result: GradCheck) -> str:
    """One line on what the relative error says."""
    r = result.rel_error
    if not (math.isfinite(result.analytic) and math.isfinite(result.numeric)):
        return (
            "Not both are finite numbers: with these weights the loss or its slope overflows, so there is "
            "nothing to compare, and this says nothing about the backward pass. Reset, or load weights that train."
        )
    if result.analytic == 0 and result.numeric == 0:
        why = "this entry has no effect on the loss of this minibatch"
        if result.name == "W_emb":
            why = "the word does not occur in this minibatch, so its vector gets no gradient"
        return f"Both are exactly 0: {why}."
    head = f"Relative error |a − n| / max(|a|, |n|) = {r:.1e}"
    if r < GOOD:
        digits = -math.log10(r) if r > 0 else 16
        return (
            f"{head}: analytic and numeric agree to about {digits:.0f} significant digits. "
            f"Below 1e-6 the backward pass is right for this entry."
        )
    if r < DOUBTFUL:
        return (
            f"{head}, between 1e-6 and 1e-3: suspicious. It can be a kink (ReLU at 0), "
            f"a gradient so small that rounding dominates, or a subtle bug."
        )
    return f"{head}, above 1e-3: the analytic gradient does not match the loss. The backward pass for this entry is wrong."


def _mono() -> QFont:
    f = QFontDatabase.systemFont(QFontDatabase.FixedFont)
    return f


class GradCheckView(QWidget):
    """Compare an analytic gradient entry with a central finite difference; check all parameters."""

    # A single check finished (a core.gradcheck.GradCheck).
    checked = Signal(object)
    # "Check all" finished: {parameter: [GradCheck, ...]}.
    check_all_finished = Signal(object)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.result: GradCheck | None = None  # the check on display
        self.report: dict[str, list[GradCheck]] | None = None  # the last complete "check all"
        self._result_key = None  # (trainer id, minibatch) of the check on display
        self._report_key = None
        self._job: gradcheck.CheckAll | None = None
        self._job_key = None
        self._job_timer = QTimer(self)
        self._job_timer.setInterval(0)
        self._job_timer.timeout.connect(self._continue_check_all)
        self._picked_axes: tuple[str, ...] = ()  # what the axes of the picked gradient mean ("unit", "word"...)
        self._build()
        self._rebuild_pickers()
        self._update_context()
        session.network_changed.connect(self._on_network_changed)
        session.stage_changed.connect(self._on_stage_changed)
        session.weights_changed.connect(self._on_weights_changed)

    # ---- construction ---------------------------------------------------------------------
    def _build(self) -> None:
        mono = _mono()
        root = QVBoxLayout(self)

        intro = QLabel(
            "Is backprop right? Nudge one entry θ by ±h, measure the loss on the same minibatch, "
            "and compare the slope with the analytic gradient."
        )
        intro.setWordWrap(True)
        root.addWidget(intro)

        # -- which entry
        pick = QGroupBox("Entry")
        pl = QVBoxLayout(pick)
        row = QHBoxLayout()
        row.addWidget(QLabel("Gradient"))
        self.name_combo = QComboBox()
        self.name_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.name_combo.setMinimumContentsLength(9)
        self.name_combo.setToolTip("Parameters' gradients (dW_emb … db_o) and the intermediate gradients dz_o, dh, dz_h, de")
        self.name_combo.currentIndexChanged.connect(self._on_name_picked)
        row.addWidget(self.name_combo, 1)
        self.check_button = QPushButton("Check")
        self.check_button.setToolTip("Compute the central difference for this entry and compare")
        self.check_button.setDefault(True)
        self.check_button.clicked.connect(self._check_picked)
        row.addWidget(self.check_button)
        pl.addLayout(row)

        self.axis_labels: list[QLabel] = []
        self.index_spins: list[QSpinBox] = []
        self.word_combos: list[QComboBox] = []
        self.axis_notes: list[QLabel] = []
        for a in range(2):
            r = QHBoxLayout()
            lab = QLabel()
            lab.setMinimumWidth(62)
            spin = QSpinBox()
            spin.setKeyboardTracking(False)
            spin.setMinimumWidth(60)
            spin.valueChanged.connect(lambda _v, a=a: self._on_spin(a))
            combo = QComboBox()
            combo.setEditable(True)
            combo.setInsertPolicy(QComboBox.NoInsert)
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
            combo.setToolTip("Type a word (completion from the vocabulary) or pick one")
            combo.activated.connect(lambda i, a=a: self._on_word_picked(a, i))
            combo.lineEdit().returnPressed.connect(lambda a=a: self._on_word_typed(a))
            note = QLabel()
            note.setStyleSheet("color:#555")
            note.setWordWrap(True)
            r.addWidget(lab)
            r.addWidget(spin)
            r.addWidget(combo)
            r.addWidget(note, 1)
            pl.addLayout(r)
            self.axis_labels.append(lab)
            self.index_spins.append(spin)
            self.word_combos.append(combo)
            self.axis_notes.append(note)
        self.context_label = QLabel()
        self.context_label.setWordWrap(True)
        self.context_label.setStyleSheet("color:#333")
        pl.addWidget(self.context_label)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color:#b71c1c")
        self.message_label.hide()
        pl.addWidget(self.message_label)
        root.addWidget(pick)

        # -- the result
        self.result_box = QGroupBox("Analytic vs numeric")
        rl = QVBoxLayout(self.result_box)
        self.stale_label = QLabel()
        self.stale_label.setWordWrap(True)
        self.stale_label.setStyleSheet("background:#eeeeee; color:#444; padding:3px")
        self.stale_label.hide()
        rl.addWidget(self.stale_label)
        head = QHBoxLayout()
        self.entry_label = QLabel("Pick an entry and press Check, or click an entry of a gradient in the matrix view.")
        self.entry_label.setWordWrap(True)
        self.entry_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        head.addWidget(self.entry_label, 1)
        self.verdict_label = QLabel()
        self.verdict_label.setAlignment(Qt.AlignCenter)
        self.verdict_label.setMinimumWidth(80)
        self.verdict_label.hide()
        head.addWidget(self.verdict_label, 0, Qt.AlignTop)
        rl.addLayout(head)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignRight)

        def value_label():
            lab = QLabel("—")
            lab.setFont(mono)
            lab.setTextInteractionFlags(Qt.TextSelectableByMouse)
            return lab

        self.analytic_label = value_label()
        self.numeric_label = value_label()
        self.step_label = value_label()
        self.abs_label = value_label()
        self.rel_label = value_label()
        rows = (
            ("analytic a:", self.analytic_label, "What backprop computed (the backward pass)"),
            ("numeric n:", self.numeric_label, "The central difference (L(θ+h) − L(θ−h)) / 2h"),
            ("step h:", self.step_label, "How far θ is nudged each way"),
            ("|a − n|:", self.abs_label, "Absolute error"),
            ("relative error:", self.rel_label, "|a − n| / max(|a|, |n|)"),
        )
        for text, field, tip in rows:
            lab = QLabel(text)
            lab.setToolTip(tip)
            field.setToolTip(tip)
            form.addRow(lab, field)
        rl.addLayout(form)
        self.formula_label = QLabel()
        self.formula_label.setWordWrap(True)
        self.formula_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        rl.addWidget(self.formula_label)
        self.explain_label = QLabel()
        self.explain_label.setWordWrap(True)
        rl.addWidget(self.explain_label)
        self.onscreen_label = QLabel()
        self.onscreen_label.setWordWrap(True)
        self.onscreen_label.setStyleSheet("color:#555")
        rl.addWidget(self.onscreen_label)
        root.addWidget(self.result_box)

        # -- check all
        allbox = QGroupBox("Check all parameters")
        al = QVBoxLayout(allbox)
        r = QHBoxLayout()
        self.check_all_button = QPushButton("Check all")
        self.check_all_button.setToolTip(
            "Check sampled entries of every parameter's gradient (half among the largest, half at random)"
        )
        self.check_all_button.clicked.connect(self.check_all)
        r.addWidget(self.check_all_button)
        self.samples_spin = QSpinBox()
        self.samples_spin.setRange(1, 500)
        self.samples_spin.setValue(20)
        self.samples_spin.setSuffix(" per parameter")
        self.samples_spin.setToolTip("How many entries of each parameter's gradient to check")
        r.addWidget(self.samples_spin)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("%v / %m entries")
        self.progress.hide()
        r.addWidget(self.progress, 1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_check_all)
        self.cancel_button.hide()
        r.addWidget(self.cancel_button)
        r.addStretch(0)
        al.addLayout(r)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Gradient", "Entries", "Worst rel. error", "At entry", "Result"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setToolTip("Click a row to show its worst entry above")
        self.table.cellClicked.connect(self._on_table_clicked)
        self.table.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Minimum)
        self.table.hide()  # shown from the first "Check all" on
        al.addWidget(self.table)
        self.summary_label = QLabel("Not run yet.")
        self.summary_label.setWordWrap(True)
        al.addWidget(self.summary_label)
        root.addWidget(allbox)
        root.addStretch(1)

    @qt_override
    def resizeEvent(self, event) -> None:
        """Never squeeze the word-wrapped texts: at this width, ask for the height they need.

        (A dock that is too short then scrolls instead of drawing lines over each other.)
        """
        super().resizeEvent(event)
        layout = self.layout()
        if layout is not None and layout.hasHeightForWidth():
            need = layout.totalHeightForWidth(self.width())
            if need > 0 and need != self.minimumHeight():
                self.setMinimumHeight(need)

    # ---- the minibatch the checks run on ---------------------------------------------------
    def _context_batch(self) -> tuple[int, bool]:
        """(minibatch number, True if it is the minibatch on screen) — what gradient_context() uses."""
        tr = self.session.trainer
        st = tr.stage
        if st is not None and (tr.in_batch or st.batch == tr.step - 1):
            return st.batch, True
        return tr.step, False

    def _key(self):
        return (id(self.session.trainer), self._context_batch()[0])

    def _update_context(self) -> None:
        k, on_screen = self._context_batch()
        if on_screen:
            text = (
                f"Checks run on minibatch {k + 1}, the one on screen, with the weights from before its update: "
                f"the same numbers the matrix view shows."
            )
        else:
            text = (
                f"No minibatch on screen: checks run on the next one, minibatch {k + 1}, with the current weights."
            )
        self.context_label.setText(text)

    # ---- pickers ----------------------------------------------------------------------------
    def _rebuild_pickers(self) -> list[str]:
        """Pickers for the current network, on the entry picked before where it still exists: the same array,
        the same word (looked up in the new vocabulary), the same unit or example where it fits. Returns the
        words picked before that the new vocabulary lacks (their boxes go to its first word)."""
        model = self.session.model
        current = self.name_combo.currentData() or "W_o"
        # What was picked, read before the pickers change: a word axis by its word, the others by index.
        before = [(kind, self.word_combos[a].currentText(), self.index_spins[a].value())
                  for a, kind in enumerate(self._picked_axes)]
        self.name_combo.blockSignals(True)
        self.name_combo.clear()
        checkable = gradcheck.checkable(model)
        for name in checkable:
            shape = "×".join(str(s) for s in gradcheck.gradient_shape(model, name))
            self.name_combo.addItem(f"{gradcheck.gradient_name(model, name)}   ∂L/∂{self._base(name)}   ({shape})", name)
        self.name_combo.setCurrentIndex(max(0, checkable.index(current) if current in checkable else 0))
        self.name_combo.blockSignals(False)
        vocab = self.session.vocab
        for combo in self.word_combos:
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(vocab)
            completer = QCompleter(vocab, combo)
            completer.setCaseSensitivity(Qt.CaseInsensitive)
            completer.setFilterMode(Qt.MatchStartsWith)
            completer.setCompletionMode(QCompleter.PopupCompletion)
            completer.activated.connect(lambda _w, c=combo: c.lineEdit().returnPressed.emit())
            combo.setCompleter(completer)
            combo.blockSignals(False)
        self._configure_axes()
        lost = []
        if self._picked_name() == current:
            for a, (kind, word, value) in enumerate(before[: len(self._picked_axes)]):
                spin = self.index_spins[a]
                if kind != self._picked_axes[a]:
                    continue  # an axis of another kind now (another architecture): left where it was put
                if kind != "word":
                    spin.setValue(min(value, spin.maximum()))
                elif word in model.index:
                    spin.setValue(model.index[word])
                else:
                    lost.append(word)
                    spin.setValue(0)
                self._on_spin(a)
        return lost

    def _picked_name(self) -> str:
        return self.name_combo.currentData() or gradcheck.checkable(self.session.model)[0]

    def _configure_axes(self) -> None:
        name = self._picked_name()
        shape = gradcheck.gradient_shape(self.session.model, name)
        kinds = self._axes(name)
        self._picked_axes = tuple(kinds[: len(shape)])
        for a in range(2):
            visible = a < len(shape)
            for w in (self.axis_labels[a], self.index_spins[a], self.axis_notes[a]):
                w.setVisible(visible)
            self.word_combos[a].setVisible(visible and kinds[a] == "word")
            if visible:
                self.axis_labels[a].setText(f"{axis_title(kinds[a], short=True)}:")
                spin = self.index_spins[a]
                spin.blockSignals(True)
                spin.setRange(0, shape[a] - 1)
                spin.setToolTip(f"0 … {shape[a] - 1}")
                spin.blockSignals(False)
                self._on_spin(a)

    def _picked_index(self) -> tuple[int, ...]:
        n = len(gradcheck.gradient_shape(self.session.model, self._picked_name()))
        return tuple(self.index_spins[a].value() for a in range(n))

    def _on_name_picked(self, _i: int) -> None:
        self._configure_axes()

    def _on_spin(self, a: int) -> None:
        """Keep the word box and the note next to spin box ``a`` in step with it."""
        name = self._picked_name()
        kinds = self._axes(name)
        if a >= len(kinds):
            return
        kind, value = kinds[a], self.index_spins[a].value()
        note = ""
        if kind == "word":
            combo = self.word_combos[a]
            combo.blockSignals(True)
            combo.setCurrentIndex(value)
            combo.blockSignals(False)
        elif kind == "concat":
            note = f"= {column_text(value, self.session.config.embed_dim)}"
        elif kind == "example":
            try:
                k, _ = self._context_batch()
                x, t = self.session.trainer.batch_at(k)
                vocab = self.session.vocab
                note = f"'{' '.join(vocab[w] for w in x[value])}' → '{vocab[t[value]]}'"
            except (IndexError, ExplorerError):
                note = ""
        self.axis_notes[a].setText(note)

    def _on_word_picked(self, a: int, i: int) -> None:
        if i >= 0:
            self.index_spins[a].setValue(i)

    def _on_word_typed(self, a: int) -> None:
        text = self.word_combos[a].currentText().strip()
        try:
            v = self.session.model.word_index(text)
        except ExplorerError as err:
            self._say(str(err))
            self._on_spin(a)  # put the word of the current index back
            return
        self._say("")
        self.index_spins[a].setValue(v)

    def _say(self, text: str, *, note: bool = False) -> None:
        """A one-line message under the pickers: an error (red) or a note (grey); "" hides it."""
        self.message_label.setText(text)
        self.message_label.setStyleSheet("color:#555" if note else "color:#b71c1c")
        self.message_label.setVisible(bool(text))

    # ---- one entry --------------------------------------------------------------------------
    def _check_picked(self) -> None:
        self.check(self._picked_name(), self._picked_index())

    @Slot(str, object)
    def check(self, name: str, index) -> GradCheck | None:
        """Check entry ``index`` of gradient ``name`` and show the result.

        ``name`` is a core name (``W_o``, ``dz_h``) or the name of the array on
        screen (``dW_o``, ``db_h``; activations such as ``z_h`` check their
        gradient). Bad names or indices give a one-line message, never an exception.
        """
        name = str(name)
        model = self.session.model
        resolved = resolve(model, name)
        if resolved is None:
            self._say(
                f"{name} is not a gradient, so there is nothing to check: pick an entry of "
                + ", ".join(gradcheck.gradient_name(model, n) for n in gradcheck.checkable(model)),
                note=True,
            )
            return None
        core_name, note = resolved
        try:
            index = tuple(int(i) for i in np.atleast_1d(np.asarray(index)).ravel())
        except (TypeError, ValueError):
            self._say(f"{index!r} is not an index")
            return None
        shape = gradcheck.gradient_shape(model, core_name)
        screen = gradcheck.gradient_name(model, core_name)
        if len(index) != len(shape):
            dims = "×".join(map(str, shape))
            self._say(f"{screen} has {len(shape)} ax{'is' if len(shape) == 1 else 'es'} ({dims}); got index {index}")
            return None
        for a, (i, s) in enumerate(zip(index, shape, strict=True)):
            if not 0 <= i < s:
                kind = model.specs[screen].axes[a]
                self._say(f"index {i} is outside 0 … {s - 1} on the {kind} axis of {screen}")
                return None
        self._show_pick(core_name, index)
        try:
            ctx_model, x, t = self.session.trainer.gradient_context()
            result = gradcheck.check_entry(ctx_model, x, t, core_name, index)
        except (ExplorerError, ArithmeticError, ValueError, IndexError, KeyError) as err:
            self._say(f"the check failed: {err}")
            return None
        self._say(note, note=True)
        k, on_screen = self._context_batch()
        self._display(result, x, t, batch=k, on_screen=on_screen)
        self._result_key = self._key()
        self.checked.emit(result)
        return result

    def _show_pick(self, name: str, index: tuple[int, ...]) -> None:
        """Put the pickers on this entry (without triggering anything)."""
        i = gradcheck.checkable(self.session.model).index(name)
        if self.name_combo.currentIndex() != i:
            self.name_combo.setCurrentIndex(i)  # reconfigures the axes
        for a, v in enumerate(index):
            self.index_spins[a].setValue(v)

    def _base(self, name: str) -> str:
        """The array a gradient belongs to: W_o for W_o, z_h for dz_h."""
        model = self.session.model
        return name if name in model.params else model.specs[name].of

    def _axes(self, name: str) -> tuple[str, ...]:
        """What the axes of the gradient a check name stands for mean ("unit", "word", ...)."""
        model = self.session.model
        return model.specs[gradcheck.gradient_name(model, name)].axes

    def _display(self, result: GradCheck, x, t, *, batch: int, on_screen: bool) -> None:
        """Fill the result box with one GradCheck computed on minibatch ``batch``."""
        self.result = result
        model = self.session.model
        meaning = model.entry_meaning(result.name, result.index, x, t)
        theta = f"{self._base(result.name)}[{', '.join(map(str, result.index))}]"
        self.entry_label.setText(
            f"<b style='font-size:13pt'>{html.escape(entry_text(model, result.name, result.index))}</b>"
            f" = ∂L/∂{html.escape(theta)} &nbsp;·&nbsp; minibatch {batch + 1}<br>"
            f"{html.escape(theta)} is {html.escape(meaning)}"
        )
        a_html, n_html = agreeing_digits_html(result.analytic, result.numeric)
        self.analytic_label.setText(a_html)
        self.numeric_label.setText(n_html)
        self.step_label.setText(f"{result.step:.0e}")
        self.abs_label.setText(f"{result.abs_error:.3e}")
        self.rel_label.setText(f"{result.rel_error:.3e}")
        diff = result.numeric * 2 * result.step
        where = "" if result.name in model.params else " (the forward pass goes on from the nudged value)"
        self.formula_label.setText(
            f"numeric = (L(θ+h) − L(θ−h)) / 2h &nbsp;with θ = {html.escape(theta)}{where}:<br>"
            f"&nbsp;&nbsp;&nbsp;= {diff:.6e} / (2 × {result.step:.0e}) = {result.numeric:.6e}"
        )
        verdict = result.verdict
        fg, bg, badge = VERDICT_STYLE[verdict]
        self.verdict_label.setText(badge)
        self.verdict_label.setStyleSheet(
            f"color:{fg}; background:{bg}; border:1px solid {fg}; border-radius:4px; padding:4px 8px; font-weight:bold"
        )
        self.verdict_label.show()
        self.explain_label.setText(explanation(result))
        self.explain_label.setStyleSheet(f"color:{fg}")
        self.result_box.setStyleSheet(f"QGroupBox {{ background:{bg}; }}")
        self.stale_label.hide()
        shown = self.session.tensors.get(gradcheck.gradient_name(model, result.name)) if on_screen else None
        if shown is not None and shown.shape == gradcheck.gradient_shape(model, result.name):
            value = float(shown[result.index])
            same = "the same number" if value == result.analytic else f"differs by {abs(value - result.analytic):.1e}"
            self.onscreen_label.setText(
                f"The matrix view shows {entry_text(model, result.name, result.index)} = {_sci(value)} ({same})."
            )
        else:
            self.onscreen_label.setText(
                "The analytic value comes from a backward pass on a float64 copy of the network "
                "with these weights and this minibatch."
            )

    # ---- check all ----------------------------------------------------------------------------
    @Slot()
    def check_all(self) -> None:
        """Start checking sampled entries of every parameter (runs in pieces; see ``check_all_finished``)."""
        self.cancel_check_all(quiet=True)
        try:
            model, x, t = self.session.trainer.gradient_context()
            self._job = gradcheck.CheckAll(model, x, t, self.samples_spin.value())
        except (ExplorerError, ArithmeticError, ValueError) as err:
            self.summary_label.setText(f"Check all could not start: {err}")
            return
        self._job_key = self._key()
        self._job_batch = self._context_batch()[0]
        self.table.setRowCount(0)
        model = self.session.model
        self.table.setRowCount(len(model.params))
        self.table.show()
        for r, (name, theta) in enumerate(model.params.items()):
            screen = gradcheck.gradient_name(model, name)
            self._set_row(r, [screen, "", "", "", "running…"])
            self.table.item(r, 0).setToolTip(f"{screen}: {'×'.join(map(str, theta.shape))}")
        self.progress.setRange(0, self._job.total)
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        self.check_all_button.setEnabled(False)
        self.summary_label.setText(f"Checking {self._job.total} entries on minibatch {self._job_batch + 1}…")
        self._job_timer.start()

    @Slot()
    def cancel_check_all(self, quiet: bool = False) -> None:
        """Stop a running "Check all" (what was already checked stays in the table)."""
        if self._job is None:
            return
        self._job_timer.stop()
        job, self._job = self._job, None
        self.progress.hide()
        self.cancel_button.hide()
        self.check_all_button.setEnabled(True)
        if not quiet:
            self.summary_label.setText(f"Cancelled after {job.done} of {job.total} entries.")
            for r, name in enumerate(job.results):
                if not job.results[name] or job.done <= job.last_of[name]:
                    self._set_row(r, [None, str(len(job.results[name])), "", "", "cancelled"])

    @property
    def check_all_running(self) -> bool:
        return self._job is not None

    def _continue_check_all(self) -> None:
        job = self._job
        if job is None:
            self._job_timer.stop()
            return
        for name in job.run_for(CHUNK_SECONDS):
            self._fill_row(list(job.results).index(name), name, job.results[name])
        self.progress.setValue(job.done)
        if job.finished:
            self._job_timer.stop()
            self._job = None
            self.progress.hide()
            self.cancel_button.hide()
            self.check_all_button.setEnabled(True)
            self.report = job.results
            self._report_key = self._job_key
            self._summarise(job)
            self.check_all_finished.emit(job.results)

    def _worst(self, checks: list[GradCheck]) -> GradCheck:
        return max(checks, key=lambda g: g.rel_error)

    def _fill_row(self, r: int, name: str, checks: list[GradCheck]) -> None:
        worst = self._worst(checks)
        passed = worst.rel_error < GOOD
        self._set_row(
            r,
            [None, str(len(checks)), f"{worst.rel_error:.2e}", entry_text(self.session.model, name, worst.index),
             "PASS" if passed else "FAIL"],
        )
        fg, bg, _ = VERDICT_STYLE[worst.verdict]
        for c in (2, 4):
            item = self.table.item(r, c)
            item.setForeground(QColor(fg))
            item.setBackground(QColor(bg))
            if c == 4:
                f = item.font()
                f.setBold(True)
                item.setFont(f)
        self.table.item(r, 3).setToolTip(
            f"analytic {_sci(worst.analytic)}\nnumeric  {_sci(worst.numeric)}\nclick to show it above"
        )

    def _set_row(self, r: int, texts: list) -> None:
        for c, text in enumerate(texts):
            if text is None:
                continue
            item = self.table.item(r, c)
            if item is None:
                item = QTableWidgetItem()
                self.table.setItem(r, c, item)
            item.setText(text)
            if c == 4 and text in ("running…", "cancelled", ""):
                item.setForeground(QColor("#555"))
                item.setBackground(QColor("white"))
        self.table.resizeRowsToContents()
        h = self.table.horizontalHeader().sizeHint().height() + self.table.verticalHeader().length()
        if self.table.horizontalHeader().length() > self.table.viewport().width():  # a scroll bar shows
            h += self.table.horizontalScrollBar().sizeHint().height()
        self.table.setFixedHeight(h + 2 * self.table.frameWidth() + 2)

    def _summarise(self, job: gradcheck.CheckAll) -> None:
        worst = {n: self._worst(c) for n, c in job.results.items()}
        model = self.session.model
        failed = [gradcheck.gradient_name(model, n) for n, g in worst.items() if g.rel_error >= GOOD]
        top_name, top = max(worst.items(), key=lambda kv: kv[1].rel_error)
        head = (
            f"<b style='color:{VERDICT_STYLE['ok'][0]}'>{len(worst)} of {len(worst)} PASS</b>"
            if not failed
            else f"<b style='color:{VERDICT_STYLE['wrong'][0]}'>{len(failed)} of {len(worst)} FAIL: "
            f"{', '.join(failed)}</b>"
        )
        self.summary_label.setText(
            f"{head} &nbsp;— {job.total} entries on minibatch {self._job_batch + 1} in {job.seconds:.2f} s; "
            f"worst relative error {top.rel_error:.1e} ({gradcheck.gradient_name(model, top_name)}). PASS means below 1e-6."
        )

    def _on_table_clicked(self, row: int, _col: int) -> None:
        if self.report is None or not 0 <= row < len(self.report):
            return
        checks = self.report.get(list(self.report)[row])
        if not checks:
            return
        worst = self._worst(checks)
        k = self._report_key[1] if self._report_key else self._context_batch()[0]
        try:
            x, t = self.session.trainer.batch_at(k)
        except (IndexError, ExplorerError):
            x = t = None
        self._show_pick(worst.name, worst.index)
        self._display(worst, x, t, batch=k, on_screen=self._report_key == self._key())
        self._result_key = self._report_key
        self._mark_stale()

    # ---- session events -------------------------------------------------------------------
    def _mark_stale(self) -> None:
        key = self._key()
        if self.result is not None and self._result_key is not None and self._result_key != key:
            fg, bg = STALE_STYLE
            self.stale_label.setText(
                f"Stale: computed on minibatch {self._result_key[1] + 1}; the gradients now belong to "
                f"minibatch {key[1] + 1}. Press Check to redo it."
            )
            self.stale_label.show()
            self.verdict_label.setStyleSheet(
                f"color:{fg}; background:{bg}; border:1px solid {fg}; border-radius:4px; padding:4px 8px"
            )
            self.result_box.setStyleSheet("")
            self.explain_label.setStyleSheet(f"color:{fg}")
            self.onscreen_label.setText("")
        if self.report is not None and self._report_key is not None and self._report_key != key:
            if not self.summary_label.text().startswith("Stale"):
                self.summary_label.setText(
                    f"Stale: computed on minibatch {self._report_key[1] + 1}. " + self.summary_label.text()
                )

    def _on_stage_changed(self, _stage) -> None:
        self._update_context()
        self._mark_stale()

    def _on_weights_changed(self) -> None:
        self._update_context()
        self._mark_stale()

    def _on_network_changed(self) -> None:
        """A new network: shapes and vocabulary may differ; every result is cleared."""
        self.cancel_check_all(quiet=True)
        self.result = None
        self.report = None
        self._result_key = self._report_key = None
        lost = self._rebuild_pickers()
        self._update_context()
        self._say(" ".join(f"'{w}' is not in this vocabulary." for w in lost), note=True)
        self.entry_label.setText("New network: pick an entry and press Check.")
        for lab in (self.analytic_label, self.numeric_label, self.step_label, self.abs_label, self.rel_label):
            lab.setText("—")
        for lab in (self.formula_label, self.explain_label, self.onscreen_label):
            lab.setText("")
        self.verdict_label.hide()
        self.stale_label.hide()
        self.result_box.setStyleSheet("")
        self.table.setRowCount(0)
        self.table.hide()
        self.summary_label.setText("Not run yet.")


__all__ = ["GradCheckView", "resolve", "entry_text", "agreeing_digits_html"]
