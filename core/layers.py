"""Layers with their backward pass next to their forward pass.

Every layer has ``params`` and ``grads``: two dicts of NumPy arrays with the
same keys (empty for layers without parameters). ``forward`` keeps what
``backward`` needs; ``backward(dout)`` fills ``grads`` and returns the gradient
with respect to the layer's input. Shapes are written as comments: N examples,
V words, d embedding size, H hidden units.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "Layer",
    "Embedding",
    "Linear",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "SoftmaxCrossEntropy",
    "make_rng",
    "ACTIVATIONS",
]


def make_rng(seed=None) -> np.random.Generator:
    """A NumPy generator from a seed, a generator (returned as is) or None."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


class Layer:
    """Base class: a layer with no parameters.

    Activations also have ``apply(z)``: the function alone, for callers (a
    prediction, an evaluation) that must not disturb what ``forward`` kept.
    """

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def zero_grad(self) -> None:
        for g in self.grads.values():
            g.fill(0)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={v.shape}" for k, v in self.params.items())
        return f"{type(self).__name__}({shapes})"


class Embedding(Layer):
    """A lookup table: row ``x`` of ``W`` for every index ``x``.

    ``forward(x)`` takes an integer array of any shape and returns that shape
    plus ``dim``. Its backward is a scatter-add: a row looked up several times
    receives the sum of all its contributions.
    """

    def __init__(self, vocab_size: int, dim: int, *, init_std: float = 0.01, rng=None, dtype=np.float64):
        super().__init__()
        rng = make_rng(rng)
        self.vocab_size, self.dim = int(vocab_size), int(dim)
        self.params["W"] = (init_std * rng.standard_normal((self.vocab_size, self.dim))).astype(dtype)
        self.grads["W"] = np.zeros_like(self.params["W"])
        self.x: np.ndarray | None = None

    def forward(self, x) -> np.ndarray:
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.integer):
            raise TypeError(f"embedding indices must be integers, got {x.dtype}")
        if x.size and (x.min() < 0 or x.max() >= self.vocab_size):
            raise IndexError(f"embedding index out of range 0..{self.vocab_size - 1}")
        self.x = x
        return self.params["W"][x]  # x.shape + (d,)

    def backward(self, dout) -> None:
        """Scatter-add ``dout`` (shape ``x.shape + (d,)``) into ``grads['W']``."""
        dW = self.grads["W"]
        dW.fill(0)
        np.add.at(dW, self.x.reshape(-1), np.asarray(dout).reshape(-1, self.dim))  # (V, d)
        return None

    def contributions(self) -> dict[int, list[tuple[int, ...]]]:
        """For every row touched by the last forward: where in ``x`` it was looked up.

        Returns ``{row: [index tuple into x, ...]}`` in row-major order of ``x``;
        for a batch of shape (N, 3) the tuples are ``(example, position)`` pairs.
        The gradient of a row is the sum of ``dout[t]`` over its tuples ``t``.
        """
        x = self.x
        flat = x.reshape(-1)
        order = np.argsort(flat, kind="stable")
        rows, starts = np.unique(flat[order], return_index=True)
        ends = list(starts[1:]) + [flat.size]
        out = {}
        for row, a, b in zip(rows.tolist(), starts.tolist(), ends):
            out[row] = [tuple(int(i) for i in np.unravel_index(k, x.shape)) for k in order[a:b].tolist()]
        return out

    def naive_grad(self, dout) -> np.ndarray:
        """The gradient the overwrite bug produces (``dW[x] = dout``), without touching ``grads``.

        Fancy-index assignment writes each repeated row several times and keeps
        only one of its contributions; ``dW[x] += dout`` behaves the same way.
        """
        dW = np.zeros_like(self.params["W"])
        dW[self.x.reshape(-1)] = np.asarray(dout).reshape(-1, self.dim)
        return dW


