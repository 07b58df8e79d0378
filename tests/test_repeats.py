"""core.repeats: which words a minibatch repeats, and the overwrite bug's error on their rows."""

import numpy as np
import pytest

from core.layers import Embedding
from core.repeats import has_repeat, naive_error, naive_kept, next_repeat, repeat_kind, repeated_rows
from core.trainer import Trainer


def test_repeated_rows_and_the_overwrite_error_name_exactly_the_words_used_twice():
    x = np.array([[0, 1, 2], [3, 1, 4], [5, 5, 6]])  # 1 in two examples, 5 twice in one context
    emb = Embedding(8, 3, init_std=1.0, rng=0)
    emb.forward(x)
    de = np.random.default_rng(1).standard_normal((3, 3, 3))
    emb.backward(de)
    assert repeated_rows(emb.contributions()) == {1, 5}
    err = naive_error(emb.grads["W"], emb.naive_grad(de))
    assert err["rows"] == [1, 5]
    lost = {1: de[0, 1], 5: de[2, 0]}  # the overwrite keeps the last slice of each, losing the others
    assert err["max_abs"] == pytest.approx(max(float(np.abs(v).max()) for v in lost.values()), rel=1e-12)
    diff = np.zeros((8, 3))
    for v, slice_ in lost.items():
        diff[v] = slice_
    assert err["relative"] == pytest.approx(float(np.linalg.norm(diff) / np.linalg.norm(emb.grads["W"])), rel=1e-12)
    assert naive_error(emb.grads["W"], emb.grads["W"]) == {"rows": [], "max_abs": 0.0, "relative": 0.0}


def test_kinds_of_repeat():
    assert (has_repeat([[0, 1, 2], [3, 4, 5]]), repeat_kind([[0, 1, 2], [3, 4, 5]])) == (False, 0)
    assert repeat_kind([[0, 1, 2], [0, 4, 5]]) == 1  # the same word at the same position in two examples
    assert repeat_kind([[0, 1, 2], [3, 0, 5]]) == 2  # at two different positions
    assert repeat_kind([[7, 7, 2]]) == 2 and has_repeat([[7, 7, 2]])


def test_next_repeat_looks_ahead_without_training(demo_corpus):
    from core.model import Config

    trainer = Trainer(demo_corpus, Config(batch_size=2))
    skip, kind = next_repeat(trainer)
    assert skip is not None and kind == 2
    assert repeat_kind(trainer.batch_at(skip)[0]) == 2
    assert all(repeat_kind(trainer.batch_at(k)[0]) != 2 for k in range(skip))
    assert trainer.step == 0 and len(trainer.history) == 0
    assert next_repeat(trainer, lookahead=skip) in ((None, 0),) + tuple(
        (k, 1) for k in range(skip) if repeat_kind(trainer.batch_at(k)[0]) == 1)


def test_repeats_across_examples_and_within_one_context():
    from core.repeats import repeats_across_examples, repeats_within_context

    assert repeats_across_examples([[0, 1, 2], [3, 1, 4]]) and not repeats_within_context([[0, 1, 2], [3, 1, 4]])
    assert repeats_within_context([[5, 6, 5], [0, 1, 2]]) and not repeats_across_examples([[5, 6, 5], [0, 1, 2]])
    assert not repeats_across_examples([[0, 1, 2], [3, 4, 5]]) and not repeats_within_context([[0, 1, 2]])


def test_the_checkers_minibatches_repeat_a_word_both_ways_when_some_do(demo_corpus):
    from core.model import Config
    from core.repeats import batches_with_repeats, repeats_across_examples, repeats_within_context

    trainer = Trainer(demo_corpus, Config(batch_size=20))
    numbers = batches_with_repeats(trainer, 3)
    assert len(numbers) == 3 and numbers == sorted(numbers)
    for n in numbers:
        x = trainer.batch_at(n)[0]
        assert repeats_across_examples(x) and repeats_within_context(x)
    # Minibatches of 2 seldom repeat a word both ways: the best ones of the lookahead are taken.
    small = Trainer(demo_corpus, Config(batch_size=2))
    score = [repeats_across_examples(small.batch_at(n)[0]) + repeats_within_context(small.batch_at(n)[0])
             for n in range(50)]
    picked = batches_with_repeats(small, 2, lookahead=50)
    assert sorted((score[n] for n in picked), reverse=True) == sorted(score, reverse=True)[:2]


def test_naive_kept_names_the_last_write_even_when_an_earlier_block_is_identical():
    x = np.array([[4, 1, 2], [0, 1, 3], [4, 1, 2]])  # examples 0 and 2 identical: word 1 three times at position 2
    emb = Embedding(6, 3, init_std=1.0, rng=0)
    emb.forward(x)
    de = np.random.default_rng(2).standard_normal((3, 3, 3))
    de[2] = de[0]  # identical examples send back identical vectors
    naive = np.zeros((6, 3))
    naive[x.ravel()] = de.reshape(-1, 3)  # computed directly: the row-major order is n*3 + k
    places = emb.contributions()[1]
    assert places == [(0, 1), (1, 1), (2, 1)]
    kept, same = naive_kept(naive, de.reshape(3, -1), 1, places)
    assert kept == (2, 1) and same == [(0, 1)]  # the last write, and the earlier identical one
    np.testing.assert_array_equal(naive[1], de[kept])
    assert naive_kept(naive, de.reshape(3, -1), 3, emb.contributions()[3]) == ((1, 2), [])
    assert naive_kept(np.zeros((6, 3)), de.reshape(3, -1), 1, places) == (None, [])
