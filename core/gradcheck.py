"""Gradient checking: analytic gradients against central finite differences, in float64.

For a parameter entry θᵢ the numeric derivative is the central difference

    (L(θᵢ + h) − L(θᵢ − h)) / 2h

of the loss on the same minibatch. Computed naively, the two losses (about 5)
would each carry ~1e-15 of rounding, as much as the whole change when a
gradient entry is tiny. So the perturbation is pushed forward as a *change*
(Δe → Δz_h → Δh → Δz_o, see ``_logit_change``) and the loss difference is
accumulated relative to the unperturbed logits (``loss_difference``): still
exactly L(θᵢ + h) − L(θᵢ − h), without the rounding. The same works for an
entry of an intermediate array (z_o, h, z_h, e), so the check covers dz_o,
dh, dz_h and de as well.
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


def _private_copy(model: FourGramModel) -> FourGramModel:
    """A float64 copy of ``model`` to differentiate.

    The check runs its own forward and backward passes; on the live model they
    would overwrite its gradients and what its layers kept for backward, and a
    check made while a minibatch is paused between two stages would change
    that minibatch.
    """
    copy = FourGramModel(model.vocab, model.config, dtype=np.float64)
    copy.load_state(model.state())
    return copy


def activation_change(activation: str, z: np.ndarray, dz: np.ndarray) -> np.ndarray:
    """act(z + dz) − act(z) for the named activation, accurate even when dz is tiny.

    Subtracting two activations near 0.5 (a sigmoid) loses everything below
    about 1e-17; the identity tanh(a+δ) − tanh(a) = sinh δ / (cosh(a+δ)·cosh a)
    keeps full relative precision (σ(z) = (1 + tanh(z/2))/2).
    """
    if activation == "relu":
        return np.maximum(z + dz, 0.0) - np.maximum(z, 0.0)
    scale = 0.5 if activation == "sigmoid" else 1.0
    a, d = scale * z, scale * dz
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.sinh(d) / (np.cosh(a + d) * np.cosh(a))
    bad = ~np.isfinite(out)
    if bad.any():  # cosh overflowed far out on the flat tails: subtract directly
        out[bad] = np.tanh(a + d)[bad] - np.tanh(a)[bad]
    return scale * out


def loss_difference(dz_up: np.ndarray, dz_down: np.ndarray, z_base: np.ndarray, t) -> float:
    """L(z_base + dz_up) − L(z_base + dz_down) for the mean cross-entropy L, without losing it to rounding.

    Subtracting two losses of about 5 computed separately leaves about 1e-15 of
    rounding noise, as large as the whole change when a gradient entry is 1e-10.
    Here each loss is written relative to the unperturbed logits,
    lse(z_base + δ) − lse(z_base) = log1p(Σᵢ p_base,ᵢ · expm1(δᵢ)),
    and only the changes δ (computed directly, never as a difference of two
    large logits) are ever rounded.
    """
    n = z_base.shape[0]
    rows = np.arange(n)
    shifted = z_base - z_base.max(axis=1, keepdims=True)
    p = np.exp(shifted)
    p /= p.sum(axis=1, keepdims=True)

    def lse_change(dz):
        return np.log1p((p * np.expm1(dz)).sum(axis=1))  # (N,)

    per_example = (lse_change(dz_up) - lse_change(dz_down)) - (dz_up[rows, t] - dz_down[rows, t])
    return float(per_example.mean())


def _logit_change(model: FourGramModel, x, inter, name: str, index, delta: float):
    """How z_o and z_h change when entry ``index`` of ``name`` moves by ``delta``: (Δz_o, Δz_h or None).

    The change is pushed forward layer by layer (Δe → Δz_h → Δh → Δz_o), each
    step exact up to rounding of the change itself; the model is not modified.
    """
    P = model.params
    d = P["W_emb"].shape[1]
    act = model.config.activation
    dz_o = d_h = dz_h = d_e = None
    if name in ("W_o", "b_o"):
        j, v = index if name == "W_o" else (None, index[0])
        dz_o = np.zeros_like(inter["z_o"])
        dz_o[:, v] = delta * (inter["h"][:, j] if name == "W_o" else 1.0)
    elif name == "dz_o":
        dz_o = np.zeros_like(inter["z_o"])
        dz_o[index] = delta
    elif name == "dh":
        d_h = np.zeros_like(inter["h"])
        d_h[index] = delta
    elif name in ("W_h", "b_h", "dz_h"):
        dz_h = np.zeros_like(inter["z_h"])
        if name == "W_h":
            i, j = index
            dz_h[:, j] = delta * inter["e"][:, i]
        elif name == "b_h":
            dz_h[:, index[0]] = delta
        else:
            dz_h[index] = delta
    elif name in ("W_emb", "de"):
        d_e = np.zeros_like(inter["e"])
        if name == "W_emb":
            v, i = index
            for k in range(CONTEXT):
                d_e[x[:, k] == v, k * d + i] = delta
        else:
            d_e[index] = delta
    else:
        raise KeyError(f"no gradient named {name!r}")
    if d_e is not None:
        dz_h = d_e @ P["W_h"]  # (N, H)
    if dz_h is not None:
        d_h = activation_change(act, inter["z_h"], dz_h)  # (N, H)
    if d_h is not None:
        dz_o = d_h @ P["W_o"]  # (N, V)
    return dz_o, dz_h


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

    The check runs on a float64 copy: the model, its gradients and its layers
    are left exactly as they were.
    """
    return _check_entry(_private_copy(model), x, t, name, index, step)


