"""The matrix view, driven through a real session on the built-in corpus.

Every displayed array must be the core's array for that stage, the header
must carry the stage's formula and shapes, colour levels must stay fixed, and
the formula tooltips must add up to the entries they explain, from the real
operands.
"""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from core.layers import ACTIVATIONS
from core.model import CONTEXT, Config, FourGramModel
from core.specs import operand as _num
from explorer.panels.matrix_view import MatrixView
from explorer.session import Session
from explorer.widgets.heatmap import format_value

PARAMETERS = ("W_emb", "W_h", "b_h", "W_o", "b_o")  # the default network's
N_STAGES = 14


@pytest.fixture
def view(session, qtbot):
    v = MatrixView(session)
    qtbot.addWidget(v)
    v.resize(1000, 700)
    v.show()
    qtbot.waitExposed(v)
    return v


def step_to(session, name):
    while True:
        stage = session.step_stage()
        if stage.name == name:
            return stage


def settle(qtbot, heatmap):
    qtbot.waitUntil(lambda: heatmap.view_box.width() > 300 and heatmap.view_box.height() > 150)
    qtbot.waitUntil(lambda: heatmap.left_axis.width() >= heatmap.left_axis.style["tickTextWidth"])


def test_every_stage_shows_exactly_the_cores_arrays_with_formula_and_shapes(view, session):
    for i in range(N_STAGES):
        stage = session.step_stage()
        assert stage.index == i
        assert view.mode == "stage"
        assert sorted(view.array_names()) == sorted(stage.arrays)
        main = {"embed": "e", "softmax": "p", "embedding_gradient": "dW_emb"}.get(stage.name)
        assert view.current_name() == (main or next(iter(stage.arrays)))
        header = view.header_text()
        assert f"Stage {i + 1}/{N_STAGES} — {stage.title}" in header
        assert stage.formula in header
        assert stage.shapes in header
        for name, core_array in stage.arrays.items():
            assert view.show_tensor(name)
            shown = view.displayed_array(name)
            assert shown is core_array  # the very array the core produced, unchanged
            hm = view.heatmap
            if hm.showing_table:  # x and t: words
                words = [hm.table.item(r, 0).text() for r in range(hm.table.rowCount())]
                first_col = core_array if core_array.ndim == 1 else core_array[:, 0]
                assert words == [session.vocab[k] for k in first_col]
            else:
                assert np.array_equal(hm.image_item.image, hm.image_data)
                assert np.array_equal(hm.image_data.reshape(core_array.shape), core_array)
            info = view.info_text()
            assert name in info and "×".join(map(str, core_array.shape)) in info
        if stage.name == "loss":
            assert f"L = {format_value(stage.extras['L'])}" in header
    # after the update: between minibatches the view would show parameters once announced
    session.stage_changed.emit(None)
    assert view.mode == "params" and view.array_names() == list(PARAMETERS)
    assert np.array_equal(view.displayed_array(), session.model.params[view.current_name()])


def test_levels_stay_fixed_for_a_name_across_stages_until_rescale(view, session):
    step_to(session, "back_to_embeddings")
    view.show_tensor("de")
    first = view.heatmap.levels()
    m = float(np.abs(session.tensors["de"]).max())
    assert first == pytest.approx((-m, m))
    step_to(session, "embedding_gradient")
    view.show_tensor("de")
    assert view.heatmap.levels() == first
    # the next minibatch's dz_o: levels only grow
    step_to(session, "output_error")
    lv1 = view.heatmap.levels()
    step_to(session, "output_error")
    lv2 = view.heatmap.levels()
    m2 = float(np.abs(session.tensors["dz_o"]).max())
    assert lv2[1] >= lv1[1] and lv2[1] >= m2 and lv2[0] == -lv2[1]
    view.rescale()
    assert view.heatmap.levels() == pytest.approx((-m2, m2))
    assert view.heatmap.color_bar.levels() == pytest.approx((-m2, m2))


