"""A straightforward NumPy port of the original exercise's training step, for comparison.

This is how the classic MATLAB/Octave code (fprop.m and train.m of the
4-gram exercise) reads when written line for line in NumPy, rows as examples:
every intermediate is a fresh array, the targets become a one-hot matrix, the
cross-entropy is taken from log(p + tiny), the embedding gradient is a
scatter-add with ``np.add.at`` on whole rows, and the momentum update is the
exercise's (``delta ← μ·delta + ∇``, ``w ← w − η·delta``, the gradient
divided by the batch size there). Sigmoid hidden layer only, as in the exercise.

Up to rounding it computes what the project's fast path computes (the
exercise's delta is the project's velocity divided by −η), so the two can be
timed side by side on the same model; tests/test_fast.py checks that they agree.
"""

from __future__ import annotations

import sys

import numpy as np

PARAM_NAMES = ("W_emb", "W_h", "b_h", "W_o", "b_o")
TINY = np.exp(-30)  # the exercise's guard against log(0)


class ReferenceNumpy:
    """The exercise's algorithm on a copy of the parameters (a dict of arrays, as in FourGramModel.params)."""

    def __init__(self, params: dict, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self.w = {k: np.array(params[k], dtype=self.dtype) for k in PARAM_NAMES}
        self.delta = {k: np.zeros_like(v) for k, v in self.w.items()}
        self.expansion = np.eye(self.w["W_o"].shape[1], dtype=self.dtype)  # V×V: column t is the one-hot of t

    def fprop(self, x):
        """Embedding, hidden and output states for contexts x (N, 3)."""
        w = self.w
        n = x.shape[0]
        embedding = w["W_emb"][x.reshape(-1)].reshape(n, -1)  # (N, 3d)
        hidden_in = embedding @ w["W_h"] + w["b_h"]  # (N, H)
        hidden = 1.0 / (1.0 + np.exp(-hidden_in))  # (N, H)
        softmax_in = hidden @ w["W_o"] + w["b_o"]  # (N, V)
        softmax_in = softmax_in - softmax_in.max(axis=1, keepdims=True)
        output = np.exp(softmax_in)
        output = output / output.sum(axis=1, keepdims=True)  # (N, V)
        return embedding, hidden, output

    def train_batch(self, x, t, learning_rate: float, momentum: float) -> float:
        """One minibatch as in train.m; returns its cross-entropy (before the update)."""
        w, delta = self.w, self.delta
        n = x.shape[0]
        d = w["W_emb"].shape[1]
        with np.errstate(over="ignore"):  # exp(−z) for very negative z is inf, and 1/(1+inf) = 0 is right
            embedding, hidden, output = self.fprop(x)
        expanded_target = self.expansion[t]  # (N, V) one-hot
        error_deriv = output - expanded_target  # (N, V)
        ce = -np.sum(expanded_target * np.log(output + TINY)) / n
        grads = {}
        grads["W_o"] = hidden.T @ error_deriv  # (H, V)
        grads["b_o"] = error_deriv.sum(axis=0)
        back_1 = (error_deriv @ w["W_o"].T) * hidden * (1 - hidden)  # (N, H)
        grads["W_h"] = embedding.T @ back_1  # (3d, H)
        grads["b_h"] = back_1.sum(axis=0)
        back_2 = back_1 @ w["W_h"].T  # (N, 3d)
        grads["W_emb"] = np.zeros_like(w["W_emb"])
        np.add.at(grads["W_emb"], x.reshape(-1), back_2.reshape(-1, d))
        for k in PARAM_NAMES:
            delta[k] = momentum * delta[k] + grads[k] / n
            w[k] = w[k] - learning_rate * delta[k]
        return float(ce)

    def evaluate(self, data) -> float:
        """Mean cross-entropy over rows (M, 4)."""
        _, _, output = self.fprop(data[:, :3])
        return float(-np.mean(np.log(output[np.arange(len(data)), data[:, 3]] + TINY)))

    # the protocol of _common.train_like_the_command
    prepare = staticmethod(np.ascontiguousarray)

    def train_rows(self, rows, learning_rate, momentum) -> float:
        return self.train_batch(rows[:, :3], rows[:, 3], learning_rate, momentum)


if __name__ == "__main__":  # trains like `backprop-explorer train`: see _common.train_like_the_command
    from _common import train_like_the_command

    sys.exit(train_like_the_command("exercise's algorithm (NumPy)", lambda params, dtype, lr, mu, threads: ReferenceNumpy(
        params, dtype)))
