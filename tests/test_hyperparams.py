"""The hyperparameters panel: live values, validation with a message, a new network only after asking."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from core.model import Config
from core.model import estimated_bytes
from explorer.panels.hyperparams_view import LIVE_FIELDS, NETWORK_FIELDS, HyperparamsView, parse_value
from explorer.session import Session


@pytest.fixture
def view(qtbot, demo_corpus):
    session = Session(demo_corpus, Config(batch_size=10, hidden_dim=20, embed_dim=8))
    v = HyperparamsView(session)
    v.asked = []
    v.confirm = lambda doing: v.asked.append(doing) or True
    qtbot.addWidget(v)
    return v


def type_into(view, qtbot, name, text, enter=True):
    editor = view.inputs[name]
    editor.clear()
    qtbot.keyClicks(editor, text)
    if enter:
        qtbot.keyClick(editor, Qt.Key_Return)


def test_shows_the_current_values(view):
    c = view.session.config
    assert view.inputs["batch_size"].text() == "10"
    assert view.inputs["hidden_width_1"].text() == "20"
    assert view.inputs["learning_rate"].text() == f"{c.learning_rate:g}"
    assert view.inputs["hidden_activation_1"].currentText() == "sigmoid"
    assert len(view.layer_rows) == 1 and "hidden_width_2" not in view.inputs


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("batch_size", "0", "batch size must be between 1"),
        ("hidden_width_1", str(10**6), "hidden size must be between 1 and 5,000"),
        ("hidden_width_1", "0", "hidden size must be between 1 and 5,000"),
        ("embed_dim", "-3", "embedding size must be between 1"),
        ("batch_size", "ten", "expected a whole number"),
        ("batch_size", "2.5", "expected a whole number"),
        ("init_std", "0", "init std must be above 0"),
        ("seed", "", "enter a value"),
        ("batch_size", "50000", "at most the training set"),
    ],
)
def test_bad_network_values_are_refused_with_a_message(view, qtbot, name, text, message):
    model = view.session.model
    with qtbot.assertNotEmitted(view.session.network_changed):
        type_into(view, qtbot, name, text, enter=False)
        assert not view.apply_new_network()
    assert message in view.errors[name].text()
    assert view.errors[name].isVisibleTo(view)
    assert view.session.model is model  # no new network
    assert view.asked == []  # refused before asking anything


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("learning_rate", "-1", "learning rate must be above 0"),
        ("learning_rate", "abc", "expected a number"),
        ("learning_rate", "nan", "finite number"),
        ("momentum", "1", "momentum must be at least 0 and below 1"),
    ],
)
def test_bad_live_values_are_refused_and_nothing_changes(view, qtbot, name, text, message):
    before = (view.session.trainer.learning_rate, view.session.trainer.momentum)
    type_into(view, qtbot, name, text)
    assert message in view.errors[name].text()
    assert (view.session.trainer.learning_rate, view.session.trainer.momentum) == before


def test_learning_rate_and_momentum_apply_live_without_a_new_network(view, qtbot):
    model = view.session.model
    type_into(view, qtbot, "learning_rate", "0.5")
    type_into(view, qtbot, "momentum", "0.25")
    assert view.session.trainer.learning_rate == 0.5
    assert view.session.trainer.momentum == 0.25
    assert view.session.model is model
    assert view.errors["learning_rate"].text() == ""


def test_an_error_clears_once_the_value_is_fixed(view, qtbot):
    type_into(view, qtbot, "batch_size", "0", enter=False)
    assert view.errors["batch_size"].text()
    type_into(view, qtbot, "batch_size", "2", enter=False)
    assert view.errors["batch_size"].text() == ""


def test_a_new_hidden_size_builds_a_network_of_that_shape(view, qtbot):
    s = view.session
    with qtbot.waitSignal(s.network_changed, timeout=1000):
        type_into(view, qtbot, "hidden_width_1", "37", enter=False)
        view.inputs["hidden_activation_1"].setCurrentText("relu")
        view.apply_button.click()
    assert s.model.params["W_h"].shape == (3 * 8, 37)
    assert s.model.params["W_o"].shape == (37, s.model.vocab_size)
    assert s.config.activations == ("relu",)
    assert view.inputs["hidden_width_1"].text() == "37"
    assert "New network" in view.message_label.text()


def test_batch_size_one_is_allowed(view, qtbot):
    type_into(view, qtbot, "batch_size", "1")  # Enter applies
    assert view.session.config.batch_size == 1
    view.session.step_batch()
    assert view.session.trainer.step == 1


def test_asks_before_discarding_training_and_respects_no(view, qtbot):
    s = view.session
    s.step_batch()
    assert s.dirty
    view.confirm = lambda doing: view.asked.append(doing) or False
    model = s.model
    type_into(view, qtbot, "hidden_width_1", "11", enter=False)
    assert not view.apply_new_network()
    assert view.asked == ["building a new network"]
    assert s.model is model and s.trainer.step == 1
    view.confirm = lambda doing: True
    assert view.apply_new_network()
    assert s.model.params["W_h"].shape[1] == 11 and s.trainer.step == 0


def test_sizes_that_would_exhaust_memory_are_refused(view, qtbot):
    model = view.session.model
    type_into(view, qtbot, "batch_size", "20000", enter=False)
    type_into(view, qtbot, "hidden_width_1", "5000", enter=False)
    assert not view.apply_new_network()
    assert "GB" in view.message_label.text()
    assert view.session.model is model


def test_values_follow_changes_made_elsewhere(view):
    view.session.set_learning_rate(0.03)
    assert view.inputs["learning_rate"].text() == "0.03"
    view.session.rebuild(view.session.config.replace(seed=9))
    assert view.inputs["seed"].text() == "9"


def test_parse_value_and_memory_estimate():
    assert parse_value(" 1,000 ", int) == 1000
    assert parse_value("1e3", int) == 1000
    assert parse_value("0.5", float) == 0.5
    with pytest.raises(ValueError):
        parse_value("1.5", int)
    small = estimated_bytes(Config(), 250)
    assert small < 50 * 1024**2
    assert estimated_bytes(Config(batch_size=20000, hidden_dim=5000), 250) > 2 * 1024**3


# ---- a refused value never stays in its field, and the value in force is shown ---------------------------

TYPED_FIELDS = [
    name for name, (_label, kind, _tip) in {**LIVE_FIELDS, **NETWORK_FIELDS}.items() if kind in (int, float)
]


def shown_in_force(view, name) -> str:
    value = getattr(view.session.config, name)
    return f"{value:g}" if isinstance(value, float) else str(value)


@pytest.mark.parametrize("text", ["abc", "-1"])
@pytest.mark.parametrize("name", TYPED_FIELDS)
def test_a_refused_value_reverts_and_says_which_value_is_in_force(view, qtbot, name, text):
    assert view.apply_new_network()  # the line below says "New network built."
    config = view.session.config
    type_into(view, qtbot, name, text)  # Enter: applies a live field, builds a network for the others
    assert view.session.config == config
    assert view.inputs[name].text() == shown_in_force(view, name)  # not the refused text
    note = view.errors[name].text()
    assert note.startswith(f"refused {text!r}: ") and note.endswith(f"; still {shown_in_force(view, name)}")
    reason = note[len(f"refused {text!r}: ") : -len(f"; still {shown_in_force(view, name)}")]
    assert ("expected a" in reason) if text == "abc" else (" must be " in reason)
    assert view.errors[name].isVisibleTo(view)
    assert "New network built" not in view.message_label.text()
    if name in NETWORK_FIELDS:
        label = NETWORK_FIELDS[name][0]
        assert view.message_label.text().startswith(f"Nothing changed: refused what was typed for {label};")


def test_leaving_a_network_field_with_a_refused_value_reverts_it(view, qtbot):
    type_into(view, qtbot, "hidden_width_1", "lots", enter=False)
    assert view.inputs["hidden_width_1"].text() == "lots"  # while typing it stays, with the reason
    assert "expected a whole number" in view.errors["hidden_width_1"].text()
    view.inputs["hidden_width_1"].editingFinished.emit()  # focus moved elsewhere
    assert view.inputs["hidden_width_1"].text() == "20"
    assert view.errors["hidden_width_1"].text() == "refused 'lots': expected a whole number, got 'lots'; still 20"


@pytest.mark.parametrize("text", ["abc", "-1", "0", "6000"])
def test_a_refused_width_reverts_to_the_width_in_force_or_the_one_a_new_layer_was_given(view, qtbot, text):
    view.add_layer()  # layer 2, as wide as layer 1: not in force, so it falls back to its own width
    type_into(view, qtbot, "hidden_width_2", "15", enter=False)
    view.inputs["hidden_width_2"].editingFinished.emit()
    for name, still in (("hidden_width_1", "20"), ("hidden_width_2", "20")):
        type_into(view, qtbot, name, text)  # Enter: Apply, refused
        assert view.inputs[name].text() == still
        assert view.errors[name].text().startswith(f"refused {text!r}: ")
        assert view.errors[name].text().endswith(f"; still {still}")
    assert view.session.config.hidden_dims == (20,)
    assert "hidden layer 2's width" in view.message_label.text()


def test_typed_network_values_not_applied_yet_are_named_with_the_values_in_force(view, qtbot):
    assert view.apply_new_network()
    assert view.message_label.text() == "New network built."
    type_into(view, qtbot, "hidden_width_1", "37", enter=False)
    assert "New network built" not in view.message_label.text()
    assert "Hidden layers = 37 sigmoid (in force: 20 sigmoid)" in view.message_label.text()
    view.inputs["hidden_activation_1"].setCurrentText("relu")
    assert "Hidden layers = 37 relu (in force: 20 sigmoid)" in view.message_label.text()
    view.apply_button.click()
    assert view.message_label.text() == "New network built."
    assert view.session.config.hidden_dim == 37


def test_layers_are_added_and_removed_from_none_to_four(view, qtbot):
    s = view.session
    view.inputs["hidden_activation_1"].setCurrentText("tanh")
    for _ in range(5):  # the fifth is refused: the button is disabled at four
        qtbot.mouseClick(view.add_layer_button, Qt.LeftButton)
    assert len(view.layer_rows) == 4 and not view.add_layer_button.isEnabled()
    assert [view.inputs[f"hidden_width_{i}"].text() for i in range(1, 5)] == ["20"] * 4  # as wide as the last
    assert [view.inputs[f"hidden_activation_{i}"].currentText() for i in range(1, 5)] == ["tanh"] * 4
    for i, (w, act) in enumerate([(12, "relu"), (9, "sigmoid"), (7, "tanh"), (5, "relu")], 1):
        type_into(view, qtbot, f"hidden_width_{i}", str(w), enter=False)
        view.inputs[f"hidden_activation_{i}"].setCurrentText(act)
    assert "Hidden layers = 12 relu, 9 sigmoid, 7 tanh, 5 relu (in force: 20 sigmoid)" in view.message_label.text()
    with qtbot.waitSignal(s.network_changed, timeout=1000):
        view.apply_button.click()
    assert s.config.hidden_dims == (12, 9, 7, 5) and s.config.activations == ("relu", "sigmoid", "tanh", "relu")
    assert [s.model.params[f"W_h{i}"].shape for i in range(1, 5)] == [(24, 12), (12, 9), (9, 7), (7, 5)]
    assert [view.inputs[f"hidden_width_{i}"].text() for i in range(1, 5)] == ["12", "9", "7", "5"]
    qtbot.mouseClick(view.remove_buttons[1], Qt.LeftButton)  # the second: the third becomes the second
    assert [view.inputs[f"hidden_width_{i}"].text() for i in range(1, 4)] == ["12", "7", "5"]
    assert view.inputs["hidden_activation_2"].currentText() == "tanh" and "hidden_width_4" not in view.inputs
    assert view.add_layer_button.isEnabled()
    while view.remove_buttons:
        qtbot.mouseClick(view.remove_buttons[0], Qt.LeftButton)
    assert view.no_layers_label.isVisibleTo(view)
    assert "Hidden layers = none (in force: 12 relu, 9 sigmoid, 7 tanh, 5 relu)" in view.message_label.text()
    assert view.apply_new_network()
    assert s.config.hidden_dims == () and list(s.model.params) == ["W_emb", "W_o", "b_o"]
    qtbot.mouseClick(view.add_layer_button, Qt.LeftButton)  # from none: a layer of 64 with the last activation
    assert view.inputs["hidden_width_1"].text() == "64"
    assert view.apply_new_network() and s.config.hidden_dims == (64,)


def test_a_refusal_note_goes_once_the_value_in_force_changes(view, qtbot):
    type_into(view, qtbot, "learning_rate", "abc")
    assert view.errors["learning_rate"].text().endswith("still 0.1")
    view.session.set_learning_rate(0.03)  # e.g. the divergence dialog's restore
    assert view.inputs["learning_rate"].text() == "0.03"
    assert view.errors["learning_rate"].text() == ""
