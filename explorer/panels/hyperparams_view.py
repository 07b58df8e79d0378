"""Hyperparameters: two that apply live, six that need a new network.

Learning rate and momentum apply from the next update (Enter or leaving the
field). Batch size, embedding size, the hidden layers' widths (one number per
layer, "128, 64"; "none" for no hidden layer), their activations (one for all,
or one per layer), init std and seed change the network's shape or its initial
weights, so they take effect only through "Apply — new network", which asks
first when there is unsaved training.

Every value is checked before use (``core.model.Config.validate``, the size of
the training set, and a memory estimate). While a value is typed, a value that
cannot work is named under its field with its reason; once the field is
finished (Enter, leaving it, or Apply) a refused value does not stay: the field
goes back to the value in force and the line under it says so
("refused 'abc': expected a number; still 0.1"). The line under the buttons
always describes the present state: the network just built, or the typed
values that are not applied yet next to the values in force.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from core.errors import ExplorerError
from core.layers import ACTIVATIONS
from core.model import Config, estimated_bytes, parse_activations, parse_hidden_dims

# Refuse sizes whose one stepped minibatch would need more memory than this.
MEMORY_LIMIT_BYTES = 2 * 1024**3

LIVE_FIELDS = {
    "learning_rate": ("Learning rate η", float, "How far each update moves the weights: v ← μ·v − η·∇"),
    "momentum": ("Momentum μ", float, "How much of the previous update is kept: 0 ≤ μ < 1"),
}
NETWORK_FIELDS = {
    "batch_size": ("Batch size N", int, "Examples per minibatch (1 and 2 make every number easy to follow)"),
    "embed_dim": ("Embedding size d", int, "Length of each word vector: W_emb is V×d"),
    "hidden_dims": ("Hidden units H", parse_hidden_dims,
                    "Width of each hidden layer, separated by commas (200, or 128, 64); none for no hidden layer"),
    "activations": ("Activation", parse_activations,
                    "Non-linearity of the hidden layers: one for all, or one per layer (sigmoid, relu)"),
    "init_std": ("Init std", float, "Weights start as samples of N(0, std²); biases start at 0"),
    "seed": ("Seed", int, "Fixes the initial weights and the order of the minibatches"),
}


# How the core's messages name a field -> how this panel labels it.
_FIELD_WORDS = {"hidden dim": "hidden size", "embed dim": "embedding size"}


def parse_value(text: str, kind):
    """The number (or word) typed in a field; raises ValueError with a one-line reason."""
    t = text.strip().replace("_", "")
    if not t:
        raise ValueError("enter a value")
    if kind is int:
        t = t.replace(",", "")
        try:
            return int(t)
        except ValueError:
            try:
                f = float(t)
            except ValueError:
                raise ValueError(f"expected a whole number, got {text.strip()!r}") from None
            if f.is_integer():
                return int(f)
            raise ValueError(f"expected a whole number, got {text.strip()!r}") from None
    if kind is float:
        try:
            return float(t)
        except ValueError:
            raise ValueError(f"expected a number, got {text.strip()!r}") from None
    return t


class HyperparamsView(QWidget):
    """See the module docstring.

    ``inputs[name]`` is each field's editor and ``errors[name]`` the label under it;
    ``message_label`` reports the outcome of "Apply — new network".
    ``confirm(doing) -> bool`` is asked before unsaved training is discarded;
    the main window replaces it with its own (which can offer to save).
    """

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.confirm = self._confirm_default
        self.inputs: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}

        intro = QLabel(
            "Learning rate and momentum apply from the next update. "
            "The others need a new network: new weights from the seed, training starts again."
        )
        intro.setWordWrap(True)

        live = QGroupBox("Apply live")
        live_form = self._form(live)
        for name, (label, kind, tip) in LIVE_FIELDS.items():
            editor = QLineEdit()
            editor.editingFinished.connect(lambda n=name: self._apply_live(n))
            editor.textEdited.connect(lambda _text, n=name: self._on_edited(n))
            self._add_row(live_form, name, label, editor, tip)

        net = QGroupBox("Need a new network")
        net_form = self._form(net)
        for name, (label, kind, tip) in NETWORK_FIELDS.items():
            if name == "activations":
                editor = QComboBox()
                editor.setEditable(True)  # one of the list, or one per layer typed in: "sigmoid, relu"
                editor.addItems(list(ACTIVATIONS))
                editor.currentTextChanged.connect(lambda _t: self._show_pending())
            else:
                editor = QLineEdit()
                editor.textEdited.connect(lambda _text, n=name: self._on_edited(n))
                editor.returnPressed.connect(self.apply_new_network)
                editor.editingFinished.connect(lambda n=name: self._finish_network_field(n))
            self._add_row(net_form, name, label, editor, tip)

        self.apply_button = QPushButton("Apply — new network")
        self.apply_button.setObjectName("apply_button")
        self.apply_button.setToolTip("Build a new network with these values (asks first if training is unsaved)")
        self.apply_button.clicked.connect(self.apply_new_network)
        self.message_label = QLabel("")
        self.message_label.setObjectName("hyperparams_message")
        self.message_label.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.apply_button)
        buttons.addStretch(1)
        net_form.addRow(buttons)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(intro)
        layout.addWidget(live)
        layout.addWidget(net)
        layout.addWidget(self.message_label)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        session.network_changed.connect(self._on_network_changed)
        session.status_changed.connect(self._on_status_changed)
        self._on_network_changed()

    # ---- construction helpers -------------------------------------------------------------
    @staticmethod
    def _form(box: QGroupBox) -> QFormLayout:
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignRight | Qt.AlignVCenter)
        form.setVerticalSpacing(4)
        return form

    def _add_row(self, form: QFormLayout, name: str, label: str, editor: QWidget, tip: str) -> None:
        editor.setObjectName(f"{name}_input")
        editor.setToolTip(tip)
        editor.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        error = QLabel("")
        error.setObjectName(f"{name}_error")
        error.setWordWrap(True)
        error.setStyleSheet("color: #b3261e;")
        error.hide()
        cell = QWidget()
        box = QVBoxLayout(cell)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(1)
        box.addWidget(editor)
        box.addWidget(error)
        form.addRow(label, cell)
        self.inputs[name] = editor
        self.errors[name] = error

    # ---- showing the current values -----------------------------------------------------------
    @staticmethod
    def _format(value, name: str = "") -> str:
        """A value as its field shows it: '0.1', '128, 64' (or 'none'), one activation name when all share it."""
        if name == "activations":  # (and for no hidden layer, what a first one would get)
            return ", ".join(value) if len(set(value)) > 1 else (value[0] if value else "sigmoid")
        if name == "hidden_dims":
            return ", ".join(map(str, value)) or "none"
        return f"{value:g}" if isinstance(value, float) else str(value)

    def _show_value(self, name: str, value) -> None:
        editor = self.inputs[name]
        if isinstance(editor, QComboBox):
            editor.blockSignals(True)
            editor.setCurrentText(self._format(value, name))
            editor.blockSignals(False)
        else:
            editor.setText(self._format(value, name))  # also clears isModified(): nothing typed is pending
        self._set_error(name, "")

    def _on_network_changed(self) -> None:
        c = self.session.config
        for name in (*LIVE_FIELDS, *NETWORK_FIELDS):
            self._show_value(name, getattr(c, name))
        self.message_label.setText("")

    def _on_status_changed(self) -> None:
        """Learning rate and momentum may have been changed elsewhere; never overwrite typing."""
        c = self.session.config
        for name in LIVE_FIELDS:
            editor = self.inputs[name]
            if editor.isModified():  # the user typed and has not finished
                continue
            try:
                shown = parse_value(editor.text(), float)
            except ValueError:
                shown = None
            if shown != getattr(c, name):
                self._show_value(name, getattr(c, name))

    @staticmethod
    def _label(name: str) -> str:
        """The field's label, as the panel shows it: "Hidden units H"."""
        return {**LIVE_FIELDS, **NETWORK_FIELDS}[name][0]

    def pending_changes(self) -> dict[str, tuple[object, object]]:
        """Network fields holding a valid value that is not in force: name -> (typed value, value in force)."""
        pending = {}
        for name in NETWORK_FIELDS:
            try:
                value = self._field_value(name)
            except ValueError:
                continue
            now = getattr(self.session.config, name)
            if self._format(value, name) != self._format(now, name):  # ("relu",) is "relu" for every layer
                pending[name] = (value, now)
        return pending

    def _show_pending(self) -> None:
        """The line under the buttons: the typed network values not applied yet, with the values in force."""
        pending = self.pending_changes()
        if not pending:
            self.message_label.setText("")
            return
        items = "; ".join(
            f"{self._label(n)} = {self._format(v, n)} (in force: {self._format(now, n)})"
            for n, (v, now) in pending.items()
        )
        self.message_label.setText(f"Not applied yet: {items}. “Apply — new network” builds it.")

    # ---- checking ---------------------------------------------------------------------------------
    def _set_error(self, name: str, text: str) -> None:
        for code, words in _FIELD_WORDS.items():  # the names the fields show
            text = text.replace(code, words)
        label = self.errors[name]
        label.setText(text)
        label.setVisible(bool(text))

    def _field_value(self, name: str):
        editor = self.inputs[name]
        kind = {**LIVE_FIELDS, **NETWORK_FIELDS}[name][1]
        text = editor.currentText() if isinstance(editor, QComboBox) else editor.text()
        if kind in (int, float):
            return parse_value(text, kind)
        try:
            return kind(text)  # the core's parsers of the widths and the activations
        except ExplorerError as err:
            raise ValueError(str(err)) from None

    def _check_field(self, name: str):
        """The field's value if it can work (the error label cleared), else None (the reason shown)."""
        try:
            value = self._field_value(name)
            if name == "hidden_dims":  # the widths alone; whether the activations fit is checked on Apply
                one = (self.session.config.activations or ("sigmoid",))[:1]
                self.session.config.replace(hidden_dims=value, activations=one)
            elif name != "activations":  # (the names are checked by the parser)
                self.session.config.replace(**{name: value})
        except ValueError as err:
            self._set_error(name, str(err))
            return None
        except ExplorerError as err:
            self._set_error(name, str(err))
            return None
        if name == "batch_size":
            n_train = len(self.session.corpus.train)
            if value > n_train:
                self._set_error(name, f"batch size must be at most the training set's {n_train:,} examples, got {value:,}")
                return None
        self._set_error(name, "")
        return value

    def _on_edited(self, name: str) -> None:
        """A keystroke: the reason a value cannot work shows at once; the line below describes what is pending."""
        self._check_field(name)
        self._show_pending()

    def _refuse(self, name: str) -> bool:
        """If the field holds a value that cannot work, put back the value in force and say so; True if it did."""
        editor = self.inputs[name]
        if isinstance(editor, QComboBox) or self._shows_in_force(name) or self._check_field(name) is not None:
            return False
        self._revert(name, self.errors[name].text())
        return True

    def _shows_in_force(self, name: str) -> bool:
        """True when the field shows the value in force as this panel writes it (a note under it stays)."""
        return self.inputs[name].text() == self._format(getattr(self.session.config, name), name)

    def _revert(self, name: str, reason: str) -> None:
        """Show the value in force again, and under the field what was refused and why."""
        typed = self.inputs[name].text().strip()
        now = getattr(self.session.config, name)
        self._show_value(name, now)
        what = f"refused {typed!r}: {reason}" if typed else f"refused an empty field: {reason}"
        self._set_error(name, f"{what}; still {self._format(now, name)}")

    def _finish_network_field(self, name: str) -> None:
        """Leaving a network field: a refused value goes back to the value in force; a valid one waits for Apply."""
        if self._shows_in_force(name):
            return  # e.g. Apply has just put it back: what the line below says stays
        self._refuse(name)
        self._show_pending()

    def candidate_config(self) -> Config | None:
        """The config the fields describe, or None (with every problem shown) if any value cannot work."""
        values = {}
        ok = True
        for name in (*LIVE_FIELDS, *NETWORK_FIELDS):
            value = self._check_field(name)
            if value is None:
                ok = False
            values[name] = value
        if not ok:
            return None
        config = replace(self.session.config, **values)
        try:
            config.validate()
        except ExplorerError as err:
            self.message_label.setText(str(err))
            return None
        need = estimated_bytes(config, self.session.model.vocab_size)
        if need > MEMORY_LIMIT_BYTES:
            self.message_label.setText(
                f"These sizes would need about {need / 1024**3:.1f} GB for one minibatch "
                f"(the limit is {MEMORY_LIMIT_BYTES / 1024**3:.0f} GB): use a smaller batch, hidden or embedding size."
            )
            return None
        return config

    # ---- applying ---------------------------------------------------------------------------------------
    def _apply_live(self, name: str) -> None:
        """Enter or leaving the field: apply a value that can work, put back the value in force otherwise."""
        self._show_pending()  # whatever the line below said is no longer news
        if self._shows_in_force(name) or self._refuse(name):
            return
        value = self._check_field(name)
        if value != getattr(self.session.config, name):
            try:
                if name == "learning_rate":
                    self.session.set_learning_rate(value)
                else:
                    self.session.set_momentum(value)
            except ExplorerError as err:
                self._revert(name, str(err))
                return
        self._show_value(name, getattr(self.session.config, name))  # as the session holds it, e.g. "0.5"

    def apply_new_network(self) -> bool:
        """Check every field, ask, and build a new network; True if it was built."""
        self.message_label.setText("")
        config = self.candidate_config()
        if config is None:
            if self.message_label.text():  # values that cannot work together (or too much memory): said
                return False
            refused = [self._label(n) for n in (*NETWORK_FIELDS, *LIVE_FIELDS) if self._refuse(n)]
            what = ", ".join(refused[:-1]) + " and " + refused[-1] if len(refused) > 1 else "".join(refused)
            self.message_label.setText(
                f"Nothing changed: refused what was typed for {what or 'some values'}; "
                "each field shows the value in force again, with the reason under it."
            )
            return False
        if self.session.dirty and not self.confirm("building a new network"):
            self.message_label.setText("Nothing changed.")
            return False
        try:
            self.session.rebuild(config)
        except ExplorerError as err:
            self.message_label.setText(str(err))
            return False
        except MemoryError:
            self.message_label.setText("Out of memory: use smaller sizes.")
            return False
        self.message_label.setText("New network built.")
        return True

    def _confirm_default(self, doing: str) -> bool:
        from ..dialogs import confirm_discard

        return confirm_discard(self, doing)


__all__ = ["HyperparamsView", "parse_value"]
