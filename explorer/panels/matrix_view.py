"""The matrix view: every real array of the minibatch, one heatmap at a time.

``MatrixView`` shows the arrays of the current stage (the main output first,
the others in tabs) under a header with the stage's title, formula and
shapes. Between minibatches and while training runs it shows the network's
parameters, redrawn as they change. ``show_layer`` (the network view's boxes)
and ``show_tensor`` show any other array of the minibatch.

Hovering an entry of a computed array writes its formula out with the real
operands, e.g. ``dW_o[j=12, v='the'] = Σₙ h[n,12]·dz_o[n,'the'] = 0.51·(−0.0091)
+ … = −0.00412``. The text comes from :func:`entry_formula`, a pure NumPy
function that tests call directly. The weights a formula needs are the ones
the minibatch used: the view copies them when a minibatch starts, because the
update stage changes them in place.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QTextDocument
from PySide6.QtWidgets import QFrame, QLabel, QTabBar, QVBoxLayout, QWidget

from core.errors import ExplorerError, InputError
from core.export import save_array
from core.model import CONTEXT
from core.text import plural
from core.stages import AXES, LAYER_TENSORS, N_STAGES, STAGE_NAMES, array_kind

from ..guard import qt_override
from ..widgets import on_screen
from ..widgets.export import ask_save_path
from ..widgets.heatmap import AXIS_TITLES, Heatmap, format_value

__all__ = ["MatrixView", "EntryFormula", "entry_formula", "PARAMETERS"]

PARAMETERS = ("W_emb", "W_h", "b_h", "W_o", "b_o")
# Redraws of a parameter per second while training runs: the heatmap and its colour bar
# cost several times more to redraw than the loss curve, and change little from one to the next.
RUN_REDRAW_HZ = 4.0
UPDATE_INDEX = STAGE_NAMES.index("update")
# The array a learner should see first at stages that produce several.
MAIN_FIRST = {"embed": ("e", "x", "t"), "softmax": ("p", "t"), "embedding_gradient": ("dW_emb", "de")}
PARAMETER_SHAPES = {"W_emb": "V×d", "W_h": "3d×H", "b_h": "H", "W_o": "H×V", "b_o": "V"}

DESCRIPTIONS = {
    "x": "the three context words of every example",
    "t": "the target (next) word of every example",
    "e": "the embedded context: three rows of W_emb side by side",
    "z_h": "hidden pre-activation",
    "h": "hidden activation",
    "z_o": "logits (output pre-activation)",
    "p": "probability of every next word",
    "loss_n": "loss of each example, −log p[n, tₙ]",
    "dz_o": "gradient of L with respect to the logits",
    "dW_o": "gradient of L with respect to W_o",
    "db_o": "gradient of L with respect to b_o",
    "dh": "gradient of L with respect to h",
    "dz_h": "gradient of L with respect to z_h",
    "dW_h": "gradient of L with respect to W_h",
    "db_h": "gradient of L with respect to b_h",
    "de": "gradient of L with respect to e",
    "dW_emb": "gradient of L with respect to W_emb (a scatter-add of de)",
    "W_emb": "embedding table: one row per word",
    "W_h": "hidden weights",
    "b_h": "hidden biases",
    "W_o": "output weights",
    "b_o": "output biases",
}
KIND_TEXT = {
    "signed": "diverging colours: white = 0, red > 0, blue < 0",
    "activation": "sequential colours from 0",
    "probability": "sequential colours, 0 to 1",
    "index": "word indices, shown as words",
}


def describe_name(name: str) -> str:
    if name.startswith("Δ"):
        return f"this step's change of {name[1:]} (the new velocity v)"
    return DESCRIPTIONS.get(name, "")


def display_kind(name: str, activation: str) -> tuple[str, tuple[float, float] | None]:
    """(kind for the heatmap, natural colour range or None) of an array."""
    if name == "h":
        if activation == "sigmoid":
            return "activation", (0.0, 1.0)
        if activation == "tanh":
            return "signed", (-1.0, 1.0)
        return "activation", None
    kind = array_kind(name)
    if kind == "probability":
        return kind, (0.0, 1.0)
    return kind, None


# ---- formulas with numbers ----------------------------------------------------------------


@dataclass
class EntryFormula:
    """One entry of an array written out as its formula with the real operands.

    ``terms`` holds every term's operands in order (all of them, not only the
    ones written out); ``total`` is the formula's result computed from them,
    which equals ``value``, the entry itself, to rounding. ``total`` is None
    when an operand is no longer available (``text`` then says why).
    """

    name: str
    index: tuple[int, ...]
    text: str
    total: float | None
    value: float | None
    terms: list[tuple[float, ...]] = field(default_factory=list)


def _num(v: float, digits: int = 4) -> str:
    """A term's operand: 4 significant digits, negative numbers in parentheses."""
    s = format_value(v, digits)
    return f"({s})" if s.startswith("−") else s


