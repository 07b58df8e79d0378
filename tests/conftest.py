"""Shared test fixtures. Qt runs offscreen; the real corpus is read from ../shared."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# One BLAS thread, as the app uses (explorer/cli.py): this model's matrices are
# small, and a second thread only waits when another process holds a core.
# It must be set before NumPy is first imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

HINTON = Path(__file__).resolve().parents[2] / "shared" / "data" / "hinton"


@pytest.fixture(autouse=True)
def _isolated_user_folders(tmp_path_factory, monkeypatch):
    """Never read or write the real user's cache, log, settings, state or data folders."""
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("BACKPROP_EXPLORER_CACHE", str(base / "cache"))
    monkeypatch.setenv("BACKPROP_EXPLORER_LOGS", str(base / "logs"))
    monkeypatch.setenv("BACKPROP_EXPLORER_SETTINGS", str(base / "settings"))
    # A learner's solutions: a folder per test, so that code kept by one test never pre-fills another's editor.
    monkeypatch.setenv("BACKPROP_EXPLORER_DATA", str(tmp_path_factory.mktemp("data")))
    # Autosaves: a folder per test, so that one left by a test is never offered to another.
    monkeypatch.setenv("BACKPROP_EXPLORER_STATE", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(scope="session")
def hinton_dir() -> Path:
    if not (HINTON / "vocab.txt").is_file():
        pytest.skip(f"the real corpus is not at {HINTON}")
    return HINTON


@pytest.fixture(scope="session")
def hinton_corpus(hinton_dir):
    from core.corpus import load_hinton_folder

    return load_hinton_folder(hinton_dir)


@pytest.fixture(scope="session")
def demo_corpus():
    from core.corpus import load_demo

    return load_demo()


@pytest.fixture
def laptop_window(qtbot, demo_corpus):
    """The window on the built-in corpus at 1366×768, shown; it discards unsaved training without asking."""
    from explorer import dialogs
    from explorer.app import create_window

    w = create_window(corpus=demo_corpus)
    w.ask_unsaved = lambda parent, doing: dialogs.DISCARD
    qtbot.addWidget(w)
    w.resize(1366, 768)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.shutdown()


@pytest.fixture
def session(demo_corpus, qtbot):
    """A session on the built-in corpus with the default network (stopped at the end)."""
    from explorer.session import Session

    s = Session(demo_corpus)
    yield s
    s.shutdown()
