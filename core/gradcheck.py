"""Gradient checking: analytic gradients against central finite differences, in float64, at any depth.

For a parameter entry θᵢ the numeric derivative is the central difference

    (L(θᵢ + h) − L(θᵢ − h)) / 2h

of the loss on the same minibatch. Computed naively, the two losses (about 5)
would each carry ~1e-15 of rounding, as much as the whole change when a
gradient entry is tiny. So the perturbation is pushed forward as a *change*,
layer by layer (each layer's ``param_change`` and ``change``, in
core/layers.py: Δe → Δz → Δh → ... → Δz_o), and the loss difference is
accumulated relative to the unperturbed logits (``loss_difference``): still
exactly L(θᵢ + h) − L(θᵢ − h), without the rounding. The same works for an
entry of an intermediate array (e, every z and h, z_o), so the check covers
the gradients of those too (de, dz_h, dh, dz_o, ...).

What can be checked is named by the model's registry: a parameter (``W_o``)
or its gradient's name (``dW_o``), or the gradient of an intermediate array
(``dz_h``); ``checkable(model)`` lists them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .layers import Activation
from .model import FourGramModel

DEFAULT_STEP = 1e-4
# Verdicts by relative error; float64 central differences on this model land far below 1e-6.
GOOD, DOUBTFUL = 1e-6, 1e-3


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


# ---- what can be checked ------------------------------------------------------------------------


def checkable(model: FourGramModel) -> tuple[str, ...]:
    """The names ``check_entry`` takes: every parameter, then the intermediate gradients in backward order."""
    inter = [s.name for s in model.specs.values()
             if s.role == "gradient" and s.of in model.specs and model.specs[s.of].role == "forward"]
    return (*model.params, *inter)


def gradient_name(model: FourGramModel, name: str) -> str:
    """The array on screen a check is about: dW_o for W_o; an intermediate gradient's own name."""
    if name in model.params:
        return next(s.name for s in model.specs.values() if s.role == "gradient" and s.of == name)
    return name


def checked_name(model: FourGramModel, name: str) -> str:
    """The name ``check_entry`` uses for ``name``: W_o for W_o or dW_o; dz_h for dz_h. KeyError otherwise."""
    spec = model.specs.get(name)
    if name in model.params:
        return name
    if spec is not None and spec.role == "gradient":
        return spec.of if spec.of in model.params else name
    raise KeyError(f"no gradient named {name!r}")


def gradient_shape(model: FourGramModel, name: str, batch_size: int | None = None) -> tuple[int, ...]:
    """Shape of the gradient ``name`` (a parameter's, or an intermediate's for one minibatch)."""
    return model.shape_of(gradient_name(model, checked_name(model, name)), batch_size)


# ---- the check --------------------------------------------------------------------------------------


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


def _outputs(model: FourGramModel, x, t) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Forward and backward once (filling ``grads``): every layer's output (e first, z_o last) and its gradient."""
    outs, a = [], x
    for layer in model.layers:
        a = layer.forward(a)
        outs.append(a)
    model.loss_layer.forward(a, t)
    grads = [None] * len(outs)
    g = grads[-1] = model.loss_layer.backward()  # dz_o
    for k in reversed(range(len(model.layers))):
        g = model.layers[k].backward(g)  # the gradient of the layer's input, the output of the one before
        if k:
            grads[k - 1] = g
    return outs, grads


def _start(model: FourGramModel, name: str):
    """Where a perturbation of ``name`` enters: (layer position, its parameter key or None for an output)."""
    if name in model.params:
        for k, layer in enumerate(model.layers):
            if name in layer.param_names:
                return k, layer.param_names[name]
    spec = model.specs.get(name)
    if spec is not None and spec.role == "gradient" and spec.of in model.specs:
        base = model.specs[spec.of]
        if base.role == "forward" and base.owner in model.layers:
            return model.layers.index(base.owner), None
    raise KeyError(f"no gradient named {name!r}")


def _logit_change(model: FourGramModel, x, outs, start, index, delta: float):
    """How z_o changes when the entry moves by ``delta``: (Δz_o, [(activation, its input, Δ input), ...]).

    The change is pushed forward layer by layer from where it enters, each
    step exact up to rounding of the change itself; the model is not modified.
    """
    k, key = start
    if key is None:
        d = np.zeros_like(outs[k])
        d[index] = delta
    else:
        below = x if k == 0 else outs[k - 1]
        d = model.layers[k].param_change(key, index, delta, below)
    crossings = []
    for j in range(k + 1, len(model.layers)):
        layer = model.layers[j]
        if isinstance(layer, Activation) and layer.kinks:
            crossings.append((layer, outs[j - 1], d))
        d = layer.change(outs[j - 1], d)
    return d, crossings


