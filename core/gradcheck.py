"""Gradient checking: analytic gradients against central finite differences, in float64.

For a parameter entry θᵢ the numeric derivative is the central difference

    (L(θᵢ + h) − L(θᵢ − h)) / 2h

of the loss on the same minibatch, with the entry restored afterwards; the
difference of the two losses is accumulated example by example relative to
the unperturbed logits (``loss_difference``), so rounding in a loss of about 5
does not swamp the tiny changes of a network at its initial weights. The
same works for an entry of an intermediate array (z_o, h, z_h, e): the forward
pass is restarted from the perturbed array, so the check covers dz_o, dh, dz_h
and de as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import CONTEXT, PARAM_NAMES, FourGramModel

DEFAULT_STEP = 1e-4
# Verdicts by relative error; float64 central differences on this model land far below 1e-6.
GOOD, DOUBTFUL = 1e-6, 1e-3

# gradient array → the array it is the gradient of
INTERMEDIATE_OF = {"dz_o": "z_o", "dh": "h", "dz_h": "z_h", "de": "e"}


@dataclass(frozen=True)
class GradCheck:
    name: str  # "W_o", or an intermediate's gradient such as "dz_h"
    index: tuple[int, ...]
    analytic: float
    numeric: float
    step: float

    @property
    def abs_error(self) -> float:
        return abs(self.analytic - self.numeric)

    @property
    def rel_error(self) -> float:
        """|a − n| / max(|a|, |n|); 0 when both are exactly 0."""
        scale = max(abs(self.analytic), abs(self.numeric))
        return 0.0 if scale == 0 else self.abs_error / scale

    @property
    def verdict(self) -> str:
        r = self.rel_error
        return "ok" if r < GOOD else ("doubtful" if r < DOUBTFUL else "wrong")


def relative_error(a, b) -> float:
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def _as64(model: FourGramModel) -> FourGramModel:
    if model.dtype == np.float64:
        return model
    copy = FourGramModel(model.vocab, model.config)
    copy.load_state(model.state())
    return copy


def _logits(model: FourGramModel, x, name: str | None = None, value=None):
    """z_o (N, V), with the intermediate array ``name`` (if given) replaced by ``value``; and z_h."""
    P = model.params
    n = x.shape[0]
    e = value if name == "e" else P["W_emb"][x].reshape(n, -1)  # (N, 3d)
    z_h = value if name == "z_h" else e @ P["W_h"] + P["b_h"]  # (N, H)
    h = value if name == "h" else model.activation.forward(z_h)  # (N, H)
    return (value.copy() if name == "z_o" else h @ P["W_o"] + P["b_o"]), z_h  # (N, V), (N, H)


def loss_difference(z_up: np.ndarray, z_down: np.ndarray, z_base: np.ndarray, t) -> float:
    """L(z_up) − L(z_down) for the mean cross-entropy L, without losing the difference to rounding.

    Subtracting two losses of about 5 computed separately leaves about 1e-15 of
    rounding noise, as large as the whole change when a gradient entry is 1e-10.
    Here each loss is written relative to the unperturbed logits,
    lse(z) − lse(z_base) = log1p(Σᵢ p_base,ᵢ · expm1(zᵢ − z_base,ᵢ)),
    so only the small differences are ever rounded.
    """
    n = z_base.shape[0]
    rows = np.arange(n)
    shifted = z_base - z_base.max(axis=1, keepdims=True)
    p = np.exp(shifted)
    p /= p.sum(axis=1, keepdims=True)

    def lse_change(z):
        return np.log1p((p * np.expm1(z - z_base)).sum(axis=1))  # (N,)

    per_example = (lse_change(z_up) - lse_change(z_down)) - (z_up[rows, t] - z_down[rows, t])
    return float(per_example.mean())


def _intermediates(model: FourGramModel, x, t) -> dict[str, np.ndarray]:
    """Forward and backward once; the intermediate arrays and their analytic gradients."""
    n = x.shape[0]
    out = {}
    out["e"] = model.embedding.forward(x).reshape(n, -1)
    out["z_h"] = model.hidden.forward(out["e"])
    out["h"] = model.activation.forward(out["z_h"])
    out["z_o"] = model.output.forward(out["h"])
    model.loss_layer.forward(out["z_o"], t)
    out["dz_o"] = model.loss_layer.backward()
    out["dh"] = model.output.backward(out["dz_o"])
    out["dz_h"] = model.activation.backward(out["dh"])
    out["de"] = model.hidden.backward(out["dz_h"])
    model.embedding.backward(out["de"].reshape(n, CONTEXT, -1))
    return out


def check_entry(model: FourGramModel, x, t, name: str, index, step: float = DEFAULT_STEP) -> GradCheck:
    """Check one entry of a parameter's gradient (``W_emb`` … ``b_o``) or of ``dz_o``/``dh``/``dz_h``/``de``.

    The model is evaluated in float64 (a float32 model is copied); its weights
    are left exactly as they were.
    """
    model = _as64(model)
    x = np.asarray(x)
    t = np.asarray(t)
    index = tuple(int(i) for i in np.atleast_1d(index))
    inter = _intermediates(model, x, t)
    z_base = inter["z_o"]
    if name in PARAM_NAMES:
        analytic = float(model.grads[name][index])
    elif name in INTERMEDIATE_OF:
        analytic = float(inter[name][index])
    else:
        raise KeyError(f"no gradient named {name!r}")
    kink = model.config.activation == "relu"
    for _ in range(4):
        z_up, zh_up = _perturbed(model, x, inter, name, index, step)
        z_down, zh_down = _perturbed(model, x, inter, name, index, -step)
        # A ReLU unit whose input crosses 0 between the two points has no
        # derivative there: retry with a smaller step.
        if not kink or ((zh_up > 0) == (inter["z_h"] > 0)).all() and ((zh_down > 0) == (inter["z_h"] > 0)).all():
            break
        step /= 10
    numeric = loss_difference(z_up, z_down, z_base, t) / (2 * step)
    return GradCheck(name, index, analytic, numeric, step)


def _perturbed(model: FourGramModel, x, inter, name: str, index, delta: float):
    """Logits and z_h with entry ``index`` of ``name`` moved by ``delta`` (the model is left unchanged)."""
    if name in PARAM_NAMES:
        theta = model.params[name]
        old = theta[index]
        try:
            theta[index] = old + delta
            return _logits(model, x)
        finally:
            theta[index] = old
    base = INTERMEDIATE_OF[name]
    arr = inter[base].copy()
    arr[index] += delta
    return _logits(model, x, base, arr)


def check_all(model: FourGramModel, x, t, samples: int = 20, seed: int = 0, step: float = DEFAULT_STEP):
    """Sample entries of every parameter's gradient (half of them among the largest).

    Returns ``{name: [GradCheck, ...]}``; the worst per name is ``max(..., key=rel_error)``.
    """
    model = _as64(model)
    rng = np.random.default_rng(seed)
    _intermediates(model, x, t)
    report = {}
    for name in PARAM_NAMES:
        g = model.grads[name]
        flat = np.abs(g).ravel()
        largest = np.argsort(-flat, kind="stable")[: max(1, samples // 2)]
        rand = rng.choice(flat.size, size=min(flat.size, samples - len(largest)), replace=False)
        picks = list(dict.fromkeys(largest.tolist() + rand.tolist()))
        report[name] = [check_entry(model, x, t, name, np.unravel_index(i, g.shape), step) for i in picks]
    return report
