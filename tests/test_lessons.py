"""Lesson files, the learner-sized minibatch, the questions and the 5×3 sketch (core only, no widgets)."""

import numpy as np
import pytest

from core.errors import LessonError
from core.lessons import (
    QUESTION_KINDS,
    EmbeddingSketch,
    LessonBatch,
    Step,
    lessons_dir,
    load_lessons,
    make_question,
    number_text,
    parse_lesson,
    training_progress,
)
from core.specs import operand
from core.repeats import next_repeat
from core.trainer import Trainer


@pytest.fixture(scope="module")
def batch(demo_corpus):
    return LessonBatch(demo_corpus)


def known(batch):
    return batch.stage_names, set(batch.tensors) | set(batch.model.specs)


def test_the_built_in_lessons_parse_and_every_step_names_real_stages_and_arrays(batch):
    stages, arrays = known(batch)
    chapters = load_lessons(stages=stages, arrays=arrays)
    assert len(chapters) >= 7
    titles = [c.title for c in chapters]
    assert titles[0] == "The forward pass"
    assert all(c.panel for c in chapters)  # every chapter ends with a way into the Explorer
    steps = [s for c in chapters for s in c.steps]
    assert {s.widget for s in steps} >= {"tables", "sketch", "gradcheck", "train"}
    assert {s.question for s in steps} >= set(QUESTION_KINDS)
    # every stage of the minibatch is shown by some step
    assert {s.stage for s in steps if s.stage} == set(stages)
    for s in steps:
        assert s.where.startswith(s.path.rsplit("/", 1)[-1] + ", line ")
        for name in batch.shows(s):
            assert batch.part(name).values.size > 0


GOOD = """---
title: A chapter
panel: loss_view
---

## First
stage: embed
show: x, e
question: shape

Some *text*.

## Second

Only text.
"""


def test_a_lesson_file_gives_chapters_steps_and_their_lines(batch):
    stages, arrays = known(batch)
    ch = parse_lesson(GOOD, "/tmp/a.md", stages, arrays)
    assert ch.title == "A chapter" and ch.panel == "loss_view"
    first, second = ch.steps
    assert (first.title, first.stage, first.show, first.question, first.line) == ("First", "embed", ("x", "e"), "shape", 6)
    assert first.text == "Some *text*."
    assert (second.title, second.stage, second.text, second.line) == ("Second", None, "Only text.", 13)


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("title: x\n", 1, "front matter"),
        ("---\ntitle: x\n\n## a\nstage: embed\n", 4, "not closed"),
        ("---\ntitle: x\n", 2, "not closed"),
        ("---\npanel: loss_view\n---\n## a\nstage: embed\n", 3, "no 'title"),
        ("---\ntitle: x\ncolour: red\n---\n", 3, "unknown front-matter key 'colour'"),
        ("---\ntitle: x\npanel: nowhere\n---\n## a\nstage: embed\n", 3, "unknown panel 'nowhere'"),
        ("---\ntitle: x\n---\nstray text\n## a\nstage: embed\n", 4, "before the first step"),
        ("---\ntitle: x\n---\n\n## a\nstage: embedd\n", 6, "unknown stage 'embedd'"),
        ("---\ntitle: x\n---\n\n## a\nstage: embed\nshow: e, zz\n", 7, "unknown array 'zz'"),
        ("---\ntitle: x\n---\n\n## a\nstage: embed\nquestion: colour\n", 7, "unknown question 'colour'"),
        ("---\ntitle: x\n---\n\n## a\nquestion: shape\n", 6, "needs the step's 'stage"),
        ("---\ntitle: x\n---\n\n## a\nwidget: movie\n", 6, "unknown widget 'movie'"),
        ("---\ntitle: x\n---\n\n## a\nstage: embed\nshape: 3\n", 7, "unknown step key 'shape'"),
        ("---\ntitle: x\n---\n\n## \nstage: embed\n", 5, "no title"),
        ("---\ntitle: x\n---\n\n", 4, "no steps"),
    ],
)
def test_a_malformed_lesson_file_gets_one_line_naming_the_file_and_line(batch, tmp_path, text, line, words):
    stages, arrays = known(batch)
    (tmp_path / "03_bad.md").write_text(text, encoding="utf-8")
    with pytest.raises(LessonError) as err:
        load_lessons(tmp_path, stages, arrays)
    message = str(err.value)
    assert message.startswith(f"03_bad.md, line {line}: ")
    assert words in message
    assert "\n" not in message


