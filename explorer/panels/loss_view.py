"""The loss curves: training CE per minibatch (raw and smoothed), validation and test CE.

x counts minibatches from 1, as the rest of the window does ("minibatch 1"):
``train_ce[i]`` is the loss of minibatch i + 1, drawn at x = i + 1, so after k
minibatches the curve ends at x = k. That loss is measured *before* the
minibatch's update (with the weights after i minibatches); a validation CE
recorded at step s was measured after s minibatches and is drawn at x = s, the
last minibatch it has seen.

Everything is drawn with items created once. On each ``history_changed`` the
view only appends the new minibatches to its own buffers (non-finite values are
dropped), extends the exponential moving average from its last value, and calls
``setData`` once per curve; pyqtgraph's clip-to-view and peak downsampling keep
a full 10-epoch run (tens of thousands of points) cheap to draw.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from core.errors import ExplorerError
from core.text import decimals, plural

from ..widgets.export import ask_and_save_png, ask_save_path, save_plot_png  # (importing explorer.widgets configures pyqtgraph)

# Colours: light and dark of one hue for raw/smoothed training CE, distinct hues for the rest.
MIN_PLOT_HEIGHT = 250  # pixels: the plot widget's least height (legend, a plot area of 150 or more, the x axis)
RAW_COLOUR = (158, 202, 225)
SMOOTH_COLOUR = (8, 81, 156)
VALID_COLOUR = (230, 85, 13)
TEST_COLOUR = (49, 163, 84)
GUIDE_COLOUR = (110, 110, 110)
DEFAULT_SMOOTHING = 0.95
EPOCH_LABEL_PIXELS = 64  # room an epoch label needs along the x axis
_AXIS_LIMIT = 1e300  # the highest y axis end: a finite loss beyond it is drawn off the top


def ema_extend(values: np.ndarray, alpha: float, state: float | None) -> tuple[np.ndarray, float | None]:
    """Continue an exponential moving average ``s ← α·s + (1−α)·y`` over ``values``.

    ``state`` is the last smoothed value (None: start the average at the first
    value). Returns the smoothed values and the new state.
    """
    n = len(values)
    if n == 0:
        return np.empty(0), state
    a, b = float(alpha), 1.0 - float(alpha)
    seq = np.asarray(values, dtype=np.float64).tolist()
    out = np.empty(n)
    if state is None:  # the average starts at the first value itself
        state, out[0], seq, first = seq[0], seq[0], seq[1:], 1
    else:
        first = 0
    steps = itertools.accumulate(seq, lambda s, y: a * s + b * y, initial=state)
    next(steps)  # ``initial`` comes out first
    out[first:] = np.fromiter(steps, dtype=np.float64, count=n - first)
    return out, float(out[-1])


class _Series:
    """A growing pair of float64 buffers (x, y) that hands out views of the filled part."""

    def __init__(self, capacity: int = 4096):
        self.x = np.empty(capacity)
        self.y = np.empty(capacity)
        self.n = 0

    def clear(self) -> None:
        self.n = 0

    def extend(self, x: np.ndarray, y: np.ndarray) -> None:
        need = self.n + len(x)
        if need > len(self.x):
            cap = max(need, 2 * len(self.x))
            for name in ("x", "y"):
                grown = np.empty(cap)
                grown[: self.n] = getattr(self, name)[: self.n]
                setattr(self, name, grown)
        self.x[self.n : need] = x
        self.y[self.n : need] = y
        self.n = need

    def truncate(self, n: int) -> None:
        self.n = min(self.n, n)

    @property
    def xs(self) -> np.ndarray:
        return self.x[: self.n]

    @property
    def ys(self) -> np.ndarray:
        return self.y[: self.n]


def _finite_pairs(rows) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of ``[(step, ce), ...]`` with non-finite entries dropped."""
    a = np.asarray(rows, dtype=np.float64).reshape(-1, 2)
    a = a[np.isfinite(a).all(axis=1)]
    return a[:, 0].copy(), a[:, 1].copy()