def _check_entry(model: FourGramModel, x, t, name: str, index, step: float) -> GradCheck:
    x = np.asarray(x)
    t = np.asarray(t)
    index = tuple(int(i) for i in np.atleast_1d(index))
    inter = _intermediates(model, x, t)
    if name in PARAM_NAMES:
        analytic = float(model.grads[name][index])
    elif name in INTERMEDIATE_OF:
        analytic = float(inter[name][index])
    else:
        raise KeyError(f"no gradient named {name!r}")
    kink = model.config.activation == "relu"
    for _ in range(4):
        dz_up, dzh_up = _logit_change(model, x, inter, name, index, step)
        dz_down, dzh_down = _logit_change(model, x, inter, name, index, -step)
        # A ReLU unit whose input crosses 0 between the two points has no
        # derivative there: retry with a smaller step.
        if not kink or dzh_up is None or not _crosses_zero(inter["z_h"], dzh_up, dzh_down):
            break
        step /= 10
    numeric = loss_difference(dz_up, dz_down, inter["z_o"], t) / (2 * step)
    return GradCheck(name, index, analytic, numeric, step)


def _crosses_zero(z, up, down) -> bool:
    base = z > 0
    return bool(((z + up > 0) != base).any() or ((z + down > 0) != base).any())


def sample_entries(grad: np.ndarray, samples: int, rng: np.random.Generator) -> list[tuple[int, ...]]:
    """Entries to check in one gradient: half among the largest in magnitude, the rest at random."""
    flat = np.abs(grad).ravel()
    largest = np.argsort(-flat, kind="stable")[: max(1, samples // 2)]
    rand = rng.choice(flat.size, size=min(flat.size, samples - len(largest)), replace=False)
    picks = dict.fromkeys(largest.tolist() + rand.tolist())
    return [tuple(int(i) for i in np.unravel_index(k, grad.shape)) for k in picks]


def check_all(model: FourGramModel, x, t, samples: int = 20, seed: int = 0, step: float = DEFAULT_STEP):
    """Sample entries of every parameter's gradient (half of them among the largest).

    Returns ``{name: [GradCheck, ...]}``; the worst per name is ``max(..., key=rel_error)``.
    """
    model = _private_copy(model)
    x = np.asarray(x)
    t = np.asarray(t)
    rng = np.random.default_rng(seed)
    _intermediates(model, x, t)
    report = {}
    for name in PARAM_NAMES:
        picks = sample_entries(model.grads[name], samples, rng)
        report[name] = [_check_entry(model, x, t, name, index, step) for index in picks]
    return report
