"""The trainer: minibatches in order, stage by stage or on the fast path.

Anything (the window, a test, the command line) drives one ``Trainer``:

* ``step_stage()`` computes the next stage of the current minibatch (float64,
  recorded) and returns it; ``finish_batch()`` runs the remaining stages;
* ``run(n)`` trains ``n`` whole minibatches on the fast path (no recording),
  optionally stopping at a deadline so a window can keep its event loop free.

Both paths take minibatches in the same order (a permutation of the training
set per epoch, drawn from the seed) and apply the same mathematics. Both
record the network's gradient health (``health``, core/health.py): after
every stepped minibatch, and every ``health.every`` minibatches of a run.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from .corpus import Corpus
from .errors import ConfigError, DivergenceError
from .fast import FastPath
from .health import Health
from .history import History
from .model import CONTEXT, Config, FourGramModel
from .stages import Stage, run_stages
from .text import plural

DIVERGENCE_FACTOR = 5
SNAPSHOT_EVERY = 256  # minibatches between the fast path's snapshots (a roll-back replays at most twice this)
FINITE_EVERY = 16  # run() checks every weight for infinity or NaN this often (the loss, every minibatch)


def validation_interval(batches_per_epoch: int) -> int:
    """Minibatches between validations within an epoch (there is one at its end too).

    Evenly spaced, at least 4 times an epoch and at most 1,000 minibatches
    apart (the original exercise validated every 1,000).
    """
    times = max(4, -(-batches_per_epoch // 1000))
    return max(1, -(-batches_per_epoch // times))


class Trainer:
    """Trains a ``FourGramModel`` on a ``Corpus``; see the module docstring."""

    OVERFLOW = "the update made some weights overflow to infinity (or to no number at all)"
    _spare_state: dict | None = None  # arrays for the first snapshot, allocated by prepare()

    def __init__(
        self,
        corpus: Corpus,
        config: Config | None = None,
        *,
        model: FourGramModel | None = None,
        fast_dtype=np.float32,
        valid_every: int | None = None,
        overlap: str = "off",
    ):
        self.corpus = corpus
        self.model = model if model is not None else FourGramModel(corpus.vocab, config or Config())
        if list(self.model.vocab) != list(corpus.vocab):
            raise ConfigError("the network's vocabulary is not the corpus's vocabulary")
        c = self.model.config
        if len(corpus.train) < c.batch_size:
            raise ConfigError(
                f"batch size {c.batch_size:,} is larger than the training set ({plural(len(corpus.train), 'example')})"
            )
        self.fast_dtype = np.dtype(fast_dtype)
        self.overlap = overlap  # the fast path's weight gradients on a second core: core/fast.py, set_overlap
        self.batches_per_epoch = len(corpus.train) // c.batch_size
        self.valid_every = valid_every or validation_interval(self.batches_per_epoch)
        self.history = History()
        self.health = Health(self.model)  # gradient norms, update ratios, saturation (core/health.py)
        self.step = 0  # completed minibatches
        # The stage of the minibatch on screen: the last one stepped (the update stage right after its
        # minibatch ends), None after a run, a roll-back or before any step. The window reads it from here.
        self.stage: Stage | None = None
        self._stages = None  # generator of the minibatch in progress
        self._fast: FastPath | None = None
        self._order_epoch = -1
        self._order: np.ndarray | None = None
        self._epoch_data: np.ndarray | None = None
        self._epoch_xt: tuple[np.ndarray, np.ndarray] | None = None  # its contexts and targets for the fast path
        self._snapshots: list = []  # (step, state, learning rate, momentum), for rolling back
        self._settings_changed = False  # the learning rate or momentum changed since the last snapshot
        self.diverged: DivergenceError | None = None  # why the last step or run stopped, if it diverged
        # The learning rate in force before the current one, if minibatches trained with it (None: none did),
        # and whether the current one has trained a minibatch without diverging: see suggested_learning_rate.
        self.last_good_learning_rate: float | None = None
        self._lr_trained = False
        # run(background_validation=True): (step, pass in progress on another thread), oldest first
        self._pending: list[tuple[int, Future]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._evaluator: FastPath | None = None  # the other thread's copy of the fast path, for its passes

    # ---- where we are --------------------------------------------------------------
    @property
    def config(self) -> Config:
        return self.model.config

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next update (``model.config`` is its one home; see ``set_live``)."""
        return self.model.config.learning_rate

    @property
    def momentum(self) -> float:
        return self.model.config.momentum

    @property
    def epoch(self) -> int:
        """Completed epochs."""
        return self.step // self.batches_per_epoch

    @property
    def batch_in_epoch(self) -> int:
        """Completed minibatches of the current epoch."""
        return self.step % self.batches_per_epoch

    @property
    def in_batch(self) -> bool:
        """True while a minibatch is part-way through its stages."""
        return self._stages is not None

    @property
    def stage_index(self) -> int:
        """Index of the last computed stage of the minibatch in progress, or -1 between minibatches."""
        return self.stage.index if (self.stage is not None and self.in_batch) else -1

    # ---- data ----------------------------------------------------------------------
    def _epoch_rows(self, epoch: int) -> np.ndarray:
        """Training rows (M, 4) in the order of ``epoch`` (a permutation drawn from the seed)."""
        if epoch != self._order_epoch:
            rng = np.random.default_rng([self.config.seed, epoch])
            self._order = rng.permutation(len(self.corpus.train))
            self._epoch_data = np.ascontiguousarray(self.corpus.train[self._order])
            self._epoch_xt = None
            self._order_epoch = epoch
        return self._epoch_data

    def _epoch_indices(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """Contexts (M, 3) and targets (M,) of ``epoch``'s rows as contiguous ``np.intp``, checked once.

        What ``FastPath.train_trusted`` takes: a minibatch is a slice of each, copied and checked nowhere.
        """
        rows = self._epoch_rows(epoch)
        if self._epoch_xt is None:
            if len(rows) and not (0 <= rows.min() and rows.max() < self.model.vocab_size):
                raise IndexError(f"a training row has a word index outside 0..{self.model.vocab_size - 1}")
            self._epoch_xt = (
                np.ascontiguousarray(rows[:, :CONTEXT], dtype=np.intp),
                np.ascontiguousarray(rows[:, CONTEXT], dtype=np.intp),
            )
        return self._epoch_xt

    def batch_at(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """Contexts (N, 3) and targets (N,) of minibatch number ``step``."""
        n = self.config.batch_size
        rows = self._epoch_rows(step // self.batches_per_epoch)
        b = step % self.batches_per_epoch
        chunk = rows[b * n : (b + 1) * n]
        return chunk[:, :CONTEXT], chunk[:, CONTEXT]

    def current_batch(self) -> tuple[np.ndarray, np.ndarray]:
        """The minibatch the next stage (or the next fast step) works on."""
        return self.batch_at(self.step)

    # ---- divergence ----------------------------------------------------------------
    @property
    def loss_limit(self) -> float:
        """A minibatch CE above this (5 × ln V, five times a uniform guess's) counts as divergence."""
        return DIVERGENCE_FACTOR * float(np.log(self.model.vocab_size))

    def _snapshot(self) -> None:
        """Remember the state at this step (the two most recent are kept, for rolling back)."""
        self._settings_changed = False
        keep = [s for s in self._snapshots if s[0] < self.step][-1:]
        spare = [s[1] for s in self._snapshots if all(s is not k for k in keep)]  # dropped now: its arrays are reused
        spare.append(self._spare_state)  # or the arrays prepare() made
        self._spare_state = None
        snap = (self.step, self.model.state(out=spare[0]), self.learning_rate, self.momentum)
        self._snapshots = keep + [snap]

    def state_before(self, batch: int) -> dict[str, np.ndarray] | None:
        """The parameters and velocities (``model.state()``: W_emb ..., v_W_emb ...) after ``batch`` minibatches,
        when a snapshot of them is still kept (the one a stepped minibatch starts from is, until the minibatch
        after the next one starts); else None. Read only: the trainer reuses the arrays."""
        for step, state, _lr, _mu in self._snapshots:
            if step == batch:
                return state
        return None

    def prepare(self) -> None:
        """Do now, while nothing waits, what the first stage step would otherwise do: draw the epoch's order of the
        training rows and allocate the arrays of a snapshot (the first writes into new memory are slow)."""
        self.current_batch()
        if not self._snapshots and self._spare_state is None:
            self._spare_state = self.model.state()

    def _first_failure(self, seen: int, first_bad: int, reason: str) -> tuple[int, str]:
        """The first minibatch whose loss or update went wrong: ``(first_bad, reason)`` for ``_roll_back``.

        ``run`` checks the loss after every minibatch but the weights only every
        ``FINITE_EVERY``. When a check fails at minibatch ``seen`` (giving
        ``first_bad`` and ``reason``), an earlier update may already have made
        a weight infinite or NaN unnoticed: this replays from the last snapshot
        with both checks after every minibatch before ``seen`` and returns the
        first failure it finds, else the one given.
        """
        snap_step, state, lr, mu = self._snapshots[-1]
        if first_bad == seen and seen % FINITE_EVERY == 0:
            return first_bad, reason  # the weights this minibatch started from were checked
        model = FourGramModel(self.model.vocab, self.model.config)
        model.load_state(state)
        fast = FastPath(model, self.fast_dtype)
        for s in range(snap_step, seen):
            x, t = self.batch_at(s)
            problem = self._loss_problem(fast.train_batch(x, t, lr, mu))
            if problem:
                return s, problem
            if not fast.all_finite():
                return s + 1, self.OVERFLOW
        return first_bad, reason

    def _roll_back(self, first_bad: int, reason: str) -> DivergenceError:
        """Put the model back to the weights after ``first_bad - 1`` minibatches and stop.

        Minibatch ``first_bad - 1`` was computed with weights whose loss was
        fine; its update produced the bad ones. The state is rebuilt by
        replaying from the nearest snapshot, and the history is cut back to it.
        """
        self._stages = None
        self.stage = None
        target = max(first_bad - 1, 0)
        self._forget_pending_after(target)
        usable = [s for s in self._snapshots if s[0] <= target] or self._snapshots[:1]
        snap_step, state, lr, mu = usable[-1]
        self.model.load_state(state)
        if target > snap_step:
            fast = self._fast_path()
            for s in range(snap_step, target):
                x, t = self.batch_at(s)
                fast.train_batch(x, t, lr, mu)
            fast.store(self.model)
        self.step = max(target, snap_step)
        self.history.truncate(self.step)
        self.health.truncate(self.step)
        self._lr_trained = False  # the learning rate in force did not train: it diverged
        suggestion = None
        if first_bad == 0:
            text = (
                f"The initial weights already fail: {reason}. They are kept; "
                f"try a smaller init std (the default is 0.01)."
            )
            summary = "Stopped: the initial weights already fail (try a smaller init std)."
        else:
            suggestion, why = self.suggested_learning_rate()
            text = (
                f"Training diverged at minibatch {first_bad + 1} (epoch {first_bad // self.batches_per_epoch + 1}) "
                f"with learning rate {self.learning_rate:g}: {reason}. The last good weights, from before "
                f"minibatch {self.step + 1}, are restored. Try a smaller learning rate, such as {suggestion:g} ({why})."
            )
            summary = (
                f"Diverged at minibatch {first_bad + 1} with learning rate {self.learning_rate:g}: "
                "last good weights restored."
            )
        err = DivergenceError(
            text,
            where=reason,
            batch=first_bad,
            summary=summary,
            learning_rate=self.learning_rate,
            suggested_learning_rate=suggestion,
        )
        self.diverged = err
        return err

    def suggested_learning_rate(self) -> tuple[float, str]:
        """A learning rate to go on with after a divergence, and why that one.

        The last learning rate that trained minibatches before the current one,
        when it is smaller ("the last one that trained"); otherwise the default
        or a tenth of the current one, whichever is smaller: the same weights,
        minibatches and learning rate would diverge again.
        """
        good = self.last_good_learning_rate
        if good is not None and good < self.learning_rate:
            return good, "the last one that trained"
        default = Config().learning_rate
        if default < self.learning_rate / 10:
            return default, "the default"
        return self.learning_rate / 10, f"a tenth of {self.learning_rate:g}"

    def _loss_problem(self, loss: float) -> str | None:
        if not np.isfinite(loss):
            return f"the loss became {loss}"
        if loss > self.loss_limit:
            return (
                f"the minibatch loss reached {loss:.1f}, more than {DIVERGENCE_FACTOR} × ln {self.model.vocab_size} = "
                f"{self.loss_limit:.1f} (a uniform guess scores {self.loss_limit / DIVERGENCE_FACTOR:.2f})"
            )
        return None

    # ---- stepping ------------------------------------------------------------------
    def step_stage(self) -> Stage:
        """Compute the next stage (starting a new minibatch when none is in progress).

        Raises DivergenceError (after rolling back, see ``_roll_back``) when a
        stage produces a non-finite value or the loss passes ``loss_limit``.
        """
        if self._stages is None:
            self.collect_validations(None)  # the passes in progress belong in the history before this minibatch
            x, t = self.current_batch()
            self._snapshot()
            self._stages = run_stages(self.model, x, t, batch=self.step)
        try:
            stage = next(self._stages)
            problem = self._loss_problem(stage.loss) if stage.name == "loss" else None
        except DivergenceError as err:
            # Arrays computed from the weights before any update: non-finite values there mean the weights are bad.
            spec = self.model.specs.get(err.where)
            forward = err.where == "L" or (spec is not None and spec.role in ("input", "forward"))
            raise self._roll_back(self.step if forward else self.step + 1, str(err)) from None
        if problem:
            raise self._roll_back(self.step, problem)
        self.stage = stage
        self.diverged = None
        if stage.is_update:
            self._stages.close()
            self._stages = None
            self.history.add_train(stage.loss)
            self._after_step()
            self.health.record_model(self.step, self.model)
        return stage

    def finish_batch(self) -> Stage:
        """Run the remaining stages of the minibatch in progress (or a whole one); returns the update stage."""
        while True:
            stage = self.step_stage()
            if stage.is_update:
                return stage

    def validates_after(self, step: int) -> bool:
        """True when the validation CE is measured after ``step`` minibatches."""
        b = step % self.batches_per_epoch
        return b == 0 or b % self.valid_every == 0

    def _after_step(self) -> None:
        self.step += 1
        self._lr_trained = True
        if self.step % self.batches_per_epoch == 0:
            self.history.epoch_ends.append(self.step)
        if self.validates_after(self.step):
            self.history.valid.append((self.step, self._evaluate_current(self.corpus.valid)))

    @property
    def validation_owed(self) -> bool:
        """True while a validation pass is still being computed on the other thread."""
        return bool(self._pending)

    @property
    def first_owed_validation(self) -> int | None:
        """The step of the earliest validation pass still being computed on the other thread, or None."""
        return self._pending[0][0] if self._pending else None

    def collect_validations(self, deadline: float | None = None) -> bool:
        """Record the validation passes finished on the other thread, in step order; True when none is left.

        Waits for them until ``deadline`` (a ``time.perf_counter()`` value;
        the default, None: until every pass is done; 0: not at all).
        """
        while self._pending:
            step, future = self._pending[0]
            timeout = None if deadline is None else max(0.0, deadline - time.perf_counter())
            try:
                ce = future.result(timeout)
            except TimeoutError:
                return False
            self._pending.pop(0)
            self.history.valid.append((step, ce))
        return True

    def _validate_in_background(self, step: int, fast: FastPath) -> None:
        """Start the validation pass of ``step`` on another thread, on a copy of the weights as they are now.

        Training goes on meanwhile; ``collect_validations`` records the result.
        The other thread has its own fast path (its own buffers): it shares
        nothing with training but the copied weights, and NumPy releases the
        interpreter's lock in the products, so the pass runs on the second core.
        """
        ev = self._evaluator
        if ev is None or ev.dtype != fast.dtype or not ev.fits(self.model):
            ev = self._evaluator = FastPath(self.model, fast.dtype)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="validation")
        theta = fast.theta.copy()  # (P,) every parameter after `step` minibatches
        valid = self.corpus.valid

        def evaluate() -> float:
            np.copyto(ev.theta, theta)
            return ev.evaluate(valid)

        self._pending.append((step, self._executor.submit(evaluate)))

    def _forget_pending_after(self, step: int) -> None:
        """Drop the passes in progress for weights after ``step`` minibatches (a roll-back or an interruption)."""
        for s, future in self._pending:
            if s > step:
                future.cancel()
        self._pending = [(s, f) for s, f in self._pending if s <= step]

    def close(self) -> None:
        """Stop the validation thread (passes in progress are dropped). The trainer stays usable."""
        for _, future in self._pending:
            future.cancel()
        self._pending = []
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _evaluate_current(self, data) -> float:
        if self._fast is not None and self._fast.version == self.model.version:
            return self._fast.evaluate(data)
        return self.model.evaluate(data)

    # ---- fast path -----------------------------------------------------------------
    def _fast_path(self) -> FastPath:
        """The fast path, holding the model's current weights (made again if the precision or network changed)."""
        fast, model = self._fast, self.model
        if fast is None or fast.dtype != self.fast_dtype or not fast.fits(model):
            self._fast = FastPath(model, self.fast_dtype, overlap=self.overlap)
        else:
            if fast.version != model.version:
                fast.load(model)
            if fast.overlap != self.overlap:
                fast.set_overlap(self.overlap)
        return self._fast

    def run(
        self,
        n_batches: int,
        *,
        deadline: float | None = None,
        background_validation: bool = False,
    ) -> int:
        """Train up to ``n_batches`` whole minibatches on the fast path; returns how many ran.

        A minibatch in progress is finished stage by stage first (it counts).
        With ``deadline`` (a ``time.perf_counter()`` value), stops after the
        first minibatch that ends past it. A validation pass that falls due is
        evaluated there and then, or with ``background_validation`` on another
        thread, on a copy of the weights, while training goes on
        (``collect_validations`` records it, waiting for it if asked to).
        Raises DivergenceError, with the model rolled back to the last good
        weights, when a non-finite value appears or the loss passes
        ``loss_limit``.
        """
        done = 0
        if n_batches <= 0:
            return 0
        # Passes still in progress can go on beside more background ones; one made here must come after them.
        self.collect_validations(0.0 if background_validation else None)
        if self.in_batch:
            self.finish_batch()
            done += 1
        self.stage = None  # whole minibatches now: none of them is on screen
        if done >= n_batches:
            return done
        fast = self._fast_path()
        last = self._snapshots[-1][0] if self._snapshots else None
        if last is None or not 0 <= self.step - last < SNAPSHOT_EVERY or self._settings_changed:
            self._snapshot()  # not on every call: a roll-back replays from the last one
        limit = self.loss_limit
        history, corpus, per_epoch, valid_every = self.history, self.corpus, self.batches_per_epoch, self.valid_every
        n, lr, mu = self.config.batch_size, self.learning_rate, self.momentum
        train, all_finite, add_train = fast.train_trusted, fast.all_finite, history.add_train
        health = self.health
        health_every = health.every if health.every > 0 else 1 << 62  # 0: no readings in runs
        X = T = None
        rows_epoch = -1
        start = self.step
        try:
            with np.errstate(over="ignore"):  # what train_trusted expects (see core/fast.py)
                while done < n_batches:
                    step = self.step
                    epoch, b = divmod(step, per_epoch)
                    if epoch != rows_epoch:  # the epoch's permutation, gathered once (see _epoch_indices)
                        (X, T), rows_epoch = self._epoch_indices(epoch), epoch
                    loss = train(X[b * n : (b + 1) * n], T[b * n : (b + 1) * n], lr, mu)  # batch_at(step)
                    if not loss <= limit:  # also catches NaN
                        raise self._roll_back(*self._first_failure(step, step, self._loss_problem(loss)))
                    if (step + 1) % FINITE_EVERY == 0 and not all_finite():
                        raise self._roll_back(*self._first_failure(step, step + 1, self.OVERFLOW))
                    add_train(loss)
                    done += 1
                    self.step = step = step + 1
                    if step % health_every == 0:  # from this minibatch's buffers, before a validation reuses them
                        health.record_fast(step, fast, lr)
                    epoch_end = b + 1 == per_epoch
                    if epoch_end:
                        history.epoch_ends.append(step)
                    if epoch_end or (b + 1) % valid_every == 0:  # validates_after(step)
                        if background_validation:
                            self._validate_in_background(step, fast)
                        else:
                            history.valid.append((step, fast.evaluate(corpus.valid)))
                    if deadline is not None and time.perf_counter() >= deadline:
                        break
                if self.step % FINITE_EVERY and not all_finite():  # the minibatches since the last check
                    raise self._roll_back(*self._first_failure(self.step - 1, self.step, self.OVERFLOW))
        except DivergenceError:
            raise  # _roll_back has already put the model back
        except BaseException:
            # Interrupted (Ctrl-C, out of memory), perhaps inside a minibatch: the model never received this
            # call's fast-path minibatches, so they are forgotten and the fast path reloads from the model.
            self.step = start
            history.truncate(start)
            self.health.truncate(start)
            self._forget_pending_after(start)
            fast.version = -1
            raise
        fast.store(self.model)
        self.diverged = None
        self._lr_trained = self._lr_trained or done > 0
        return done

    # ---- live settings and evaluation ------------------------------------------------
    def set_live(self, *, learning_rate: float | None = None, momentum: float | None = None) -> None:
        """Change the learning rate or momentum from the next update on."""
        cfg = self.config
        if learning_rate is not None:
            cfg = cfg.replace(learning_rate=learning_rate)
            if cfg.learning_rate != self.learning_rate:
                if self._lr_trained:  # remembered, to go back to if the new one diverges
                    self.last_good_learning_rate = self.learning_rate
                self._lr_trained = False
        if momentum is not None:
            cfg = cfg.replace(momentum=momentum)
        self.model.config = cfg
        self._settings_changed = True  # a roll-back must not replay across this change

    def evaluate(self, split: str = "valid") -> float:
        """Mean CE of the current weights on "train", "valid" or "test"."""
        data = {"train": self.corpus.train, "valid": self.corpus.valid, "test": self.corpus.test}[split]
        return self._evaluate_current(data)

    # ---- the minibatch on screen -------------------------------------------------------
    def gradient_context(self):
        """What the gradients on screen were computed from: (float64 model copy, x, t).

        While a minibatch is being stepped (or just after its update stage), the
        copy holds the weights from the start of that minibatch, before its
        update; otherwise the current weights and the next minibatch.
        """
        stage = self.stage
        if stage is not None and (self.in_batch or stage.batch == self.step - 1):
            snaps = [s for s in self._snapshots if s[0] == stage.batch]
            if snaps:
                model = FourGramModel(self.model.vocab, self.model.config)
                model.load_state(snaps[-1][1])
                x, t = self.batch_at(stage.batch)
                return model, x, t
        model = FourGramModel(self.model.vocab, self.model.config)
        model.load_state(self.model.state())
        x, t = self.current_batch()
        return model, x, t

    # ---- checkpoints -----------------------------------------------------------------
    def save(self, path):
        """Write weights, optimizer state, vocabulary, hyperparameters and history (atomically)."""
        from . import checkpoint

        # Part-way through a minibatch the weights are still those after
        # ``self.step`` minibatches (only the update stage changes them).
        self.collect_validations(None)  # the history complete up to this step
        return checkpoint.save(path, self.model, self.history, step=self.step, corpus_name=self.corpus.name)

    @classmethod
    def from_checkpoint(cls, corpus: Corpus, path, **kwargs) -> "Trainer":
        """A trainer on ``corpus`` that continues from the checkpoint at ``path``."""
        from . import checkpoint

        ckpt = checkpoint.load(path, vocab=corpus.vocab)
        trainer = cls(corpus, model=ckpt.build_model(), **kwargs)
        trainer.history = ckpt.history
        trainer.step = ckpt.step
        trainer._lr_trained = ckpt.step > 0  # the checkpoint's learning rate trained its minibatches
        return trainer

    def record_test(self) -> float:
        ce = self.evaluate("test")
        self.history.test.append((self.step, ce))
        return ce
