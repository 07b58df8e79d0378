"""The fast path: whole minibatches with the model's mathematics and no recording.

``FastPath`` keeps its own copy of the parameters and velocities (float32 by
default) and trains on it; ``Trainer`` copies the model in before a run and the
result back after it. The mathematics is the stepper's, step for step, so in
float64 both paths give the same weights after the same batches.
"""

from __future__ import annotations

import numpy as np

from .model import CONTEXT, PARAM_NAMES, FourGramModel


class FastPath:
    def __init__(self, model: FourGramModel, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self.activation = model.config.activation
        self.shapes = {k: v.shape for k, v in model.params.items()}
        self.params = {k: np.zeros(s, self.dtype) for k, s in self.shapes.items()}
        self.velocity = {k: np.zeros(s, self.dtype) for k, s in self.shapes.items()}
        self.grads = {k: np.zeros(s, self.dtype) for k, s in self.shapes.items()}
        self.version = -1
        self.load(model)

    def load(self, model: FourGramModel) -> None:
        for k in PARAM_NAMES:
            self.params[k][...] = model.params[k]
            self.velocity[k][...] = model.velocity[k]
        self.version = model.version

    def store(self, model: FourGramModel) -> None:
        for k in PARAM_NAMES:
            model.params[k][...] = self.params[k]
            model.velocity[k][...] = self.velocity[k]
        model.version += 1
        self.version = model.version

    def all_finite(self) -> bool:
        return all(np.isfinite(v.sum()) for v in self.params.values())

    def _hidden(self, e):
        z = e @ self.params["W_h"]
        z += self.params["b_h"]
        if self.activation == "sigmoid":
            return 0.5 * (1.0 + np.tanh(0.5 * z)), None
        if self.activation == "tanh":
            return np.tanh(z), None
        mask = z > 0
        return z * mask, mask

    def train_batch(self, x, t, learning_rate: float, momentum: float) -> float:
        """One minibatch: forward, backward, momentum update. Returns the batch's mean CE."""
        P, G = self.params, self.grads
        n = x.shape[0]
        d = self.shapes["W_emb"][1]
        e = P["W_emb"][x].reshape(n, CONTEXT * d)  # (N, 3d)
        h, mask = self._hidden(e)  # (N, H)
        z_o = h @ P["W_o"]  # (N, V)
        z_o += P["b_o"]
        z_o -= z_o.max(axis=1, keepdims=True)
        rows = np.arange(n)
        z_t = z_o[rows, t]  # (N,)
        np.exp(z_o, out=z_o)
        s = z_o.sum(axis=1)  # (N,)
        loss = float(np.mean(np.log(s) - z_t))
        z_o /= s[:, None]  # p
        z_o[rows, t] -= 1.0
        z_o *= 1.0 / n  # dz_o (N, V)
        np.matmul(h.T, z_o, out=G["W_o"])
        np.sum(z_o, axis=0, out=G["b_o"])
        dh = z_o @ P["W_o"].T  # (N, H)
        if self.activation == "sigmoid":
            dh *= h * (1.0 - h)
        elif self.activation == "tanh":
            dh *= 1.0 - h * h
        else:
            dh *= mask
        np.matmul(e.T, dh, out=G["W_h"])
        np.sum(dh, axis=0, out=G["b_h"])
        de = dh @ P["W_h"].T  # (N, 3d)
        G["W_emb"].fill(0)
        np.add.at(G["W_emb"], x.reshape(-1), de.reshape(-1, d))
        for k in PARAM_NAMES:
            v = self.velocity[k]
            v *= momentum
            v -= learning_rate * G[k]
            P[k] += v
        return loss

    def evaluate(self, data, batch: int = 8192) -> float:
        """Mean cross-entropy over rows (M, 4) of data."""
        if len(data) == 0:
            return float("nan")
        P = self.params
        d = self.shapes["W_emb"][1]
        total = 0.0
        for a in range(0, len(data), batch):
            chunk = data[a : a + batch]
            x, t = chunk[:, :CONTEXT], chunk[:, CONTEXT]
            n = len(chunk)
            h, _ = self._hidden(P["W_emb"][x].reshape(n, CONTEXT * d))
            z = h @ P["W_o"] + P["b_o"]
            z -= z.max(axis=1, keepdims=True)
            lse = np.log(np.exp(z).sum(axis=1))
            total += float(np.sum(lse - z[np.arange(n), t], dtype=np.float64))
        return total / len(data)