def _sum_text(terms, shown: int = 3) -> str:
    """'a·b + c·d + e·f + … (100 terms)'."""
    parts = ["·".join(_num(x) for x in ops) for ops in terms[:shown]]
    text = " + ".join(parts)
    if len(terms) > shown:
        text += f" + … ({len(terms)} terms)"
    return text


class _Names:
    """How the formula text names indices: words in quotes, columns of e as x₂·7."""

    def __init__(self, vocab, d: int | None):
        self.vocab = vocab
        self.d = d

    def word(self, v: int) -> str:
        return f"'{self.vocab[v]}'" if self.vocab is not None and 0 <= v < len(self.vocab) else str(v)

    def col(self, i: int) -> str:
        if self.d:
            k, c = divmod(i, self.d)
            return f"{i} (x{_sub(k + 1)}·{c})"
        return str(i)


def _sub(k: int) -> str:
    return str(k).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def entry_formula(
    name: str,
    index,
    tensors: dict[str, np.ndarray],
    *,
    weights: dict[str, np.ndarray] | None = None,
    velocity: dict[str, np.ndarray] | None = None,
    extras: dict | None = None,
    vocab=None,
    activation: str = "sigmoid",
) -> EntryFormula | None:
    """The formula of ``name[index]`` with its operands from ``tensors`` (the minibatch's arrays).

    ``weights`` are the parameters the minibatch computed with (before its
    update), ``velocity`` the velocities before the update and ``extras`` the
    update stage's learning rate and momentum. Returns None for arrays that
    are not computed by a formula (parameters, the inputs).
    """
    index = tuple(int(i) for i in np.atleast_1d(index))
    T = tensors
    d = T["e"].shape[1] // CONTEXT if "e" in T else (weights["W_emb"].shape[1] if weights else None)
    nm = _Names(vocab, d)
    value = float(T[name][index]) if name in T else None

    def done(text, total, terms):
        return EntryFormula(name, index, text, None if total is None else float(total), value, terms)

    def missing(what):
        return done(f"{name}{list(index)}: {what}", None, [])

    def need_weights(key):
        if weights is None or key not in weights:
            return None
        return weights[key]

    def matsum(head, symbolic, a, b, bias=None, bias_text=""):
        terms = list(zip(a.tolist(), b.tolist()))
        total = float(np.dot(a, b)) + (0.0 if bias is None else float(bias))
        numbers = _sum_text(terms)
        if bias is not None:
            numbers += f" + {_num(bias)}"
        text = f"{head} = {symbolic}{bias_text}\n= {numbers}\n= {format_value(total)}"
        return done(text, total, terms + ([(float(bias),)] if bias is not None else []))

    # ---- backward ---------------------------------------------------------------------
    if name == "dW_o" and {"h", "dz_o"} <= T.keys():
        j, v = index
        return matsum(f"dW_o[j={j}, v={nm.word(v)}]", f"Σₙ h[n,{j}]·dz_o[n,{nm.word(v)}]",
                      T["h"][:, j], T["dz_o"][:, v])
    if name == "db_o" and "dz_o" in T:
        (v,) = index
        col = T["dz_o"][:, v]
        terms = [(x,) for x in col.tolist()]
        total = float(col.sum())
        return done(f"db_o[v={nm.word(v)}] = Σₙ dz_o[n,{nm.word(v)}]\n= {_sum_text(terms)}\n= {format_value(total)}",
                    total, terms)
    if name == "dh" and "dz_o" in T:
        n, j = index
        W_o = need_weights("W_o")
        if W_o is None:
            return missing("needs W_o as it was before this minibatch's update, which has already changed it; "
                           "step through a minibatch from its first stage to see the numbers")
        return matsum(f"dh[n={n}, j={j}]", f"Σ_v dz_o[{n},v]·W_o[{j},v]   (W_o before the update)",
                      T["dz_o"][n, :], W_o[j, :])
    if name == "dz_h" and {"dh", "h"} <= T.keys():
        n, j = index
        g, hv = float(T["dh"][n, j]), float(T["h"][n, j])
        head = f"dz_h[n={n}, j={j}]"
        if activation == "sigmoid":
            total = g * hv * (1.0 - hv)
            text = f"{head} = dh[{n},{j}]·h[{n},{j}]·(1 − h[{n},{j}])\n= {_num(g)}·{_num(hv)}·{_num(1.0 - hv)}"
            terms = [(g, hv, 1.0 - hv)]
        elif activation == "tanh":
            total = g * (1.0 - hv * hv)
            text = f"{head} = dh[{n},{j}]·(1 − h[{n},{j}]²)\n= {_num(g)}·(1 − {_num(hv)}²)"
            terms = [(g, 1.0 - hv * hv)]
        else:
            if "z_h" not in T:
                return missing("needs z_h")
            z = float(T["z_h"][n, j])
            total = g * float(z > 0)
            text = f"{head} = dh[{n},{j}]·[z_h[{n},{j}] > 0]\n= {_num(g)}·[{_num(z)} > 0] = {_num(g)}·{int(z > 0)}"
            terms = [(g, float(z > 0))]
        return done(f"{text}\n= {format_value(total)}", total, terms)
    if name == "dW_h" and {"e", "dz_h"} <= T.keys():
        i, j = index
        return matsum(f"dW_h[i={nm.col(i)}, j={j}]", f"Σₙ e[n,{i}]·dz_h[n,{j}]", T["e"][:, i], T["dz_h"][:, j])
    if name == "db_h" and "dz_h" in T:
        (j,) = index
        col = T["dz_h"][:, j]
        terms = [(x,) for x in col.tolist()]
        total = float(col.sum())
        return done(f"db_h[j={j}] = Σₙ dz_h[n,{j}]\n= {_sum_text(terms)}\n= {format_value(total)}", total, terms)
    if name == "de" and "dz_h" in T:
        n, i = index
        W_h = need_weights("W_h")
        if W_h is None:
            return missing("needs W_h as it was before this minibatch's update, which has already changed it")
        return matsum(f"de[n={n}, i={nm.col(i)}]", f"Σⱼ dz_h[{n},j]·W_h[{i},j]   (W_h before the update)",
                      T["dz_h"][n, :], W_h[i, :])
    if name == "dW_emb" and {"de", "x"} <= T.keys():
        v, i = index
        x, de = T["x"], T["de"]
        dd = de.shape[1] // CONTEXT
        places = [tuple(p) for p in np.argwhere(x == v).tolist()]  # (example, position), row-major like the core
        head = f"dW_emb[v={nm.word(v)}, i={i}]"
        if not places:
            return done(f"{head} = 0\n{nm.word(v)} is not among this minibatch's context words, "
                        "so no gradient reaches its row.", 0.0, [])
        terms = [(float(de[n, k * dd + i]),) for n, k in places]
        where = " + ".join(f"de[{n}, x{_sub(k + 1)}·{i}]" for n, k in places[:3])
        if len(places) > 3:
            where += " + …"
        total = 0.0
        for (t,) in terms:
            total += t
        text = (f"{head} = Σ over the {len(places)} place{'s' if len(places) > 1 else ''} "
                f"(example n, position k) where {nm.word(v)} occurs of de[n, block k, {i}]\n"
                f"= {where}\n= {_sum_text(terms)}\n= {format_value(total)}")
        return done(text, total, terms)
    if name == "dz_o" and {"p", "t"} <= T.keys():
        n, v = index
        N = T["p"].shape[0]
        pv = float(T["p"][n, v])
        y = 1.0 if int(T["t"][n]) == v else 0.0
        total = (pv - y) * (1.0 / N)
        text = (f"dz_o[n={n}, v={nm.word(v)}] = (p[{n},{nm.word(v)}] − [v = t[{n}]])/N"
                f"   (t[{n}] = {nm.word(int(T['t'][n]))})\n= ({_num(pv)} − {int(y)})/{N}\n= {format_value(total)}")
        return done(text, total, [(pv, y, float(N))])
    if name.startswith("Δ") and name[1:] in PARAMETERS:
        p = name[1:]
        g = T.get("d" + p)
        if g is None or velocity is None or p not in velocity or not extras:
            return missing("needs the velocity from before the update (step through the minibatch from its start)")
        mu, lr = float(extras["momentum"]), float(extras["learning_rate"])
        vp, gv = float(velocity[p][index]), float(g[index])
        total = mu * vp - lr * gv
        where = ", ".join(str(i) for i in index)
        text = (f"{name}[{where}] = μ·v[{where}] − η·d{p}[{where}]   (v: the velocity before this step)\n"
                f"= {_num(mu)}·{_num(vp)} − {_num(lr)}·{_num(gv)}\n= {format_value(total)}")
        return done(text, total, [(mu, vp), (lr, gv)])

    # ---- forward ------------------------------------------------------------------------
    if name == "e" and "x" in T:
        n, c = index
        W_emb = need_weights("W_emb")
        if W_emb is None:
            return missing("needs W_emb as it was before this minibatch's update")
        k, i = divmod(c, d)
        w = int(T["x"][n, k])
        total = float(W_emb[w, i])
        text = (f"e[n={n}, {nm.col(c)}] = W_emb[x[{n},{k}], {i}] = W_emb[{nm.word(w)}, {i}]\n"
                f"= {format_value(total)}")
        return done(text, total, [(total,)])
    if name == "z_h" and "e" in T:
        n, j = index
        W_h, b_h = need_weights("W_h"), need_weights("b_h")
        if W_h is None or b_h is None:
            return missing("needs W_h and b_h as they were before this minibatch's update")
        return matsum(f"z_h[n={n}, j={j}]", f"Σᵢ e[{n},i]·W_h[i,{j}]", T["e"][n, :], W_h[:, j],
                      bias=b_h[j], bias_text=f" + b_h[{j}]")
    if name == "h" and "z_h" in T:
        n, j = index
        z = float(T["z_h"][n, j])
        if activation == "sigmoid":
            total = float(0.5 * (1.0 + np.tanh(0.5 * z)))
            text = f"h[n={n}, j={j}] = σ(z_h[{n},{j}]) = 1/(1 + exp(−z_h))\n= 1/(1 + exp(−{_num(z)}))"
        elif activation == "tanh":
            total = float(np.tanh(z))
            text = f"h[n={n}, j={j}] = tanh(z_h[{n},{j}])\n= tanh({_num(z)})"
        else:
            total = max(0.0, z)
            text = f"h[n={n}, j={j}] = max(0, z_h[{n},{j}])\n= max(0, {_num(z)})"
        return done(f"{text}\n= {format_value(total)}", total, [(z,)])
    if name == "z_o" and "h" in T:
        n, v = index
        W_o, b_o = need_weights("W_o"), need_weights("b_o")
        if W_o is None or b_o is None:
            return missing("needs W_o and b_o as they were before this minibatch's update")
        return matsum(f"z_o[n={n}, v={nm.word(v)}]", f"Σⱼ h[{n},j]·W_o[j,{nm.word(v)}]", T["h"][n, :], W_o[:, v],
                      bias=b_o[v], bias_text=f" + b_o[{nm.word(v)}]")
    if name == "p" and "z_o" in T:
        n, v = index
        row = T["z_o"][n, :]
        m = float(row.max())
        denom = float(np.exp(row - m).sum())
        z = float(row[v])
        total = float(np.exp(z - m)) / denom
        text = (f"p[n={n}, v={nm.word(v)}] = exp(z_o[{n},{nm.word(v)}] − m) / Σᵤ exp(z_o[{n},u] − m),"
                f"   m = maxᵤ z_o[{n},u] = {_num(m)} ({nm.word(int(row.argmax()))})\n"
                f"= exp({_num(z)} − {_num(m)}) / {_num(denom, 6)}   (the sum has {row.size} terms)\n"
                f"= {format_value(total)}")
        return done(text, total, [(z, m, denom)])
    if name == "loss_n" and {"p", "t"} <= T.keys():
        (n,) = index
        tn = int(T["t"][n])
        pv = float(T["p"][n, tn])
        total = float(-np.log(max(pv, np.finfo(np.float64).tiny)))
        text = f"loss_n[{n}] = −log p[{n}, t] with t = {nm.word(tn)}\n= −log {_num(pv, 6)}\n= {format_value(total)}"
        return done(text, total, [(pv,)])
    return None


