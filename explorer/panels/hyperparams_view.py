"""Hyperparameters: two that apply live, the others need a new network.

Learning rate and momentum apply from the next update (Enter or leaving the
field). Batch size, embedding size, the hidden layers, init std and seed
change the network's shape or its initial weights, so they take effect only
through "Apply — new network", which asks first when there is unsaved
training. The hidden layers are a list of rows, one per layer from the
embedding to the output: a width and an activation each (one of
``core.layers.ACTIVATIONS``), with "Add hidden layer" (up to
``core.model.MAX_HIDDEN_LAYERS``) and a remove button on every row; with
none, the output layer reads the embeddings directly.

Every value is checked before use (``core.model.Config.validate``, the size of
the training set, and a memory estimate). While a value is typed, a value that
cannot work is named under its field with its reason; once the field is
finished (Enter, leaving it, or Apply) a refused value does not stay: the field
goes back to the value in force (for a layer added since, the width it was
given) and the line under it says so ("refused 'abc': expected a number;
still 0.1"). The line under the buttons always describes the present state:
the network just built, or the values not applied yet next to the values in
force.
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
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.errors import ExplorerError
from core.layers import ACTIVATIONS
from core.model import MAX_HIDDEN_LAYERS, Config, estimated_bytes

from ..widgets.wheel import ignore_wheel_unless_focused

# Refuse sizes whose one stepped minibatch would need more memory than this.
MEMORY_LIMIT_BYTES = 2 * 1024**3

LIVE_FIELDS = {
    "learning_rate": ("Learning rate η", float, "How far each update moves the weights: v ← μ·v − η·∇"),
    "momentum": ("Momentum μ", float, "How much of the previous update is kept: 0 ≤ μ < 1"),
}
NETWORK_FIELDS = {
    "batch_size": ("Batch size N", int, "Examples per minibatch (1 and 2 make every number easy to follow)"),
    "embed_dim": ("Embedding size d", int, "Length of each word vector: W_emb is V×d"),
    "init_std": ("Init std", float, "Weights start as samples of N(0, std²); biases start at 0"),
    "seed": ("Seed", int, "Fixes the initial weights and the order of the minibatches"),
}
HIDDEN_LABEL = "Hidden layers"  # how the line under the buttons names the rows
NEW_LAYER_WIDTH = 64  # the width of a layer added to a network without hidden layers
WIDTH_TIP = "Units of this hidden layer (1 to 5,000)"
ACTIVATION_TIP = "Non-linearity of this hidden layer"


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


class _LayerRow(QWidget):
    """One hidden layer: its number, a width field, an activation and a remove button (and the width's error line).

    ``fallback`` is the width a refused value goes back to when the network in
    force has no such layer (a layer added since).
    """

    def __init__(self, width: int, activation: str, parent=None):
        super().__init__(parent)
        self.fallback = int(width)
        self.number = QLabel()
        self.number.setMinimumWidth(14)
        self.width_edit = QLineEdit(str(width))
        self.width_edit.setToolTip(WIDTH_TIP)
        self.width_edit.setMaximumWidth(90)
        units = QLabel("units")
        self.activation = QComboBox()
        self.activation.addItems(list(ACTIVATIONS))
        self.activation.setCurrentText(activation)
        self.activation.setToolTip(ACTIVATION_TIP)
        self.remove_button = QToolButton()
        self.remove_button.setText("−")
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b3261e;")
        self.error.hide()
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        line.setSpacing(4)
        line.addWidget(self.number)
        line.addWidget(self.width_edit, 1)
        line.addWidget(units)
        line.addWidget(self.activation, 1)
        line.addWidget(self.remove_button)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(1)
        box.addLayout(line)
        box.addWidget(self.error)

    def set_index(self, i: int) -> None:
        """Layer ``i`` (from 1, the one after the embedding): its label and the names of its editors."""
        self.number.setText(f"{i}")
        self.width_edit.setObjectName(f"hidden_width_{i}_input")
        self.activation.setObjectName(f"hidden_activation_{i}_input")
        self.remove_button.setObjectName(f"remove_layer_{i}")
        self.remove_button.setToolTip(f"Remove hidden layer {i}")
        self.error.setObjectName(f"hidden_width_{i}_error")


class HyperparamsView(QWidget):
    """See the module docstring.

    ``inputs[name]`` is each field's editor and ``errors[name]`` the label under
    it; hidden layer i (from 1) has ``inputs["hidden_width_i"]`` (a line edit)
    and ``inputs["hidden_activation_i"]`` (a combo box), ``errors["hidden_width_i"]``,
    and a remove button ``remove_buttons[i - 1]``; ``layer_rows`` are the rows and
    ``add_layer_button`` adds one. ``message_label`` reports the outcome of
    "Apply — new network". ``confirm(doing) -> bool`` is asked before unsaved
    training is discarded; the main window replaces it with its own (which can
    offer to save).
    """

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.confirm = self._confirm_default
        self.inputs: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        self.layer_rows: list[_LayerRow] = []

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
            editor = QLineEdit()
            self._connect_network_field(name, editor)
            self._add_row(net_form, name, label, editor, tip)
            if name == "embed_dim":  # the layers come between the embedding and the initial weights
                net_form.addRow(self._make_layers_box())

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

    def _connect_network_field(self, name: str, editor: QLineEdit) -> None:
        editor.textEdited.connect(lambda _text: self._on_edited(name))
        editor.returnPressed.connect(self.apply_new_network)
        editor.editingFinished.connect(lambda: self._finish_network_field(name))

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

    def _make_layers_box(self) -> QWidget:
        box = QGroupBox(HIDDEN_LABEL)
        box.setObjectName("hidden_layers_box")
        outer = QVBoxLayout(box)
        outer.setContentsMargins(6, 4, 6, 6)
        outer.setSpacing(3)
        self._rows_layout = QVBoxLayout()
        self._rows_layout.setSpacing(3)
        outer.addLayout(self._rows_layout)
        self.no_layers_label = QLabel("No hidden layer: the output layer reads the embeddings e directly.")
        self.no_layers_label.setWordWrap(True)
        self.no_layers_label.setStyleSheet("color: #5f5f5f;")
        outer.addWidget(self.no_layers_label)
        self.add_layer_button = QPushButton("+ Add hidden layer")
        self.add_layer_button.setObjectName("add_layer_button")
        self.add_layer_button.clicked.connect(self.add_layer)
        line = QHBoxLayout()
        line.addWidget(self.add_layer_button)
        line.addStretch(1)
        outer.addLayout(line)
        return box

    # ---- the hidden layers' rows ------------------------------------------------------------
    @property
    def remove_buttons(self) -> list[QToolButton]:
        return [row.remove_button for row in self.layer_rows]

    def add_layer(self) -> None:
        """A new last hidden layer, as wide as the one before it and with its activation (pending until Apply)."""
        if len(self.layer_rows) >= MAX_HIDDEN_LAYERS:
            return
        last = self.layer_rows[-1] if self.layer_rows else None
        width = NEW_LAYER_WIDTH
        if last is not None:
            try:
                width = parse_value(last.width_edit.text(), int)
            except ValueError:
                width = last.fallback
            width = width if 1 <= width <= 5000 else last.fallback
        act = last.activation.currentText() if last is not None else self._default_activation()
        self._insert_row(width, act)
        self._show_pending()

    def remove_layer(self, row: _LayerRow) -> None:
        """Remove a hidden layer's row (pending until Apply); the rows after it move up."""
        if row not in self.layer_rows:
            return
        self.layer_rows.remove(row)
        self._rows_layout.removeWidget(row)
        row.hide()
        row.deleteLater()
        self._renumber()
        self._show_pending()

    def _default_activation(self) -> str:
        acts = self.session.config.activations
        return acts[-1] if acts else next(iter(ACTIVATIONS))

    def _insert_row(self, width: int, activation: str) -> _LayerRow:
        row = _LayerRow(width, activation)
        row.width_edit.textEdited.connect(lambda _text, r=row: self._on_edited(self._row_name(r)))
        row.width_edit.returnPressed.connect(self.apply_new_network)
        row.width_edit.editingFinished.connect(lambda r=row: r in self.layer_rows and
                                               self._finish_network_field(self._row_name(r)))
        row.activation.currentTextChanged.connect(lambda _t: self._show_pending())
        row.remove_button.clicked.connect(lambda _checked=False, r=row: self.remove_layer(r))
        self.layer_rows.append(row)
        self._rows_layout.addWidget(row)
        ignore_wheel_unless_focused(row)  # scrolling the panel over it leaves its activation alone
        self._renumber()
        return row

    def _row_name(self, row: _LayerRow) -> str:
        return f"hidden_width_{self.layer_rows.index(row) + 1}"

    def _renumber(self) -> None:
        """The rows' numbers and the names of their editors in ``inputs`` and ``errors``, after a change."""
        for key in [k for k in self.inputs if k.startswith(("hidden_width_", "hidden_activation_"))]:
            del self.inputs[key]
        for key in [k for k in self.errors if k.startswith("hidden_width_")]:
            del self.errors[key]
        for i, row in enumerate(self.layer_rows, 1):
            row.set_index(i)
            self.inputs[f"hidden_width_{i}"] = row.width_edit
            self.inputs[f"hidden_activation_{i}"] = row.activation
            self.errors[f"hidden_width_{i}"] = row.error
        full = len(self.layer_rows) >= MAX_HIDDEN_LAYERS
        self.add_layer_button.setEnabled(not full)
        self.add_layer_button.setToolTip(
            f"At most {MAX_HIDDEN_LAYERS} hidden layers" if full else "Add a hidden layer before the output")
        self.no_layers_label.setVisible(not self.layer_rows)

    def _set_rows(self, dims, acts) -> None:
        """Rows for the layers in force."""
        for row in self.layer_rows:
            self._rows_layout.removeWidget(row)
            row.hide()
            row.deleteLater()
        self.layer_rows = []
        for w, a in zip(dims, acts):
            self._insert_row(w, a)
        self._renumber()

    def typed_layers(self) -> tuple[tuple[int, ...], tuple[str, ...]] | None:
        """(widths, activations) the rows hold, or None while a width cannot be read."""
        try:
            widths = tuple(parse_value(row.width_edit.text(), int) for row in self.layer_rows)
        except ValueError:
            return None
        return widths, tuple(row.activation.currentText() for row in self.layer_rows)

    # ---- showing the current values -----------------------------------------------------------
    @staticmethod
    def _format(value, name: str = "") -> str:
        """A value as its field shows it: '0.1', '20'; the hidden layers as '128 relu, 64 tanh' or 'none'."""
        if name == HIDDEN_LABEL:
            dims, acts = value
            return ", ".join(f"{w} {a}" for w, a in zip(dims, acts)) or "none"
        return f"{value:g}" if isinstance(value, float) else str(value)

    def _show_value(self, name: str, value) -> None:
        self.inputs[name].setText(self._format(value, name))  # also clears isModified(): nothing typed is pending
        self._set_error(name, "")

    def _on_network_changed(self) -> None:
        c = self.session.config
        for name in (*LIVE_FIELDS, *NETWORK_FIELDS):
            self._show_value(name, getattr(c, name))
        self._set_rows(c.hidden_dims, c.activations)
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
        """The field's label, as the panel shows it: "Batch size N", "hidden layer 2's width"."""
        if name.startswith("hidden_width_"):
            return f"hidden layer {name.rsplit('_', 1)[1]}'s width"
        if name == HIDDEN_LABEL:
            return HIDDEN_LABEL
        return {**LIVE_FIELDS, **NETWORK_FIELDS}[name][0]

    def pending_changes(self) -> dict[str, tuple[object, object]]:
        """Network values that can work and are not in force: name -> (typed value, value in force).

        The hidden layers count as one value, ``HIDDEN_LABEL``: ((widths), (activations)).
        """
        pending = {}
        c = self.session.config
        for name in NETWORK_FIELDS:
            try:
                value = self._field_value(name)
            except ValueError:
                continue
            if value != getattr(c, name):
                pending[name] = (value, getattr(c, name))
        layers = self.typed_layers()
        now = (tuple(c.hidden_dims), tuple(c.activations))
        if layers is not None and layers != now:
            pending[HIDDEN_LABEL] = (layers, now)
        return pending

    def _show_pending(self) -> None:
        """The line under the buttons: the network values not applied yet, with the values in force."""
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
        kind = int if name.startswith("hidden_width_") else {**LIVE_FIELDS, **NETWORK_FIELDS}[name][1]
        return parse_value(self.inputs[name].text(), kind)

    def _in_force(self, name: str):
        """The value in force of a field: the config's, or for a hidden layer the network's width (or its fallback)."""
        if name.startswith("hidden_width_"):
            i = int(name.rsplit("_", 1)[1])
            dims = self.session.config.hidden_dims
            return dims[i - 1] if i <= len(dims) else self.layer_rows[i - 1].fallback
        return getattr(self.session.config, name)

    def _check_field(self, name: str):
        """The field's value if it can work (the error label cleared), else None (the reason shown)."""
        try:
            value = self._field_value(name)
            if name.startswith("hidden_width_"):  # this width alone; the layers together are checked on Apply
                self.session.config.replace(hidden_dims=(value,), activations=("sigmoid",))
            else:
                self.session.config.replace(**{name: value})
        except (ValueError, ExplorerError) as err:
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
        if self._shows_in_force(name) or self._check_field(name) is not None:
            return False
        self._revert(name, self.errors[name].text())
        return True

    def _shows_in_force(self, name: str) -> bool:
        """True when the field shows the value in force as this panel writes it (a note under it stays)."""
        return self.inputs[name].text() == self._format(self._in_force(name))

    def _revert(self, name: str, reason: str) -> None:
        """Show the value in force again, and under the field what was refused and why."""
        typed = self.inputs[name].text().strip()
        now = self._in_force(name)
        self._show_value(name, now)
        what = f"refused {typed!r}: {reason}" if typed else f"refused an empty field: {reason}"
        self._set_error(name, f"{what}; still {self._format(now)}")

    def _finish_network_field(self, name: str) -> None:
        """Leaving a network field: a refused value goes back to the value in force; a valid one waits for Apply."""
        if self._shows_in_force(name):
            return  # e.g. Apply has just put it back: what the line below says stays
        self._refuse(name)
        self._show_pending()

    def _typed_names(self) -> list[str]:
        return [*LIVE_FIELDS, *NETWORK_FIELDS, *(f"hidden_width_{i}" for i in range(1, len(self.layer_rows) + 1))]

    def candidate_config(self) -> Config | None:
        """The config the fields describe, or None (with every problem shown) if any value cannot work."""
        values = {}
        ok = True
        for name in self._typed_names():
            value = self._check_field(name)
            if value is None:
                ok = False
            values[name] = value
        if not ok:
            return None
        layers = self.typed_layers()
        fields = {k: v for k, v in values.items() if not k.startswith("hidden_width_")}
        try:
            config = replace(self.session.config, **fields, hidden_dims=layers[0], activations=layers[1]).validate()
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
            order = [*NETWORK_FIELDS, *(n for n in self._typed_names() if n.startswith("hidden_width_")), *LIVE_FIELDS]
            refused = [self._label(n) for n in order if self._refuse(n)]
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
