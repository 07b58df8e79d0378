"""The trainer: batch order, counters, validation, the two paths agreeing, and divergence."""

from collections import Counter
import time

import numpy as np
import pytest

from core.corpus import Corpus
from core.errors import ConfigError, DivergenceError
from core.layers import ACTIVATIONS
from core.model import Config
from core.trainer import Trainer
from _support import PARAM_NAMES, interrupt_on_call

V = 9
VOCAB = [f"w{i}" for i in range(V)]


def tiny_corpus(n_train=60, seed=0) -> Corpus:
    rng = np.random.default_rng(seed)
    rows = lambda n: rng.integers(0, V, size=(n, 4)).astype(np.int32)  # noqa: E731
    return Corpus("tiny", "text", "memory", VOCAB, rows(n_train), rows(15), rows(15))


TINY = Config(embed_dim=3, hidden_dim=5, batch_size=7, init_std=0.3)  # 60 // 7 = 8 minibatches per epoch


def weights(trainer):
    return {k: v.copy() for k, v in trainer.model.params.items()}


def assert_same_weights(a, b, **tol):
    for k in PARAM_NAMES:
        if tol:
            np.testing.assert_allclose(a.model.params[k], b.model.params[k], **tol, err_msg=k)
            np.testing.assert_allclose(a.model.velocity[k], b.model.velocity[k], **tol, err_msg=k)
        else:
            np.testing.assert_array_equal(a.model.params[k], b.model.params[k], err_msg=k)


# ---- batch order and counters --------------------------------------------------------------------


def rows_of(trainer, step):
    x, t = trainer.batch_at(step)
    return np.column_stack([x, t])


def test_batch_order_is_deterministic_from_the_seed():
    corpus = tiny_corpus()
    a, b = Trainer(corpus, TINY), Trainer(corpus, TINY)
    other = Trainer(corpus, TINY.replace(seed=2))
    for step in (0, 3, 8, 17):
        np.testing.assert_array_equal(rows_of(a, step), rows_of(b, step))
    assert any(not np.array_equal(rows_of(a, s), rows_of(other, s)) for s in range(8))
    # Each epoch is a fresh permutation: its minibatches are distinct training rows.
    for epoch in range(2):
        seen = np.concatenate([rows_of(a, epoch * 8 + b_) for b_ in range(8)])
        assert len(seen) == 8 * 7
        have = Counter(map(tuple, corpus.train.tolist()))
        assert not Counter(map(tuple, seen.tolist())) - have  # a sub-multiset of the training set
    assert not np.array_equal(rows_of(a, 0), rows_of(a, 8))
    x, t = a.batch_at(5)
    assert x.shape == (7, 3) and t.shape == (7,)


def test_counters_validation_and_epoch_ends():
    tr = Trainer(tiny_corpus(), TINY, valid_every=3)
    assert tr.batches_per_epoch == 8
    assert tr.run(20) == 20
    assert (tr.step, tr.epoch, tr.batch_in_epoch) == (20, 2, 4)
    assert len(tr.history) == 20
    assert tr.history.epoch_ends == [8, 16]
    # every 3 minibatches of an epoch and at its end
    assert [s for s, _ in tr.history.valid] == [3, 6, 8, 11, 14, 16, 19]
    assert all(np.isfinite(ce) for _, ce in tr.history.valid)
    # The value recorded is the validation CE of the weights after that many minibatches.
    fresh = Trainer(tiny_corpus(), TINY, fast_dtype=np.float64)
    fresh.run(8)
    assert fresh.history.valid[-1][0] == 8
    assert fresh.history.valid[-1][1] == pytest.approx(fresh.model.evaluate(fresh.corpus.valid), rel=1e-12)


def test_the_stepper_records_the_same_history():
    fast = Trainer(tiny_corpus(), TINY, valid_every=3, fast_dtype=np.float64)
    fast.run(10)
    stepped = Trainer(tiny_corpus(), TINY, valid_every=3, fast_dtype=np.float64)
    for _ in range(10):
        stepped.finish_batch()
    assert stepped.history.epoch_ends == fast.history.epoch_ends == [8]
    assert [s for s, _ in stepped.history.valid] == [s for s, _ in fast.history.valid] == [3, 6, 8]
    np.testing.assert_allclose([c for _, c in stepped.history.valid], [c for _, c in fast.history.valid], rtol=1e-10)
    np.testing.assert_allclose(stepped.history.train_ce, fast.history.train_ce, rtol=1e-10)