def test_probabilities_start_on_a_0_to_1_scale_and_say_how_to_spread_them(view, session):
    step_to(session, "softmax")
    assert view.current_name() == "p"
    assert view.heatmap.levels() == (0.0, 1.0)
    assert "Rescale colours" in view.info_text()  # p ≈ 1/V uses a sliver of 0..1
    view.rescale()
    assert view.heatmap.levels()[1] == pytest.approx(float(session.tensors["p"].max()))


def test_hover_reports_index_word_and_value(view, session, qtbot):
    step_to(session, "output_weights")
    dW_o = session.tensors["dW_o"]
    view.heatmap.show_columns(0, 20)
    view.heatmap.show_rows(0, 20)
    settle(qtbot, view.heatmap)
    QTest.mouseMove(view.heatmap.plot_widget.viewport(), view.heatmap.cell_center_in_widget(12, 1))
    qtbot.waitUntil(lambda: "unit 12" in view.heatmap.readout.text())
    text = view.heatmap.readout.text()
    assert f"word '{session.vocab[1]}' (#1)" in text
    assert format_value(dW_o[12, 1]) in text
    # the formula box explains the same entry
    assert view.formula.text().startswith(f"dW_o[j=12, v='{session.vocab[1]}'] = Σₙ h[n,12]·dz_o[n,")
    assert view.formula.text().endswith(format_value(dW_o[12, 1]))
    assert view.heatmap.plot_widget.toolTip() == view.formula.text()  # also as the tooltip


def test_click_emits_name_and_index(view, session, qtbot):
    step_to(session, "output_weights")
    view.heatmap.show_columns(0, 20)
    view.heatmap.show_rows(0, 20)
    settle(qtbot, view.heatmap)
    with qtbot.waitSignal(view.entry_clicked) as blocker:
        QTest.mouseClick(view.heatmap.plot_widget.viewport(), Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier, view.heatmap.cell_center_in_widget(7, 3))
    assert blocker.args == ["dW_o", (7, 3)]
    view.show_tensor("db_o")
    with qtbot.waitSignal(view.entry_clicked) as blocker:
        view.heatmap.select_cell(0, 5)
    assert blocker.args == ["db_o", (5,)]


def _check_sum(f, value, terms):
    assert f is not None and f.total is not None
    assert abs(f.total - value) <= 1e-12
    assert f.value == value
    assert len(f.terms) == len(terms)
    assert [tuple(map(float, t)) for t in f.terms] == [tuple(map(float, t)) for t in terms]
    assert f.text.strip().endswith(format_value(f.total))


