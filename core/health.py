"""Gradient health: per layer, over training, how large the gradients are and how far each update moves the weights.

Depth makes some things visible that one hidden layer hides: through sigmoid
layers the gradients shrink by a factor at every layer going back (σ′ ≤ ¼), so
the first layer of a deep sigmoid network learns orders of magnitude more
slowly than the last; through ReLU layers they do not shrink that way, but
units can die. A ``Health`` keeps, for one network, a reading every so often:

* ``grad_norm``: ‖dW‖, the Frobenius norm of each weight layer's gradient
  (every hidden layer's W, then W_o; the embedding's gradient is never formed
  by the fast path, so it is not among them);
* ``update_ratio``: ‖ΔW‖ / ‖W‖, how far this step moved the weights relative
  to their size (ΔW is the new momentum velocity, the change the update
  adds). About ``GUIDE_RATIO`` (1e-3) is the usual rule of thumb: far below,
  the layer hardly learns; far above, training is unstable;
* ``saturation``: each hidden layer's activation measures itself
  (``Activation.saturation``): the fraction of σ or tanh outputs beyond 0.99
  of their range, the fraction of ReLU units that are 0 for every example of
  the minibatch (dead). NaN for an activation that defines no such measure;

and, for the latest reading only, copies of every hidden layer's output h and
every weight layer's gradient dW, for histograms.

Readings cost a few norms of the weight matrices and two copies. The stepper
records one after every stepped minibatch (``record_model``); run mode one
every ``every`` minibatches, from the fast path's own arrays
(``record_fast``: its buffers hold the last minibatch's h, its steps −η·dW,
its velocities ΔW), so training is not slowed (see BENCHMARKS.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .layers import Activation, Linear

HEALTH_EVERY = 10  # runs: one reading every this many minibatches (``Health.every``; 0: none)
GUIDE_RATIO = 1e-3  # the usual guide for ‖ΔW‖ / ‖W‖
QUANTITIES = ("grad_norm", "update_ratio", "saturation")


@dataclass(frozen=True)
class Reading:
    """One reading, after ``step`` minibatches."""

    step: int
    grad_norm: np.ndarray  # (weight layers,)
    update_ratio: np.ndarray  # (weight layers,)
    saturation: np.ndarray  # (hidden layers,), NaN where the activation measures nothing


def norm(a: np.ndarray) -> float:
    """The Frobenius norm, as one dot product (no temporary array for a contiguous one)."""
    flat = a.reshape(-1)
    return math.sqrt(float(np.dot(flat, flat)))


class Health:
    """The readings of one network (``model``), oldest first; see the module docstring.

    ``weights``: the weight layers' parameter names ("W_h1", ..., "W_o");
    ``labels``: their names on screen ("hidden 1", ..., "output");
    ``hidden``: the hidden layers' labels, ``activations`` their activation
    classes; ``h`` and ``grads``: the arrays of the latest reading (one per
    hidden layer, one per weight layer); ``version`` grows with every change.
    """

    def __init__(self, model, every: int = HEALTH_EVERY):
        linear = [layer for layer in model.layers if isinstance(layer, Linear)]
        acts = [layer for layer in model.layers if isinstance(layer, Activation)]
        self.weights = tuple(layer.names.W for layer in linear)
        self.labels = tuple(layer.names.box.replace("_", " ") for layer in linear)
        self.hidden = tuple(layer.names.box.replace("_", " ") for layer in acts)
        self.activations = tuple(type(layer) for layer in acts)
        self._acts = acts
        self.every = int(every)
        self.readings: list[Reading] = []
        self.h: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.version = 0

    # ---- reading ----------------------------------------------------------------------------
    def _record(self, step, weights, grads, updates, hs, grad_scale: float = 1.0) -> Reading:
        grad_norm = np.array([norm(g) for g in grads]) * abs(grad_scale)
        ratio = np.array([norm(u) / w if w > 0 else math.nan for u, w in zip(updates, map(norm, weights))])
        sat = np.array([math.nan if (s := cls.saturation(h)) is None else s for cls, h in zip(self.activations, hs)])
        reading = Reading(int(step), grad_norm, ratio, sat)
        if len(self.h) != len(hs) or any(a.shape != h.shape or a.dtype != h.dtype for a, h in zip(self.h, hs)):
            self.h = [np.empty_like(h) for h in hs]
            self.grads = [np.empty_like(g) for g in grads]
        for out, h in zip(self.h, hs):
            np.copyto(out, h)
        for out, g in zip(self.grads, grads):
            np.multiply(g, grad_scale, out=out)
        self.readings.append(reading)
        self.version += 1
        return reading

    def record_model(self, step: int, model) -> Reading:
        """A reading of the stepped minibatch just updated: the model's gradients, velocities and outputs."""
        return self._record(step, [model.params[w] for w in self.weights], [model.grads[w] for w in self.weights],
                            [model.velocity[w] for w in self.weights], [layer.out for layer in self._acts])

    def record_fast(self, step: int, fast, learning_rate: float) -> Reading:
        """A reading of the fast path's last minibatch: its steps are −η·dW, its velocities ΔW, its buffers h."""
        b = fast.last
        return self._record(step, [fast.params[w] for w in self.weights], [fast.steps[w] for w in self.weights],
                            [fast.velocity[w] for w in self.weights], b.acts, grad_scale=-1.0 / learning_rate)

    # ---- what is recorded ---------------------------------------------------------------------
    @property
    def step(self) -> int | None:
        """The step of the latest reading (None before the first)."""
        return self.readings[-1].step if self.readings else None

    def series(self, quantity: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps (R,), values (R, layers)) of one of ``QUANTITIES`` over every reading."""
        if quantity not in QUANTITIES:
            raise KeyError(f"no quantity called {quantity!r}: one of {', '.join(QUANTITIES)}")
        width = len(self.hidden) if quantity == "saturation" else len(self.weights)
        steps = np.array([r.step for r in self.readings], dtype=np.int64)
        values = np.array([getattr(r, quantity) for r in self.readings], dtype=np.float64).reshape(len(steps), width)
        return steps, values

    def truncate(self, step: int) -> None:
        """Forget the readings after ``step`` minibatches (a roll-back, an interrupted run)."""
        keep = [r for r in self.readings if r.step <= step]
        if len(keep) != len(self.readings):
            self.readings = keep
            self.h, self.grads = [], []  # the latest arrays were of a minibatch now undone
            self.version += 1


__all__ = ["Health", "Reading", "HEALTH_EVERY", "GUIDE_RATIO", "QUANTITIES", "norm"]


REFERENCE_BATCH = 100  # the minibatch size the default learning rate is set for (Config's default)


def loss_above_uniform(loss: float, p, t, vocab, batch_size: int, learning_rate: float) -> str | None:
    """Why a minibatch's loss is above a uniform guess's (ln V), from its own p and t; None when it is not.

    The loss is the mean of −log p[n, tₙ]: above ln V, the network gives the
    targets less than 1/V on average, because it is sure of other words. The
    sentence names the example whose target gets the least probability, the
    word it bets on instead, and, for a minibatch smaller than
    ``REFERENCE_BATCH``, the cause usual here: the learning rate moves each
    example's target ``REFERENCE_BATCH / batch_size`` times as far (the loss
    is a mean over the minibatch, so its gradient per example is 1/N of it).
    """
    p = np.asarray(p, dtype=np.float64)
    t = np.asarray(t)
    V = p.shape[1]
    ln_v = math.log(V)
    if not (math.isfinite(loss) and loss > ln_v) or not len(t):
        return None
    n = int(np.argmin(p[np.arange(len(t)), t]))
    top = int(np.argmax(p[n]))
    text = (
        f"L = {loss:.3f} is above a uniform guess's (ln {V} = {ln_v:.2f}): the targets get less than "
        f"1/{V} (geometric mean) because the network is sure of other words (example {n}: p = {p[n, top]:.2g} on "
        f"'{vocab[top]}', {p[n, t[n]]:.2g} on its target '{vocab[int(t[n])]}')."
    )
    if batch_size < REFERENCE_BATCH:
        text += (
            f" With {batch_size} examples a minibatch, the learning rate {learning_rate:g} (set for "
            f"{REFERENCE_BATCH}) moves each example's target {REFERENCE_BATCH / batch_size:g} times as far, so a "
            "few minibatches make the network sure of the targets they showed it."
        )
    return text