# ---- the panel ------------------------------------------------------------------------------


@dataclass
class _BatchMemory:
    """What a minibatch computed with, kept because the update stage overwrites it."""

    batch: int = -1
    weights: dict[str, np.ndarray] | None = None  # parameters before the update
    velocity: dict[str, np.ndarray] | None = None  # velocities before the update
    extras: dict | None = None  # the update stage's learning rate and momentum


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
        self._memory = _BatchMemory()
        self._drawn_version: int | None = None
        self._drawn_at = -1e9  # perf_counter() of the last drawing of a parameter
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
        axes = AXES.get(name, ())
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
        self._memory = _BatchMemory()

    def _on_stage_changed(self, stage) -> None:
        if stage is None:
            self._show_parameters()
            return
        self._remember(stage)
        names = list(stage.arrays)
        first = [n for n in MAIN_FIRST.get(stage.name, ()) if n in stage.arrays]
        names = first + [n for n in names if n not in first]
        self._mode = "stage"
        self._arrays = dict(stage.arrays)
        self._set_names(names, select=names[0] if names else None)

    def _on_weights_changed(self) -> None:
        """Redraw a parameter on screen: at most once per announcement, at most ``RUN_REDRAW_HZ``
        times a second while training runs (the final weights are drawn when it pauses), and
        only once shown when hidden."""
        name = self.current_name()
        if self._mode == "stage" or name not in PARAMETERS:
            return
        if self.session.model.version == self._drawn_version:
            return
        if not on_screen(self):  # hidden, or its tab is behind another
            self._stale = True
            return
        now = time.perf_counter()
        if self.session.running and now - self._drawn_at < 1.0 / RUN_REDRAW_HZ:
            return  # a later announcement draws newer weights anyway
        self._draw()

    @qt_override
    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self._draw()

    def _remember(self, stage) -> None:
        """Copy the weights and velocities a new minibatch computes with (the update overwrites them)."""
        if stage.batch != self._memory.batch:
            model = self.session.model
            if stage.index < UPDATE_INDEX:  # the parameters are still the ones this minibatch uses
                self._memory = _BatchMemory(
                    stage.batch,
                    {k: v.copy() for k, v in model.params.items()},
                    {k: v.copy() for k, v in model.velocity.items()},
                )
            else:
                self._memory = _BatchMemory(stage.batch)
        if stage.index == UPDATE_INDEX:
            self._memory.extras = dict(stage.extras)

    # ---- public actions ---------------------------------------------------------------------------
    def show_layer(self, layer: str) -> None:
        """Show the tensors of one box of the network (``core.stages.LAYER_TENSORS``) that exist now."""
        if layer not in LAYER_TENSORS:
            self.header.setText(f"<b>No layer called {html.escape(layer)}</b>")
            return
        names = [n for n in LAYER_TENSORS[layer] if self._lookup(n) is not None]
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
        self._set_names(list(PARAMETERS), select=keep if keep in PARAMETERS else "W_emb")

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
            self.tabs.setTabToolTip(i, describe_name(n))
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
        if name in PARAMETERS:
            arr = np.array(arr, copy=True)  # a still picture of weights that training changes in place
            self._drawn_version = self.session.model.version
            self._drawn_at = time.perf_counter()
        act = self.session.config.activation
        kind, natural = display_kind(name, act)
        axes = AXES.get(name, (None, None))
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
        meaning = " × ".join(AXIS_TITLES.get(a, a) for a in axes)
        parts = [f"<b>{html.escape(name)}</b>", f"{shape} ({html.escape(meaning)})"]
        desc = describe_name(name)
        if desc:
            parts.append(html.escape(desc))
        if kind == "index":
            parts.append(KIND_TEXT["index"])
        elif name in PARAMETERS and self.session.running:
            # Weights that training changes: a line that stays put while it runs (rewriting it on
            # every redraw relayouts the panel); the statistics return when it pauses.
            parts.append(KIND_TEXT.get(kind, "") + "; min, max and mean when training pauses")
        else:
            finite = arr
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                finite = arr[np.isfinite(arr)]  # a copy only when some entry is not finite
            if finite.size:
                parts.append(
                    f"min {format_value(finite.min(), 4)} · max {format_value(finite.max(), 4)} · "
                    f"mean {format_value(finite.mean(), 4)}"
                )
            parts.append(KIND_TEXT.get(kind, ""))
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
            if stage.index == UPDATE_INDEX:
                where = "update"
            epoch = stage.batch // s.trainer.batches_per_epoch + 1
            lines = [
                f"<b>Stage {stage.index + 1}/{N_STAGES} — {html.escape(stage.title)}</b>"
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
            if stage.index == UPDATE_INDEX and stage.extras:
                lines.append(
                    f"learning rate η = {format_value(stage.extras.get('learning_rate'), 4)}, "
                    f"momentum μ = {format_value(stage.extras.get('momentum'), 4)}"
                )
        elif self._mode == "layer":
            missing = [n for n in LAYER_TENSORS.get(self._layer, ()) if n not in self._names]
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
            lines = [f"<b>{html.escape(name)}</b> — {html.escape(describe_name(name))}",
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
                html.escape(";  ".join(f"{n}: {PARAMETER_SHAPES[n]} = {self._shape_text(n)}" for n in PARAMETERS)),
            ]
        # One paragraph per line: lines of different sizes get their own heights.
        self.header.setText("".join(f"<p style='margin:0'>{line}</p>" for line in lines))

    def _shape_text(self, name: str) -> str:
        arr = self._lookup(name)
        return "×".join(str(x) for x in arr.shape) if arr is not None else "—"

    # ---- hover and click ---------------------------------------------------------------------------
    def formula_for(self, name: str, index) -> EntryFormula | None:
        """The formula with numbers for ``name[index]`` in the current minibatch (None where there is none)."""
        if self._mode == "params" or name in PARAMETERS:
            return None
        tensors = dict(self.session.tensors)
        if self._mode == "stage":
            tensors.update(self._arrays)
        if name not in tensors:
            return None
        same_batch = self.session.stage is not None and self._memory.batch == self.session.stage.batch
        m = self._memory if same_batch else _BatchMemory()
        return entry_formula(
            name, index, tensors, weights=m.weights, velocity=m.velocity, extras=m.extras,
            vocab=self.session.vocab, activation=self.session.config.activation,
        )

    def _formula_hint(self, name: str) -> str:
        if name in PARAMETERS or self._mode == "params":
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
