"""The same model in PyTorch (CPU), for comparison. Never imported by the app.

Written as a PyTorch user would: ``nn.Embedding`` shared by the three
positions, ``nn.Linear`` layers, sigmoid, ``F.cross_entropy`` (mean over the
batch), autograd, and ``torch.optim.SGD`` with momentum (``buf ← μ·buf + ∇``,
``w ← w − η·buf``, the same trajectory as the exercise's update).

Install torch for a benchmark run only (it is not a dependency), in the
project's environment (``uv pip install`` a local wheel) or in a virtual
environment of its own with NumPy (BENCHMARKS.md). Run on its own it trains
like ``backprop-explorer train`` (see bench/_common.py):

    /tmp/torchenv/bin/python bench/reference_torch.py --data ../shared/data/hinton --epochs 2 --threads 2
"""

from __future__ import annotations

import sys

import numpy as np

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:  # the benchmark reports it and goes on without
    torch = None

PARAM_NAMES = ("W_emb", "W_h", "b_h", "W_o", "b_o")


def available() -> bool:
    return torch is not None


if torch is not None:

    class FourGramTorch(nn.Module):
        def __init__(self, params: dict, dtype):
            super().__init__()
            V, d = params["W_emb"].shape
            three_d, H = params["W_h"].shape
            self.embedding = nn.Embedding(V, d)
            self.hidden = nn.Linear(three_d, H)
            self.output = nn.Linear(H, V)
            self.to(dtype)  # before copying the weights in, so float64 weights keep every digit
            with torch.no_grad():
                self.embedding.weight.copy_(torch.from_numpy(np.asarray(params["W_emb"])))
                self.hidden.weight.copy_(torch.from_numpy(np.asarray(params["W_h"]).T))
                self.hidden.bias.copy_(torch.from_numpy(np.asarray(params["b_h"])))
                self.output.weight.copy_(torch.from_numpy(np.asarray(params["W_o"]).T))
                self.output.bias.copy_(torch.from_numpy(np.asarray(params["b_o"])))

        def forward(self, x):  # x (N, 3) int64 → logits (N, V)
            e = self.embedding(x).flatten(1)  # (N, 3d)
            h = torch.sigmoid(self.hidden(e))  # (N, H)
            return self.output(h)


class ReferenceTorch:
    """Trains the model in PyTorch from a copy of the parameters (a dict of NumPy arrays)."""

    def __init__(self, params: dict, dtype=np.float32, learning_rate: float = 0.1, momentum: float = 0.9):
        if torch is None:
            raise RuntimeError("torch is not installed")
        self.torch_dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[np.dtype(dtype)]
        self.net = FourGramTorch(params, self.torch_dtype)
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=learning_rate, momentum=momentum)

    @staticmethod
    def tensor(rows: np.ndarray):
        """An epoch's rows (M, 4) as an int64 tensor (done once per epoch, like the other paths' gather)."""
        return torch.from_numpy(np.ascontiguousarray(rows, dtype=np.int64))

    def train_batch(self, x, t) -> float:
        """x (N, 3) and t (N,) int64 tensors; returns the batch's mean CE before the update."""
        self.optimizer.zero_grad(set_to_none=False)
        loss = F.cross_entropy(self.net(x), t)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def params(self) -> dict:
        """The weights in the project's layout, as NumPy arrays."""
        n = self.net
        return {
            "W_emb": n.embedding.weight.detach().numpy().copy(),
            "W_h": n.hidden.weight.detach().numpy().T.copy(),
            "b_h": n.hidden.bias.detach().numpy().copy(),
            "W_o": n.output.weight.detach().numpy().T.copy(),
            "b_o": n.output.bias.detach().numpy().copy(),
        }

    def evaluate(self, rows: np.ndarray, chunk: int = 2048) -> float:
        """Mean CE over rows (M, 4), ``chunk`` rows at a time (as the project evaluates)."""
        total = 0.0
        with torch.no_grad():
            r = self.tensor(rows)
            for a in range(0, len(r), chunk):
                c = r[a : a + chunk]
                total += float(F.cross_entropy(self.net(c[:, :3]), c[:, 3], reduction="sum"))
        return total / len(r)

    # the protocol of _common.train_like_the_command
    def prepare(self, rows):
        return self.tensor(rows)

    def train_rows(self, rows, learning_rate, momentum) -> float:
        return self.train_batch(rows[:, :3], rows[:, 3])


def _make(params, dtype, learning_rate, momentum, threads):
    if threads:
        torch.set_num_threads(threads)
    return ReferenceTorch(params, dtype, learning_rate, momentum)


if __name__ == "__main__":
    from _common import train_like_the_command

    sys.exit(train_like_the_command(f"PyTorch {torch.__version__}", _make))
