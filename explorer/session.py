"""The Qt-side model of the application: one training session.

``Session`` wraps a core ``Trainer`` (which knows nothing of Qt) and announces
every change through signals. Every panel takes the session in its constructor
and subscribes (``_on_<event>`` slots); panels never talk to each other
directly and never change the network except through the session's methods.

Run mode trains on the fast path in short chunks driven by a zero-interval
timer, so the event loop is never blocked for more than one chunk:

* a tick trains until ``chunk_seconds`` have passed (the minibatch that ends
  past that finishes); a tick that will announce trains for less, by what
  such a redraw cost the last times (the handlers and the painting that
  follows), so that training and redrawing together keep the event loop
  waiting about ``chunk_seconds``;
* ``history_changed`` goes out ``redraw_hz`` times a second (the loss
  curve), ``weights_changed`` and ``status_changed`` ``weights_hz`` times a
  second (the views of the weights cost more to redraw; the status bar's
  counters need no more);
* a pass over the validation set runs on another thread, on a copy of the
  weights of its step, while training goes on
  (``run(..., background_validation=True)``); the ticks record the finished
  passes (``collect_validations``), and after a pause a short timer records
  the ones still in progress.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from core.corpus import Corpus
from core.errors import DivergenceError, ExplorerError
from core.health import loss_above_uniform
from core.model import Config, FourGramModel
from core.stages import Stage
from core.trainer import Trainer


PREPARE_DELAY_MS = 300  # after start-up (or a new network), when the first minibatch's data is drawn: after the first frame


class Session(QObject):
    # A stage was computed (a Stage), or the stepper is between minibatches (None).
    stage_changed = Signal(object)
    # The parameters changed (a step's update, a run chunk, reset, load, roll-back).
    weights_changed = Signal()
    # The loss history changed.
    history_changed = Signal()
    # A new network or corpus: shapes and vocabulary may differ; views rebuild.
    network_changed = Signal()
    # Run mode started (True) or stopped (False).
    running_changed = Signal(bool)
    # Training diverged: the explanation (the weights are already the last good ones).
    diverged = Signal(str)
    # Epoch, batch, speed or corpus changed (for the status bar).
    status_changed = Signal()
    # Unsaved training of the user's appeared (True) or was saved / discarded (False); see ``dirty``.
    dirty_changed = Signal(bool)
    # A one-line message for the user (errors the session caught, notes).
    message = Signal(str)
    # A one-line error the user should not miss (also sent as ``message``): the window shows a dialog.
    error = Signal(str)

    def __init__(self, corpus: Corpus, config: Config | None = None, parent=None, *, trainer: Trainer | None = None):
        super().__init__(parent)
        self.redraw_hz = 24.0  # history_changed (the loss curve) per second in run mode
        # weights_changed (and status_changed) per second in run mode: the views of the weights (heatmaps,
        # predictions, the embedding map) cost more to redraw than the loss curve and need it less often.
        self.weights_hz = 5.0
        self.chunk_seconds = 0.016  # the longest the event loop should wait for a run-mode tick (and its redraw)
        self.stop_after: int | None = None  # run mode pauses by itself once trainer.step reaches this
        self._trainer = trainer if trainer is not None else Trainer(corpus, config or Config())
        self.tensors: dict[str, np.ndarray] = {}  # every array of the current minibatch so far
        self._minibatch: dict[str, Stage] = {}  # the stages of the minibatch on screen so far, by name
        self.examples_per_second = 0.0
        self._dirty = False
        self._incidental = 0  # > 0 inside ``incidental()``: training then does not make the session dirty
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._on_tick)
        self._settle_timer = QTimer(self)  # records the validation passes still in progress after a pause
        self._settle_timer.setInterval(0)
        self._settle_timer.timeout.connect(self._settle_tick)
        self._next_redraw = 0.0  # perf_counter() when the next run-mode redraw is due
        self._next_weights = 0.0  # ... and the next one with weights_changed
        self._speed_window: list[tuple[float, int]] = []
        # Seconds a redraw costs (the announcement's handlers and the painting after it, smoothed),
        # without and with weights_changed.
        self._redraw_cost = {False: 0.0, True: 0.0}
        self._announced: tuple[float, float, bool] | None = None  # (end of the announcing tick, handler seconds, weights)
        self._prepare_timer = QTimer(self)  # shortly after the first frame: the first minibatch's data, see _prepare
        self._prepare_timer.setSingleShot(True)
        self._prepare_timer.timeout.connect(self._prepare)
        self._prepare_timer.start(PREPARE_DELAY_MS)

    # ---- read-only state ------------------------------------------------------------------
    @property
    def trainer(self) -> Trainer:
        return self._trainer

    @property
    def model(self) -> FourGramModel:
        return self._trainer.model

    @property
    def corpus(self) -> Corpus:
        return self._trainer.corpus

    @property
    def config(self) -> Config:
        return self._trainer.config

    @property
    def vocab(self) -> list[str]:
        return self._trainer.model.vocab

    @property
    def stage(self) -> Stage | None:
        """The stage on screen: the last one stepped (the update stage right after a minibatch
        ends), or None between minibatches (after a run, a reset, a load or a roll-back).
        Its one home is the trainer (``Trainer.stage``)."""
        return self._trainer.stage

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    @property
    def redraw_seconds(self) -> tuple[float, float]:
        """What a run-mode redraw costs (handlers and painting, smoothed): (without, with) the weights' views."""
        return self._redraw_cost[False], self._redraw_cost[True]

    @property
    def dirty(self) -> bool:
        """True when training the user did (stepping, run mode, ``run_batches``) is not saved in a file.

        Minibatches the application trains by itself on the way to something it
        shows (inside ``incidental()``: the teaching batch) do not make it True:
        losing them loses nothing the user did, so nobody is asked to save them.
        They do stay in the weights, and are saved with the user's training.
        """
        return self._dirty

    @contextmanager
    def incidental(self):
        """Training inside this block is the application's own: it does not by itself make ``dirty`` True."""
        self._incidental += 1
        try:
            yield
        finally:
            self._incidental -= 1

    def stage_named(self, name: str) -> Stage | None:
        """The stage ``name`` of the minibatch on screen, once computed (None before, and between minibatches)."""
        stage, found = self.stage, self._minibatch.get(name)
        return found if stage is not None and found is not None and found.batch == stage.batch else None

    def weights_before(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
        """(parameters, velocities) the minibatch on screen was computed with: its update stage changes the
        model's in place. None between minibatches (or when they are no longer kept). Read only."""
        stage = self.stage
        state = None if stage is None else self._trainer.state_before(stage.batch)
        if state is None:
            return None
        model = self.model
        return {k: state[k] for k in model.params}, {k: state["v_" + k] for k in model.velocity}

    def tensor(self, name: str) -> np.ndarray | None:
        """A named array: a parameter (``model.params``) or an array of the current minibatch."""
        if name in self.model.params:
            return self.model.params[name]
        return self.tensors.get(name)

    def loss_note(self) -> str | None:
        """Why the loss of the minibatch on screen is above a uniform guess's (core.health), or None.

        None too before its loss is computed. The sentence starts with "L = …".
        """
        stage = self.stage
        p, t = self.tensors.get("p"), self.tensors.get("t")
        if stage is None or stage.loss is None or p is None or t is None:
            return None
        c = self.config
        return loss_above_uniform(stage.loss, p, t, self.vocab, c.batch_size, c.learning_rate)

    # ---- stepping ---------------------------------------------------------------------------
    def step_stage(self) -> Stage | None:
        """Compute the next stage; None (with the ``diverged`` signal) if training diverged."""
        self.pause()
        stage = self._compute_stage()
        if stage is not None:
            self._announce_stage(stage)
        return stage

    def step_batch(self) -> Stage | None:
        """Finish the minibatch in progress (or run one whole minibatch) stage by stage, then announce it once:
        the views redraw for its last stage (the update), and find the others with ``stage_named``."""
        return self.step_to(self.model.stage_specs[-1].name)

    def step_to(self, name: str) -> Stage | None:
        """Compute stages until the stage ``name`` (of the next minibatch when the one on screen has passed it),
        then announce once, as one step. None (with the ``diverged`` signal) if training diverged."""
        self.pause()
        self.model.stage_spec(name)  # raises on a name this network has no stage for
        updated = False
        for _ in range(2 * len(self.model.stage_specs)):
            stage = self._compute_stage()
            if stage is None:
                return None
            updated = updated or stage.is_update
            if stage.name == name:
                break
        self._announce_stage(stage, updated=updated)
        return stage

    def _compute_stage(self) -> Stage | None:
        """The next stage, recorded but not announced; None (with the ``diverged`` signal) if training diverged."""
        starting = not self._trainer.in_batch
        try:
            stage = self._trainer.step_stage()
        except DivergenceError as err:
            self._after_divergence(err)
            return None
        if starting:
            self.tensors = {}
            self._minibatch = {}
        self.tensors.update(stage.arrays)
        self._minibatch[stage.name] = stage
        if stage.is_update:
            self._trained()
        return stage

    def _announce_stage(self, stage: Stage, updated: bool = False) -> None:
        """``stage`` was computed (``updated``: after an update stage, announced or not). The stage first: a view
        that shows the stage's arrays then has no weights to redraw."""
        self.stage_changed.emit(stage)
        if updated or stage.is_update:
            self.weights_changed.emit()
            self.history_changed.emit()
            self.status_changed.emit()

    # ---- run mode ---------------------------------------------------------------------------
    def start(self) -> None:
        if self.running:
            return
        now = time.perf_counter()
        self._speed_window = [(now, self._trainer.step)]
        self._next_redraw = now + 1.0 / self.redraw_hz
        self._next_weights = now + 1.0 / self.weights_hz
        self._announced = None
        self._timer.start()
        self.running_changed.emit(True)

    def pause(self) -> None:
        self.stop_after = None
        if not self.running:
            return
        self._timer.stop()
        self._announce()
        self.running_changed.emit(False)
        if self._trainer.validation_owed:
            self._settle_timer.start()  # the validation passes in progress, then their points

    def _settle_tick(self) -> None:
        """After a pause: record the validation passes finished meanwhile; announce the history when all are."""
        try:
            finished = self.running or self._trainer.collect_validations(time.perf_counter() + self.chunk_seconds)
        except ExplorerError as err:
            self._settle_timer.stop()
            self.message.emit(str(err))
            return
        if finished:
            self._settle_timer.stop()
            if not self.running:
                self.history_changed.emit()

    def _on_tick(self) -> None:
        """Train until this tick's deadline, then announce if a redraw is due.

        The budget is ``chunk_seconds``; a tick that will announce leaves room
        for the redraw it causes (``redraw_seconds``, measured on earlier redraws
        of the same kind: with or without the weights). Redraws follow a fixed
        cadence of ``redraw_hz`` (and ``weights_hz``), without bursts after a
        long tick.
        """
        start = time.perf_counter()
        if self._announced is not None:  # what the last announcement cost, painting included
            end, handlers, kind = self._announced
            cost, old = handlers + (start - end), self._redraw_cost[kind]
            self._redraw_cost[kind] = cost if old == 0.0 else 0.8 * old + 0.2 * cost
            self._announced = None
        horizon = start + self.chunk_seconds
        announce = horizon >= self._next_redraw
        weights = announce and horizon >= self._next_weights
        budget = self.chunk_seconds
        if announce:
            budget = max(0.2 * self.chunk_seconds, budget - self._redraw_cost[weights])
        n = 1_000_000
        if self.stop_after is not None:
            n = self.stop_after - self._trainer.step
        trainer = self._trainer
        deadline = start + budget
        ran = 0
        try:
            # Validation passes run on another thread while training goes on; finished ones are recorded
            # here. With nothing left to train (stop_after), wait for them, up to the deadline.
            if n > 0:
                ran = trainer.run(n, deadline=deadline, background_validation=True)
            trainer.collect_validations(deadline if n <= 0 else 0.0)
        except DivergenceError as err:
            self._stop_timer()
            self._after_divergence(err)
            return
        except ExplorerError as err:  # anything else the core reports: stop and say it
            self._stop_timer()
            self.message.emit(str(err))
            self.error.emit(str(err))
            return
        except BaseException:  # a bug or out of memory: stop first, so it cannot repeat every tick
            self._stop_timer()
            raise
        if ran:
            self._trained()
        end = time.perf_counter()
        self._speed_window.append((end, self._trainer.step))
        while len(self._speed_window) > 2 and end - self._speed_window[0][0] > 1.0:
            self._speed_window.pop(0)
        owed = trainer.validation_owed
        if self.stop_after is not None and self._trainer.step >= self.stop_after and not owed:
            self.pause()
            return
        if announce:
            self._next_redraw = _next_time(self._next_redraw, self.redraw_hz, end)
            if weights:
                self._next_weights = _next_time(self._next_weights, self.weights_hz, end)
            self._announce(weights=weights)
            done = time.perf_counter()
            self._announced = (done, done - end, weights)

    def _stop_timer(self) -> None:
        self._timer.stop()
        self.stop_after = None
        self.running_changed.emit(False)

    def _announce(self, weights: bool = True) -> None:
        """Tell the views about the history and the speed, and (``weights``) the weights: one redraw."""
        (t0, s0), (t1, s1) = self._speed_window[0], self._speed_window[-1]
        if t1 > t0 and s1 > s0:
            self.examples_per_second = (s1 - s0) * self.config.batch_size / (t1 - t0)
        if self.tensors and self.stage is None:  # a stepped minibatch was on screen; training left none
            self.tensors = {}
            self._minibatch = {}
            self.stage_changed.emit(None)
        if weights:
            self.weights_changed.emit()
        self.history_changed.emit()
        if weights:  # the counters in the status bar need no more than the views of the weights
            self.status_changed.emit()

    def run_batches(self, n: int) -> int:
        """Train n minibatches on the fast path now (blocking; for scripts, screenshots and tests)."""
        start = time.perf_counter()
        try:
            ran = self._trainer.run(n)
        except DivergenceError as err:
            self._after_divergence(err)
            return 0
        elapsed = time.perf_counter() - start
        if ran:
            self._trained()
            if elapsed > 0:
                self.examples_per_second = ran * self.config.batch_size / elapsed
        self._between_minibatches()
        return ran

    def record_test(self) -> float:
        """Measure the test CE of the current weights, add it to the history and announce it."""
        ce = self._trainer.record_test()
        self.history_changed.emit()
        return ce

    def _after_divergence(self, err: DivergenceError) -> None:
        if self._trainer.validation_owed:
            self._settle_timer.start()  # a pass for weights before the roll-back may still be in progress
        self._between_minibatches()
        self.diverged.emit(str(err))

    def _between_minibatches(self) -> None:
        """No minibatch on screen any more, and new weights and history: tell every view."""
        self.tensors = {}
        self._minibatch = {}
        self.stage_changed.emit(None)
        self.weights_changed.emit()
        self.history_changed.emit()
        self.status_changed.emit()

    # ---- settings -----------------------------------------------------------------------------
    def set_learning_rate(self, value: float) -> None:
        """Applies from the next update on (raises ConfigError for a value that cannot work)."""
        self._trainer.set_live(learning_rate=value)
        self.status_changed.emit()

    def set_momentum(self, value: float) -> None:
        self._trainer.set_live(momentum=value)
        self.status_changed.emit()

    def rebuild(self, config: Config | None = None, corpus: Corpus | None = None) -> None:
        """A new network (new weights from the seed) with ``config`` on ``corpus`` (defaults: the current ones)."""
        self.pause()
        config = (config or self.config).validate()
        trainer = Trainer(corpus or self.corpus, config)
        self._install(trainer)

    def reset(self) -> None:
        """New weights from the seed, same hyperparameters; the history starts again."""
        self.rebuild(self.config)

    def load_checkpoint(self, path, corpus: Corpus | None = None, *, unsaved: bool = False) -> None:
        """Continue from a checkpoint made for the vocabulary of ``corpus`` (default: the current corpus).

        Raises CheckpointError. ``unsaved``: its training is not in a file of
        the user's (a restored autosave), so the session is dirty afterwards.
        """
        self.pause()
        trainer = Trainer.from_checkpoint(corpus or self.corpus, path)
        self._install(trainer)
        self._set_dirty(unsaved)

    def save_checkpoint(self, path) -> None:
        """Save (atomically); a minibatch in progress stays where it is: its weights are not yet updated."""
        self.pause()
        owed = self._trainer.validation_owed
        self._trainer.save(path)  # finishes an owed validation pass first
        if owed:
            self.history_changed.emit()
        self._set_dirty(False)
        self.status_changed.emit()

    def _install(self, trainer: Trainer) -> None:
        if trainer is not self._trainer:
            self._trainer.close()  # its validation thread, if it started one
        self._trainer = trainer
        self.examples_per_second = 0.0
        self._set_dirty(False)
        self.network_changed.emit()
        self._between_minibatches()
        self._prepare_timer.start(PREPARE_DELAY_MS)

    def _prepare(self) -> None:
        """Draw the epoch's order of the training rows and allocate a snapshot now (tens of ms for a large corpus
        or vocabulary), not in the first step."""
        try:
            self._trainer.prepare()
        except ExplorerError as err:
            self.message.emit(str(err))

    def _trained(self) -> None:
        """Minibatches were trained: the user's unsaved training, unless the application did it (``incidental``)."""
        if not self._incidental:
            self._set_dirty(True)

    def _set_dirty(self, value: bool) -> None:
        if value != self._dirty:
            self._dirty = value
            self.dirty_changed.emit(value)

    def shutdown(self) -> None:
        """Stop the timers (the window calls this when it closes)."""
        self._timer.stop()
        self._settle_timer.stop()
        self._prepare_timer.stop()
        self._trainer.close()


def _next_time(due: float, hz: float, now: float) -> float:
    """The time after ``due`` on a cadence of ``hz`` a second; after a long delay, half a period from now."""
    period = 1.0 / hz
    return max(due + period, now + 0.5 * period)


__all__ = ["Session"]
