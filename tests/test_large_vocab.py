"""Large vocabularies: the shortcuts taken for speed give exactly the answers of the plain computations.

The window ranks V probabilities on every keystroke, searches V words for
suggestions when a word is unknown, measures V tick labels and snapshots
V-sized weights on every stepped minibatch. Each of these has a faster form;
here each is compared with the straightforward one it replaced (a full stable
argsort, ``difflib.get_close_matches``, measuring every label, fresh copies).
"""

import difflib
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from core.model import Config, FourGramModel
from core.ranking import bottom_k, top_k
from core.spelling import Speller

V = 5000


def big_vocab(n: int = V, seed: int = 0) -> list[str]:
    """``n`` different made-up words sharing prefixes and letters, as a real vocabulary does."""
    rnd = random.Random(seed)
    syllables = "ba be bi ko ku la le li ma mo na ne ri ro sa se ta to za zo an en st tr".split()
    words: dict[str, None] = {}
    while len(words) < n:
        words["".join(rnd.choice(syllables) for _ in range(rnd.randint(1, 4)))] = None
    return list(words)


# ---- ranking -------------------------------------------------------------------------------------

FLOATS = hnp.arrays(
    np.float64,
    st.integers(1, 300),
    # few distinct values, so that ties are common; NaN, ±inf and −0.0 included
    elements=st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 2.5e-300, 1e300, np.inf, -np.inf, np.nan])
    | st.floats(-10, 10),
)


@settings(max_examples=300, deadline=None)
@given(values=FLOATS, k=st.integers(0, 320))
def test_top_k_is_a_stable_argsort_of_the_negated_values(values, k):
    expected = np.argsort(-values, kind="stable")[: max(0, min(k, len(values)))]
    assert np.array_equal(top_k(values, k), expected)


@settings(max_examples=300, deadline=None)
@given(values=FLOATS, k=st.integers(0, 320))
def test_bottom_k_is_a_stable_argsort(values, k):
    expected = np.argsort(values, kind="stable")[: max(0, min(k, len(values)))]
    assert np.array_equal(bottom_k(values, k), expected)


@pytest.fixture(scope="module")
def big_model():
    """A trained-looking network over 5,000 words: random weights large enough to spread the probabilities."""
    model = FourGramModel(big_vocab(), Config(embed_dim=8, hidden_dim=16, init_std=1.0, seed=3))
    return model


def test_predictions_over_5000_words_equal_a_full_sort(big_model):
    rng = np.random.default_rng(1)
    for _ in range(20):
        words = [big_model.vocab[i] for i in rng.integers(0, V, 3)]
        p = big_model.probabilities(words)  # (V,)
        for k in (1, 10, 50, V):
            order = np.argsort(-p, kind="stable")[:k]
            assert big_model.predict(words, k) == [(big_model.vocab[i], float(p[i])) for i in order]


def test_predictions_keep_ties_in_vocabulary_order():
    model = FourGramModel(big_vocab(300), Config(embed_dim=4, hidden_dim=4, seed=1))
    model.params["W_o"][:] = 0.0  # every word equally likely: the first k words of the vocabulary, in order
    model.params["b_o"][:] = 0.0
    model.params["b_o"][[7, 250]] = 1.0
    shown = [w for w, _ in model.predict(model.vocab[:3], 5)]
    assert shown == [model.vocab[7], model.vocab[250], model.vocab[0], model.vocab[1], model.vocab[2]]


def test_nearest_over_5000_words_equals_a_full_sort(big_model):
    W = big_model.params["W_emb"]
    for i in (0, 17, 4999):
        word = big_model.vocab[i]
        dist = np.sqrt(((W - W[i]) ** 2).sum(axis=1))
        dist[i] = np.inf
        order = np.argsort(dist, kind="stable")[:10]
        assert big_model.nearest(word, 10) == [(big_model.vocab[j], float(dist[j])) for j in order]


# ---- suggestions for unknown words -----------------------------------------------------------------


@pytest.fixture(scope="module")
def vocab_5000():
    return big_vocab()


QUERIES = ["bea", "zzzzzzz", "q", "", "x", "kobala", "ristatrzo", "unbelievable", "日本", "naïve", "a" * 40]


@pytest.mark.parametrize("word", QUERIES)
@pytest.mark.parametrize("n, cutoff", [(1, 0.0), (3, 0.0), (3, 0.5), (10, 0.6), (3, 0.9)])
def test_close_matches_equal_difflib(vocab_5000, word, n, cutoff):
    speller = Speller(vocab_5000)
    assert speller.close_matches(word, n, cutoff) == difflib.get_close_matches(word, vocab_5000, n, cutoff)


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(st.text("abkloz é", min_size=1, max_size=7), min_size=1, max_size=60, unique=True),
    query=st.text("abkloqz é", max_size=9),
    n=st.integers(1, 5),
    cutoff=st.sampled_from([0.0, 0.3, 0.5, 0.75, 1.0]),
)
def test_close_matches_equal_difflib_for_any_words(words, query, n, cutoff):
    assert Speller(words).close_matches(query, n, cutoff) == difflib.get_close_matches(query, words, n, cutoff)