def test_formula_tooltips_add_up_to_the_entries_from_the_real_operands(view, session):
    before = {k: v.copy() for k, v in session.model.params.items()}
    stage = session.step_batch()  # the whole minibatch: the model's weights have now changed
    assert stage.name == "update"
    assert not np.array_equal(before["W_o"], session.model.params["W_o"])
    T = session.tensors
    V = len(session.vocab)
    rng = np.random.default_rng(0)
    N, H = T["h"].shape
    for _ in range(3):
        n, j, v, i = rng.integers(N), rng.integers(H), rng.integers(V), rng.integers(T["e"].shape[1])
        f = view.formula_for("dW_o", (j, v))
        _check_sum(f, T["dW_o"][j, v], list(zip(T["h"][:, j], T["dz_o"][:, v])))
        written = f"{_num(T['h'][0, j])}·{_num(T['dz_o'][0, v])} + {_num(T['h'][1, j])}·{_num(T['dz_o'][1, v])}"
        assert written in f.text and f"({N} terms)" in f.text
        _check_sum(view.formula_for("db_o", (v,)), T["db_o"][v], [(x,) for x in T["dz_o"][:, v]])
        # dh used W_o from before the update, not the model's current W_o
        _check_sum(view.formula_for("dh", (n, j)), T["dh"][n, j], list(zip(T["dz_o"][n, :], before["W_o"][j, :])))
        h = T["h"][n, j]
        _check_sum(view.formula_for("dz_h", (n, j)), T["dz_h"][n, j], [(T["dh"][n, j], h, 1 - h)])
        _check_sum(view.formula_for("dW_h", (i, j)), T["dW_h"][i, j], list(zip(T["e"][:, i], T["dz_h"][:, j])))
        _check_sum(view.formula_for("db_h", (j,)), T["db_h"][j], [(x,) for x in T["dz_h"][:, j]])
        _check_sum(view.formula_for("de", (n, i)), T["de"][n, i], list(zip(T["dz_h"][n, :], before["W_h"][i, :])))
        y = float(T["t"][n] == v)
        _check_sum(view.formula_for("dz_o", (n, v)), T["dz_o"][n, v], [(T["p"][n, v], y, N)])
        _check_sum(view.formula_for("z_h", (n, j)), T["z_h"][n, j],
                   list(zip(T["e"][n, :], before["W_h"][:, j])) + [(before["b_h"][j],)])
        _check_sum(view.formula_for("z_o", (n, v)), T["z_o"][n, v],
                   list(zip(T["h"][n, :], before["W_o"][:, v])) + [(before["b_o"][v],)])
        _check_sum(view.formula_for("h", (n, j)), T["h"][n, j], [(T["z_h"][n, j],)])
        f = view.formula_for("p", (n, v))
        assert abs(f.total - T["p"][n, v]) <= 1e-12 and f.terms[0][0] == T["z_o"][n, v]
        f = view.formula_for("loss_n", (n,))
        assert abs(f.total - T["loss_n"][n]) <= 1e-12 and f.terms == [(T["p"][n, T["t"][n]],)]
        d = T["e"].shape[1] // CONTEXT
        k, c = divmod(i, d)
        f = view.formula_for("e", (n, i))
        assert f.total == T["e"][n, i] == before["W_emb"][T["x"][n, k], c]
    # the embedding gradient: one term per place the word occurs in the contexts
    contributions = session.trainer.model.embedding.contributions()
    repeated = max(contributions, key=lambda w: len(contributions[w]))
    assert len(contributions[repeated]) > 1
    d = T["dW_emb"].shape[1]
    for comp in (0, d - 1):
        terms = [(T["de"][n, k * d + comp],) for n, k in contributions[repeated]]
        f = view.formula_for("dW_emb", (repeated, comp))
        _check_sum(f, T["dW_emb"][repeated, comp], terms)
        assert f"{len(terms)} places" in f.text
    unused = next(w for w in range(V) if w not in contributions)
    f = view.formula_for("dW_emb", (unused, 0))
    assert f.total == 0.0 == T["dW_emb"][unused, 0] and "not among" in f.text
    # the update: μ·v_before − η·grad (the first step starts from v = 0)
    f = view.formula_for("ΔW_o", (3, 4))
    _check_sum(f, T["ΔW_o"][3, 4], [(0.9, 0.0), (0.1, T["dW_o"][3, 4])])
    # parameters have no formula
    assert view.formula_for("W_o", (0, 0)) is None


def test_formula_builder_is_a_pure_function_of_the_arrays():
    rng = np.random.default_rng(5)
    model = FourGramModel(["cat", "dog"], Config(embed_dim=2, hidden_dim=3, batch_size=4))
    entry_formula = model.entry_formula
    h = rng.random((4, 3))
    dz_o = rng.standard_normal((4, 2))
    tensors = {"h": h, "dz_o": dz_o, "dW_o": h.T @ dz_o}
    f = entry_formula("dW_o", (2, 1), tensors)
    assert f.text.splitlines()[0] == "dW_o[j=2, v='dog'] = Σₙ h[n,2]·dz_o[n,'dog']"
    assert f.terms == list(zip(h[:, 2].tolist(), dz_o[:, 1].tolist()))
    assert abs(f.total - tensors["dW_o"][2, 1]) <= 1e-15
    assert "+ … (4 terms)" in f.text
    # dh without the pre-update weights: says so instead of using wrong numbers
    f = entry_formula("dh", (0, 0), {"dz_o": dz_o, "dh": dz_o @ rng.random((3, 2)).T})
    assert f.total is None and "before this minibatch's update" in f.text
    assert entry_formula("W_o", (0, 0), tensors) is None


