"""The predictions panel, driven through its real widgets on the built-in corpus."""

from collections import Counter

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from core.trainer import Trainer
from explorer.panels.predictions_view import PredictionsView
from explorer.session import Session


@pytest.fixture
def view(session, qtbot):
    v = PredictionsView(session)
    qtbot.addWidget(v)
    v.resize(800, 420)
    v.show()
    qtbot.waitExposed(v)
    return v


def type_prompt(qtbot, view, text):
    view.prompt.clear()
    qtbot.keyClicks(view.prompt, text)


def direct_counts(train, context_idx):
    """An independent count of the next words after ``context_idx`` in the training rows."""
    c = Counter()
    for row in train.tolist():
        if tuple(row[:3]) == tuple(context_idx):
            c[row[3]] += 1
    return c


def test_starts_with_an_example_the_vocabulary_knows(view, session):
    words = view.prompt.text().split()
    assert len(words) == 3 and all(w in session.model.index for w in words)
    assert view.shown_predictions() == session.model.predict(words, view.k_spin.value())


def test_typed_prompt_shows_exactly_the_models_prediction(view, session, qtbot):
    type_prompt(qtbot, view, "the dog is")
    assert view.findChild(type(view.prompt), "prompt_input") is view.prompt
    assert view.context_words() == ("the", "dog", "is")
    expected = session.model.predict(["the", "dog", "is"], 10)
    assert view.shown_predictions() == expected
    assert len(expected) == 10
    view.k_spin.setValue(4)
    assert view.shown_predictions() == session.model.predict(["the", "dog", "is"], 4)


def test_predictions_follow_the_weights_without_typing(view, session, qtbot):
    type_prompt(qtbot, view, "i want to")
    before = view.shown_predictions()
    session.run_batches(50)
    after = view.shown_predictions()
    assert after == session.model.predict(["i", "want", "to"], 10)
    assert [p for _, p in after] != [p for _, p in before]


def test_unknown_word_names_it_with_suggestions_and_raises_nothing(view, session, qtbot):
    with qtbot.capture_exceptions() as raised:
        type_prompt(qtbot, view, "the dgo is")
    assert raised == []
    status = view.status_text()
    assert "“dgo” is not in the vocabulary" in status
    suggestions = session.model.suggest("dgo")
    assert suggestions and all(s in status for s in suggestions)
    assert view.shown_predictions() == []
    assert view.context_words() is None
    # Clicking a suggestion puts it in place of the unknown word.
    view.status.linkActivated.emit("fix:0")
    assert view.prompt.text().split() == ["the", suggestions[0], "is"]
    assert view.shown_predictions() == session.model.predict(["the", suggestions[0], "is"], 10)


def test_fewer_than_three_words_gives_a_hint(view, qtbot):
    type_prompt(qtbot, view, "the dog")
    assert "Type 3 words; 2 so far" in view.status_text()
    assert view.shown_predictions() == []
    view.prompt.clear()
    assert "0 so far" in view.status_text()


def test_more_than_three_words_use_the_last_three(view, session, qtbot):
    type_prompt(qtbot, view, "yesterday i want to")
    assert view.context_words() == ("i", "want", "to")
    assert view.shown_predictions() == session.model.predict(["i", "want", "to"], 10)
    assert "last three of your 4 words" in view.status_text()


@pytest.mark.parametrize(
    "text",
    ["", "   ", "...", "the dog.", "  The   DOG  is  ", "héllo wörld ☃", "<b>the</b> & dog is", "a " * 300,
     "x" * 2000, "the\tdog\nis", "\u200b \u200b \u200b"],
)
def test_any_text_is_accepted(view, qtbot, text):
    with qtbot.capture_exceptions() as raised:
        view.set_text(text)
        qtbot.keyClicks(view.prompt, " the")
    assert raised == []
    assert view.status_text().strip()


def test_case_and_spacing_do_not_matter(view, session, qtbot):
    type_prompt(qtbot, view, "  The   DOG  is  ")
    assert view.context_words() == ("the", "dog", "is")
    assert view.shown_predictions() == session.model.predict(["the", "dog", "is"], 10)


def test_clicking_a_prediction_appends_it_and_shifts_the_context(view, session, qtbot):
    session.run_batches(100)
    type_prompt(qtbot, view, "i want to")
    for _ in range(2):
        rows = view.shown_predictions()
        second = rows[1][0]
        old = view.prompt.text().split()
        qtbot.mouseClick(view.chart, Qt.MouseButton.LeftButton, pos=view.chart.row_rect(1).center())
        assert view.prompt.text().split() == old + [second]
        context = (old + [second])[-3:]
        assert view.context_words() == tuple(context)
        assert view.shown_predictions() == session.model.predict(context, 10)


