"""Never losing training: which training counts as unsaved, autosaves, their restore offer, the crash log."""

from __future__ import annotations

import pytest

from explorer import dialogs
from explorer.app import create_window


class Answers:
    """Scripted answers to the window's questions, with a record of what was asked."""

    def __init__(self, unsaved=dialogs.DISCARD, restore=False):
        self.unsaved, self.restore = unsaved, restore
        self.asked: list[str] = []
        self.restore_texts: list[str] = []

    def install(self, window):
        window.ask_unsaved = lambda parent, doing: self.asked.append(doing) or self.unsaved
        window.ask_yes_no = lambda parent, title, text: self.asked.append(text) or False
        window.ask_save_path = lambda parent: ""
        if hasattr(window, "ask_restore"):
            window.ask_restore = lambda parent, text: self.restore_texts.append(text) or self.restore
        return self


@pytest.fixture
def window(qtbot, demo_corpus):
    w = create_window(corpus=demo_corpus)
    w.answers = Answers().install(w)
    qtbot.addWidget(w)
    yield w
    w.shutdown()


# ---- what counts as unsaved training ------------------------------------------------------------


def test_the_teaching_batch_s_own_minibatches_are_not_unsaved_training(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    window.docks["embedding_grad_view"].raise_()
    grad = window.panel("embedding_grad_view")
    s = window.session
    assert grad.teaching_batch()  # batch size 2, trained on to a minibatch with a repeated word
    assert grad.teaching_batch()  # finishes that one, trains on to the next such minibatch
    assert s.trainer.step > 0
    assert not s.dirty and not window.isWindowModified()
    assert window.reset() and window.answers.asked == []  # nothing of the user's to lose: no question

    # a minibatch the user steps through is the user's training: it is asked about
    assert grad.teaching_batch()
    window.step_batch()
    assert s.dirty and window.isWindowModified()
    # and stays so when the teaching batch trains on afterwards
    assert grad.teaching_batch() and s.dirty
    assert window.reset() and len(window.answers.asked) == 1


def test_run_mode_and_run_batches_are_the_user_s_training(window):
    window.session.run_batches(3)
    assert window.session.dirty
    window.answers.unsaved = dialogs.CANCEL
    assert not window.reset()
    assert window.answers.asked == ["resetting to new weights"]