def test_default_validation_interval_and_deadline():
    tr = Trainer(tiny_corpus(), TINY)
    assert tr.valid_every == 2  # 8 minibatches an epoch: validated 4 times
    assert tr.run(5, deadline=time.perf_counter()) == 1  # a deadline already past: one minibatch, then stop
    assert tr.run(0) == 0 and tr.step == 1


def test_validation_schedule_is_even_within_an_epoch():
    from core.trainer import validation_interval

    for per_epoch, every in ((3725, 932), (222, 56), (8, 2), (5000, 1000), (5001, 834), (1, 1), (3, 1)):
        assert validation_interval(per_epoch) == every
    tr = Trainer(tiny_corpus(), TINY)  # 8 minibatches an epoch
    assert [s for s in range(1, 25) if tr.validates_after(s)] == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24]
    odd = Trainer(tiny_corpus(), TINY, valid_every=3)
    assert [s for s in range(1, 17) if odd.validates_after(s)] == [3, 6, 8, 11, 14, 16]


def test_trainer_refuses_what_cannot_work():
    with pytest.raises(ConfigError, match="larger than the training set"):
        Trainer(tiny_corpus(), TINY.replace(batch_size=61))
    other = tiny_corpus()
    other.vocab = list(reversed(VOCAB))
    tr = Trainer(tiny_corpus(), TINY)
    with pytest.raises(ConfigError, match="vocabulary"):
        Trainer(other, model=tr.model)


def test_live_settings_apply_to_the_next_update():
    a = Trainer(tiny_corpus(), TINY, fast_dtype=np.float64)
    b = Trainer(tiny_corpus(), TINY.replace(learning_rate=0.4, momentum=0.5), fast_dtype=np.float64)
    a.set_live(learning_rate=0.4, momentum=0.5)
    a.run(3)
    b.run(3)
    assert_same_weights(a, b)
    with pytest.raises(ConfigError):
        a.set_live(momentum=1.0)
    assert a.momentum == 0.5


# ---- the fast path and the stepper ---------------------------------------------------------------------