def test_an_unreadable_or_empty_lesson_folder_is_one_clear_line(tmp_path):
    with pytest.raises(LessonError, match="no lesson files"):
        load_lessons(tmp_path)
    (tmp_path / "a.md").write_bytes(b"---\ntitle: \xff\xfe\n---\n")
    with pytest.raises(LessonError, match=r"^a\.md, line 1: cannot be read"):
        load_lessons(tmp_path)


def test_the_lessons_ship_with_the_assets():
    assert (lessons_dir() / "01_forward.md").is_file()


# ---- the minibatch ---------------------------------------------------------------------------------------------


def test_the_lesson_batch_is_the_teaching_batch_of_a_learner_sized_network(batch, demo_corpus):
    c = batch.model.config
    assert (c.embed_dim, c.hidden_dims, c.batch_size) == (4, (6,), 2)
    trainer = Trainer(demo_corpus, c)
    skip, kind = next_repeat(trainer)
    x, t = trainer.batch_at(skip)
    np.testing.assert_array_equal(batch.x, x)
    np.testing.assert_array_equal(batch.t, t)
    assert kind == 2 and len(np.unique(batch.x)) < batch.x.size  # a word repeats, at two positions
    assert batch.vocab == demo_corpus.vocab  # the real vocabulary


def test_v_wide_arrays_show_the_targets_and_the_most_probable_words(batch):
    part = batch.part("p")
    assert part.cut
    p = batch.tensors["p"]
    for n in range(2):
        assert batch.t[n] in part.cols
        assert int(np.argmax(p[n])) in part.cols
    np.testing.assert_array_equal(part.values, p[:, part.cols])
    assert part.col_labels == [batch.vocab[v] for v in part.cols]
    rows = batch.part("dW_emb")
    assert set(rows.rows) == set(batch.x.ravel()) | set(batch.t)
    small = batch.part("W_h")
    assert not small.cut and small.values.shape == (12, 6)


# ---- questions -------------------------------------------------------------------------------------------------


def _step(stage, show, question):
    return Step("q", "", "x.md", 1, stage, tuple(show), question)


@pytest.mark.parametrize("seed", range(5))
def test_the_questions_correct_answers_are_what_the_core_computes(batch, seed):
    rng = np.random.default_rng(seed)
    q = make_question("shape", _step("hidden_input", ["e", "W_h", "b_h", "z_h"], "shape"), batch, rng)
    assert q.choices[q.answer] == "×".join(map(str, batch.stages["hidden_input"].arrays["z_h"].shape))
    assert len(set(q.choices)) == len(q.choices) >= 3

    q = make_question("nonzero_rows", _step("embedding_gradient", ["x", "de", "dW_emb"], "x"), batch, rng)
    g = batch.stages["embedding_gradient"].arrays["dW_emb"]
    rows = np.flatnonzero(np.any(g != 0, axis=1))
    assert q.choices[q.answer] == ", ".join(f"'{batch.vocab[v]}'" for v in rows)

    q = make_question("repeat_sum", _step("embedding_gradient", ["x", "de", "dW_emb"], "x"), batch, rng)
    assert "sum" in q.choices[q.answer]
    word = q.prompt.split("'")[1]
    v = batch.vocab.index(word)
    d = 4
    de = batch.tensors["de"]
    places = batch.stages["embedding_gradient"].contributions[v]
    assert len(places) == 2
    np.testing.assert_allclose(g[v], sum(de[n, k * d:(k + 1) * d] for n, k in places))

    q = make_question("sign", _step("output_error", ["p", "t", "dz_o"], "sign"), batch, rng)
    (idx,) = q.entries
    value = batch.stages["output_error"].arrays["dz_o"][idx]
    assert q.choices[q.answer] == ("positive" if value > 0 else "negative")

    q = make_question("bigger", _step("hidden", ["z_h", "h"], "bigger"), batch, rng)
    a, b = q.entries
    h = batch.stages["hidden"].arrays["h"]
    assert q.answer == (0 if h[a] > h[b] else 1)
    assert q.check(q.answer)[0] and not q.check(1 - q.answer)[0]