def _crosses_a_kink(up, down) -> bool:
    """True when some activation's input passes one of its kinks between the two points."""
    for (layer, z, dz_up), (_, _, dz_down) in zip(up, down):
        for c in layer.kinks:
            base = z > c
            if ((z + dz_up > c) != base).any() or ((z + dz_down > c) != base).any():
                return True
    return False


def check_entry(model: FourGramModel, x, t, name: str, index, step: float = DEFAULT_STEP) -> GradCheck:
    """Check one entry of a gradient: a parameter's (``W_o`` or ``dW_o``) or an intermediate's (``dz_h``).

    The check runs on a float64 copy: the model, its gradients and its layers
    are left exactly as they were.
    """
    return _check_entry(_private_copy(model), x, t, checked_name(model, name), index, step)


def _check_entry(model: FourGramModel, x, t, name: str, index, step: float, recorded=None) -> GradCheck:
    x = np.asarray(x)
    t = np.asarray(t)
    index = tuple(int(i) for i in np.atleast_1d(index))
    start = _start(model, name)
    outs, grads = _outputs(model, x, t) if recorded is None else recorded
    analytic = float((model.grads[name] if start[1] is not None else grads[start[0]])[index])
    for _ in range(4):
        dz_up, up = _logit_change(model, x, outs, start, index, step)
        dz_down, down = _logit_change(model, x, outs, start, index, -step)
        # An input that crosses a kink (ReLU at 0) between the two points has no derivative there:
        # retry with a smaller step.
        if not _crosses_a_kink(up, down):
            break
        step /= 10
    numeric = loss_difference(dz_up, dz_down, outs[-1], t) / (2 * step)
    return GradCheck(name, index, analytic, numeric, step)


def sample_entries(grad: np.ndarray, samples: int, rng: np.random.Generator) -> list[tuple[int, ...]]:
    """Entries to check in one gradient: half among the largest in magnitude, the rest at random."""
    flat = np.abs(grad).ravel()
    largest = np.argsort(-flat, kind="stable")[: max(1, samples // 2)]
    rand = rng.choice(flat.size, size=min(flat.size, samples - len(largest)), replace=False)
    picks = dict.fromkeys(largest.tolist() + rand.tolist())
    return [tuple(int(i) for i in np.unravel_index(k, grad.shape)) for k in picks]


def plan_check_all(model: FourGramModel, x, t, samples: int = 20, seed: int = 0):
    """What ``check_all`` checks: a float64 copy, [(parameter, index), ...] in order, and its recorded pass.

    The window runs the same plan in pieces (``CheckAll``), so its report is check_all's.
    """
    model = _private_copy(model)
    x = np.asarray(x)
    t = np.asarray(t)
    recorded = _outputs(model, x, t)
    rng = np.random.default_rng(seed)
    todo = [(name, index) for name in model.params for index in sample_entries(model.grads[name], samples, rng)]
    return model, todo, recorded


class CheckAll:
    """``check_all`` as a job that can run a piece at a time (``step``, ``run_for``), with the same entries and
    results; ``seconds`` is the time spent checking so far."""

    def __init__(self, model: FourGramModel, x, t, samples: int = 20, seed: int = 0, step: float = DEFAULT_STEP):
        self.model, self.todo, self.recorded = plan_check_all(model, x, t, samples, seed)
        self.x, self.t, self.step_size = np.asarray(x), np.asarray(t), step
        self.results: dict[str, list[GradCheck]] = {name: [] for name in self.model.params}
        self.last_of = {name: i for i, (name, _) in enumerate(self.todo)}  # name → its last entry in todo
        self.done = 0
        self.seconds = 0.0

    @property
    def total(self) -> int:
        return len(self.todo)

    @property
    def finished(self) -> bool:
        return self.done >= len(self.todo)

    def step(self) -> str | None:
        """Check the next entry; returns its parameter's name when that was the parameter's last entry."""
        name, index = self.todo[self.done]
        self.results[name].append(_check_entry(self.model, self.x, self.t, name, index, self.step_size, self.recorded))
        self.done += 1
        return name if self.done - 1 == self.last_of[name] else None

    def run_for(self, seconds: float) -> list[str]:
        """Check entries for about ``seconds`` (at least one); returns the parameters completed meanwhile."""
        start = time.perf_counter()
        completed = []
        while not self.finished:
            name = self.step()
            if name is not None:
                completed.append(name)
            if time.perf_counter() - start >= seconds:
                break
        self.seconds += time.perf_counter() - start
        return completed


def check_all(model: FourGramModel, x, t, samples: int = 20, seed: int = 0, step: float = DEFAULT_STEP):
    """Sample entries of every parameter's gradient (half of them among the largest).

    Returns ``{name: [GradCheck, ...]}``; the worst per name is ``max(..., key=rel_error)``.
    """
    job = CheckAll(model, x, t, samples, seed, step)
    while not job.finished:
        job.step()
    return job.results