def test_fast_path_gives_the_steppers_weights(demo_corpus):
    fast = Trainer(demo_corpus, fast_dtype=np.float64)
    stepped = Trainer(demo_corpus, fast_dtype=np.float64)
    assert fast.run(4) == 4
    for _ in range(4):
        stepped.finish_batch()
    assert fast.step == stepped.step == 4
    assert_same_weights(fast, stepped, rtol=1e-10, atol=1e-16)
    np.testing.assert_allclose(fast.history.train_ce, stepped.history.train_ce, rtol=1e-12)
    # The weights moved: the comparison is not between two copies of the initial weights.
    assert not np.allclose(fast.model.params["W_o"], Trainer(demo_corpus).model.params["W_o"], rtol=1e-3)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_both_paths_agree_for_every_activation(activation):
    cfg = TINY.replace(activation=activation)
    fast = Trainer(tiny_corpus(), cfg, fast_dtype=np.float64)
    stepped = Trainer(tiny_corpus(), cfg, fast_dtype=np.float64)
    fast.run(12)
    for _ in range(12):
        stepped.finish_batch()
    assert_same_weights(fast, stepped, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(fast.history.train_ce, stepped.history.train_ce, rtol=1e-12)


def test_mixed_stepping_and_running(demo_corpus):
    mixed = Trainer(demo_corpus, fast_dtype=np.float64)
    stepped = Trainer(demo_corpus, fast_dtype=np.float64)
    mixed.run(2)
    for _ in range(5):
        mixed.step_stage()  # part-way through minibatch 3
    assert mixed.in_batch and mixed.step == 2
    assert mixed.run(2) == 2  # finishes minibatch 3 stage by stage, then one on the fast path
    mixed.finish_batch()
    mixed.run(1)
    for _ in range(6):
        stepped.finish_batch()
    assert mixed.step == stepped.step == 6
    assert_same_weights(mixed, stepped, rtol=1e-10, atol=1e-16)
    np.testing.assert_allclose(mixed.history.train_ce, stepped.history.train_ce, rtol=1e-12)


def test_float32_fast_path_stays_close_to_float64(demo_corpus):
    f32 = Trainer(demo_corpus, fast_dtype=np.float32)
    f64 = Trainer(demo_corpus, fast_dtype=np.float64)
    f32.run(5)
    f64.run(5)
    assert f32.model.dtype == np.float64  # the model itself stays float64
    for k in PARAM_NAMES:
        w64 = f64.model.params[k]
        np.testing.assert_allclose(f32.model.params[k], w64, rtol=1e-4, atol=1e-4 * np.abs(w64).max(), err_msg=k)
    np.testing.assert_allclose(f32.history.train_ce, f64.history.train_ce, rtol=1e-5)


# ---- divergence ------------------------------------------------------------------------------------------


def assert_clean_after_divergence(tr, err, fresh):
    """Weights finite and equal to a fresh trainer's after tr.step minibatches; history cut back, finite."""
    assert tr.model.all_finite()
    assert fresh.step == tr.step
    assert_same_weights(tr, fresh)
    assert len(tr.history) == tr.step
    assert all(s <= tr.step for s, _ in tr.history.valid)
    assert all(s <= tr.step for s in tr.history.epoch_ends)
    assert np.isfinite(tr.history.train_ce).all()
    assert all(np.isfinite(c) for _, c in tr.history.valid)
    assert not tr.in_batch and tr.stage is None
    assert tr.diverged is err
    message = str(err)
    assert "\n" not in message and "learning rate" in message
    assert "nan" not in message.lower().replace("non-finite", "")


def test_learning_rate_100_diverges_and_rolls_back(demo_corpus):
    cfg = Config(learning_rate=100)
    tr = Trainer(demo_corpus, cfg)
    initial = weights(tr)
    with pytest.raises(DivergenceError) as info:
        tr.run(50)
    assert "diverged" in str(info.value) and "smaller learning rate" in str(info.value)
    fresh = Trainer(demo_corpus, cfg)
    fresh.run(tr.step)
    assert_clean_after_divergence(tr, info.value, fresh)
    assert tr.step == 0
    for k in PARAM_NAMES:
        np.testing.assert_array_equal(tr.model.params[k], initial[k])
    # The trainer is usable again with a sensible learning rate.
    tr.set_live(learning_rate=0.1)
    assert tr.run(3) == 3 and tr.model.all_finite() and tr.diverged is None


@pytest.mark.parametrize("path", ["run", "step"])
def test_after_a_divergence_the_last_learning_rate_that_trained_is_suggested(demo_corpus, path):
    tr = Trainer(demo_corpus, Config(learning_rate=0.2))
    advance = (lambda n: tr.run(n)) if path == "run" else (lambda n: [tr.finish_batch() for _ in range(n)])
    advance(3)
    tr.set_live(learning_rate=0.05)  # set, then changed before it trained: not "one that trained"
    tr.set_live(learning_rate=100)
    assert tr.last_good_learning_rate == 0.2
    with pytest.raises(DivergenceError) as info:
        advance(20)
    err = info.value
    assert tr.step == 3  # back to the weights trained at 0.2 only
    assert err.learning_rate == 100 and err.suggested_learning_rate == 0.2
    assert "such as 0.2 (the last one that trained)" in str(err)
    assert err.summary == "Diverged at minibatch 5 with learning rate 100: last good weights restored."
    # the one that diverged never becomes "the last one that trained"
    tr.set_live(learning_rate=50)
    assert tr.suggested_learning_rate() == (0.2, "the last one that trained")
    tr.set_live(learning_rate=0.2)
    assert tr.run(3) == 3 and tr.diverged is None


@pytest.mark.parametrize("rate", [1.5, 100])
def test_without_an_earlier_learning_rate_the_default_is_suggested(demo_corpus, rate):
    tr = Trainer(demo_corpus, Config(learning_rate=rate))
    with pytest.raises(DivergenceError) as info:
        tr.run(50)
    assert info.value.suggested_learning_rate == 0.1
    assert "such as 0.1 (the default)" in str(info.value)


def test_below_ten_times_the_default_a_tenth_is_suggested(demo_corpus):
    tr = Trainer(demo_corpus, Config(learning_rate=0.5))
    assert tr.suggested_learning_rate() == (pytest.approx(0.05), "a tenth of 0.5")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_later_divergence_replays_to_the_last_good_weights(demo_corpus, dtype):
    """With learning rate 1.5 the loss explodes at minibatch 4: the weights go back to those after 2."""
    cfg = Config(learning_rate=1.5)
    tr = Trainer(demo_corpus, cfg, fast_dtype=dtype)
    with pytest.raises(DivergenceError) as info:
        tr.run(50)
    assert info.value.batch == 3 and tr.step == 2
    fresh = Trainer(demo_corpus, cfg, fast_dtype=dtype)
    fresh.run(2)
    assert_clean_after_divergence(tr, info.value, fresh)


def test_the_stepper_diverges_the_same_way(demo_corpus):
    cfg = Config(learning_rate=1.5)
    tr = Trainer(demo_corpus, cfg)
    with pytest.raises(DivergenceError) as info:
        for _ in range(10 * 14):
            tr.step_stage()
    assert info.value.batch == 3 and tr.step == 2
    fresh = Trainer(demo_corpus, cfg)
    for _ in range(2):
        fresh.finish_batch()
    assert_clean_after_divergence(tr, info.value, fresh)
    assert tr.step_stage().batch == 2  # stepping resumes from the restored weights


def test_the_stepper_at_learning_rate_100(demo_corpus):
    tr = Trainer(demo_corpus, Config(learning_rate=100))
    initial = weights(tr)
    with pytest.raises(DivergenceError) as info:
        for _ in range(5 * 14):
            tr.step_stage()
    assert tr.step == 0 and len(tr.history) == 0
    for k in PARAM_NAMES:
        np.testing.assert_array_equal(tr.model.params[k], initial[k])
    assert "diverged" in str(info.value)


@pytest.mark.parametrize("path", ["run", "step"])
def test_huge_initial_weights_are_explained(demo_corpus, path):
    tr = Trainer(demo_corpus, Config(init_std=100))
    initial = weights(tr)
    with pytest.raises(DivergenceError) as info:
        if path == "run":
            tr.run(3)
        else:
            tr.finish_batch()
    message = str(info.value)
    assert "initial weights" in message and "init std" in message and "\n" not in message
    assert tr.step == 0 and len(tr.history) == 0
    for k in PARAM_NAMES:
        np.testing.assert_array_equal(tr.model.params[k], initial[k])


def test_a_roll_back_replays_from_an_older_snapshot_to_the_exact_weights(monkeypatch):
    import core.trainer as trainer_module

    monkeypatch.setattr(trainer_module, "SNAPSHOT_EVERY", 4)  # snapshots now and then, not on every call
    tr = Trainer(tiny_corpus(), TINY, fast_dtype=np.float64, valid_every=100)
    for _ in range(6):
        tr.run(3)  # 18 minibatches in calls of 3: snapshots at steps 0, 6 and 12 only
    assert [s[0] for s in tr._snapshots] == [6, 12]
    real = tr._fast.train_trusted
    calls = {"n": 0}

    def blows_up_on_the_third(x, t, lr, mu):
        calls["n"] += 1
        loss = real(x, t, lr, mu)
        return float("inf") if calls["n"] == 3 else loss

    monkeypatch.setattr(tr._fast, "train_trusted", blows_up_on_the_third)
    with pytest.raises(DivergenceError, match="minibatch 21"):
        tr.run(5)  # minibatches 19, 20, then 21 "diverges": back to the weights after 19
    monkeypatch.setattr(tr._fast, "train_trusted", real)
    assert tr.step == 19 and len(tr.history) == 19
    fresh = Trainer(tiny_corpus(), TINY, fast_dtype=np.float64, valid_every=100)
    fresh.run(19)
    assert_same_weights(tr, fresh, rtol=1e-12)


# ---- weights checked every FINITE_EVERY minibatches -----------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad_update", [0, 5, 16, 16 + 7])
def test_a_weight_broken_between_checks_rolls_back_to_the_update_before_it(monkeypatch, dtype, bad_update):
    """The update of minibatch ``bad_update`` puts a NaN in the embedding row of a word no later context uses,
    so no loss shows it: the next finiteness check finds it, and the replay finds the update that did it."""
    import core.trainer as trainer_module
    from core.fast import FastPath

    assert trainer_module.FINITE_EVERY == 16  # the cases above straddle its checks
    corpus = tiny_corpus(n_train=400, seed=3)
    unused = V - 1  # never a context or a target below, so a NaN in its row changes no loss
    corpus.train[corpus.train == unused] = 0
    tr = Trainer(corpus, TINY, fast_dtype=dtype, valid_every=1000)
    target_x = tr.batch_at(bad_update)[0].astype(np.intp)
    real = FastPath.train_trusted

    def breaks_one_update(self, x, t, lr, mu):
        loss = real(self, x, t, lr, mu)
        if np.array_equal(x, target_x):
            self.params["W_emb"][unused, 0] = np.nan
        return loss

    monkeypatch.setattr(FastPath, "train_trusted", breaks_one_update)
    with pytest.raises(DivergenceError, match="overflow") as info:
        tr.run(45)
    monkeypatch.undo()
    assert info.value.batch == bad_update + 1 and tr.step == bad_update
    fresh = Trainer(corpus, TINY, fast_dtype=dtype, valid_every=1000)
    fresh.run(bad_update)
    assert_clean_after_divergence(tr, info.value, fresh)


def test_a_run_that_stops_between_checks_checks_its_last_minibatches(monkeypatch):
    import core.trainer as trainer_module
    from core.fast import FastPath

    corpus = tiny_corpus(n_train=400, seed=3)
    corpus.train[corpus.train == V - 1] = 0
    tr = Trainer(corpus, TINY, valid_every=1000)
    assert 3 % trainer_module.FINITE_EVERY  # the run below ends between two periodic checks
    real = FastPath.train_trusted

    def breaks_the_second(self, x, t, lr, mu):
        loss = real(self, x, t, lr, mu)
        if np.array_equal(x, tr.batch_at(1)[0]):
            self.params["W_emb"][V - 1, 0] = np.inf
        return loss

    monkeypatch.setattr(FastPath, "train_trusted", breaks_the_second)
    with pytest.raises(DivergenceError, match="overflow") as info:
        tr.run(3)
    assert info.value.batch == 2 and tr.step == 1 and tr.model.all_finite()


# ---- validation passes on another thread ---------------------------------------------------------------


def test_background_validation_records_what_inline_validation_does(demo_corpus):
    inline = Trainer(demo_corpus, valid_every=20)
    inline.run(130)
    bg = Trainer(demo_corpus, valid_every=20)
    done = 0
    while done < 130:  # in calls of 7, as ticks do, recording what has finished between them
        done += bg.run(min(7, 130 - done), background_validation=True)
        bg.collect_validations(0.0)
    assert bg.collect_validations()  # waits for the passes still in progress
    assert not bg.validation_owed
    assert bg.history.valid == inline.history.valid  # same steps, same values to the last bit
    assert [s for s, _ in bg.history.valid][:6] == [20, 40, 60, 80, 100, 120]
    assert_same_weights(bg, inline)
    bg.close()
    assert bg.run(20, background_validation=True) == 20 and bg.collect_validations()  # a new thread after close()
    inline.run(20)
    assert bg.history.valid == inline.history.valid


def test_a_roll_back_drops_the_passes_of_weights_it_undoes(demo_corpus):
    cfg = Config(learning_rate=1.5)  # the loss explodes at minibatch 4 (see above)
    tr = Trainer(demo_corpus, cfg, valid_every=1)
    with pytest.raises(DivergenceError):
        tr.run(50, background_validation=True)
    assert tr.step == 2
    assert tr.collect_validations()
    assert [s for s, _ in tr.history.valid] == [1, 2]  # the pass after minibatch 3 is gone
    fresh = Trainer(demo_corpus, cfg, valid_every=1)
    fresh.run(2)
    assert tr.history.valid == fresh.history.valid


def test_an_interrupted_run_drops_the_passes_it_started(demo_corpus, monkeypatch):
    tr = Trainer(demo_corpus, valid_every=3)
    tr.run(4)
    fast = tr._fast_path()
    interrupt_on_call(monkeypatch, fast, "train_trusted", 5)
    with pytest.raises(KeyboardInterrupt):
        tr.run(10, background_validation=True)  # a pass starts after minibatch 6, then minibatch 9 is cut short
    monkeypatch.undo()
    assert tr.step == 4 and tr.collect_validations()
    assert [s for s, _ in tr.history.valid] == [3]


def test_state_before_a_stepped_minibatch_is_its_starting_weights(demo_corpus):
    trainer = Trainer(demo_corpus, Config(batch_size=20))
    trainer.run(3)
    start = trainer.model.state()
    trainer.finish_batch()  # minibatch 3, stage by stage: the update changes the weights in place
    kept = trainer.state_before(3)
    assert kept is not None and kept.keys() == start.keys()
    for name, array in start.items():
        np.testing.assert_array_equal(kept[name], array)
    assert not np.array_equal(kept["W_o"], trainer.model.params["W_o"])
    assert trainer.state_before(7) is None  # never the start of a minibatch kept
