"""Gradient health: per layer, over training, how large the gradients are, how far updates move the weights,
and how many units have stopped passing gradients back; and histograms at the latest reading.

Four plots, one curve (one colour) per layer, from the readings the trainer
records (``Trainer.health``, core/health.py: after every stepped minibatch and
every ``Health.every`` minibatches of a run):

* ‖dW‖, the norm of each weight layer's gradient (log axis): through sigmoid
  layers it shrinks layer by layer going back, through ReLU layers it does not;
* ‖ΔW‖ / ‖W‖, the size of each update relative to the weights (log axis), with
  the usual guide line at 1e-3;
* the saturation of each hidden layer's activation, 0 to 1 (its own measure:
  σ and tanh outputs beyond 0.99 of their range, ReLU units dead for the whole
  minibatch; ``Activation.saturation``);
* histograms of each hidden layer's outputs h, and of log₁₀ |dW| of each weight
  layer (entries that are exactly 0 left out), at the latest reading.

The view only draws: the curves are created when the network changes and get
``setData`` when a new reading exists; a panel behind another tab catches up
when it comes forward.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsItem, QLabel, QVBoxLayout, QWidget

from core.health import GUIDE_RATIO, QUANTITIES

from ..guard import qt_override
from ..widgets import on_screen

# One colour per layer, from the first hidden layer to the output (at most 4 hidden layers + the output).
LAYER_COLOURS = ((31, 119, 180), (44, 160, 44), (148, 103, 189), (227, 119, 194), (214, 39, 40))
GUIDE_COLOUR = (110, 110, 110)
HIST_BINS = 40
TITLES = {  # short: the titles must fit half a narrow panel
    "grad_norm": "gradient norm ‖dW‖",
    "update_ratio": "update ratio ‖ΔW‖ / ‖W‖",
    "saturation": "saturated or dead units",
    "h": "outputs h (latest reading)",
    "grads": "log₁₀ |dW| of every weight (latest reading)",
}
TIPS = {
    "grad_norm": "The size of each weight layer's gradient. Through sigmoid layers it shrinks at every layer\n"
                 "going back (σ′ ≤ ¼): the first layers learn orders of magnitude more slowly.",
    "update_ratio": "How far each update moves the weights, relative to their size. About 1e-3 (dashed) is the\n"
                    "usual guide: far below, the layer hardly learns; far above, training is unstable.",
    "h": "How each hidden layer's outputs are spread over the activation's range at the latest reading.",
    "grads": "How the entries of each layer's weight gradient are spread over orders of magnitude\n"
             "(entries that are exactly 0, such as those of dead units, are left out).",
}


def _positive_or_nan(values: np.ndarray) -> np.ndarray:
    """Values for a log axis: anything not positive and finite becomes NaN (a gap in the curve)."""
    out = np.array(values, dtype=np.float64)
    out[~(np.isfinite(out) & (out > 0))] = np.nan
    return out


class HealthView(QWidget):
    """See the module docstring.

    ``plots[key]`` are the plot items (keys: the three ``QUANTITIES``, "h" and
    "grads"); ``curves[key][label]`` the curve of one layer (labels:
    ``Health.labels`` for the weight layers, ``Health.hidden`` for the
    activations); ``summary`` is the line above the plots.
    """

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self._drawn: tuple | None = None  # (Health object, its version) last drawn
        self._stale = False
        self.curves: dict[str, dict[str, pg.PlotDataItem]] = {}

        self.summary = QLabel()
        self.summary.setObjectName("health_summary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.legend = QLabel()
        self.legend.setObjectName("health_legend")
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.graphics.setObjectName("health_plots")
        self.graphics.setMinimumSize(360, 300)
        self.plots: dict[str, pg.PlotItem] = {}
        for key, row, col, span in (("grad_norm", 0, 0, 1), ("update_ratio", 0, 1, 1), ("saturation", 1, 0, 1),
                                    ("h", 1, 1, 1), ("grads", 2, 0, 2)):
            self.plots[key] = self._make_plot(key, row, col, span)
        self.plots["grad_norm"].setLogMode(y=True)
        self.plots["update_ratio"].setLogMode(y=True)
        self.plots["saturation"].setYRange(0.0, 1.0, padding=0.02)
        self.plots["saturation"].enableAutoRange(axis="y", enable=False)
        self.guide = pg.InfiniteLine(
            pos=math.log10(GUIDE_RATIO), angle=0, movable=False,
            pen=pg.mkPen(GUIDE_COLOUR, width=1, style=Qt.PenStyle.DashLine),
            label=f"{GUIDE_RATIO:g}", labelOpts={"position": 0.04, "color": GUIDE_COLOUR, "anchors": [(0, 1), (0, 1)]},
        )
        self.plots["update_ratio"].addItem(self.guide, ignoreBounds=False)
        for key in ("grad_norm", "update_ratio", "saturation"):
            self.plots[key].setLabel("bottom", "minibatch")
        self.plots["h"].setLabel("bottom", "h")
        self.plots["grads"].setLabel("bottom", "log₁₀ |dW|")
        for key in ("h", "grads"):
            self.plots[key].setLabel("left", "fraction")
        self.graphics.ci.layout.setColumnStretchFactor(0, 1)
        self.graphics.ci.layout.setColumnStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.legend)
        layout.addWidget(self.graphics, 1)

        session.network_changed.connect(self._on_network_changed)
        session.weights_changed.connect(self._on_weights_changed)
        self._on_network_changed()

    def _make_plot(self, key: str, row: int, col: int, colspan: int) -> pg.PlotItem:
        p = self.graphics.addPlot(row=row, col=col, colspan=colspan)
        p.setTitle(TITLES[key], size="9pt", color=(30, 30, 30))
        p.titleLabel.setToolTip(TIPS.get(key, ""))
        p.showGrid(x=True, y=True, alpha=0.15)
        p.setMenuEnabled(False)
        p.hideButtons()
        for name in ("bottom", "left"):
            ax = p.getAxis(name)
            ax.setPen(pg.mkPen(60, 60, 60))
            ax.setTextPen(pg.mkPen(30, 30, 30))
            ax.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            ax.enableAutoSIPrefix(False)  # fractions stay fractions, not "×0.001"
        return p

    # ---- session events -----------------------------------------------------------------------
    @property
    def health(self):
        return self.session.trainer.health

    def _on_network_changed(self) -> None:
        """New layers: new curves (one per layer and plot), then draw what is recorded."""
        health = self.health
        for key, curves in self.curves.items():
            for curve in curves.values():
                self.plots[key].removeItem(curve)
        self.curves = {key: {} for key in self.plots}
        weight_colours = {label: LAYER_COLOURS[i] if label != "output" else LAYER_COLOURS[-1]
                          for i, label in enumerate(health.labels)}
        for key in ("grad_norm", "update_ratio", "grads"):
            for label, colour in weight_colours.items():
                kw = {"stepMode": "center", "fillLevel": 0, "fillBrush": (*colour, 40)} if key == "grads" else {}
                curve = self.plots[key].plot(pen=pg.mkPen(colour, width=1.6), connect="finite", **kw)
                self.curves[key][label] = curve
        for key in ("saturation", "h"):
            for label in health.hidden:
                kw = {"stepMode": "center", "fillLevel": 0, "fillBrush": (*weight_colours[label], 40)} if key == "h" else {}
                self.curves[key][label] = self.plots[key].plot(pen=pg.mkPen(weight_colours[label], width=1.6),
                                                               connect="finite", **kw)
        acts = dict(zip(health.hidden, health.activations))
        self.legend.setText("&nbsp;&nbsp;".join(
            f"<span style='color: rgb{colour}'>■</span>&nbsp;{label}"
            + (f" ({acts[label].symbol})" if label in acts else "")
            for label, colour in weight_colours.items()))
        tips = "\n".join(f"{label} ({cls.name}): {cls.saturation_text or 'no saturation measure'}"
                         for label, cls in zip(health.hidden, health.activations))
        self.plots["saturation"].setToolTip(tips or "No hidden layer: nothing saturates.")
        self._drawn = None
        self._on_weights_changed()

    def _on_weights_changed(self) -> None:
        if (self.health, self.health.version) == self._drawn:
            return
        if not on_screen(self):
            self._stale = True
            return
        self.refresh()

    @qt_override
    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self.refresh()

    # ---- drawing ----------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Draw every reading now."""
        health = self.health
        self._drawn = (health, health.version)
        self._stale = False
        for key in QUANTITIES:
            steps, values = health.series(key)
            names = health.hidden if key == "saturation" else health.labels
            for j, label in enumerate(names):
                y = values[:, j] if key == "saturation" else _positive_or_nan(values[:, j])
                self.curves[key][label].setData(steps.astype(np.float64), y)
        self._draw_histograms()
        self.summary.setText(self._summary_text())

    def _draw_histograms(self) -> None:
        health = self.health
        for label, cls, h in zip(health.hidden, health.activations, health.h):
            lo, hi = cls.levels if cls.levels is not None else (0.0, max(float(np.max(h)), 1e-12))
            counts, edges = np.histogram(h, bins=HIST_BINS, range=(lo, hi))
            self.curves["h"][label].setData(edges, counts / max(h.size, 1))
        if not health.h:
            for curve in self.curves["h"].values():
                curve.setData([], [])
        logs = []
        for g in health.grads:
            a = np.abs(np.asarray(g, dtype=np.float64)).reshape(-1)
            logs.append(np.log10(a[a > 0]))
        finite = [v for v in logs if v.size]
        if not finite:
            for curve in self.curves["grads"].values():
                curve.setData([], [])
            return
        lo = min(float(v.min()) for v in finite)
        hi = max(float(v.max()) for v in finite)
        hi = hi if hi > lo else lo + 1.0
        for label, g, v in zip(health.labels, health.grads, logs):
            counts, edges = np.histogram(v, bins=HIST_BINS, range=(lo, hi))
            self.curves["grads"][label].setData(edges, counts / max(g.size, 1))

    def _summary_text(self) -> str:
        health = self.health
        if not health.readings:
            return "No reading yet: step through a minibatch, or run (a reading every " \
                   f"{health.every} minibatches)."
        last = health.readings[-1]
        text = f"Minibatch {last.step}:"
        g = last.grad_norm
        if len(g) >= 2 and g[0] > 0 and g[-1] > 0 and np.isfinite(g).all():
            ratio = g[0] / g[-1]
            times = f"1/{1 / ratio:,.0f} of" if ratio < 0.5 else f"{ratio:.2g} ×"
            text += f" ‖dW‖ of {health.labels[0]} is {g[0]:.2g}, {times} the output's ({g[-1]:.2g})."
        elif len(g):
            text += f" ‖dW‖ of the output is {g[-1]:.2g}."
        sat = [f"{label} {s:.0%}" for label, s in zip(health.hidden, last.saturation) if np.isfinite(s)]
        if sat:
            text += " Saturated or dead: " + ", ".join(sat) + "."
        if health.every > 1:
            text += f" Run mode records every {health.every} minibatches."
        return text


__all__ = ["HealthView"]
