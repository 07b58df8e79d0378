"""A strong NumPy port: the training step as a competent NumPy user writes it, for comparison.

Where bench/reference_numpy.py is the exercise's algorithm line for line (a
one-hot target matrix, fresh arrays everywhere), this is the straightforward
port someone who knows NumPy writes without tuning it for this project:

* float32, rows as examples, the weights and velocities kept in place;
* no one-hot matrix: the softmax's ``p`` becomes ``p − Y`` by subtracting 1 at
  the target entries in place, and the cross-entropy is read at those entries;
* in-place operations where they come naturally (``+= b``, ``exp(out=)``,
  ``/= Σ``, ``*= h·(1 − h)``, ``v *= μ; v -= η·g; w += v``): no needless copies;
* the embedding gradient with ``np.add.at`` on whole rows;
* the softmax shifted by each row's maximum, as everyone writes it;
* NumPy's BLAS left to use as many threads as it is given
  (``OPENBLAS_NUM_THREADS``, set before NumPy is imported).

The update is v ← μ·v − η·∇, w ← w + v (the exercise's trajectory, and the
project's). Up to rounding it computes what the project's fast path computes;
tests/test_fast.py checks it in float64.

Run on its own it trains like ``backprop-explorer train`` (the same initial
weights, minibatch order and validation passes) and prints the same final
lines; bench/train_throughput.py ``--whole-process`` times it that way:

    OPENBLAS_NUM_THREADS=2 uv run python bench/reference_numpy_strong.py --data ../shared/data/hinton --epochs 2
"""

from __future__ import annotations

import sys

import numpy as np

PARAM_NAMES = ("W_emb", "W_h", "b_h", "W_o", "b_o")
EVAL_ROWS = 2048  # rows per forward pass when evaluating a whole set


class ReferenceNumpyStrong:
    """The step on a copy of the parameters (a dict of arrays, as in FourGramModel.params)."""

    def __init__(self, params: dict, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self.w = {k: np.array(params[k], dtype=self.dtype) for k in PARAM_NAMES}
        self.v = {k: np.zeros_like(a) for k, a in self.w.items()}

    def fprop(self, x):
        """e (N, 3d), h (N, H) and p (N, V) for contexts x (N, 3)."""
        w = self.w
        n = len(x)
        e = w["W_emb"][x].reshape(n, -1)
        h = e @ w["W_h"]
        h += w["b_h"]
        np.negative(h, out=h)
        np.exp(h, out=h)
        h += 1
        np.reciprocal(h, out=h)  # σ = 1 / (1 + exp(−z))
        z = h @ w["W_o"]
        z += w["b_o"]
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return e, h, z

    def train_batch(self, x, t, learning_rate: float, momentum: float) -> float:
        """One minibatch; returns its mean cross-entropy (before the update)."""
        w, v = self.w, self.v
        n = len(x)
        with np.errstate(over="ignore"):  # exp(−z) = inf for very negative z: σ = 1/inf = 0, right
            e, h, p = self.fprop(x)
        rows = np.arange(n)
        ce = -np.log(p[rows, t]).mean()
        p[rows, t] -= 1  # p − Y
        p /= n  # dz_o
        g = {"W_o": h.T @ p, "b_o": p.sum(axis=0)}
        dz = p @ w["W_o"].T  # dh
        dz *= h
        dz *= 1 - h  # dz_h = dh ⊙ σ′
        g["W_h"] = e.T @ dz
        g["b_h"] = dz.sum(axis=0)
        de = dz @ w["W_h"].T  # (N, 3d)
        g["W_emb"] = np.zeros_like(w["W_emb"])
        np.add.at(g["W_emb"], x.reshape(-1), de.reshape(-1, w["W_emb"].shape[1]))
        for k in PARAM_NAMES:
            v[k] *= momentum
            v[k] -= learning_rate * g[k]
            w[k] += v[k]
        return float(ce)

    def evaluate(self, data) -> float:
        """Mean cross-entropy over rows (M, 4), EVAL_ROWS at a time."""
        total = 0.0
        with np.errstate(over="ignore"):
            for a in range(0, len(data), EVAL_ROWS):
                chunk = data[a : a + EVAL_ROWS]
                _, _, p = self.fprop(chunk[:, :3])
                total -= float(np.log(p[np.arange(len(chunk)), chunk[:, 3]]).sum())
        return total / len(data)

    # the protocol of _common.train_like_the_command
    prepare = staticmethod(np.ascontiguousarray)

    def train_rows(self, rows, learning_rate, momentum) -> float:
        return self.train_batch(rows[:, :3], rows[:, 3], learning_rate, momentum)


if __name__ == "__main__":
    from _common import train_like_the_command

    sys.exit(train_like_the_command("strong NumPy port", lambda params, dtype, lr, mu, threads: ReferenceNumpyStrong(
        params, dtype)))
