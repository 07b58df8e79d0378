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


def naive_kept(naive: np.ndarray, de: np.ndarray, row: int, places: list) -> tuple[tuple[int, int] | None, list]:
    """Which contribution the overwrite bug left in ``row``: (its place, earlier places that sent the same numbers).

    ``naive`` is ``dW[x.ravel()] = de.reshape(-1, d)`` (V, d); ``de`` is (N, 3d);
    ``places`` are the row's (example, position) pairs in row-major order of
    ``x`` (``Embedding.contributions()[row]``), the order of the writes. The
    row is compared with each of their blocks of ``de``; the kept place is the
    last write among those equal to it (NumPy leaves the last one). Two
    identical examples send back identical blocks: the earlier ones are
    returned too, as the second item, since the row equals them but holds the
    last write. (None, []) when no block equals the row.
    """
    de = np.asarray(de)
    d = naive.shape[1]
    target = naive[row]
    equal = [(int(n), int(k)) for n, k in places if np.array_equal(de[n, k * d : (k + 1) * d], target)]
    if not equal:
        return None, []
    return equal[-1], equal[:-1]


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


def repeats_across_examples(x) -> bool:
    """True when some word occurs in two different examples (rows) of the contexts ``x`` (N, 3)."""
    x = np.asarray(x)
    rows_of = [np.unique(row) for row in x]
    flat = np.concatenate(rows_of) if rows_of else np.array([], dtype=int)
    return np.unique(flat).size < flat.size


def repeats_within_context(x) -> bool:
    """True when some example uses one word twice in its own context (``x[n, j] == x[n, k]``, j ≠ k)."""
    x = np.sort(np.asarray(x), axis=1)
    return bool(x.size) and bool((x[:, 1:] == x[:, :-1]).any())


def batches_with_repeats(trainer, count: int, lookahead: int = LOOKAHEAD) -> list[int]:
    """``count`` minibatch numbers from the trainer's next one on, those that repeat a word in both ways first.

    Preferred: a word in two different examples *and* a word twice within one
    context (both ways the overwrite bug loses contributions); then either
    way; then any. Numbers come out in increasing order; minibatches are only
    looked at, not trained.
    """
    both, either, other = [], [], []
    for k in range(lookahead):
        step = trainer.step + k
        x = trainer.batch_at(step)[0]
        across, within = repeats_across_examples(x), repeats_within_context(x)
        (both if across and within else either if across or within else other).append(step)
        if len(both) >= count:
            break
    return sorted((both + either + other)[:count])