def test_corpus_evidence_equals_a_direct_count(view, session, qtbot):
    type_prompt(qtbot, view, "i want to")
    idx = session.model.context_indices(["i", "want", "to"])
    counts = direct_counts(session.corpus.train, idx)
    assert sum(counts.values()) > 5
    rows = view.evidence()
    assert {w: c for w, c, _, _ in rows} == {session.vocab[i]: c for i, c in counts.items()}
    p = session.model.probabilities(["i", "want", "to"])
    total = sum(counts.values())
    for word, count, share, model_p in rows:
        assert share == count / total
        assert model_p == p[session.model.index[word]]
    assert [c for _, c, _, _ in rows] == sorted((c for _, c, _, _ in rows), reverse=True)
    table = view.evidence_table
    assert table.item(0, 0).text() == rows[0][0]
    assert table.item(0, 1).text() == f"{rows[0][1]:,}"
    assert f"{total} times" in view.evidence_title.text()


def test_a_context_absent_from_the_training_set_says_so(view, session, qtbot):
    seen = {tuple(r) for r in session.corpus.train[:, :3].tolist()}
    vocab = session.vocab
    absent = next(
        (a, b, c) for a in range(20, 40) for b in range(20, 40) for c in range(20, 40) if (a, b, c) not in seen
    )
    words = [vocab[i] for i in absent]
    view.set_text(" ".join(words))
    assert view.evidence() == []
    assert "never occurs" in view.evidence_title.text()
    assert view.shown_predictions() == session.model.predict(words, 10)


def test_typing_between_stages_does_not_disturb_the_minibatch(view, session, demo_corpus, qtbot):
    reference = Trainer(demo_corpus, session.config)
    for _ in range(6):  # forward to the loss, and the first backward stage
        session.step_stage()
        reference.step_stage()
    type_prompt(qtbot, view, "the dog is")
    assert view.shown_predictions() == session.model.predict(["the", "dog", "is"], 10)
    with qtbot.capture_exceptions() as raised:
        session.step_batch()
    assert raised == []
    reference.finish_batch()
    for name, theta in reference.model.params.items():
        np.testing.assert_array_equal(session.model.params[name], theta)


def test_network_changed_recomputes_with_the_new_network(view, session, qtbot):
    session.run_batches(50)
    type_prompt(qtbot, view, "i want to")
    trained = view.shown_predictions()
    session.reset()
    assert view.shown_predictions() == session.model.predict(["i", "want", "to"], 10)
    assert view.shown_predictions() != trained


def test_completion_offers_vocabulary_words_for_the_last_word(view, session, qtbot):
    type_prompt(qtbot, view, "the do")
    completer = view._completer
    assert completer.completionPrefix() == "do"
    offered = []
    for row in range(completer.completionCount()):
        completer.setCurrentRow(row)
        offered.append(completer.currentCompletion())
    assert offered and all(w.startswith("do") for w in offered)
    assert sorted(offered) == sorted(w for w in session.vocab if w.startswith("do"))
    completer.activated[str].emit("dog")
    assert view.prompt.text() == "the dog "
    assert view.shown_predictions() == []  # two words so far


def test_the_completion_pop_up_leaves_the_hint_line_readable(view, qtbot):
    view.prompt.setFocus()
    type_prompt(qtbot, view, "the do")
    popup = view._completer.popup()
    qtbot.waitUntil(popup.isVisible)
    assert view.status_text() == "Type 3 words; 2 so far (1 more)."
    hint = view.status.rect().translated(view.status.mapToGlobal(QPoint(0, 0)))
    shown = popup.geometry()  # a top-level window: in screen coordinates
    assert not shown.intersects(hint), (shown, hint)
    assert shown.top() >= hint.bottom()  # below the hint line, as near the prompt as that allows
    assert shown.left() <= view.prompt.mapToGlobal(view.prompt.cursorRect().bottomLeft()).x() + 1


def test_the_prompt_cuts_punctuation_off_as_the_corpus_does(view, session, qtbot):
    assert "," in session.vocab and "day," not in session.vocab
    type_prompt(qtbot, view, "it was a nice day,")
    assert view.context_words() == ("nice", "day", ",")
    assert view.shown_predictions() == session.model.predict(["nice", "day", ","], view.k_spin.value())
    type_prompt(qtbot, view, "I don't")  # clitics too: "don't" is "do n't"
    assert view.context_words() == ("i", "do", "n't")


@pytest.mark.hinton
def test_real_corpus_prediction_and_evidence(hinton_corpus, qtbot):
    session = Session(hinton_corpus)
    view = PredictionsView(session)
    qtbot.addWidget(view)
    view.set_text("life in the")
    assert view.shown_predictions() == session.model.predict(["life", "in", "the"], 10)
    idx = session.model.context_indices(["life", "in", "the"])
    counts = hinton_corpus.continuations(idx)
    assert {w: c for w, c, _, _ in view.evidence()} == {session.vocab[i]: c for i, c in counts.items()}
    session.shutdown()