def test_questions_differ_from_run_to_run(batch):
    step = _step("hidden_input", ["e", "W_h", "b_h", "z_h"], "sign")
    prompts = {make_question("sign", step, batch, np.random.default_rng(s)).prompt for s in range(10)}
    assert len(prompts) > 1


def test_a_finite_difference_check_agrees_with_backprop(batch):
    check = batch.gradient_check("W_h", (1, 2))
    np.testing.assert_allclose(check.analytic, batch.tensors["dW_h"][1, 2])
    assert check.rel_error < 1e-6


# ---- the sketch ------------------------------------------------------------------------------------------------


def test_the_sketch_reproduces_the_classic_pattern():
    s = EmbeddingSketch()
    assert s.forward().shape == (2, 4, 3)
    np.testing.assert_array_equal(s.forward()[1, 2], s.W[0])
    assert s.sum_rows() == [0, 1, 2]  # rows 0, 1, 2 are sums of two; rows 3 and 4 single
    assert s.symbols(0) == "δ₀₀₀ + δ₁₂₀"
    assert s.symbols(3) == "δ₀₁₀" and s.symbols(4) == "δ₁₃₀"
    g = s.gradient()
    np.testing.assert_allclose(g[0], s.delta[0, 0] + s.delta[1, 2])
    np.testing.assert_allclose(g[3], s.delta[0, 1])
    naive = s.naive()
    assert not np.allclose(naive[0], g[0])  # the overwrite keeps one of the two
    np.testing.assert_allclose(naive[3], g[3])
    s.set_index(0, 1, 0)  # the 3 becomes another 0: row 0 is a sum of three, row 3 untouched
    assert s.sum_rows() == [0, 1, 2]
    assert s.symbols(0) == "δ₀₀₀ + δ₀₁₀ + δ₁₂₀" and s.symbols(3) == "0"
    s.set_index(0, 0, 3)
    assert s.sum_rows() == [0, 1, 2] and s.symbols(3) == "δ₀₀₀"
    s.set_index(1, 1, 4)
    assert s.sum_rows() == [0, 2, 4]
    with pytest.raises(ValueError):
        s.set_index(0, 0, 5)


def test_the_sketch_gradient_is_the_derivative_of_the_loss_it_sends_back():
    """δ is ∂L/∂out; with L = Σ δ·out (so that it is), dW must match central finite differences of L(W)."""
    s = EmbeddingSketch()
    s.set_index(1, 3, 0)  # and a row gathered three times
    loss = lambda W: float(np.sum(s.delta * W[s.index]))  # noqa: E731
    h = 1e-6
    numeric = np.zeros_like(s.W)
    for v, i in np.ndindex(s.W.shape):
        up, down = s.W.copy(), s.W.copy()
        up[v, i] += h
        down[v, i] -= h
        numeric[v, i] = (loss(up) - loss(down)) / (2 * h)
    np.testing.assert_allclose(s.gradient(), numeric, rtol=1e-8, atol=1e-9)
    assert s.W.dtype == np.float64
    assert not np.allclose(s.naive(), numeric)  # the overwrite is not the derivative


def test_the_sketch_writes_each_row_out_and_names_where_the_overwrite_is_wrong():
    s = EmbeddingSketch()
    d = s.delta
    assert s.equation(3, 1) == f"dW[3, 1] = δ₀₁₁ = {number_text(d[0, 1, 1])}"
    terms = " + ".join(operand(d[n, k, 0]) for n, k in ((0, 0), (1, 2)))
    assert s.equation(0, 0) == f"dW[0, 0] = δ₀₀₀ + δ₁₂₀ = {terms} = {number_text(d[0, 0, 0] + d[1, 2, 0])}"
    assert s.overwrite_rows() == [0, 1, 2]
    for v in s.overwrite_rows():  # it kept one of the row's δ's, and it is that δ it shows
        n, k = s.overwrite_kept(v)
        assert (n, k) in s.contributions()[v]
        np.testing.assert_array_equal(s.naive()[v], d[n, k])
    assert s.cycle_index(0, 3) == 3 and s.index[0, 3] == 3  # the 2 becomes the next row
    assert s.cycle_index(1, 3) == 0  # after row 4: row 0 again
    assert s.equation(4, 0) == "dW[4, 0] = 0 (row 4 is never gathered)" and s.overwrite_kept(4) is None
    assert "−0" not in [number_text(v) for v in s.W.ravel()]  # no negative zero on screen


