"""The embedding-gradient view, driven through a real session (pytest-qt, offscreen).

Everything the view claims is checked against an independent computation
from the stage's own arrays: which rows were touched, how often and where,
that the contributions of a row add up to that row of dW_emb, and what the
overwrite bug (``dW[x] = de``) would have produced.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from core.corpus import Corpus
from core.model import CONTEXT, Config
from explorer.panels.embedding_grad_view import EmbeddingGradView
from explorer.session import Session
from explorer.widgets.heatmap import format_value


def plain(label) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", label.text())).replace("\xa0", " ")


@pytest.fixture
def view(qtbot, session):
    v = EmbeddingGradView(session)
    qtbot.addWidget(v)
    v.resize(1100, 750)
    v.show()
    qtbot.waitExposed(v)
    return v


def click_button(qtbot, button):
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def where_in_x(x: np.ndarray) -> dict[int, list[tuple[int, int]]]:
    """Independently: every (example, position 1..3) at which each word index occurs, row-major."""
    out: dict[int, list[tuple[int, int]]] = {}
    for n in range(x.shape[0]):
        for k in range(x.shape[1]):
            out.setdefault(int(x[n, k]), []).append((n, k + 1))
    return out


def slice_of_de(de: np.ndarray, n: int, k1: int) -> np.ndarray:
    """Block k (1-based) of de[n]: the d-vector that (example n, position k) sends back."""
    d = de.shape[1] // CONTEXT
    return de[n, (k1 - 1) * d : k1 * d]


def click_list_row(qtbot, view, v: int) -> None:
    table = view.word_table
    r = next(r for r in range(table.rowCount()) if int(table.item(r, 0).data(Qt.ItemDataRole.UserRole)) == v)
    table.scrollToItem(table.item(r, 0))
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     table.visualItemRect(table.item(r, 0)).center())


# ---- before the stage ---------------------------------------------------------------------------------


def test_before_the_stage_it_explains_and_the_button_steps_there(view, session, qtbot):
    assert not view.showing and view.pages.currentIndex() == 0
    assert "embedding layer" in plain(view.intro) and "between minibatches" in plain(view.header)
    session.step_stage()
    session.step_stage()  # part-way through the forward pass: still nothing to show
    assert not view.showing and "stage 2/14" in plain(view.header)
    click_button(qtbot, view.step_button)
    stage = session.stage
    assert stage.name == "embedding_gradient" and view.showing and view.stage is stage
    assert view.pages.currentIndex() == 1
    click_button(qtbot, view.step_button)  # from there: the next minibatch's embedding gradient
    assert session.stage.name == "embedding_gradient" and session.stage.batch == stage.batch + 1
    assert view.stage is session.stage and "minibatch 2" in plain(view.header)


def test_nothing_raises_without_a_stage(view, session):
    session.run_batches(1)  # announces stage None
    assert not view.showing and view.shown_contributions() == [] and view.listed_rows() == {}
    assert view.shown_sum() is None and view.check_difference() is None and view.error_summary() is None
    view.select_row(3)  # nothing to explain: ignored
    view.set_naive_visible(True)
    view.set_rows_mode("touched")
    assert view.selected_row() is None and view.shown_naive() is None and view.differing_rows() == set()


# ---- batch 100: the list, the marks, the sums --------------------------------------------------------


def test_the_list_holds_exactly_the_touched_rows_with_counts_and_places(view, session):
    stage = view.step_to_embedding_gradient()
    x = np.asarray(session.tensors["x"])
    expected = where_in_x(x)
    listed = view.listed_rows()
    assert set(listed) == set(np.unique(x).tolist())
    counts = np.bincount(x.ravel(), minlength=len(session.vocab))
    for v, (times, pairs) in listed.items():
        assert times == counts[v]
        assert pairs == expected[v]
    assert any(t >= 2 for t, _ in listed.values())  # batch 100 repeats words
    # rows fed more than once first, by count
    order_counts = [listed[v][0] for v in view.list_order()]
    assert order_counts == sorted(order_counts, reverse=True)
    # the where column says the same, positions 1-based
    v = view.list_order()[0]
    n, k = expected[v][0]
    assert view.word_table.item(0, 3).text().startswith(f"example {n} pos {k}")
    assert stage.contributions is not None


def test_the_marker_strip_marks_once_and_two_plus(view, session):
    view.step_to_embedding_gradient()
    x = np.asarray(session.tensors["x"])
    counts = np.bincount(x.ravel(), minlength=len(session.vocab))
    once, many = view.marked_rows()
    assert once == set(np.flatnonzero(counts == 1).tolist())
    assert many == set(np.flatnonzero(counts >= 2).tolist())
    assert view.heatmap_rows() == list(range(len(session.vocab)))  # 131 touched rows: all rows shown
    assert np.array_equal(view.shown_gradient(), session.stage.arrays["dW_emb"])
    assert "touched 2+ times — a sum" in plain(view.legend) and "touched once" in plain(view.legend)


def test_selecting_a_row_in_the_list_shows_contributions_summing_to_the_row(view, session, qtbot):
    stage = view.step_to_embedding_gradient()
    de, dW = stage.arrays["de"], stage.arrays["dW_emb"]
    expected = where_in_x(np.asarray(session.tensors["x"]))
    repeated = [v for v, pairs in expected.items() if len(pairs) >= 2]
    once = [v for v, pairs in expected.items() if len(pairs) == 1]
    first = view.selected_row()  # the most repeated word is explained from the start
    assert first in repeated
    for v in [r for r in repeated if r != first][:4] + once[:1]:
        with qtbot.waitSignal(view.row_selected) as blocker:
            click_list_row(qtbot, view, v)
        assert blocker.args == [v] and view.selected_row() == v
        shown = view.shown_contributions()
        assert [label for label, _ in shown] == [f"example {n}, position {k}" for n, k in expected[v]]
        for (_label, vec), (n, k) in zip(shown, expected[v]):
            assert np.array_equal(vec, slice_of_de(de, n, k))
        independent = sum(slice_of_de(de, n, k) for n, k in expected[v])
        np.testing.assert_allclose(view.shown_sum(), independent, rtol=0, atol=1e-12)
        np.testing.assert_allclose(view.shown_sum(), dW[v], rtol=0, atol=1e-12)
        assert np.array_equal(view.shown_row(), dW[v])
        assert view.check_difference() <= 1e-12
        assert "max |difference| = " in plain(view.check_label)
        # the table really shows these rows: one per contribution, then sum, the row, the difference
        assert view.contrib_table.rowCount() == len(expected[v])
        assert view.sum_table.verticalHeaderItem(0).text().startswith("= sum")
        assert view.sum_table.verticalHeaderItem(1).text().strip().startswith(f"dW_emb[{v}]")


def test_clicking_a_row_of_the_heatmap_selects_that_word(view, session, qtbot):
    stage = view.step_to_embedding_gradient()
    view.set_rows_mode("touched")
    rows = view.heatmap_rows()
    assert rows == sorted(stage.contributions)
    assert np.array_equal(view.shown_gradient(), stage.arrays["dW_emb"][rows])
    hm = view.heatmap
    hm.show_rows(0, 10)
    qtbot.waitUntil(lambda: hm.view_box.height() > 100 and hm.view_box.width() > 100)
    with qtbot.waitSignal(view.entry_clicked) as blocker:
        QTest.mouseClick(hm.plot_widget.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         hm.cell_center_in_widget(3, 7))
    assert blocker.args == ["dW_emb", (rows[3], 7)]
    assert view.selected_row() == rows[3]
    np.testing.assert_allclose(view.shown_sum(), stage.arrays["dW_emb"][rows[3]], rtol=0, atol=1e-12)
    # hovering names the vocabulary row, not the row of the compact matrix
    hm.hover_cell(3, 7)
    assert f"dW_emb[{rows[3]}, 7]" in view.hover_label.text()


def test_an_untouched_row_has_no_contributions_and_is_zero(view, session):
    stage = view.step_to_embedding_gradient()
    untouched = next(v for v in range(len(session.vocab)) if v not in stage.contributions)
    view.select_row(untouched)
    assert view.shown_contributions() == []
    assert not view.shown_row().any() and not view.shown_sum().any()
    assert "does not occur in this minibatch" in plain(view.detail_title)


def test_sorting_by_count_by_clicking_the_header(view, session, qtbot):
    view.step_to_embedding_gradient()
    header = view.word_table.horizontalHeader()

    def click_times_header():
        QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         QPoint(header.sectionViewportPosition(2) + 5, header.height() // 2))
        return [view.listed_rows()[v][0] for v in view.list_order()]

    first, second = click_times_header(), click_times_header()
    assert {tuple(first), tuple(second)} == {tuple(sorted(first)), tuple(sorted(first, reverse=True))}


# ---- the overwrite bug -----------------------------------------------------------------------------


def test_the_naive_update_side_by_side(view, session, qtbot):
    stage = view.step_to_embedding_gradient()
    assert view.shown_naive() is None and not view.naive_box.isVisible()
    click_button(qtbot, view.naive_check)
    assert view.naive_check.isChecked() and view.naive_box.isVisible() and view.naive_label.isVisible()
    x = np.asarray(session.tensors["x"])
    de, dW = stage.arrays["de"], stage.arrays["dW_emb"]
    d = dW.shape[1]
    # the core's naive array is what fancy-index assignment gives, and the view shows it
    by_hand = np.zeros_like(dW)
    by_hand[x.reshape(-1)] = de.reshape(-1, d)
    assert np.array_equal(stage.naive, by_hand)
    assert np.array_equal(view.shown_naive(), stage.naive)
    # the highlighted rows are exactly the rows fed more than once
    counts = np.bincount(x.ravel(), minlength=dW.shape[0])
    repeated = set(np.flatnonzero(counts >= 2).tolist())
    assert view.differing_rows() == repeated
    # the error figures equal an independent computation
    err = view.error_summary()
    diff = by_hand - dW
    assert set(err["rows"]) == repeated
    assert err["max_abs"] == pytest.approx(np.abs(diff).max(), rel=1e-12)
    assert err["relative"] == pytest.approx(np.linalg.norm(diff) / np.linalg.norm(dW), rel=1e-12)
    text = plain(view.naive_label)
    assert f"{len(repeated)} rows differ" in text and "exactly the rows fed more than once" in text
    assert format_value(err["max_abs"], 4) in text and format_value(err["relative"], 3) in text
    assert "fancy-index assignment" in text and "np.add.at" in text and "only it trains the network" in text
    # for the selected (most repeated) word, the naive row is one contribution, named in the text
    v = view.selected_row()
    assert v in repeated
    kept = [label for label, vec in view.shown_contributions() if np.array_equal(vec, stage.naive[v])]
    assert len(kept) == 1 and f"keeps only {kept[0]}" in text
    # turning it off hides it again
    click_button(qtbot, view.naive_check)
    assert view.shown_naive() is None and not view.naive_box.isVisible()


def test_only_the_correct_gradient_trains_the_network(view, session):
    stage = view.step_to_embedding_gradient()
    view.set_naive_visible(True)
    update = session.step_stage()  # the first minibatch: velocity starts at 0, so ΔW_emb = −η·dW_emb
    assert update.name == "update"
    lr = update.extras["learning_rate"]
    np.testing.assert_allclose(update.arrays["ΔW_emb"], -lr * stage.arrays["dW_emb"], rtol=0, atol=1e-15)
    assert not np.allclose(update.arrays["ΔW_emb"], -lr * stage.naive)
    # the gradients stay on screen through the update of their minibatch...
    assert view.showing and "update (stage 14) has been applied" in plain(view.header)
    # ...and go when the next minibatch starts
    session.step_stage()
    assert not view.showing and view.listed_rows() == {}


# ---- batch 2 --------------------------------------------------------------------------------------


def tiny_corpus() -> Corpus:
    """The example of DESIGN.md: two 4-grams whose contexts share words 0 and 1."""
    rows = np.array([[0, 3, 1, 2], [2, 1, 0, 4]], dtype=np.int32)
    return Corpus("two 4-grams", "text", "", ["w0", "w1", "w2", "w3", "w4"], rows, rows.copy(), rows.copy())


def test_the_design_example_row_0_is_a_sum_of_two_slices(qtbot):
    s = Session(tiny_corpus(), Config(batch_size=2, embed_dim=4, hidden_dim=6))
    view = EmbeddingGradView(s)
    qtbot.addWidget(view)
    view.show()  # the panel fills its tables when it can be seen
    stage = view.step_to_embedding_gradient()
    x = np.asarray(s.tensors["x"])
    de, dW = stage.arrays["de"], stage.arrays["dW_emb"]
    listed = view.listed_rows()
    assert {v: t for v, (t, _) in listed.items()} == {0: 2, 1: 2, 2: 1, 3: 1}
    view.select_row(0)
    places = [(n, k + 1) for n, k in zip(*np.nonzero(x == 0))]
    assert [label for label, _ in view.shown_contributions()] == [f"example {n}, position {k}" for n, k in places]
    np.testing.assert_allclose(view.shown_sum(), slice_of_de(de, *places[0]) + slice_of_de(de, *places[1]),
                               rtol=0, atol=1e-15)
    np.testing.assert_allclose(view.shown_sum(), dW[0], rtol=0, atol=1e-12)
    assert set(view.marked_rows()[1]) == {0, 1}
    title = plain(view.detail_title)
    d = 4
    blocks = [f"de[{n}, {(k - 1) * d}:{k * d}]" for n, k in places]
    assert f"dW_emb[0] = {blocks[0]} + {blocks[1]}" in title
    # a batch this small is spelled out as words
    assert "example 0:" in plain(view.header) and "example 1:" in plain(view.header)
    s.shutdown()


def test_the_naive_row_is_named_by_the_write_numpy_left_even_when_two_examples_are_identical(qtbot):
    rows = np.array([[0, 3, 1, 2], [0, 3, 1, 2]], dtype=np.int32)  # one 4-gram twice: identical de rows
    corpus = Corpus("one 4-gram twice", "text", "", ["w0", "w1", "w2", "w3", "w4"], rows, rows.copy(), rows.copy())
    s = Session(corpus, Config(batch_size=2, embed_dim=4, hidden_dim=6))
    view = EmbeddingGradView(s)
    qtbot.addWidget(view)
    view.show()
    stage = view.step_to_embedding_gradient()
    view.set_naive_visible(True)
    view.select_row(0)
    x = np.asarray(s.tensors["x"])
    de = np.asarray(stage.arrays["de"])
    d = 4
    naive = np.zeros_like(stage.arrays["dW_emb"])
    naive[x.ravel()] = de.reshape(-1, d)  # row-major: index n*3 + k, the last occurrence written last
    np.testing.assert_array_equal(view.shown_naive(), naive[view.heatmap_rows()])
    last = max(i for i in range(x.size) if x.ravel()[i] == 0)
    n, k = divmod(last, CONTEXT)
    assert (n, k) == (1, 0)
    np.testing.assert_array_equal(slice_of_de(de, n, k + 1), naive[0])
    text = plain(view.naive_label)
    named = re.search(r"keeps only example (\d+), position (\d+)", text)
    assert named and (int(named[1]), int(named[2])) == (n, k + 1)
    np.testing.assert_array_equal(slice_of_de(de, int(named[1]), int(named[2])), naive[0])
    assert "(the last write; example 0, position 1 sent back exactly the same numbers: the same context and " \
        "target)" in text
    assert "keep only example 1, position 1 (the last write" in plain(view.check_label)
    s.shutdown()


def test_teaching_batch_asks_first_then_finds_a_repeated_word(view, session, qtbot):
    session.run_batches(2)  # unsaved training
    assert session.dirty
    asked = []
    view.confirm = lambda doing: asked.append(doing) or False
    click_button(qtbot, view.teach_button)
    assert asked and "batch size 2" in asked[0]
    assert session.config.batch_size == 100 and session.trainer.step == 2 and not view.showing

    view.confirm = lambda doing: asked.append(doing) or True
    click_button(qtbot, view.teach_button)
    assert len(asked) == 2
    assert session.config.batch_size == 2
    stage = session.stage
    assert stage.name == "embedding_gradient" and view.showing
    x = np.asarray(session.tensors["x"])
    assert x.shape == (2, CONTEXT)
    counts = np.bincount(x.ravel())
    repeated = set(np.flatnonzero(counts >= 2).tolist())
    assert repeated and view.marked_rows()[1] == repeated
    # the honest search: no minibatch before this one (all of them trained) has a word at two positions
    places = where_in_x(x)
    assert any(len({k for _n, k in places[v]}) > 1 for v in repeated)
    for step in range(stage.batch):
        xs = session.trainer.batch_at(step)[0]
        assert all(len({k for _n, k in p}) == 1 for p in where_in_x(xs).values())
    assert session.trainer.step == stage.batch  # the minibatch on screen is the next one, not yet trained
    msg = view.message_label.text()
    assert f"Trained {stage.batch} minibatch" in msg and f"on the way to minibatch {stage.batch + 1}" in msg
    # few touched rows: only they are drawn, and the repeated word is explained first
    assert view.heatmap_rows() == sorted(np.unique(x).tolist())
    v = view.selected_row()
    assert v in repeated
    np.testing.assert_allclose(view.shown_sum(), stage.arrays["dW_emb"][v], rtol=0, atol=1e-12)
    assert len(view.shown_contributions()) == counts[v]


def test_teaching_batch_does_not_ask_when_nothing_is_unsaved(view, session):
    asked = []
    view.confirm = lambda doing: asked.append(doing) or False
    assert view.teaching_batch()
    assert asked == [] and session.config.batch_size == 2 and view.showing
    # again, at batch size 2 already: the next minibatch with a repeated word, no new network
    before = session.stage.batch
    assert view.teaching_batch()
    assert asked == [] and session.stage.batch > before and view.marked_rows()[1]


# ---- a new network ---------------------------------------------------------------------------------


def test_a_new_network_clears_the_view(view, session):
    view.step_to_embedding_gradient()
    view.set_naive_visible(True)
    assert view.showing and view.shown_contributions()
    with_signal = []
    view.row_selected.connect(with_signal.append)
    session.rebuild(session.config.replace(seed=7))
    assert not view.showing and view.pages.currentIndex() == 0
    assert view.listed_rows() == {} and view.shown_contributions() == [] and view.selected_row() is None
    assert view.shown_naive() is None and view.heatmap_rows() == []
    assert with_signal == [-1]


def test_a_view_made_at_the_stage_shows_it(session, qtbot):
    for _ in range(13):
        session.step_stage()
    assert session.stage.name == "embedding_gradient"
    v = EmbeddingGradView(session)
    qtbot.addWidget(v)
    v.show()  # the panel fills its tables when it can be seen
    assert v.showing and set(v.listed_rows()) == set(session.stage.contributions)


def test_out_of_sight_the_view_waits_and_catches_up_when_shown(qtbot, session):
    view = EmbeddingGradView(session)
    qtbot.addWidget(view)  # never shown yet: like a dock tab behind another
    while session.step_stage().name != "embedding_gradient":
        pass
    assert not view.showing and view.listed_rows() == {}
    view.show()
    qtbot.waitExposed(view)
    x = np.asarray(session.tensors["x"])
    assert view.showing
    assert {v: t for v, (t, _) in view.listed_rows().items()} == {
        int(v): int(c) for v, c in zip(*np.unique(x, return_counts=True))
    }


def test_teaching_batch_on_the_real_corpus_says_why_its_loss_is_above_a_uniform_guess(qtbot, hinton_corpus):
    s = Session(hinton_corpus)
    view = EmbeddingGradView(s)
    qtbot.addWidget(view)
    view.show()
    assert view.teaching_batch()
    stage = s.stage
    p, t = np.asarray(s.tensors["p"]), np.asarray(s.tensors["t"])
    true_loss = float(-np.mean(np.log(p[np.arange(len(t)), t])))
    assert stage.loss == pytest.approx(true_loss, rel=1e-12)
    V = len(hinton_corpus.vocab)
    assert true_loss > np.log(V)  # true: a few steps of 0.1 on 2 examples make it sure of other words
    msg = plain(view.message_label)
    assert f"L = {true_loss:.3f} is above a uniform guess's (ln {V} = {np.log(V):.2f})" in msg
    assert "With 2 examples a minibatch, the learning rate 0.1 (set for 100)" in msg
    n = int(np.argmin(p[np.arange(len(t)), t]))
    assert f"example {n}: p = {p[n].max():.2g} on '{s.vocab[int(p[n].argmax())]}'" in msg
    s.shutdown()
