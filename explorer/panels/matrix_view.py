"""The matrix view: every real array of the minibatch, one heatmap at a time.

``MatrixView`` shows the arrays of the current stage (the main output first,
the others in tabs) under a header with the stage's title, formula and
shapes. Between minibatches and while training runs it shows the network's
parameters, redrawn as they change. ``show_layer`` (the network view's boxes)
and ``show_tensor`` show any other array of the minibatch.

Hovering an entry of a computed array writes its formula out with the real
operands, e.g. ``dW_o[j=12, v='the'] = Σₙ h[n,12]·dz_o[n,'the'] = 0.51·(−0.0091)
+ … = −0.00412``. The text comes from the model (``FourGramModel.entry_formula``:
the layer that computes the array writes it). The weights a formula needs are the ones
the minibatch used, which the session keeps (``Session.weights_before``): the
update stage changes the model's in place.
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QTextDocument
from PySide6.QtWidgets import QFrame, QLabel, QTabBar, QVBoxLayout, QWidget

from core.errors import ExplorerError, InputError
from core.export import save_array
from core.specs import KINDS, EntryFormula, axis_title
from core.text import plural

from ..guard import qt_override
from ..widgets import on_screen
from ..widgets.export import ask_save_path
from ..widgets.heatmap import Heatmap, format_value

__all__ = ["MatrixView"]

MIN_HEATMAP_HEIGHT = 200  # pixels of the plot, at any window size

# ---- the panel ------------------------------------------------------------------------------


class MatrixView(QWidget):
    """Heatmaps of the current stage's arrays (or the parameters, or a layer's tensors)."""

    # (array name, index tuple) of an entry the user clicked.
    entry_clicked = Signal(str, object)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self._mode = "params"  # "stage", "params", "layer" or "tensor"
        self._layer: str | None = None
        self._names: list[str] = []
        self._arrays: dict[str, np.ndarray] = {}  # stage mode: the stage's arrays
        self._drawn_version: int | None = None
        self._stale = False
        self.redraws = 0  # heatmap updates so far (for tests and the benchmark)

        self.header = QLabel()
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tabs = QTabBar()
        self.tabs.setExpanding(False)
        self.tabs.setStyleSheet("QTabBar::tab { padding: 3px 12px 6px 12px; }")
        self.tabs.currentChanged.connect(self._on_tab)
        self.info = QLabel()
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.info.setWordWrap(True)
        self.heatmap = Heatmap()
        self.heatmap.plot_widget.setMinimumHeight(MIN_HEATMAP_HEIGHT)  # the panel scrolls rather than squash it
        self.formula = QLabel()
        self.formula.setTextFormat(Qt.TextFormat.PlainText)
        self.formula.setWordWrap(True)
        self.formula.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.formula.setFrameShape(QFrame.Shape.StyledPanel)
        self.formula.setStyleSheet("QLabel { background: #fffbe6; color: #222; padding: 4px; }")
        self.formula.setMinimumHeight(self.formula.fontMetrics().height() * 4 + 10)
        self.formula.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addWidget(self.header)
        lay.addWidget(self.tabs)
        lay.addWidget(self.info)
        lay.addWidget(self.heatmap, 1)
        lay.addWidget(self.formula)

        self.ask_save_path = ask_save_path  # the save dialog (tests replace it)
        self.export_action = QAction("Export the matrix on screen (.csv or .npy)…", self)
        self.export_action.triggered.connect(self._ask_export)

        self.heatmap.hovered.connect(self._on_hover)
        self.heatmap.entry_clicked.connect(self._on_click)
        session.stage_changed.connect(self._on_stage_changed)
        session.weights_changed.connect(self._on_weights_changed)
        session.network_changed.connect(self._on_network_changed)
        self._on_stage_changed(session.stage)

    # ---- what is shown ---------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self._mode

    def array_names(self) -> list[str]:
        """The names in the tabs, in order."""
        return list(self._names)

    def current_name(self) -> str | None:
        i = self.tabs.currentIndex()
        return self._names[i] if 0 <= i < len(self._names) else None

    def displayed_array(self, name: str | None = None) -> np.ndarray | None:
        """The array given to the heatmap for ``name`` (default: the one on screen); None if it is not on screen."""
        if name is not None and name != self.current_name():
            return None
        return self.heatmap.data

    # ---- export ---------------------------------------------------------------------------------
    def export_actions(self) -> list[QAction]:
        """For the window's File > Export menu."""
        return [self.export_action]

    def export_current(self, path):
        """Write the array on screen to ``path`` (.csv with word, example and unit labels, or .npy)."""
        name, array = self.current_name(), self.displayed_array()
        if name is None or array is None:
            raise InputError("there is no matrix on screen to export")
        spec = self.session.model.specs.get(name)
        axes = spec.axes if spec is not None else ()
        labels = [self._axis_labels(axis, size) for axis, size in zip(axes, np.shape(array))]
        rows = labels[0] if np.ndim(array) == 2 and labels else None
        cols = labels[-1] if labels else None
        return save_array(path, array, row_labels=rows, col_labels=cols)

    def _axis_labels(self, axis: str, size: int) -> list[str]:
        d = self.session.config.embed_dim
        if axis == "word":
            return list(self.session.vocab[:size])
        if axis == "concat":
            return [f"x{i // d + 1}[{i % d}]" for i in range(size)]
        if axis == "position":
            return [f"x{i + 1}" for i in range(size)]
        word = {"example": "example", "unit": "unit", "embed": "component"}.get(axis, axis)
        return [f"{word} {i}" for i in range(size)]

    def _ask_export(self) -> None:
        name = self.current_name() or "matrix"
        path = self.ask_save_path(self, "Export the matrix", f"{name}.csv", "CSV table (*.csv);;NumPy array (*.npy)")
        if not path:
            return
        if not path.lower().endswith((".csv", ".npy")):
            path += ".csv"
        try:
            written = self.export_current(path)
        except ExplorerError as err:
            self.heatmap.readout.setText(f"Could not export: {err}")
        else:
            self.heatmap.readout.setText(f"Exported {name} to {written}")

    def header_text(self) -> str:
        """The header as plain text (what a reader sees)."""
        doc = QTextDocument()
        doc.setHtml(self.header.text())
        return doc.toPlainText()

    def info_text(self) -> str:
        doc = QTextDocument()
        doc.setHtml(self.info.text())
        return doc.toPlainText()

    # ---- session announcements --------------------------------------------------------------------
    def _on_network_changed(self) -> None:
        self.heatmap.forget_levels()

    def _on_stage_changed(self, stage) -> None:
        if stage is None:
            self._show_parameters()
            return
        first = [n for n in stage.spec.arrays if n in stage.arrays]  # the main array first
        names = first + [n for n in stage.arrays if n not in first]
        self._mode = "stage"
        self._arrays = dict(stage.arrays)
        self._set_names(names, select=names[0] if names else None)

    def _on_weights_changed(self) -> None:
        """Redraw a parameter on screen: once per announcement of new weights (run mode announces them
        ``Session.weights_hz`` times a second, and the final ones when it pauses), only once shown when
        hidden."""
        name = self.current_name()
        if self._mode == "stage" or name not in self.session.model.params:
            return
        if self.session.model.version == self._drawn_version:
            return
        if not on_screen(self):  # hidden, or its tab is behind another
            self._stale = True
            return
        self._draw()

    @qt_override
    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self._draw()

    # ---- public actions ---------------------------------------------------------------------------
    def show_layer(self, layer: str) -> None:
        """Show the tensors of one box of the network diagram (``model.boxes``) that exist now."""
        try:
            box = self.session.model.box_of(layer)
        except KeyError:
            self.header.setText(f"<b>No layer called {html.escape(layer)}</b>")
            return
        names = [n for n in box.tensors if self._lookup(n) is not None]
        names = list(dict.fromkeys(names))
        self._mode = "layer"
        self._layer = layer
        self._arrays = {}
        stage = self.session.stage
        current = [n for n in (stage.arrays if stage is not None else ()) if n in names]
        self._set_names(names, select=current[0] if current else (names[0] if names else None))

    def show_tensor(self, name: str) -> bool:
        """Show one array by name (a tab if it is among those shown); False if it does not exist now."""
        if name in self._names:
            self.tabs.setCurrentIndex(self._names.index(name))
            return True
        if self._lookup(name) is None:
            self.heatmap.readout.setText(f"{name} has not been computed in this minibatch yet.")
            return False
        self._mode = "tensor"
        self._arrays = {}
        self._set_names([name], select=name)
        return True

    def rescale(self) -> None:
        """Fit the colour scale to the array on screen (see ``Heatmap.rescale``)."""
        self.heatmap.rescale()

    # ---- drawing ---------------------------------------------------------------------------------
    def _show_parameters(self) -> None:
        keep = self.current_name()
        self._mode = "params"
        self._arrays = {}
        params = list(self.session.model.params)
        self._set_names(params, select=keep if keep in params else "W_emb")

    def _lookup(self, name: str) -> np.ndarray | None:
        if self._mode == "stage" and name in self._arrays:
            return self._arrays[name]
        return self.session.tensor(name)

    def _set_names(self, names: list[str], select: str | None) -> None:
        """Fill the tabs (without drawing for each change) and draw the selected array once."""
        self._names = names
        self.tabs.blockSignals(True)
        while self.tabs.count():
            self.tabs.removeTab(0)
        for n in names:
            i = self.tabs.addTab(n)
            self.tabs.setTabToolTip(i, self._describe(n))
        if select in names:
            self.tabs.setCurrentIndex(names.index(select))
        self.tabs.blockSignals(False)
        self.tabs.setVisible(len(names) > 1)
        self._draw()

    def _on_tab(self, _i: int) -> None:
        self._draw()

    def _draw(self) -> None:
        """Header, info line and heatmap for the selected array."""
        self._header()
        name = self.current_name()
        self.formula.setText(self._formula_hint(name) if name else "")
        if name is None:
            self.info.setText("")
            return
        arr = self._lookup(name)
        if arr is None:
            self.info.setText(f"{html.escape(name)} is not available now.")
            return
        if name in self.session.model.params:
            arr = np.array(arr, copy=True)  # a still picture of weights that training changes in place
            self._drawn_version = self.session.model.version
        spec = self.session.model.specs[name]  # every array the panel lists is described there
        kind, natural, axes = spec.kind, spec.levels, spec.axes
        row_axis = axes[0]
        col_axis = axes[1] if len(axes) > 1 else None
        self.heatmap.set_data(
            arr, row_axis=row_axis, col_axis=col_axis, kind=kind,
            labels={"word": self.session.vocab}, name=name, levels=natural,
        )
        self.redraws += 1
        self.info.setText(self._info_html(name, arr, kind, axes))

    def _info_html(self, name: str, arr: np.ndarray, kind: str, axes) -> str:
        shape = "×".join(str(s) for s in arr.shape) or "scalar"
        meaning = " × ".join(axis_title(a) for a in axes)
        parts = [f"<b>{html.escape(name)}</b>", f"{shape} ({html.escape(meaning)})"]
        desc = self._describe(name)
        if desc:
            parts.append(html.escape(desc))
        if kind == "index":
            parts.append(KINDS["index"])
        elif name in self.session.model.params and self.session.running:
            # Weights that training changes: a line that stays put while it runs (rewriting it on
            # every redraw relayouts the panel); the statistics return when it pauses.
            parts.append(KINDS[kind] + "; min, max and mean when training pauses")
        else:
            finite = arr
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                finite = arr[np.isfinite(arr)]  # a copy only when some entry is not finite
            if finite.size:
                parts.append(
                    f"min {format_value(finite.min(), 4)} · max {format_value(finite.max(), 4)} · "
                    f"mean {format_value(finite.mean(), 4)}"
                )
            parts.append(KINDS[kind])
            use = self.heatmap.scale_fraction()
            if use < 0.1:
                parts.append(
                    f"<span style='color:#a05000'>these values reach only {use:.1%} of the colour scale kept "
                    "for this array: press <i>Rescale colours</i> to spread them</span>"
                )
        return " · ".join(p for p in parts if p)

    def _header(self) -> None:
        s = self.session
        stage = s.stage
        if self._mode == "stage" and stage is not None:
            where = "backward pass" if stage.is_backward else "forward pass"
            if stage.is_update:
                where = "update"
            epoch = stage.batch // s.trainer.batches_per_epoch + 1
            lines = [
                f"<b>Stage {stage.index + 1}/{len(s.model.stage_specs)} — {html.escape(stage.title)}</b>"
                f" &nbsp;<span style='color:#666'>({where}, minibatch {stage.batch + 1}, epoch {epoch})</span>",
                f"<span style='font-size:13pt; white-space:pre-wrap'>{html.escape(stage.formula)}</span>"
                "<span style='font-size:4pt'><br></span>",  # room for the formula's underscores
                f"<span style='color:#333; white-space:pre-wrap'>{html.escape(stage.shapes)}</span>",
            ]
            if stage.name == "loss" and stage.extras.get("L") is not None:
                lines.append(
                    f"<b>L = {format_value(stage.extras['L'])}</b> &nbsp;(the mean of −log p[n, tₙ] over the "
                    f"{plural(len(stage.arrays['loss_n']), 'example')}; a uniform guess gives ln V = "
                    f"{format_value(np.log(len(s.vocab)), 4)})"
                )
            if stage.is_update and stage.extras:
                lines.append(
                    f"learning rate η = {format_value(stage.extras.get('learning_rate'), 4)}, "
                    f"momentum μ = {format_value(stage.extras.get('momentum'), 4)}"
                )
        elif self._mode == "layer":
            try:
                box_tensors = s.model.box_of(self._layer).tensors
            except KeyError:
                box_tensors = ()
            missing = [n for n in box_tensors if n not in self._names]
            lines = [
                f"<b>Layer: {html.escape(self._layer or '')}</b> — its parameters, what it computes and the "
                "gradients that come back through it",
                html.escape(";  ".join(f"{n}: {self._shape_text(n)}" for n in self._names)),
            ]
            if missing:
                lines.append(
                    "<span style='color:#666'>not computed yet in this minibatch: "
                    f"{html.escape(', '.join(missing))}</span>"
                )
        elif self._mode == "tensor":
            name = self._names[0] if self._names else ""
            lines = [f"<b>{html.escape(name)}</b> — {html.escape(self._describe(name))}",
                     html.escape(f"{name}: {self._shape_text(name)}")]
        else:
            t = s.trainer
            # While training runs the count would change on every redraw (and relayout the panel):
            # the status bar counts, this says "training".
            done = "training" if s.running else f"{t.step:,} done"
            lines = [
                f"<b>Parameters</b> &nbsp;<span style='color:#666'>(between minibatches: {done}, "
                f"epoch {t.epoch + 1})</span>",
                "The network's weights as they are now; step to the next stage to start a minibatch.",
                html.escape(";  ".join(f"{n}: {s.model.specs[n].shape_text} = {self._shape_text(n)}"
                                       for n in s.model.params)),
            ]
        # One paragraph per line: lines of different sizes get their own heights.
        self.header.setText("".join(f"<p style='margin:0'>{line}</p>" for line in lines))

    def _describe(self, name: str) -> str:
        spec = self.session.model.specs.get(name)
        return spec.description if spec is not None else ""

    def _shape_text(self, name: str) -> str:
        arr = self._lookup(name)
        return "×".join(str(x) for x in arr.shape) if arr is not None else "—"

    # ---- hover and click ---------------------------------------------------------------------------
    def formula_for(self, name: str, index) -> EntryFormula | None:
        """The formula with numbers for ``name[index]`` in the current minibatch (None where there is none)."""
        if self._mode == "params" or name in self.session.model.params:
            return None
        tensors = dict(self.session.tensors)
        if self._mode == "stage":
            tensors.update(self._arrays)
        if name not in tensors:
            return None
        weights, velocity = self.session.weights_before() or (None, None)
        update = self.session.stage_named("update")
        extras = dict(update.extras) if update is not None else None
        return self.session.model.entry_formula(
            name, index, tensors, weights=weights, velocity=velocity, extras=extras, vocab=self.session.vocab
        )

    def _formula_hint(self, name: str) -> str:
        if name in self.session.model.params or self._mode == "params":
            return "Point at an entry to read its value."
        return "Point at an entry to see how it was computed, with the real numbers."

    def _on_hover(self, row: int, col: int) -> None:
        name = self.current_name()
        if row < 0 or name is None:
            self.formula.setText(self._formula_hint(name) if name else "")
            self.heatmap.plot_widget.setToolTip("")
            return
        f = self.formula_for(name, self.heatmap.index_of(row, col))
        text = f.text if f is not None else self.heatmap.readout.text()
        self.formula.setText(text)
        self.heatmap.plot_widget.setToolTip(text if f is not None else "")

    def _on_click(self, row: int, col: int) -> None:
        name = self.current_name()
        if name is not None:
            self.entry_clicked.emit(name, self.heatmap.index_of(row, col))
