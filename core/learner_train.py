"""Train with the learner's code: one stage swapped for their function, on a copy of the network.

``train_beside`` starts two copies of the network from the same weights and
velocities and trains both on the same minibatches: one with the network's
own stages, one with stage ``stage`` computed by the learner's function
(``core.stages.run_minibatch``'s ``replace``: everything downstream, and the
update, works on the learner's result). It returns both loss curves, one
value per minibatch. The learner's run stops at the first minibatch whose
function raises (or returns the wrong shape) or whose loss is not finite;
its curve is NaN from there and ``stopped`` says why.

Nothing here touches the network being trained in the window: the caller
passes a copy of its state (``model.state()``) and the minibatches.
``sandboxed_stage`` gives the learner's function as such a ``fn``, run in a
separate process (core/sandbox.py) with a time and a memory limit per call.
"""

from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .errors import ExplorerError
from .model import Config, FourGramModel
from .stages import run_minibatch

__all__ = ["Curves", "LearnerCodeError", "train_beside", "sandboxed_stage", "DEFAULT_BATCHES"]

DEFAULT_BATCHES = 100


class LearnerCodeError(ExplorerError):
    """The learner's function did not give a result (it raised, timed out, crashed): the message says how."""


@dataclass
class Curves:
    """The loss per minibatch of the two copies: ``correct`` (the network's code) and ``mine`` (the learner's).

    ``steps`` are the minibatch numbers (the window's, counted from its start);
    ``mine`` is NaN from the minibatch where the learner's run stopped;
    ``stopped`` says why ("" when it trained them all); ``cancelled`` is True
    when the caller stopped it (both curves then end early).
    """

    stage: str
    steps: np.ndarray
    correct: np.ndarray
    mine: np.ndarray
    stopped: str = ""
    cancelled: bool = False

    @property
    def trained(self) -> int:
        """Minibatches the learner's code trained before it stopped."""
        return int(np.count_nonzero(np.isfinite(self.mine)))

    def max_gap(self) -> float:
        """The largest |mine − correct| over the minibatches both trained (0 when they agree everywhere)."""
        both = np.isfinite(self.mine) & np.isfinite(self.correct)
        return float(np.max(np.abs(self.mine[both] - self.correct[both]))) if both.any() else 0.0


def train_beside(
    vocab,
    config: Config,
    state: dict,
    batches,
    stage: str,
    results: tuple[str, ...],
    fn: Callable[[dict], object],
    *,
    first_step: int = 0,
    cancel: threading.Event | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Curves:
    """Train two copies from ``state`` on ``batches`` [(x, t), ...], one with ``stage`` computed by ``fn``.

    ``results`` names the stage's results in the order ``fn`` returns them
    (see ``run_minibatch``). ``on_progress(done, total)`` follows each
    minibatch. Safe to call from a worker thread: it touches nothing shared.
    """
    batches = list(batches)
    n = len(batches)
    correct_model = FourGramModel(list(vocab), config)
    correct_model.load_state(state)
    mine_model = FourGramModel(list(vocab), config)
    mine_model.load_state(state)
    correct = np.full(n, np.nan)
    mine = np.full(n, np.nan)
    stopped, cancelled = "", False
    replace = {stage: (tuple(results), fn)}
    for k, (x, t) in enumerate(batches):
        if cancel is not None and cancel.is_set():
            cancelled = True
            break
        with np.errstate(all="ignore"):
            correct[k] = run_minibatch(correct_model, x, t)
            if not stopped:
                try:
                    loss = run_minibatch(mine_model, x, t, replace)
                except (LearnerCodeError, ValueError, TypeError) as err:
                    if cancel is not None and cancel.is_set():  # stopped by the caller during the call
                        cancelled = True
                        break
                    stopped = f"minibatch {k + 1}: {err}"
                else:
                    if math.isfinite(loss):
                        mine[k] = loss
                    else:
                        stopped = f"minibatch {k + 1}: the loss became {loss} (the weights are no longer finite)"
        if on_progress is not None:
            on_progress(k + 1, n)
    steps = np.arange(first_step + 1, first_step + n + 1)
    return Curves(stage, steps, correct, mine, stopped, cancelled)


@contextmanager
def sandboxed_stage(source: str, path: str, stage: str, *, timeout: float, memory_mb: int, cancel=None):
    """The learner's function ``stage`` of ``source`` as ``fn(values)`` for ``train_beside``, run in a sandbox.

    ``fn`` passes the function the names its parameters ask for (from the
    values ``run_minibatch`` offers) and returns what it returned; it raises
    LearnerCodeError (one line) when the function raises, times out, crashes,
    returns something that is not an array or asks for a name there is no
    value for. Entering raises LearnerCodeError when the file cannot be
    loaded or has no such function. ``cancel`` (an Event) stops the call
    under way at once: it then raises LearnerCodeError("stopped").
    """
    from .sandbox import Sandbox

    with Sandbox(source, path, timeout=timeout, memory_mb=memory_mb, cancel=cancel) as box:
        loaded = box.load()
        if loaded.kind == "cancelled":
            raise LearnerCodeError("stopped")
        if loaded.kind != "loaded":
            raise LearnerCodeError(f"the code cannot be run: {_failure(loaded, timeout)}")
        info = loaded.functions.get(stage)
        if info is None:
            raise LearnerCodeError(f"the code has no function {stage}")

        def fn(values: dict):
            kwargs = {}
            for name in info["params"]:
                if name in values:
                    kwargs[name] = values[name]
                elif name in info["required"]:
                    raise LearnerCodeError(f"{stage} asks for '{name}', which it cannot have at this stage")
            if info["var_keyword"]:
                kwargs.update({k: v for k, v in values.items() if k not in kwargs})
            res = box.call(stage, kwargs)
            if res.kind != "returned":
                raise LearnerCodeError(_failure(res, timeout))
            value = res.value
            for v in value if isinstance(value, tuple) else (value,):
                if not isinstance(v, np.ndarray):
                    what = "None" if v is None else getattr(v, "type_name", type(v).__name__)
                    raise LearnerCodeError(f"{stage} returned {what}, not an array of numbers")
            return value

        yield fn


def _failure(res, timeout: float) -> str:
    """A failed call in one line: 'raised ZeroDivisionError: ... (line 7)', 'timed out: ...', 'crashed: ...'."""
    err = res.error or {}
    if res.kind == "cancelled":
        return "stopped"
    if res.kind == "timed out":
        return f"timed out: no answer within {timeout:g} s (an endless loop?)"
    if res.kind == "crashed":
        return f"crashed: {err.get('message', 'the process ended')}"
    line = f" (line {err['line']})" if err.get("line") else ""
    message = f": {err['message']}" if err.get("message") else ""
    return f"raised {err.get('type') or 'an exception'}{message}{line}".replace("\n", " ")