class Linear(Layer):
    """``y = x·W + b`` with ``W`` of shape (n_in, n_out) and ``b`` of shape (n_out,)."""

    def __init__(self, n_in: int, n_out: int, *, init_std: float = 0.01, rng=None, dtype=np.float64):
        super().__init__()
        rng = make_rng(rng)
        self.params["W"] = (init_std * rng.standard_normal((int(n_in), int(n_out)))).astype(dtype)
        self.params["b"] = np.zeros(int(n_out), dtype=dtype)
        self.grads["W"] = np.zeros_like(self.params["W"])
        self.grads["b"] = np.zeros_like(self.params["b"])
        self.x: np.ndarray | None = None

    def forward(self, x) -> np.ndarray:
        self.x = x  # (N, n_in)
        return x @ self.params["W"] + self.params["b"]  # (N, n_out)

    def backward_params(self, dout) -> None:
        """dW = xᵀ·dout (n_in, n_out); db = Σₙ dout (n_out,)."""
        np.matmul(self.x.T, dout, out=self.grads["W"])
        np.sum(dout, axis=0, out=self.grads["b"])

    def backward_input(self, dout) -> np.ndarray:
        """dx = dout·Wᵀ (N, n_in)."""
        return dout @ self.params["W"].T

    def backward(self, dout) -> np.ndarray:
        self.backward_params(dout)
        return self.backward_input(dout)


class Sigmoid(Layer):
    """The logistic function σ(z) = 1/(1+e⁻ᶻ); σ' = σ(1−σ)."""

    formula = "σ(z) = 1/(1+e^(−z))"
    derivative = "h ⊙ (1−h)"

    @staticmethod
    def apply(z) -> np.ndarray:
        """σ(z) without keeping anything for backward.

        With u = e^(−|z|) ≤ 1 nothing overflows: σ(z) = 1/(1+u) for z ≥ 0 and
        u/(1+u) for z < 0. Both keep full relative precision, also far out on
        the negative side where 1 − σ(−z) would cancel to 0.
        """
        z = np.asarray(z)
        u = np.exp(-np.abs(z))
        return np.where(z >= 0, 1.0, u) / (1.0 + u)

    def forward(self, x) -> np.ndarray:
        self.out = self.apply(x)
        return self.out

    def backward(self, dout) -> np.ndarray:
        h = self.out
        return dout * h * (1.0 - h)


class Tanh(Layer):
    """tanh(z); tanh' = 1 − tanh²."""

    formula = "tanh(z)"
    derivative = "(1−h²)"

    @staticmethod
    def apply(z) -> np.ndarray:
        """tanh(z) without keeping anything for backward."""
        return np.tanh(z)

    def forward(self, x) -> np.ndarray:
        self.out = self.apply(x)
        return self.out

    def backward(self, dout) -> np.ndarray:
        return dout * (1.0 - self.out * self.out)


class ReLU(Layer):
    """max(0, z); its derivative is 1 where z > 0, else 0."""

    formula = "max(0, z)"
    derivative = "[z > 0]"

    @staticmethod
    def apply(z) -> np.ndarray:
        """max(0, z) without keeping anything for backward."""
        z = np.asarray(z)
        return np.where(z > 0, z, 0).astype(z.dtype, copy=False)

    def forward(self, x) -> np.ndarray:
        x = np.asarray(x)
        self.mask = x > 0
        return self.apply(x)

    def backward(self, dout) -> np.ndarray:
        return dout * self.mask


ACTIVATIONS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU}


class SoftmaxCrossEntropy(Layer):
    """Row-wise softmax followed by the mean cross-entropy against integer targets.

    ``forward(logits, targets)`` returns L = −(1/N) Σₙ log p[n, tₙ], computed
    through log-sum-exp (the row maximum is subtracted first, so nothing
    overflows); it keeps ``p``. ``backward()`` returns (p − onehot)/N.
    """

    def forward(self, logits, targets) -> float:
        z = np.asarray(logits)  # (N, V)
        t = np.asarray(targets)
        if z.ndim != 2:
            raise ValueError(f"logits must be 2-D (N, V), got shape {z.shape}")
        if t.shape != (z.shape[0],) or not np.issubdtype(t.dtype, np.integer):
            raise ValueError(f"targets must be {z.shape[0]} integers, got {t.dtype} {t.shape}")
        if t.size and (t.min() < 0 or t.max() >= z.shape[1]):
            raise IndexError(f"target out of range 0..{z.shape[1] - 1}")
        shifted = z - z.max(axis=1, keepdims=True)  # (N, V), every row's max is 0
        log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (N, 1)
        log_p = shifted - log_norm  # (N, V)
        self.p = np.exp(log_p)  # (N, V)
        self.targets = t
        self.loss = float(-log_p[np.arange(t.size), t].mean())
        return self.loss

    def backward(self, dout: float = 1.0) -> np.ndarray:
        n = self.targets.size
        dz = self.p.copy()  # (N, V)
        dz[np.arange(n), self.targets] -= 1.0
        dz *= dout / n
        return dz
