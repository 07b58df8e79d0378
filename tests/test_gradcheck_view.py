"""The gradient-check panel, driven through its widgets and the session (pytest-qt, offscreen)."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core import gradcheck, layers
from core.model import Config
from explorer.panels import gradcheck_view
from explorer.panels.gradcheck_view import GradCheckView
from explorer.session import Session
from _support import PARAM_NAMES


# The gradients the panel offers for the default network, in order.
CHECKABLE = ["W_emb", "W_h", "b_h", "W_o", "b_o", "dz_o", "dh", "dz_h", "de"]


def plain(label) -> str:
    """The text a label shows, without its HTML markup."""
    return html.unescape(re.sub(r"<[^>]+>", "", label.text()))


@pytest.fixture
def view(qtbot, session):
    v = GradCheckView(session)
    qtbot.addWidget(v)
    v.samples_spin.setValue(6)  # 6 entries per parameter keep "Check all" short in tests
    v.show()
    return v


def step_to(session, name):
    """Step stages until the stage called ``name`` has been computed; returns it."""
    for _ in range(20):
        stage = session.step_stage()
        if stage.name == name:
            return stage
    raise AssertionError(f"never reached {name}")


def biggest(a, row=None):
    """Index of the entry of largest magnitude (in ``row`` when given)."""
    if row is not None:
        return (row, int(np.argmax(np.abs(a[row]))))
    return tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(a)), a.shape))


def test_clicking_check_on_an_output_weight_matches_the_stage_on_screen(view, session, qtbot):
    session.run_batches(3)
    stage = step_to(session, "output_weights")
    j, v = biggest(stage.arrays["dW_o"], row=7)
    # pick the entry with the widgets: gradient, unit spin box, word box (typed, with Enter)
    view.name_combo.setCurrentIndex(CHECKABLE.index("W_o"))
    view.index_spins[0].setValue(j)
    combo = view.word_combos[1]
    assert combo.isVisible()  # the word axis offers a word box
    combo.lineEdit().setText(session.vocab[v])
    qtbot.keyClick(combo.lineEdit(), Qt.Key_Return)
    assert view.index_spins[1].value() == v
    with qtbot.waitSignal(view.checked):
        qtbot.mouseClick(view.check_button, Qt.LeftButton)
    shown = stage.arrays["dW_o"][j, v]
    assert view.result.analytic == shown
    assert f"{shown:+.12e}" in plain(view.analytic_label)
    assert f"{view.result.numeric:+.12e}" in plain(view.numeric_label)
    assert float(view.rel_label.text().split()[0]) < 1e-6
    assert "OK" in view.verdict_label.text()
    assert "dW_o[%d, %d]" % (j, v) in plain(view.entry_label)
    assert f"'{session.vocab[v]}'" in plain(view.entry_label)
    assert f"minibatch {stage.batch + 1}" in plain(view.entry_label)
    assert "(L(θ+h) − L(θ−h)) / 2h" in plain(view.formula_label)
    assert "the same number" in view.onscreen_label.text()


def test_after_the_update_the_check_still_uses_the_weights_the_gradient_came_from(view, session, qtbot):
    session.run_batches(2)
    stage = step_to(session, "output_weights")
    dW_o = stage.arrays["dW_o"]
    before = session.model.params["W_o"].copy()
    update = step_to(session, "update")
    assert update.batch == stage.batch
    assert not np.array_equal(before, session.model.params["W_o"])  # the weights did move
    j, v = biggest(dW_o)
    view.check("dW_o", (j, v))
    assert view.result.analytic == dW_o[j, v]
    assert view.result.rel_error < 1e-6
    assert f"{dW_o[j, v]:+.12e}" in plain(view.analytic_label)


@pytest.mark.parametrize("name", ["dz_o", "dh", "dz_h", "de"])
def test_intermediate_gradients_check_out(view, session, name):
    session.run_batches(2)
    step_to(session, "back_to_embeddings")
    arr = session.tensors[name]
    index = biggest(arr, row=3)
    result = view.check(name, index)
    assert result is not None and result.name == name
    assert view.result.analytic == arr[index]
    assert view.result.rel_error < 1e-6
    assert "OK" in view.verdict_label.text()
    assert f"{arr[index]:+.12e}" in plain(view.analytic_label)
    assert "example 3" in plain(view.entry_label)


def test_embedding_gradient_entry_and_an_untouched_word(view, session):
    session.run_batches(1)
    stage = step_to(session, "embedding_gradient")
    dW = stage.arrays["dW_emb"]
    touched = sorted(stage.contributions)
    row = touched[0]
    view.check("dW_emb", biggest(dW, row=row))
    assert view.result.analytic == dW[biggest(dW, row=row)]
    assert view.result.rel_error < 1e-6
    untouched = next(v for v in range(len(session.vocab)) if v not in stage.contributions)
    view.check("W_emb", (untouched, 0))
    assert view.result.analytic == 0.0 and view.result.numeric == 0.0
    assert "does not occur in this minibatch" in view.explain_label.text()


def test_check_all_reports_every_parameter_as_pass(view, session, qtbot):
    session.run_batches(3)
    step_to(session, "hidden_weights")
    with qtbot.waitSignal(view.check_all_finished, timeout=60_000) as blocker:
        qtbot.mouseClick(view.check_all_button, Qt.LeftButton)
    report = blocker.args[0]
    assert view.table.rowCount() == len(PARAM_NAMES)
    names = [view.table.item(r, 0).text() for r in range(5)]
    assert names == ["dW_emb", "dW_h", "db_h", "dW_o", "db_o"]
    for r, p in enumerate(PARAM_NAMES):
        worst = max(report[p], key=lambda g: g.rel_error)
        assert float(view.table.item(r, 2).text()) < 1e-6
        assert view.table.item(r, 2).text() == f"{worst.rel_error:.2e}"
        assert view.table.item(r, 4).text() == "PASS"
    assert "5 of 5 PASS" in plain(view.summary_label)
    # the same entries and the same numbers as core's check_all on the same batch and weights
    model, x, t = session.trainer.gradient_context()
    core_report = gradcheck.check_all(model, x, t, samples=view.samples_spin.value())
    for p in PARAM_NAMES:
        assert [g.index for g in report[p]] == [g.index for g in core_report[p]]
        assert [g.analytic for g in report[p]] == [g.analytic for g in core_report[p]]


def test_check_all_runs_in_pieces_and_can_be_cancelled(view, session, qtbot, monkeypatch):
    monkeypatch.setattr(gradcheck_view, "CHUNK_SECONDS", 0.0)  # one entry per timer tick
    view.samples_spin.setValue(3)
    seen = []
    view.progress.valueChanged.connect(seen.append)
    with qtbot.waitSignal(view.check_all_finished, timeout=60_000):
        view.check_all()
        assert view.check_all_running and view.cancel_button.isVisibleTo(view)
    assert len(set(seen)) > 10  # the event loop ran between the pieces (15 entries, one per tick)
    view.check_all()
    view.cancel_check_all()
    assert not view.check_all_running
    assert "Cancelled" in view.summary_label.text()
    assert view.check_all_button.isEnabled()


def test_a_broken_backward_pass_shows_fail_in_red(view, session, qtbot, monkeypatch):
    session.run_batches(2)
    step_to(session, "output_weights")
    original = layers.Linear.backward_params

    def wrong(self, dout):  # a weight gradient 1% too large: the kind of bug a check must catch
        original(self, dout)
        self.grads["W"] *= 1.01

    monkeypatch.setattr(layers.Linear, "backward_params", wrong)
    view.check("W_o", (1, 2))
    assert view.result.verdict == "wrong"
    assert "WRONG" in view.verdict_label.text()
    assert gradcheck_view.VERDICT_STYLE["wrong"][0] in view.verdict_label.styleSheet()
    assert float(view.rel_label.text().split()[0]) > 1e-3
    with qtbot.waitSignal(view.check_all_finished, timeout=60_000):
        view.check_all()
    results = {view.table.item(r, 0).text(): view.table.item(r, 4).text() for r in range(5)}
    assert results == {"dW_emb": "PASS", "dW_h": "FAIL", "db_h": "PASS", "dW_o": "FAIL", "db_o": "PASS"}
    fail_row = [view.table.item(r, 0).text() for r in range(5)].index("dW_o")
    assert view.table.item(fail_row, 4).foreground().color().name() == gradcheck_view.VERDICT_STYLE["wrong"][0]
    assert "2 of 5 FAIL" in plain(view.summary_label)


def test_results_go_stale_on_a_new_minibatch_and_clear_on_a_new_network(view, session, qtbot):
    session.run_batches(1)
    stage = step_to(session, "output_weights")
    view.check("W_o", (0, 0))
    with qtbot.waitSignal(view.check_all_finished, timeout=60_000):
        view.check_all()
    step_to(session, "update")  # same minibatch: still current
    assert not view.stale_label.isVisibleTo(view)
    session.step_stage()  # the next minibatch starts
    assert view.stale_label.isVisibleTo(view)
    assert f"computed on minibatch {stage.batch + 1}" in view.stale_label.text()
    assert view.summary_label.text().startswith(f"Stale: computed on minibatch {stage.batch + 1}")
    session.rebuild(session.config.replace(hidden_dim=7))
    assert view.result is None and view.report is None
    assert view.table.rowCount() == 0
    # the pickers follow the new shapes
    view.name_combo.setCurrentIndex(CHECKABLE.index("b_h"))
    assert view.index_spins[0].maximum() == 6
    assert view.check("b_h", (6,)).rel_error < 1e-6


def test_bad_names_and_indices_give_a_message_not_an_exception(view, session):
    assert view.check("p", (0, 0)) is None
    assert "not a gradient" in view.message_label.text()
    assert view.check("dW_o", (10_000, 0)) is None
    assert "outside" in view.message_label.text()
    assert view.check("dW_o", (1,)) is None
    assert "2 axes" in view.message_label.text()
    assert view.result is None
    # an activation clicked in the matrix view checks its gradient, and says so
    result = view.check("z_h", (0, 0))
    assert result.name == "dz_h"
    assert "checking the gradient" in view.message_label.text()


def test_between_minibatches_the_check_runs_on_the_next_one(view, session):
    session.run_batches(4)
    assert session.stage is None
    assert "minibatch 5" in view.context_label.text()
    result = view.check("b_o", (3,))
    model, x, t = session.trainer.gradient_context()
    model.forward(x, t)
    model.backward()
    assert result.analytic == model.grads["b_o"][3]


def test_works_with_a_tiny_network_and_batch(qtbot, demo_corpus):
    s = Session(demo_corpus, Config(embed_dim=2, hidden_dim=3, batch_size=2))
    v = GradCheckView(s)
    qtbot.addWidget(v)
    step_to(s, "embedding_gradient")
    assert [v.name_combo.itemData(i) for i in range(v.name_combo.count())] == CHECKABLE
    for name in CHECKABLE:
        shape = gradcheck.gradient_shape(s.model, name)
        r = v.check(name, tuple(k - 1 for k in shape))
        assert r is not None and r.rel_error < 1e-6, name
    s.shutdown()


def test_a_check_whose_numbers_are_not_finite_is_shown_not_raised(qtbot, demo_corpus):
    """Weights so large that the logits overflow (a checkpoint can hold 1.5e308): the loss is NaN, so are
    both gradients; the panel shows them as numbers that cannot be compared instead of raising."""
    s = Session(demo_corpus, Config(embed_dim=2, hidden_dim=3, batch_size=2))
    v = GradCheckView(s)
    qtbot.addWidget(v)
    s.model.params["W_o"][:] = 1.5e308  # z_o = h·W_o: three terms of about 0.75e308 overflow
    result = v.check("b_o", (3,))
    assert result is not None and not (np.isfinite(result.analytic) and np.isfinite(result.numeric))
    shown = plain(v.verdict_label) + " " + " ".join(plain(label) for label in v.findChildren(type(v.verdict_label)))
    assert "nan" in shown.lower() and "nothing to compare" in shown
    assert "the backward pass for this entry is wrong" not in shown.lower()
    for a, b in [(np.nan, 1.0), (np.inf, -np.inf), (np.nan, np.nan), (1.5, np.inf)]:
        marked = gradcheck_view.agreeing_digits_html(a, b)
        assert [html.unescape(re.sub(r"<[^>]+>", "", m)) for m in marked] == [f"{a:+.12e}", f"{b:+.12e}"]
        assert "<b" not in "".join(marked)  # no digits agree between numbers that are not finite
    s.shutdown()