def test_the_lessons_finite_difference_shows_two_real_losses_and_agrees_with_backprop(batch, demo_corpus):
    rng = np.random.default_rng(0)
    assert batch.model.config.activations == ("sigmoid",)  # as computed below
    for name in batch.checkable():
        index = batch.pick_entry(name, rng)
        fd = batch.finite_difference(name, index)
        assert fd.gradient == "d" + name and fd.analytic == batch.tensors["d" + name][index] != 0
        # the two losses, computed here independently: the minibatch's mean cross-entropy with the entry nudged
        for sign, loss in ((1, fd.loss_plus), (-1, fd.loss_minus)):
            w = {k: v.astype(np.float64).copy() for k, v in batch.weights.items()}
            w[name][index] += sign * fd.h
            e = w["W_emb"][batch.x].reshape(len(batch.t), -1)
            h = 1 / (1 + np.exp(-(e @ w["W_h"] + w["b_h"])))
            z = h @ w["W_o"] + w["b_o"]
            z = z - z.max(axis=1, keepdims=True)
            ce = np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(batch.t)), batch.t]
            assert loss == pytest.approx(ce.mean(), rel=1e-13)
        assert fd.numeric == (fd.loss_plus - fd.loss_minus) / (2 * fd.h)
        # the rounding-free check of core/gradcheck.py agrees; so does backprop
        careful = batch.gradient_check(name, index)
        assert fd.numeric == pytest.approx(careful.numeric, rel=1e-6)
        assert fd.rel_error < 1e-6 and fd.digits >= 6 and "agree" in fd.verdict
    assert batch.pick_entry("W_emb", rng)[0] in batch.x  # a row the minibatch used
    with pytest.raises(KeyError):
        batch.finite_difference("W_nowhere", (0, 0))


def test_the_training_steps_curve_is_block_means_of_the_loss_and_says_then_and_now():
    assert training_progress([]).text() == "Not trained yet: press Train."
    ce = np.concatenate([np.linspace(5.5, 3.0, 1000), [np.nan], np.linspace(3.0, 2.9, 9)])
    p = training_progress(ce, points=100)
    assert p.steps == 1010 and len(p.x) <= 101
    good = ce[np.isfinite(ce)]
    np.testing.assert_allclose(p.y[0], good[:11].mean())  # blocks of 11 of the 1009 finite losses
    np.testing.assert_allclose(p.x[0], 5.0)
    np.testing.assert_allclose(p.x[-1], np.mean(np.arange(1002, 1010)))  # the partial block at the end, after the NaN
    np.testing.assert_allclose(p.y[-1], good[1001:].mean())
    assert len(p.x) == 1009 // 11 + 1
    assert np.all(np.diff(p.x) > 0) and p.y[-1] < p.y[0]
    assert p.first == pytest.approx(good[:100].mean()) and p.last == pytest.approx(good[-100:].mean())
    assert p.text() == f"1,010 minibatches trained. Loss of the first 100: {number_text(p.first)}; of the last 100: " \
                       f"{number_text(p.last)}."
    assert training_progress([4.0, 3.0]).text() == "2 minibatches trained; mean loss so far 3.5."


def test_the_training_steps_plot_range_holds_the_whole_curve():
    from core.lessons import training_progress

    empty = training_progress(())
    (x0, x1), (y0, y1) = empty.view_range(empty_top=5.5)
    assert x0 <= 0 and x1 == 100 and (y0, y1) == (0.0, 5.5)
    ce = np.r_[np.linspace(5.5, 3.0, 900), [np.nan], np.full(99, 3.0)]  # a diverged minibatch left out
    p = training_progress(ce, points=80)
    (x0, x1), (y0, y1) = p.view_range()
    assert x0 <= 0 and x1 == 1000 and x0 <= p.x.min() and p.x.max() <= x1
    assert y0 < p.y.min() < p.y.max() < y1 and y1 - y0 < 1.2 * (p.y.max() - p.y.min())
