"""Exports: arrays to .npy/.csv (core) and plots to PNG (the window's File > Export menu)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PySide6.QtGui import QImage

from core.errors import InputError
from core.export import save_array


def test_arrays_round_trip_exactly(tmp_path):
    a = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_array_equal(np.load(save_array(tmp_path / "a.npy", a), allow_pickle=False), a)
    rows = list(csv.reader(open(save_array(tmp_path / "a.csv", a, row_labels="xyz"), encoding="utf-8")))
    assert rows[0] == ["", "0", "1", "2", "3"] and [r[0] for r in rows[1:]] == ["x", "y", "z"]
    np.testing.assert_array_equal(np.array([[float(v) for v in r[1:]] for r in rows[1:]]), a)
    b = np.arange(5, dtype=np.float32) / 3
    rows = list(csv.reader(open(save_array(tmp_path / "b.csv", b, col_labels=list("abcde")), encoding="utf-8")))
    assert rows[0] == list("abcde")
    np.testing.assert_array_equal(np.array(rows[1], dtype=np.float32), b)


@pytest.mark.parametrize(
    "name, array, message",
    [
        ("a.txt", np.zeros(3), "not 'a.txt'"),
        ("a.csv", np.zeros((2, 2, 2)), "shape"),
        ("nowhere/a.csv", np.zeros(3), "does not exist"),
    ],
)
def test_what_cannot_be_exported_is_refused_with_one_line(tmp_path, name, array, message):
    with pytest.raises(InputError, match=message):
        save_array(tmp_path / name, array)
    assert [p.name for p in tmp_path.iterdir()] == []  # nothing half-written


def test_the_window_offers_every_export_and_the_plots_save_as_png(qtbot, demo_corpus, tmp_path):
    from explorer.app import create_window

    w = create_window(corpus=demo_corpus)
    w.confirm_on_close = False
    qtbot.addWidget(w)
    w.session.run_batches(30)
    file_menu = [m for m in w.menuBar().actions() if m.text() == "&File"][0].menu()
    export_menu = [a for a in file_menu.actions() if a.text() == "&Export"][0].menu()
    export_menu.popup(w.mapToGlobal(w.rect().center()))  # opening the menu lists every panel's exports
    qtbot.waitUntil(export_menu.isVisible)
    texts = [a.text() for a in export_menu.actions()]
    export_menu.close()
    assert any("matrix" in t for t in texts) and any("loss plot" in t for t in texts)
    assert any("embedding map" in t for t in texts) and any("picture of the window" in t for t in texts)
    for view, name in ((w.loss_view, "loss"), (w.embedding_map_view, "map")):
        view.ask_save_path = lambda *args, name=name: str(tmp_path / name)
        view.export_actions()[0].trigger()
        image = QImage(str(tmp_path / f"{name}.png"))
        assert not image.isNull() and image.width() >= 800, name
    w.shutdown()