class LossView(QWidget):
    """Training, validation and test cross-entropy over the minibatches of a run."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self._alpha = DEFAULT_SMOOTHING
        self._raw = _Series()  # finite training CE: x = minibatch number (1-based), y = CE
        self._smooth = np.empty(4096)  # EMA of self._raw.ys, same length
        self._ema: float | None = None  # last smoothed value, the state the average continues from
        self._seen = 0  # history entries already consumed (finite or not)
        self._last_seen_value: float | None = None  # history.train_ce[_seen - 1], to notice rewrites
        self._history = None  # the History object the buffers were read from
        self._epoch_lines: list[pg.InfiniteLine] = []
        self._vocab_size = 0
        self._view_target: tuple[float, float] | None = None  # (x max, y max) the view was last fitted to
        # "follow" (y fitted to the recent losses), "whole" (the whole run) or "manual" (as the mouse left it)
        self._view_mode = "follow"
        self._drawn_points = -1  # training points given to the curves
        self._drawn_marks = None  # what the validation and test points were drawn from

        self._build_controls()
        self._build_plot()

        session.history_changed.connect(self._on_history_changed)
        session.network_changed.connect(self._on_network_changed)
        self._on_network_changed()

    # ---- construction ------------------------------------------------------------------
    def _build_controls(self) -> None:
        self.smoothing_slider = QSlider(Qt.Orientation.Horizontal)
        self.smoothing_slider.setObjectName("smoothing_slider")
        self.smoothing_slider.setRange(0, 999)
        self.smoothing_slider.setMaximumWidth(140)
        self.smoothing_spin = QDoubleSpinBox()
        self.smoothing_spin.setObjectName("smoothing")
        self.smoothing_spin.setRange(0.0, 0.999)
        self.smoothing_spin.setDecimals(3)
        self.smoothing_spin.setSingleStep(0.01)
        tip = (
            "Smoothing α of the bold curve: s ← α·s + (1−α)·CE of the minibatch.\n"
            "0 = no smoothing; 0.99 ≈ an average over the last ~100 minibatches."
        )
        for w in (self.smoothing_slider, self.smoothing_spin):
            w.setToolTip(tip)
        self.smoothing_spin.setValue(self._alpha)
        self.smoothing_slider.setValue(round(self._alpha * 1000))
        self.smoothing_slider.valueChanged.connect(lambda v: self.smoothing_spin.setValue(v / 1000))
        self.smoothing_spin.valueChanged.connect(self.set_smoothing)

        self.follow_box = QCheckBox("follow")
        self.follow_box.setObjectName("follow")
        self.follow_box.setChecked(True)
        self.follow_box.setToolTip("On: the whole run along x, the y axis fitted to the recent losses.\n"
                                   "Off: the whole run, every loss in view.\n"
                                   "Zooming or panning with the mouse turns this off and keeps your view.")
        self.follow_box.toggled.connect(self._on_follow_toggled)

        self.test_button = QPushButton("Test CE")
        self.test_button.setObjectName("test_ce_button")
        self.test_button.setToolTip("Measure the cross-entropy on the test set with the current weights\n"
                                    "(the test set is never used for training; measure it sparingly).")
        self.test_button.clicked.connect(self.record_test)

        self.export_button = QPushButton("Save PNG…")
        self.export_button.setObjectName("export_png_button")
        self.export_button.setToolTip("Save the plot as a PNG image")
        self.export_button.clicked.connect(self._ask_export)

        self.readout = QLabel()
        self.readout.setObjectName("loss_readout")
        self.readout.setTextFormat(Qt.TextFormat.PlainText)
        self.readout.setWordWrap(True)  # never wider than the dock

        row = QHBoxLayout()
        row.setContentsMargins(4, 2, 4, 2)
        row.addWidget(QLabel("smoothing α"))
        row.addWidget(self.smoothing_slider)
        row.addWidget(self.smoothing_spin)
        row.addSpacing(8)
        row.addWidget(self.follow_box)
        row.addStretch(1)
        row.addWidget(self.test_button)
        row.addWidget(self.export_button)
        self._controls = row

    def _build_plot(self) -> None:
        self.plot_widget = pg.PlotWidget(background="w")
        self.plot_widget.setObjectName("loss_plot")
        p = self.plot_item = self.plot_widget.getPlotItem()
        p.setLabel("bottom", "minibatch")
        p.setLabel("left", "cross-entropy (nats)")
        p.showGrid(x=True, y=True, alpha=0.15)
        for name in ("bottom", "left"):
            ax = p.getAxis(name)
            ax.setPen(pg.mkPen(60, 60, 60))
            ax.setTextPen(pg.mkPen(30, 30, 30))
            # An axis (with its grid lines, which span the plot) is drawn into a pixmap and redrawn
            # only when its range or size changes: a new point on the curves then costs a blit, not text.
            ax.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        p.setMenuEnabled(True)
        p.hideButtons()  # the "A" button would fight the follow mode; the checkbox replaces it
        # The legend is a header row above the axes, where no data and no epoch label ever goes; it
        # belongs to the plot item, so an exported picture shows it in the same place.
        self.legend = pg.LegendItem(colCount=4, labelTextColor=(30, 30, 30), frame=False, horSpacing=4)
        self.legend.layout.setContentsMargins(0, 0, 0, 0)
        # Outside the view box nothing is zoomed: the legend may scale with the plot, as an export at
        # another width does, instead of keeping its screen size.
        self.legend.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, False)
        self.legend.setParentItem(p)
        p.layout.removeItem(p.titleLabel)  # the (unused) title's row holds the legend instead
        p.titleLabel.hide()

        self.raw_curve = p.plot(pen=pg.mkPen(RAW_COLOUR, width=1), name="training CE per minibatch")
        self.smooth_curve = p.plot(pen=pg.mkPen(SMOOTH_COLOUR, width=2), name=self._smooth_name())
        # What is drawn is thinned to the pixels: the raw curve keeps the lowest and highest loss of
        # every pixel column (peak mode, one bucket per pixel: what full resolution would show), the
        # smooth curve one point per pixel. A 10-epoch run (37,000 points) then draws as fast as 1,000.
        for curve, method in ((self.raw_curve, "peak"), (self.smooth_curve, "subsample")):
            curve.setClipToView(True)
            curve.setDownsampling(auto=True, method=method)
            curve.setSkipFiniteCheck(True)  # the view filters non-finite values itself
            curve.opts["autoDownsampleFactor"] = 1.0  # buckets per pixel
        self.valid_curve = p.plot(
            pen=pg.mkPen(VALID_COLOUR, width=1.5),
            symbol="o",
            symbolSize=6,
            symbolPen=pg.mkPen(VALID_COLOUR),
            symbolBrush=pg.mkBrush(VALID_COLOUR),
            name="validation CE",
        )
        self.test_curve = p.plot(
            pen=None,
            symbol="star",
            symbolSize=16,
            symbolPen=pg.mkPen(20, 90, 40),
            symbolBrush=pg.mkBrush(TEST_COLOUR),
            name="test CE",
        )
        self.uniform_line = pg.InfiniteLine(
            angle=0,
            pen=pg.mkPen(GUIDE_COLOUR, width=1, style=Qt.PenStyle.DashLine),
            label="uniform guess",
            labelOpts={"position": 0.98, "color": GUIDE_COLOUR, "fill": (255, 255, 255, 210), "anchors": [(1, 1), (1, 1)]},
        )
        p.addItem(self.uniform_line, ignoreBounds=True)  # labelled on the line itself
        self._fill_legend()

        self.ask_save_path = ask_save_path  # the save dialog (tests replace it)
        self.save_action = QAction("Save the loss plot as PNG…", self)
        self.save_action.triggered.connect(self._ask_export)
        p.vb.menu.addSeparator()
        p.vb.menu.addAction(self.save_action)
        p.vb.sigRangeChangedManually.connect(lambda *_: self._on_manual_range())
        p.vb.sigXRangeChanged.connect(lambda *_: self._thin_epoch_labels())
        p.vb.sigResized.connect(lambda *_: self._thin_epoch_labels())
        p.geometryChanged.connect(self._place_legend)
        self._place_legend()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(self._controls)
        # Room for a readable plot: some 150 pixels between the axes under the legend's rows, and the
        # left axis's title ("cross-entropy (nats)") whole.
        self.plot_widget.setMinimumHeight(MIN_PLOT_HEIGHT)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.readout)

    def _smooth_name(self) -> str:
        return f"smoothed (α = {self._alpha:.3g})"

    # ---- session events ----------------------------------------------------------------------
    def _on_network_changed(self) -> None:
        """A new network or corpus: forget every point and start again from the new history."""
        self._raw.clear()
        self._drawn_points, self._drawn_marks = -1, None
        self._ema = None
        self._seen = 0
        self._last_seen_value = None
        self._history = self.session.trainer.history
        for line in self._epoch_lines:
            self.plot_item.removeItem(line)
        self._epoch_lines.clear()
        self._view_target = None
        if self._view_mode == "manual":  # a view chosen for the old run means nothing for the new one
            self._view_mode = "whole"
        V = len(self.session.vocab)
        self._vocab_size = V
        ln_v = math.log(V)
        self.uniform_line.setValue(ln_v)
        self.uniform_line.label.setFormat(f"uniform guess: ln {V} = {ln_v:.2f}")
        self._on_history_changed()

    def _on_history_changed(self) -> None:
        """Append what is new in the history and redraw once."""
        h = self.session.trainer.history
        if h is not self._history:  # a new history without a network_changed: start over
            self._history = h
            self._raw.clear()
            self._drawn_points, self._drawn_marks = -1, None
            self._ema = None
            self._seen = 0
            self._last_seen_value = None
        train = h.train_ce  # (steps,) read-only view
        n = len(train)
        if n < self._seen:  # a roll-back truncated the history
            self._rewind(n)
        if self._seen and not _same(train[self._seen - 1], self._last_seen_value):
            self._rewind(0)  # rewritten behind our back: read it all again
        if n > self._seen:
            self._append(train[self._seen :], self._seen)
            self._seen = n
            self._last_seen_value = float(train[-1])

        m = self._raw.n
        if m != self._drawn_points:
            if (m == 1) != (self._drawn_points == 1):  # a line through one point draws nothing: a marker then
                for curve, colour in ((self.raw_curve, RAW_COLOUR), (self.smooth_curve, SMOOTH_COLOUR)):
                    curve.setSymbol("o" if m == 1 else None)
                    curve.setSymbolPen(pg.mkPen(colour))
                    curve.setSymbolBrush(pg.mkBrush(colour))
            self.raw_curve.setData(self._raw.xs, self._raw.ys)
            self.smooth_curve.setData(self._raw.xs, self._smooth[:m])
            self._drawn_points = m
        vx, vy = _finite_pairs(h.valid)
        tx, ty = _finite_pairs(h.test)
        marks = (h.valid[-1:], len(h.valid), h.test[-1:], len(h.test))
        if marks != self._drawn_marks:  # validation and test points come rarely: set them only then
            self.valid_curve.setData(vx, vy)
            self.test_curve.setData(tx, ty)
            self._drawn_marks = marks
        self._sync_epoch_lines(h.epoch_ends)
        self._update_readout(n, vx, vy, tx, ty)
        if self._view_mode != "manual":
            self._fit_view(force=self._view_target is None)

    # ---- incremental buffers ------------------------------------------------------------------
    def _append(self, values: np.ndarray, first_step: int) -> None:
        """Add history entries ``values`` (steps first_step, first_step+1, …), skipping non-finite ones.

        Entry i is minibatch i + 1's loss: it is drawn at x = i + 1.
        """
        ok = np.isfinite(values)
        y = np.asarray(values[ok], dtype=np.float64)
        x = (first_step + 1 + np.flatnonzero(ok)).astype(np.float64)
        start = self._raw.n
        self._raw.extend(x, y)
        if len(self._smooth) < self._raw.n:
            grown = np.empty(len(self._raw.x))
            grown[:start] = self._smooth[:start]
            self._smooth = grown
        smoothed, self._ema = ema_extend(y, self._alpha, self._ema)
        self._smooth[start : self._raw.n] = smoothed

    def _rewind(self, step: int) -> None:
        """Forget every point from history step ``step`` on (after a roll-back)."""
        keep = int(np.searchsorted(self._raw.xs, step, side="right"))  # minibatches 1 … step stay
        self._raw.truncate(keep)
        self._drawn_points, self._drawn_marks = -1, None
        self._ema = float(self._smooth[keep - 1]) if keep else None
        self._seen = step
        h = self._history
        self._last_seen_value = float(h.train_ce[step - 1]) if step and step <= len(h) else None

    def set_smoothing(self, alpha: float) -> None:
        """Set α of the moving average (0 … 0.999) and recompute the smoothed curve now."""
        alpha = float(min(max(alpha, 0.0), 0.999))
        if abs(self.smoothing_spin.value() - alpha) > 5e-4:
            self.smoothing_spin.setValue(alpha)  # comes back here through valueChanged
            return
        if self.smoothing_slider.value() != round(alpha * 1000):
            self.smoothing_slider.blockSignals(True)
            self.smoothing_slider.setValue(round(alpha * 1000))
            self.smoothing_slider.blockSignals(False)
        if alpha == self._alpha:
            return
        self._alpha = alpha
        m = self._raw.n
        smoothed, self._ema = ema_extend(self._raw.ys, alpha, None)
        self._smooth[:m] = smoothed
        self.smooth_curve.setData(self._raw.xs, self._smooth[:m])
        self.legend.getLabel(self.smooth_curve).setText(self._smooth_name())
        self._place_legend()
        if self._view_mode != "manual":
            self._fit_view()

    @property
    def smoothing(self) -> float:
        return self._alpha

    def smoothed_values(self) -> np.ndarray:
        """The smoothed training CE as drawn (a copy), one value per finite minibatch loss."""
        return self._smooth[: self._raw.n].copy()

    # ---- epochs, view, readout -----------------------------------------------------------------
    def _sync_epoch_lines(self, epoch_ends: list[int]) -> None:
        """One dotted vertical line per finished epoch, labelled with the epoch that starts there."""
        while len(self._epoch_lines) > len(epoch_ends):
            self.plot_item.removeItem(self._epoch_lines.pop())
        for k in range(len(self._epoch_lines), len(epoch_ends)):
            line = pg.InfiniteLine(
                pos=epoch_ends[k],
                angle=90,
                pen=pg.mkPen(GUIDE_COLOUR, width=1, style=Qt.PenStyle.DotLine),
                label=f"epoch {k + 2}",
                labelOpts={"position": 0.02, "color": GUIDE_COLOUR, "anchors": [(0, 1), (0, 1)]},
            )
            self.plot_item.addItem(line, ignoreBounds=True)
            self._epoch_lines.append(line)
        for line, s in zip(self._epoch_lines, epoch_ends):
            if line.value() != s:
                line.setValue(s)
        self._thin_epoch_labels()

    def _thin_epoch_labels(self) -> None:
        """Label the epochs that are multiples of 1, 2, 5, 10, … so that labels never overlap.

        Many short epochs (a small corpus) would otherwise pile their labels on top of
        each other, and every label costs drawing text on every redraw.
        """
        lines = self._epoch_lines
        if not lines:
            return
        (x0, x1), _ = self.plot_item.vb.viewRange()
        width = self.plot_item.vb.width()
        per_epoch = float(lines[0].value())
        step = 1
        if x1 > x0 and width > 0 and per_epoch > 0:
            pixels = per_epoch * width / (x1 - x0)  # between two epoch lines
            for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
                if step * pixels >= EPOCH_LABEL_PIXELS:
                    break
        for k, line in enumerate(lines):
            show = (k + 2) % step == 0  # line k starts epoch k + 2
            if line.label.isVisible() != show:
                line.label.setVisible(show)

    def epoch_line_positions(self) -> list[float]:
        return [float(line.value()) for line in self._epoch_lines]

    # ---- the view: follow, the whole run, or where the mouse left it ------------------------------
    def _on_follow_toggled(self, on: bool) -> None:
        self._view_mode = "follow" if on else "whole"
        self._fit_view(force=True)

    def _on_manual_range(self) -> None:
        """A zoom or pan with the mouse: the view stays where the user put it (follow turns off)."""
        self._view_mode = "manual"
        self.follow_box.blockSignals(True)  # unticking here must not re-fit the view
        self.follow_box.setChecked(False)
        self.follow_box.blockSignals(False)

    @property
    def view_mode(self) -> str:
        """"follow", "whole" (the whole run) or "manual" (zoomed or panned with the mouse)."""
        return self._view_mode

    def _highest(self) -> float:
        """The highest finite loss drawn (training, validation or test); 0 when there is none."""
        values = [self._raw.ys]
        for curve in (self.valid_curve, self.test_curve):
            _x, y = curve.getOriginalDataset()
            if y is not None:
                values.append(np.asarray(y, dtype=np.float64))
        return max((float(v.max()) for v in values if len(v)), default=0.0)

    def _fit_view(self, force: bool = False) -> None:
        """x: the whole run. y from 0: following, to a little above the recent smoothed losses; for the
        whole run (and the first minibatches of any run), to above every loss and the uniform guess.

        Both ends are rounded (x up to a round number of minibatches with room
        for a tenth more, y up to a quarter nat) so the view steps now and
        then instead of creeping on every update: steadier to watch, and cheaper
        to draw (the axes are redrawn only when their range changes).
        """
        ln_v = math.log(max(self._vocab_size, 2))
        m = self._raw.n
        if self._view_mode == "follow" and m >= 20:
            first = max(0, m - max(20, m // 3))
            top = float(self._smooth[first:m].max())
            vx, vy = self.valid_curve.getOriginalDataset()
            if vy is not None and len(vy):
                near = vy[vx >= self._raw.xs[first]]
                if len(near):
                    top = max(top, float(near.max()))
            top *= 1.15
            if top * 1.25 >= ln_v:  # early in training: keep the uniform-guess line in view as the reference
                top = max(top, ln_v * 1.06)
        else:
            top = max(ln_v * 1.08, self._highest() * 1.04)  # room for the uniform guess's label above its line
        y_top = _round_up(top, 0.25)
        steps = max(self._seen, 1)
        old_x, old_y = self._view_target or (0.0, 0.0)
        x_max = old_x
        if force or not (steps * 1.01 <= old_x <= max(steps * 2.5, 10)):
            x_max = _nice_above(steps * 1.1)
        if not force and old_y - 0.5 < y_top <= old_y:
            y_top = old_y  # small drops wait until they add up to half a nat
        if force or (x_max, y_top) != self._view_target:
            self._view_target = (x_max, y_top)
            self.plot_item.vb.setRange(xRange=(0, x_max), yRange=(0, y_top), padding=0)

    def _fill_legend(self) -> None:
        self.legend.clear()
        for curve in (self.raw_curve, self.smooth_curve, self.valid_curve, self.test_curve):
            self.legend.addItem(curve, self._smooth_name() if curve is self.smooth_curve else curve.name())

    def _legend_width(self, columns: int) -> float:
        """Pixels the legend needs in ``columns`` columns (its widest row)."""
        # The text's own width: a label's width is its grid column's, which depends on the columns in use.
        widths = [sample.width() + label.item.boundingRect().width() + 12 for sample, label in self.legend.items]
        return max((sum(widths[i : i + columns]) for i in range(0, len(widths), columns)), default=0.0)

    def _place_legend(self, *_args) -> None:
        """The legend in the header row above the axes: as many columns as fit, the row as tall as it."""
        p = self.plot_item
        box = p.vb.geometry()  # in the plot item's coordinates
        room = box.width() if box.width() > 0 else p.width()
        columns = next((c for c in (4, 2) if self._legend_width(c) <= room), 1)
        if columns != self.legend.columnCount:
            self.legend.columnCount = columns
            self._fill_legend()  # new labels: the old ones keep the widths of their old grid columns
        height = math.ceil(self.legend.height()) + 2
        if p.layout.rowMinimumHeight(0) != height or p.layout.rowMaximumHeight(0) != height:
            p.layout.setRowFixedHeight(0, height)
        self.legend.setPos(box.left(), 1)

    def _update_readout(self, n, vx, vy, tx, ty) -> None:
        if n == 0:
            self.readout.setText("No minibatch trained yet: step or run to see the loss fall.")
            return
        parts = [plural(n, "minibatch"), f"last training CE {decimals(self._raw.ys[-1])}" if self._raw.n else ""]
        if self._raw.n:
            parts.append(f"smoothed {decimals(self._smooth[self._raw.n - 1])}")
        if len(vy):
            parts.append(f"validation CE {decimals(vy[-1])} (after {int(vx[-1]):,})")
        if len(ty):
            parts.append(f"test CE {decimals(ty[-1])} (after {int(tx[-1]):,})")
        self.readout.setText(" · ".join(p for p in parts if p))

    # ---- test CE and export ----------------------------------------------------------------------
    def record_test(self) -> float | None:
        """Measure the test CE with the current weights, add it to the history and show it."""
        try:
            ce = self.session.record_test()  # announces the history: this plot redraws with the rest
        except ExplorerError as err:
            self.readout.setText(str(err))
            return None
        if not math.isfinite(ce):
            self.readout.setText("The test set is empty (or the loss is not finite): no test CE to show.")
        return ce

    def export_png(self, path, width: int | None = None) -> Path:
        """Write the plot to ``path`` as a PNG (``width`` pixels wide; default: as on screen, at least 800)."""
        return save_plot_png(self.plot_item, path, width or max(800, self.plot_widget.width()))

    def export_actions(self) -> list[QAction]:
        """For the window's File > Export menu."""
        return [self.save_action]

    def _ask_export(self) -> None:
        ask_and_save_png(self, "Save the loss plot", "loss.png", self.export_png, self.readout.setText)


def _nice_above(x: float) -> float:
    """The smallest of 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, … that is at least ``x``."""
    if x <= 10:
        return 10.0
    base = 10.0 ** math.floor(math.log10(x))
    for m in (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if m * base >= x * (1 - 1e-12):
            return m * base
    return 10.0 * base


def _round_up(value: float, step: float) -> float:
    """``value`` rounded up to a multiple of ``step``; a value too large to round (or not finite) is capped."""
    value = min(float(value), _AXIS_LIMIT) if value == value else _AXIS_LIMIT
    q = value / step
    return math.ceil(q) * step if q < 2.0**52 else value


def _same(a, b) -> bool:
    """Equal floats, where NaN equals NaN."""
    if b is None:
        return False
    a, b = float(a), float(b)
    return a == b or (a != a and b != b)


__all__ = ["LossView", "ema_extend"]
