"""The network diagram: live shapes, the highlighted box per stage, arrows, clicks."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt

from core.model import Config
from explorer.panels.network_view import BWD_FILL, FWD_FILL, NetworkView
from explorer.session import Session

LAYERS = ("input", "embedding", "hidden", "output", "loss")  # the default network's boxes
# The default network's stages: the box each highlights and the arrow it makes bold.
STAGES = [
    ("embed", "embedding", ("fwd", 0)), ("hidden_input", "hidden", ("fwd", 1)), ("hidden", "hidden", None),
    ("logits", "output", ("fwd", 2)), ("softmax", "output", None), ("loss", "loss", ("fwd", 3)),
    ("output_error", "output", ("bwd", 3)), ("output_weights", "output", None),
    ("back_to_hidden", "output", ("bwd", 2)), ("through_activation", "hidden", None),
    ("hidden_weights", "hidden", None), ("back_to_embeddings", "hidden", ("bwd", 1)),
    ("embedding_gradient", "embedding", None), ("update", "embedding", None),
]


@pytest.fixture
def view(qtbot, demo_corpus):
    session = Session(demo_corpus, Config(batch_size=4, embed_dim=6, hidden_dim=7))
    v = NetworkView(session)
    v.resize(1200, 170)
    qtbot.addWidget(v)
    return v


def test_boxes_show_the_live_shapes(view):
    V = view.session.model.vocab_size
    texts = view.box_texts()
    assert texts["input"].lines[0] == "x: N×3 = 4×3"
    assert f"W_emb: V×d = {V}×6" in texts["embedding"].lines
    assert "e: N×3d = 4×18" in texts["embedding"].lines
    assert "W_h: 3d×H = 18×7" in texts["hidden"].lines
    assert f"W_o: H×V = 7×{V}" in texts["output"].lines
    assert f"z_o, p: N×V = 4×{V}" in texts["output"].lines


def test_shapes_follow_a_new_network(view):
    view.session.rebuild(view.session.config.replace(hidden_dim=37, activation="tanh"))
    texts = view.box_texts()
    assert "W_h: 3d×H = 18×37" in texts["hidden"].lines
    assert texts["hidden"].title == "Hidden (tanh)"


def test_the_current_stage_is_highlighted_and_its_arrow_is_active(view):
    s = view.session
    assert view.highlighted is None
    assert view.layers == LAYERS
    for name, box, arrow in STAGES:
        stage = s.step_stage()
        assert stage.name == name
        assert view.highlighted == box
        assert view.active_arrow == arrow
        assert view.backward == stage.is_backward
    assert view.stage_name == "update"
    s.run_batches(1)  # between minibatches again
    assert view.highlighted is None and view.active_arrow is None


def test_the_highlight_is_drawn_in_the_right_box(view):
    s = view.session
    s.step_stage()  # embed: forward, embedding box
    image = view.grab().toImage()
    inside = view.box_rect("embedding").adjusted(12, 0, -12, 0)
    point = QPoint(int(inside.left()), int(inside.bottom()) - 30)
    assert image.pixelColor(point).name() == FWD_FILL.name()
    other = view.box_rect("hidden").adjusted(12, 0, -12, 0)
    assert image.pixelColor(QPoint(int(other.left()), int(other.bottom()) - 30)).name() != FWD_FILL.name()
    for _ in range(9):  # to "through the activation": backward, hidden box
        s.step_stage()
    assert s.stage.name == "through_activation"
    image = view.grab().toImage()
    assert image.pixelColor(QPoint(int(other.left()), int(other.bottom()) - 30)).name() == BWD_FILL.name()


@pytest.mark.parametrize("layer", LAYERS)
def test_clicking_a_box_emits_its_layer(view, qtbot, layer):
    assert view.session.model.box_of(layer).tensors
    with qtbot.waitSignal(view.layer_clicked, timeout=1000) as blocker:
        qtbot.mouseClick(view, Qt.LeftButton, pos=view.box_rect(layer).center().toPoint())
    assert blocker.args == [layer]


def test_clicking_between_boxes_emits_nothing(view, qtbot):
    a, b = view.box_rect("input"), view.box_rect("embedding")
    between = QPoint(int((a.right() + b.left()) / 2), int(a.center().y()))
    with qtbot.assertNotEmitted(view.layer_clicked):
        qtbot.mouseClick(view, Qt.LeftButton, pos=between)


@pytest.mark.parametrize("size", [(560, 130), (900, 160), (1600, 260)])
def test_it_paints_at_any_size_with_boxes_inside(view, size):
    view.resize(*size)
    view.session.step_stage()
    image = view.grab().toImage()
    assert (image.width(), image.height()) == size
    for layer in LAYERS:
        rect = view.box_rect(layer)
        assert rect.left() >= 0 and rect.right() <= size[0] and rect.bottom() <= size[1]
        assert rect.width() > 60


def test_the_loss_box_says_why_a_loss_is_above_a_uniform_guess(qtbot, hinton_corpus):
    import numpy as np

    from core.repeats import next_repeat

    s = Session(hinton_corpus, Config(batch_size=2))
    view = NetworkView(s)
    qtbot.addWidget(view)
    assert "uniform" not in view.tooltip_for("loss")
    s.run_batches(next_repeat(s.trainer)[0])
    s.step_to("loss")
    assert s.stage.loss > np.log(len(s.vocab)) and view.loss_text() == f"L = {s.stage.loss:.3f}"
    tip = view.tooltip_for("loss")
    assert "Click to show this layer's arrays" in tip and "is above a uniform guess" in tip
    assert "learning rate 0.1 (set for 100)" in tip and "uniform" not in view.tooltip_for("output")
    s.shutdown()