def test_view_started_after_the_update_uses_the_weights_the_minibatch_used(session, qtbot):
    session.step_batch()  # the view did not see the minibatch start: the session kept its weights
    v = MatrixView(session)
    qtbot.addWidget(v)
    T = session.tensors
    f = v.formula_for("dh", (0, 0))
    assert f is not None and f.total is not None and "(W_o before the update)" in f.text
    assert abs(f.total - T["dh"][0, 0]) <= 1e-12 * max(1.0, abs(T["dh"][0, 0]))
    assert abs(f.total - T["dz_o"][0] @ session.model.params["W_o"][0]) > 0  # not the updated weights
    assert v.formula_for("dW_o", (0, 0)).total is not None  # needs no weights


def test_without_the_weights_before_the_update_a_formula_says_so(session, qtbot, monkeypatch):
    session.step_batch()
    monkeypatch.setattr(session.trainer, "state_before", lambda batch: None)  # no longer kept
    v = MatrixView(session)
    qtbot.addWidget(v)
    f = v.formula_for("dh", (0, 0))
    assert f.total is None and "already changed" in f.text


def test_show_layer_lists_the_layers_tensors(view, session):
    step_to(session, "output_weights")
    view.show_layer("output")
    assert view.mode == "layer"
    expected = [n for n in session.model.box_of("output").tensors if session.tensor(n) is not None]
    assert view.array_names() == expected == ["W_o", "b_o", "z_o", "p", "dz_o", "dW_o", "db_o"]
    assert view.current_name() == "dW_o"  # the current stage's array
    assert "Layer: output" in view.header_text() and "ΔW_o" in view.header_text()
    view.show_tensor("W_o")
    assert np.array_equal(view.displayed_array("W_o"), session.model.params["W_o"])
    view.show_tensor("z_o")
    assert view.displayed_array("z_o") is session.tensors["z_o"]
    # stepping on goes back to the stage
    session.step_stage()
    assert view.mode == "stage" and view.array_names() == ["dh"]


def test_show_tensor_of_an_array_not_in_the_tabs(view, session):
    step_to(session, "back_to_hidden")
    assert view.show_tensor("h")
    assert view.mode == "tensor" and view.array_names() == ["h"]
    assert view.displayed_array("h") is session.tensors["h"]
    assert not view.show_tensor("dW_emb")  # not computed yet


def test_parameters_between_minibatches_follow_the_weights_with_one_redraw(view, session):
    assert view.mode == "params" and view.array_names() == list(PARAMETERS)
    view.show_tensor("W_o")
    before = view.redraws
    session.weights_changed.emit()  # nothing changed: no redraw
    assert view.redraws == before
    session.run_batches(3)  # announces stage None, weights, history
    assert view.redraws == before + 1
    assert np.array_equal(view.displayed_array("W_o"), session.model.params["W_o"])
    assert view.displayed_array("W_o") is not session.model.params["W_o"]  # a still picture
    # hidden (a dock behind another): run mode's announcements wait until it is shown again
    view.hide()
    session.trainer.run(1)
    session.weights_changed.emit()
    assert view.redraws == before + 1
    assert not np.array_equal(view.displayed_array("W_o"), session.model.params["W_o"])
    view.show()
    assert view.redraws == before + 2
    assert np.array_equal(view.displayed_array("W_o"), session.model.params["W_o"])


