"""The loss history of a training run."""

from __future__ import annotations

import numpy as np


class History:
    """Loss history: training CE per minibatch, validation and test CE at given steps, epoch ends.

    A step is a count of completed minibatches: ``train_ce[i]`` is the CE of
    minibatch i (before its update); validation at step s was measured after
    s minibatches.
    """

    def __init__(self):
        self._train = np.empty(1024, dtype=np.float64)
        self._n = 0
        self.valid: list[tuple[int, float]] = []
        self.test: list[tuple[int, float]] = []
        self.epoch_ends: list[int] = []

    @property
    def train_ce(self) -> np.ndarray:
        """CE of every minibatch so far (a read-only view)."""
        v = self._train[: self._n]
        v.flags.writeable = False
        return v

    def __len__(self) -> int:
        return self._n

    def add_train(self, ce: float) -> None:
        if self._n == len(self._train):
            grown = np.empty(2 * len(self._train), dtype=np.float64)
            grown[: self._n] = self._train[: self._n]
            self._train = grown
        self._train[self._n] = ce
        self._n += 1

    def truncate(self, step: int) -> None:
        """Forget everything after ``step`` minibatches (after a roll-back)."""
        self._n = min(self._n, step)
        self.valid = [(s, c) for s, c in self.valid if s <= step]
        self.test = [(s, c) for s, c in self.test if s <= step]
        self.epoch_ends = [s for s in self.epoch_ends if s <= step]

    def to_arrays(self) -> dict[str, np.ndarray]:
        def pairs(rows):
            return np.array(rows, dtype=np.float64).reshape(-1, 2)

        return {
            "train_ce": self.train_ce.copy(),
            "valid": pairs(self.valid),
            "test": pairs(self.test),
            "epoch_ends": np.array(self.epoch_ends, dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, d: dict[str, np.ndarray]) -> "History":
        h = cls()
        train = np.asarray(d["train_ce"], dtype=np.float64)
        h._train = np.empty(max(1024, 2 * len(train)), dtype=np.float64)
        h._train[: len(train)] = train
        h._n = len(train)
        h.valid = [(int(s), float(c)) for s, c in np.asarray(d["valid"]).reshape(-1, 2)]
        h.test = [(int(s), float(c)) for s, c in np.asarray(d["test"]).reshape(-1, 2)]
        h.epoch_ends = [int(s) for s in np.asarray(d["epoch_ends"]).reshape(-1)]
        return h
