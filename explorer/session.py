"""The Qt-side model of the application: one training session.

``Session`` wraps a core ``Trainer`` (which knows nothing of Qt) and announces
every change through signals. Every panel takes the session in its constructor
and subscribes (``_on_<event>`` slots); panels never talk to each other
directly and never change the network except through the session's methods.

Run mode trains on the fast path in short chunks driven by a zero-interval
timer, so the event loop is never blocked for more than one chunk, and
announces weights and history at most ``redraw_hz`` times a second.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from core.corpus import Corpus
from core.errors import DivergenceError, ExplorerError
from core.model import Config, FourGramModel
from core.stages import LAYER_TENSORS, N_STAGES, STAGE_NAMES, Stage, stage_text
from core.trainer import Trainer


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
    # Unsaved training appeared (True) or was saved / discarded (False).
    dirty_changed = Signal(bool)
    # A one-line message for the user (errors the session caught, notes).
    message = Signal(str)

    def __init__(self, corpus: Corpus, config: Config | None = None, parent=None, *, trainer: Trainer | None = None):
        super().__init__(parent)
        self.redraw_hz = 25.0  # bound on weights/history announcements in run mode
        self.chunk_seconds = 0.020  # training time per timer tick in run mode
        self._trainer = trainer if trainer is not None else Trainer(corpus, config or Config())
        self.tensors: dict[str, np.ndarray] = {}  # every array of the current minibatch so far
        self.examples_per_second = 0.0
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._on_tick)
        self._last_announce = 0.0
        self._speed_window: list[tuple[float, int]] = []

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
        """The last computed stage of the minibatch in progress, or None between minibatches."""
        return self._trainer.stage if self._trainer.in_batch or self._last_was_update() else None

    def _last_was_update(self) -> bool:
        st = self._trainer.stage
        return st is not None and st.index == N_STAGES - 1 and st.batch == self._trainer.step - 1

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    @property
    def dirty(self) -> bool:
        return self._dirty

    def next_stage_text(self) -> tuple[int, str]:
        """(index, title) of the stage the next step computes."""
        t = self._trainer
        i = t.stage_index + 1 if t.in_batch else 0
        return i, stage_text(i, self.config.activation)[1]

    def tensor(self, name: str) -> np.ndarray | None:
        """A named array: a parameter (W_emb, W_h, b_h, W_o, b_o) or an array of the current minibatch."""
        if name in self.model.params:
            return self.model.params[name]
        return self.tensors.get(name)

    @staticmethod
    def layer_tensors(layer: str) -> tuple[str, ...]:
        return LAYER_TENSORS[layer]

    # ---- stepping ---------------------------------------------------------------------------
    def step_stage(self) -> Stage | None:
        """Compute the next stage; None (with the ``diverged`` signal) if training diverged."""
        self.pause()
        starting = not self._trainer.in_batch
        try:
            stage = self._trainer.step_stage()
        except DivergenceError as err:
            self._after_divergence(err)
            return None
        if starting:
            self.tensors = {}
        self.tensors.update(stage.arrays)
        if stage.index == N_STAGES - 1:
            self._set_dirty(True)
            self.weights_changed.emit()
            self.history_changed.emit()
            self.status_changed.emit()
        self.stage_changed.emit(stage)
        return stage

    def step_batch(self) -> Stage | None:
        """Finish the minibatch in progress (or run one whole minibatch) stage by stage."""
        self.pause()
        stage = None
        while True:
            stage = self.step_stage()
            if stage is None or stage.index == N_STAGES - 1:
                return stage

    # ---- run mode ---------------------------------------------------------------------------
    def start(self) -> None:
        if self.running:
            return
        self._speed_window = [(time.perf_counter(), self._trainer.step)]
        self._last_announce = time.perf_counter()
        self._timer.start()
        self.running_changed.emit(True)

    def pause(self) -> None:
        if not self.running:
            return
        self._timer.stop()
        self._announce()
        self.running_changed.emit(False)

    def toggle_run(self) -> None:
        self.pause() if self.running else self.start()

    def _on_tick(self) -> None:
        now = time.perf_counter()
        try:
            ran = self._trainer.run(1_000_000, deadline=now + self.chunk_seconds)
        except DivergenceError as err:
            self._timer.stop()
            self.running_changed.emit(False)
            self._after_divergence(err)
            return
        except ExplorerError as err:  # anything else the core reports: stop and say it
            self._timer.stop()
            self.running_changed.emit(False)
            self.message.emit(str(err))
            return
        if ran:
            self._set_dirty(True)
        end = time.perf_counter()
        self._speed_window.append((end, self._trainer.step))
        while len(self._speed_window) > 2 and end - self._speed_window[0][0] > 1.0:
            self._speed_window.pop(0)
        if end - self._last_announce >= 1.0 / self.redraw_hz:
            self._announce()

    def _announce(self) -> None:
        """Tell the views about the weights, the history and the speed (once per redraw)."""
        self._last_announce = time.perf_counter()
        (t0, s0), (t1, s1) = self._speed_window[0], self._speed_window[-1]
        if t1 > t0 and s1 > s0:
            self.examples_per_second = (s1 - s0) * self.config.batch_size / (t1 - t0)
        if self.stage is not None or self.tensors:
            self.tensors = {}
            self.stage_changed.emit(None)
        self.weights_changed.emit()
        self.history_changed.emit()
        self.status_changed.emit()

    def run_batches(self, n: int) -> int:
        """Train n minibatches on the fast path now (blocking; for scripts, screenshots and tests)."""
        try:
            ran = self._trainer.run(n)
        except DivergenceError as err:
            self._after_divergence(err)
            return 0
        self._set_dirty(True)
        self.tensors = {}
        self.stage_changed.emit(None)
        self.weights_changed.emit()
        self.history_changed.emit()
        self.status_changed.emit()
        return ran

    def _after_divergence(self, err: DivergenceError) -> None:
        self.tensors = {}
        self.stage_changed.emit(None)
        self.weights_changed.emit()
        self.history_changed.emit()
        self.status_changed.emit()
        self.diverged.emit(str(err))

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

    def load_checkpoint(self, path) -> None:
        """Continue from a checkpoint made for this corpus's vocabulary (raises CheckpointError)."""
        self.pause()
        trainer = Trainer.from_checkpoint(self.corpus, path)
        self._install(trainer)
        self._set_dirty(False)

    def save_checkpoint(self, path) -> None:
        self.pause()
        was_in_batch = self._trainer.in_batch
        self._trainer.save(path)
        if was_in_batch:  # saving finishes the minibatch in progress
            self.tensors = {}
            self.stage_changed.emit(None)
            self.weights_changed.emit()
            self.history_changed.emit()
        self._set_dirty(False)
        self.status_changed.emit()

    def _install(self, trainer: Trainer) -> None:
        self._trainer = trainer
        self.tensors = {}
        self.examples_per_second = 0.0
        self._set_dirty(False)
        self.network_changed.emit()
        self.stage_changed.emit(None)
        self.weights_changed.emit()
        self.history_changed.emit()
        self.status_changed.emit()

    def _set_dirty(self, value: bool) -> None:
        if value != self._dirty:
            self._dirty = value
            self.dirty_changed.emit(value)

    def shutdown(self) -> None:
        """Stop the timer (the window calls this when it closes)."""
        self._timer.stop()


__all__ = ["Session", "STAGE_NAMES"]