def test_a_diverging_run_shows_finite_weights(view, session, qtbot):
    session.set_learning_rate(1e4)
    with qtbot.waitSignal(session.diverged):
        session.run_batches(20)
    assert view.mode == "params"
    for name in PARAMETERS:
        view.show_tensor(name)
        assert np.isfinite(view.heatmap.image_item.image).all()
        assert np.array_equal(view.displayed_array(name), session.model.params[name])


def test_word_ticks_on_the_embedding_gradient_when_zoomed_in(view, session, qtbot):
    step_to(session, "embedding_gradient")
    assert view.current_name() == "dW_emb"
    settle(qtbot, view.heatmap)
    view.heatmap.show_rows(100, 12)
    assert view.heatmap.left_axis.visible_labels() == session.vocab[100:112]


def test_new_network_forgets_the_colour_scales(view, session):
    step_to(session, "output_error")
    assert view.heatmap.remembered_levels("dz_o") is not None
    session.reset()
    assert view.heatmap.remembered_levels("dz_o") is None
    assert view.mode == "params"



@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_activation_specific_formulas_and_colours(demo_corpus, qtbot, activation):
    from core.model import Config

    cls = ACTIVATIONS[activation]
    s = Session(demo_corpus, Config(activation=activation))
    v = MatrixView(s)
    qtbot.addWidget(v)
    step_to(s, "hidden")
    h = s.tensors["h"]
    if cls.levels is not None:  # σ: 0 to 1; tanh, signed: diverging, ±1
        lo, hi = v.heatmap.levels()
        assert (lo, hi) == (min(cls.levels[0], float(h.min())), max(cls.levels[1], float(h.max())))
    elif cls.kind == "signed":
        m = float(np.abs(h).max())
        assert v.heatmap.levels() == (-m, m)
    else:  # ReLU: from 0 to the largest output
        assert v.heatmap.levels() == (0.0, float(h.max()))
    s.step_batch()
    T = s.tensors
    for n, j in [(0, 0), (5, 17), (99, 199)]:
        f = v.formula_for("h", (n, j))
        assert abs(f.total - T["h"][n, j]) <= 1e-12
        f = v.formula_for("dz_h", (n, j))
        assert abs(f.total - T["dz_h"][n, j]) <= 1e-12
        assert f.terms[0][0] == T["dh"][n, j]
    s.shutdown()


# ---- export -----------------------------------------------------------------------------------------


def test_export_writes_the_matrix_on_screen_as_csv_and_npy(qtbot, session, tmp_path):
    import csv

    view = MatrixView(session)
    qtbot.addWidget(view)
    while session.step_stage().name != "output_weights":
        pass
    view.show_tensor("dW_o")
    dW_o = session.stage.arrays["dW_o"]
    npy = view.export_current(tmp_path / "dW_o.npy")
    np.testing.assert_array_equal(np.load(npy, allow_pickle=False), dW_o)
    rows = list(csv.reader(open(view.export_current(tmp_path / "dW_o.csv"), encoding="utf-8")))
    assert rows[0][1:] == session.vocab  # the word axis, labelled
    assert [r[0] for r in rows[1:]] == [f"unit {j}" for j in range(dW_o.shape[0])]
    np.testing.assert_array_equal(np.array([[float(v) for v in r[1:]] for r in rows[1:]]), dW_o)  # exact digits
    # the menu action asks where, and says what it did
    view.ask_save_path = lambda *args: str(tmp_path / "picked")
    view.export_action.trigger()
    assert (tmp_path / "picked.csv").is_file() and "Exported dW_o" in view.heatmap.readout.text()
    # a bad place is refused with one line, and nothing is left behind
    view.ask_save_path = lambda *args: str(tmp_path / "missing" / "x.csv")
    view.export_action.trigger()
    assert "does not exist" in view.heatmap.readout.text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dW_o.csv", "dW_o.npy", "picked.csv"]
