"""A network of three hidden layers built in the window, through the hyperparameters panel, and used there.

Every stage shows the core's arrays (recomputed here by a separate model from
the same weights and minibatch), the diagram has a box per hidden layer, the
tooltips' formulas add up to the entries, the gradient check agrees, a
checkpoint brings the same network back, and the gradient health panel draws
one curve per layer whose values are those computed here from the arrays.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.model import FourGramModel

LAYERS = [(12, "sigmoid"), (9, "tanh"), (7, "relu")]


@pytest.fixture
def window(laptop_window):
    return laptop_window


def build_three_layers(window, qtbot) -> None:
    """What a learner does: add two layers, type the widths, pick the activations, a small batch, Apply."""
    hv = window.hyperparams_view
    window.docks["hyperparams_view"].raise_()
    for _ in range(len(LAYERS) - 1):
        qtbot.mouseClick(hv.add_layer_button, Qt.LeftButton)
    for i, (width, act) in enumerate(LAYERS, 1):
        field = hv.inputs[f"hidden_width_{i}"]
        field.selectAll()
        qtbot.keyClicks(field, str(width))
        hv.inputs[f"hidden_activation_{i}"].setCurrentText(act)
    hv.inputs["batch_size"].selectAll()
    qtbot.keyClicks(hv.inputs["batch_size"], "8")
    with qtbot.waitSignal(window.session.network_changed, timeout=2000):
        qtbot.mouseClick(hv.apply_button, Qt.LeftButton)


def test_three_hidden_layers_built_in_the_window_step_through_every_stage(window, qtbot):
    build_three_layers(window, qtbot)
    s = window.session
    assert s.config.hidden_dims == (12, 9, 7) and s.config.activations == ("sigmoid", "tanh", "relu")

    # The diagram: a box per hidden layer, between the embedding and the output.
    nv = window.network_view
    assert nv.layers == ("input", "embedding", "hidden_1", "hidden_2", "hidden_3", "output", "loss")
    texts = nv.box_texts()
    assert [texts[f"hidden_{i}"].title for i in (1, 2, 3)] == ["Hidden 1 (σ)", "Hidden 2 (tanh)", "Hidden 3 (ReLU)"]
    assert "W_h2: H₁×H₂ = 12×9" in texts["hidden_2"].lines
    rects = [nv.box_rect(k) for k in nv.layers]
    assert all(a.right() < b.left() for a, b in zip(rects, rects[1:]))  # side by side, none overlapping
    assert rects[-1].right() <= nv.width()

    # The same minibatch on a separate model from the same weights: the core's arrays, computed again.
    x, t = s.trainer.current_batch()
    reference = FourGramModel(s.vocab, s.config)
    reference.load_state(s.model.state())
    loss = reference.forward(x, t)
    reference.backward()
    outputs, a = [], x
    for layer in reference.layers:  # e, then z and h of each hidden layer, then z_o
        a = layer.apply(a)
        outputs.append(a)
    names = ["e", "z_h1", "h1", "z_h2", "h2", "z_h3", "h3", "z_o"]
    expected = {"x": x, "t": t, **dict(zip(names, outputs)), "p": reference.loss_layer.p}
    expected.update({"d" + k: g for k, g in reference.grads.items()})
    matrix = window.matrix_view
    window.docks["matrix_view"].raise_()
    step = window.findChild(type(window.action_step_stage), "action_step_stage")
    n_stages = len(s.model.stage_specs)
    assert n_stages == 9 + 5 * 3
    for i in range(n_stages):
        step.trigger()
        stage = s.stage
        assert stage.index == i and stage.name == s.model.stage_specs[i].name
        assert window.stage_label.text().startswith(f"Stage {i + 1}/{n_stages}: {stage.title}")
        assert nv.highlighted == stage.box and window.stage_strip.current == i
        assert matrix.mode == "stage" and sorted(matrix.array_names()) == sorted(stage.arrays)
        for name, core_array in stage.arrays.items():
            assert matrix.show_tensor(name)
            shown = matrix.displayed_array(name)
            assert shown is core_array
            if not matrix.heatmap.showing_table:
                assert np.array_equal(matrix.heatmap.image_data.reshape(core_array.shape), core_array)
            if name in expected:
                np.testing.assert_allclose(core_array, expected[name], rtol=1e-12, atol=1e-15, err_msg=name)
            if stage.name == "loss":
                assert stage.extras["L"] == pytest.approx(loss, rel=1e-12)
        # The tooltip formula of an entry of each array a layer computes adds up to the entry.
        for name, core_array in stage.arrays.items():
            spec = s.model.specs[name]
            if spec.role in ("input", "parameter") or core_array.ndim == 0:
                continue
            index = tuple(int(k) // 2 for k in core_array.shape)
            f = matrix.formula_for(name, index)
            assert f is not None and f.total is not None, (stage.name, name)
            assert abs(f.total - core_array[index]) <= 1e-12 * max(1.0, abs(core_array[index])), (name, f.text)
    assert stage.is_update and s.trainer.step == 1

    # The gradient check of an entry of each hidden layer's weights, and of an intermediate gradient.
    gv = window.gradcheck_view
    for name, index in (("dW_h1", (3, 2)), ("dW_h2", (1, 4)), ("db_h3", (5,)), ("dz_h2", (2, 3))):
        result = gv.check(name, index)
        assert result is not None and result.rel_error < 1e-6 and result.verdict == "ok", (name, result)


def test_gradient_health_draws_a_curve_per_layer_from_the_cores_arrays(window, qtbot):
    build_three_layers(window, qtbot)
    s = window.session
    window.docks["health_view"].raise_()
    hv = window.panel("health_view")
    qtbot.waitUntil(lambda: not hv.visibleRegion().isEmpty())
    assert "No reading yet" in hv.summary.text()
    per_batch = []
    for _ in range(3):  # three stepped minibatches, each read once
        s.step_batch()
        T = s.tensors
        per_batch.append((
            [np.linalg.norm(T[f"dW_h{i}"]) for i in (1, 2, 3)] + [np.linalg.norm(T["dW_o"])],
            [np.linalg.norm(T[f"ΔW_h{i}"]) / np.linalg.norm(s.model.params[f"W_h{i}"]) for i in (1, 2, 3)]
            + [np.linalg.norm(T["ΔW_o"]) / np.linalg.norm(s.model.params["W_o"])],
            [np.mean((T["h1"] < 0.005) | (T["h1"] > 0.995)), np.mean(np.abs(T["h2"]) > 0.99),
             np.mean(np.all(T["h3"] == 0, axis=0))],
        ))
    labels = ["hidden 1", "hidden 2", "hidden 3", "output"]
    assert list(hv.curves["grad_norm"]) == list(hv.curves["update_ratio"]) == labels
    assert list(hv.curves["saturation"]) == labels[:3]
    for q, key in enumerate(("grad_norm", "update_ratio", "saturation")):
        for j, label in enumerate(hv.curves[key]):
            x, y = hv.curves[key][label].getData()
            assert list(x) == [1, 2, 3]
            direct = np.array([batch[q][j] for batch in per_batch])
            shown = 10 ** y if key != "saturation" else y  # the log axes draw log₁₀ of the values
            np.testing.assert_allclose(shown, direct, rtol=1e-12, err_msg=f"{key} {label}")
    # Histograms at the latest reading: each layer's h and dW.
    for label, name in zip(labels, ("h1", "h2", "h3")):
        edges, fractions = hv.curves["h"][label].getData()[0], hv.curves["h"][label].yData
        assert fractions.sum() == pytest.approx(1.0) and len(edges) == len(fractions) + 1
    assert "Minibatch 3" in hv.summary.text()
    # Run mode records every few minibatches, from the fast path.
    s.run_batches(25)  # minibatches 4 to 28: readings after 10 and 20
    x, _ = hv.curves["grad_norm"]["output"].getData()
    assert list(x) == [1, 2, 3, 10, 20]
    # Their values: the fast path's minibatch 20 (float32) against the same 20 minibatches stepped in float64.
    reference = FourGramModel(s.vocab, s.config)  # the same initial weights, from the seed
    for b in range(20):
        xb, tb = s.trainer.batch_at(b)
        reference.forward(xb, tb)
        reference.backward()
        reference.apply_update()
    weights = [f"W_h{i}" for i in (1, 2, 3)] + ["W_o"]
    direct = {
        "grad_norm": [np.linalg.norm(reference.grads[w]) for w in weights],
        "update_ratio": [np.linalg.norm(reference.velocity[w]) / np.linalg.norm(reference.params[w]) for w in weights],
    }
    for key, values in direct.items():
        for label, value in zip(labels, values):
            shown = 10 ** hv.curves[key][label].getData()[1][-1]
            assert shown == pytest.approx(value, rel=2e-4), (key, label)


def test_a_checkpoint_of_the_deep_network_brings_it_back(window, qtbot, tmp_path):
    build_three_layers(window, qtbot)
    s = window.session
    s.run_batches(5)
    path = tmp_path / "deep.npz"
    assert window.save_checkpoint_to(path)
    weights = {k: v.copy() for k, v in s.model.params.items()}
    window.hyperparams_view.remove_layer(window.hyperparams_view.layer_rows[0])
    assert window.hyperparams_view.apply_new_network() and s.config.hidden_dims == (9, 7)
    assert window.load_checkpoint_from(path)
    assert s.config.hidden_dims == (12, 9, 7) and s.trainer.step == 5
    assert window.network_view.layers[2:5] == ("hidden_1", "hidden_2", "hidden_3")
    assert [window.hyperparams_view.inputs[f"hidden_width_{i}"].text() for i in (1, 2, 3)] == ["12", "9", "7"]
    for k, v in weights.items():
        np.testing.assert_array_equal(s.model.params[k], v)