def test_the_models_suggestions_are_difflibs(vocab_5000):
    model = FourGramModel(vocab_5000, Config(embed_dim=2, hidden_dim=2))
    for word in QUERIES[:-1] + ["BEA", "Kobala"]:
        plain = difflib.get_close_matches(word.lower(), vocab_5000, 3, 0.5) or difflib.get_close_matches(
            word.lower(), vocab_5000, 3, 0.0
        )
        assert model.suggest(word) == plain
        assert model.suggest(word) == plain  # the second time from the memo: the same


# ---- snapshots reuse their arrays ----------------------------------------------------------------------


def test_state_into_earlier_arrays_copies_the_values_and_keeps_the_arrays():
    model = FourGramModel(big_vocab(50), Config(embed_dim=3, hidden_dim=4, seed=2))
    old = model.state()
    arrays = {k: id(v) for k, v in old.items()}
    model.params["W_o"] += 1.0
    model.velocity["W_h"] -= 2.0
    again = model.state(out=old)
    assert again is old and {k: id(v) for k, v in again.items()} == arrays
    fresh = model.state()
    assert fresh.keys() == again.keys()
    assert all(np.array_equal(fresh[k], again[k]) for k in fresh)
    other = FourGramModel(big_vocab(50), Config(embed_dim=5, hidden_dim=4))
    resized = other.state(out=old)  # shapes differ: new arrays, the old ones untouched
    assert resized is not old and resized["W_emb"].shape == (50, 5) and old["W_emb"].shape == (50, 3)


def test_stepped_minibatches_snapshot_the_weights_they_started_from(demo_corpus):
    from core.trainer import Trainer

    trainer = Trainer(demo_corpus, Config(embed_dim=4, hidden_dim=6, batch_size=5))
    trainer.prepare()
    started = {}
    for _ in range(5):
        started[trainer.step] = trainer.model.state()
        trainer.step_stage()  # the first stage of a minibatch takes the snapshot (into the arrays of a dropped one)
        trainer.finish_batch()
        assert len(trainer._snapshots) <= 2
        for step, state, _lr, _mu in trainer._snapshots:  # the kept older one is intact too
            assert all(np.array_equal(state[k], started[step][k]) for k in state)
    # the gradient check uses the snapshot of the minibatch on screen: the weights before its update
    model, _x, _t = trainer.gradient_context()
    assert all(np.array_equal(model.params[k], started[trainer.step - 1][k]) for k in model.params)


# ---- tick labels of a 5,000-word axis ------------------------------------------------------------------


def test_word_axes_are_measured_once_per_vocabulary_and_font(qtbot, vocab_5000):
    from PySide6.QtGui import QFontMetrics

    from explorer.widgets.heatmap import Heatmap

    h = Heatmap()
    qtbot.addWidget(h)
    h.resize(900, 600)
    h.show()
    qtbot.waitExposed(h)
    fm = QFontMetrics(h.left_axis.style["tickFont"] or h.left_axis.font())
    a = np.zeros((V, 4))
    h.set_data(a, row_axis="word", col_axis="embed", name="W_emb", labels={"word": vocab_5000})
    widest = max(fm.horizontalAdvance(w) for w in vocab_5000)
    assert h.left_axis.style["tickTextWidth"] == widest + 2
    # Another vocabulary of the same size, with one longer word: measured again, not taken from the first.
    longer = list(vocab_5000)
    longer[123] = "a-much-longer-word-than-any-other"
    h.set_data(a, row_axis="word", col_axis="embed", name="W_emb", labels={"word": longer})
    assert h.left_axis.style["tickTextWidth"] == fm.horizontalAdvance(longer[123]) + 2
    # Words along the bottom: the labels shown are words of the vocabulary, thinned so they do not overlap.
    h.set_data(np.zeros((3, V)), row_axis="example", col_axis="word", name="dz_o", labels={"word": longer})
    qtbot.waitUntil(lambda: h.bottom_axis.geometry().width() > 300)
    shown = h.bottom_axis.visible_labels()
    assert shown and set(shown) <= set(longer)
    step = h.bottom_axis.tick_step(*h.bottom_axis.range, h.bottom_axis.geometry().width())
    room = step * h.bottom_axis.geometry().width() / V  # pixels between two labels
    assert room >= max(fm.horizontalAdvance(w) for w in shown)
