"""File ▸ Download the Hinton corpus, driven for real: ask first, files already there, failure and Retry,
a mirror, a folder instead. The corpus comes from a local HTTP server or file:// mirror, never the internet."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from core.download import HINTON_FILES, HINTON_SIZES, cache_dir, find_cached
from explorer import dialogs
from explorer.app import create_window

from _support import FolderServer

HINTON = Path(__file__).resolve().parents[2] / "shared" / "data" / "hinton"
if not all((HINTON / name).is_file() for name in HINTON_FILES):
    pytest.skip(f"the Hinton corpus is not in {HINTON}", allow_module_level=True)

pytestmark = pytest.mark.hinton


@pytest.fixture
def window(qtbot, demo_corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("BACKPROP_EXPLORER_CACHE", str(tmp_path / "cache"))
    w = create_window(corpus=demo_corpus)
    w.asked = []
    w.ask_unsaved = lambda parent, doing: dialogs.DISCARD
    w.ask_yes_no = lambda parent, title, text: w.asked.append(text) or True
    qtbot.addWidget(w)
    yield w
    w.shutdown()


def copy_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in HINTON_FILES:
        shutil.copyfile(HINTON / name, folder / name)
    return folder


def open_download(window, qtbot) -> dialogs.DownloadDialog:
    window.findChild(type(window.action_download), "action_download").trigger()
    dialog = window.download_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    return dialog


def test_it_asks_first_saying_what_how_big_and_where_then_downloads_from_the_mirror_typed(window, qtbot):
    dialog = open_download(window, qtbot)
    assert not dialog.running  # nothing started by itself
    info = dialog.info_label.text()
    size = f"{sum(HINTON_SIZES.values()) / 1e6:.1f} MB"
    assert "4 files" in info and size in info and str(cache_dir()) in info
    assert "raw.githubusercontent.com" in info  # from where, without a mirror
    assert dialog.status_label.text().startswith("Download it now?")
    assert not cache_dir().exists()
    with FolderServer(HINTON) as mirror:
        qtbot.keyClicks(dialog.mirror_edit, mirror.url)
        assert mirror.url in dialog.info_label.text()  # "From:" follows the mirror
        with qtbot.waitSignal(window.corpus_loaded, timeout=30_000):
            qtbot.mouseClick(dialog.download_button, Qt.LeftButton)
    assert find_cached() == cache_dir()
    assert any("Train on it now?" in q for q in window.asked)
    assert window.session.corpus.kind == "hinton"


def test_files_already_there_are_said_so_with_whether_they_are_in_use(window, qtbot):
    copy_corpus(cache_dir())
    dialog = open_download(window, qtbot)
    assert "Already downloaded" in dialog.status_label.text() and str(cache_dir()) in dialog.status_label.text()
    assert "Another corpus is in use" in dialog.status_label.text()
    assert not dialog.download_button.isVisible()  # intact files would not be fetched again
    with qtbot.waitSignal(window.corpus_loaded, timeout=30_000):
        qtbot.mouseClick(dialog.train_button, Qt.LeftButton)
    assert window.session.corpus.kind == "hinton" and not dialog.isVisible()

    again = open_download(window, qtbot)
    assert again is not dialog
    assert "It is the corpus in use." in again.status_label.text()
    assert not again.train_button.isVisible()
    qtbot.mouseClick(again.cancel_button, Qt.LeftButton)
    assert not again.isVisible()


def test_a_failure_shows_the_whole_message_and_retry_goes_on(window, qtbot, tmp_path):
    served = tmp_path / "mirror"
    served.mkdir()
    window.download_prefix = None
    dialog = open_download(window, qtbot)
    with FolderServer(served) as mirror:  # an empty folder: every file is a 404 at first
        dialog.mirror_edit.setText(mirror.url)
        with qtbot.waitSignal(dialog.download_failed, timeout=30_000) as failed:
            qtbot.mouseClick(dialog.download_button, Qt.LeftButton)
        message = failed.args[0]
        assert "404" in message and message.endswith(mirror.url + "raw_sentences.txt")
        box = dialog.error_text
        assert box.isVisible() and box.toPlainText() == message  # the whole message, not cut
        qtbot.waitUntil(lambda: box.verticalScrollBar().maximum() == 0)  # all of it in view at once
        assert box.isReadOnly() and box.textInteractionFlags() & Qt.TextSelectableByMouse
        assert dialog.isSizeGripEnabled() and dialog.maximumWidth() > dialog.minimumWidth()  # resizable
        assert dialog.download_button.text() == "Retry" and dialog.download_button.isEnabled()
        assert dialog.folder_button.isEnabled()
        copy_corpus(served)
        with qtbot.waitSignal(dialog.finished_download, timeout=30_000):
            qtbot.mouseClick(dialog.download_button, Qt.LeftButton)
    assert find_cached() == cache_dir()


def test_a_mirror_that_is_not_a_url_prefix_is_refused_before_anything_starts(window, qtbot):
    dialog = open_download(window, qtbot)
    dialog.mirror_edit.setText("not a url")
    qtbot.mouseClick(dialog.download_button, Qt.LeftButton)
    assert not dialog.running
    assert "URL prefix" in dialog.error_text.toPlainText() and dialog.error_text.isVisible()
    assert not cache_dir().exists()


def test_a_folder_instead_opens_it_as_the_corpus(window, qtbot, tmp_path):
    folder = copy_corpus(tmp_path / "copied")
    asked = []
    window.ask_folder = lambda parent, title: asked.append(title) or str(folder)
    dialog = open_download(window, qtbot)
    with qtbot.waitSignal(window.corpus_loaded, timeout=30_000):
        qtbot.mouseClick(dialog.folder_button, Qt.LeftButton)
    assert asked and window.session.corpus.source == str(folder)
    assert not dialog.isVisible()
    assert not cache_dir().exists()  # nothing downloaded


def test_cancelled_download_says_so(qtbot, tmp_path):
    dialog = dialogs.DownloadDialog(dest=tmp_path / "dl", prefix="http://127.0.0.1:9/")
    qtbot.addWidget(dialog)
    dialog._thread.cancel_event.set()
    with qtbot.waitSignal(dialog.download_cancelled, timeout=10_000):
        dialog.start()
    assert "cancelled" in dialog.status_label.text()
    assert dialog.cancel_button.text() == "Close"
    assert dialog.download_button.text() == "Retry"
    assert not list((tmp_path / "dl").glob("*"))
