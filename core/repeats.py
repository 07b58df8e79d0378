"""Words that occur more than once in a minibatch, and what the overwrite bug does to their rows.

The embedding's gradient is a scatter-add: a word that occurs several times in
a minibatch (in several examples, or twice in one context) receives the sum
of all its slices of ``de`` (core/layers.py, ``Embedding.backward``). Writing
``dW[x] = de`` instead keeps one slice per word. The embedding-gradient view
shows the difference; these are the computations behind it.
"""

from __future__ import annotations

import math

import numpy as np

LOOKAHEAD = 500  # minibatches ``next_repeat`` looks at


def repeated_rows(contributions: dict[int, list]) -> set[int]:
    """The rows fed more than once (their gradient is a sum of several slices of de).

    ``contributions`` is ``Embedding.contributions()``: {row: [(example, position), ...]}.
    """
    return {v for v, places in contributions.items() if len(places) >= 2}


def naive_error(correct: np.ndarray, naive: np.ndarray) -> dict:
    """How wrong the overwrite bug is: the rows that differ, the largest |Δ|, ‖naive − correct‖ / ‖correct‖."""
    diff = naive - correct  # (V, d)
    rows = np.flatnonzero(np.any(diff != 0, axis=1))
    norm = float(np.linalg.norm(correct))
    return {
        "rows": [int(r) for r in rows],
        "max_abs": float(np.abs(diff).max()) if diff.size else 0.0,
        "relative": float(np.linalg.norm(diff)) / norm if norm > 0 else (0.0 if not rows.size else math.inf),
    }


def has_repeat(x) -> bool:
    """True when some word index occurs more than once in the contexts ``x`` (N, 3)."""
    flat = np.asarray(x).reshape(-1)
    return np.unique(flat).size < flat.size


def repeat_kind(x) -> int:
    """2: some word occurs at two different positions; 1: a word repeats, always at the same position; 0: none."""
    x = np.asarray(x)
    if not has_repeat(x):
        return 0
    positions: dict[int, set[int]] = {}
    for (_n, k), v in np.ndenumerate(x):
        positions.setdefault(int(v), set()).add(k)
    return 2 if any(len(p) > 1 for p in positions.values()) else 1


def next_repeat(trainer, lookahead: int = LOOKAHEAD) -> tuple[int | None, int]:
    """(how many minibatches from the trainer's next one to the first that repeats a word, its kind).

    A word at two different positions (kind 2) is preferred: its contributions
    come through different blocks of the first weight matrix, so they differ
    visibly (two examples with the same word at the same position, early in
    training, send back almost the same vector). Failing that, the first
    repeat of any kind (1); (None, 0) when there is none within ``lookahead``.
    The minibatches are only looked at (``Trainer.batch_at``), not trained.
    """
    first_any = None
    for k in range(lookahead):
        kind = repeat_kind(trainer.batch_at(trainer.step + k)[0])
        if kind == 2:
            return k, 2
        if kind == 1 and first_any is None:
            first_any = k
    return (first_any, 1) if first_any is not None else (None, 0)
