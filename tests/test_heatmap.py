"""The reusable heatmap: exact data on screen, fixed colour levels, word ticks, hover, click, NaN."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from explorer.widgets.heatmap import DIVERGING, LEVEL_LIMIT, SEQUENTIAL, Heatmap, format_value


@pytest.fixture
def vocab(demo_corpus):
    return list(demo_corpus.vocab)


@pytest.fixture
def heatmap(qtbot):
    h = Heatmap()
    qtbot.addWidget(h)
    h.resize(900, 650)
    h.show()
    qtbot.waitExposed(h)
    return h


def settle(qtbot, h):
    """Let the plot lay itself out (axis sizes change after set_data) before mapping pixels."""
    qtbot.waitUntil(lambda: h.view_box.width() > 300 and h.view_box.height() > 200)
    qtbot.waitUntil(lambda: h.left_axis.width() >= h.left_axis.style["tickTextWidth"])


def test_the_image_holds_exactly_the_array(heatmap):
    a = np.random.default_rng(0).standard_normal((100, 236))
    heatmap.set_data(a, row_axis="example", col_axis="word", kind="signed", name="dz_o")
    assert heatmap.data is a
    assert np.array_equal(heatmap.image_item.image, heatmap.image_data)
    assert np.array_equal(heatmap.image_data, a)
    assert not heatmap.showing_table


def test_one_dimensional_array_is_one_row(heatmap, vocab):
    b = np.linspace(-1, 1, len(vocab))
    heatmap.set_data(b, row_axis="word", kind="signed", labels={"word": vocab}, name="db_o")
    assert heatmap.image_data.shape == (1, len(vocab))
    assert np.array_equal(heatmap.image_data[0], b)
    assert heatmap.index_of(0, 7) == (7,)
    assert heatmap.value_at(0, 7) == b[7]
    text = heatmap.hover_cell(0, 7)
    assert f"word '{vocab[7]}' (#7)" in text and format_value(b[7]) in text


def test_signed_levels_are_symmetric_kept_and_only_grow_until_rescale(heatmap):
    heatmap.set_data(np.array([[0.5, -2.0], [1.0, 0.0]]), row_axis="example", col_axis="unit", name="g")
    assert heatmap.levels() == (-2.0, 2.0)
    assert heatmap.color_bar.levels() == (-2.0, 2.0)
    assert heatmap.image_item.getLevels().tolist() == [-2.0, 2.0]
    # smaller values next step: the scale stays, so colours keep their meaning
    heatmap.set_data(np.array([[0.1, -0.2], [0.3, 0.0]]), row_axis="example", col_axis="unit", name="g")
    assert heatmap.levels() == (-2.0, 2.0)
    # a larger value widens it
    heatmap.set_data(np.array([[3.0, -0.2], [0.3, 0.0]]), row_axis="example", col_axis="unit", name="g")
    assert heatmap.levels() == (-3.0, 3.0)
    # another array keeps its own scale
    heatmap.set_data(np.array([[0.01, -0.01]]), row_axis="example", col_axis="unit", name="other")
    assert heatmap.levels() == (-0.01, 0.01)
    heatmap.set_data(np.array([[0.1, -0.2], [0.3, 0.0]]), row_axis="example", col_axis="unit", name="g")
    assert heatmap.levels() == (-3.0, 3.0)
    heatmap.rescale_button.click()
    assert heatmap.levels() == pytest.approx((-0.3, 0.3))
    assert heatmap.color_bar.levels() == pytest.approx((-0.3, 0.3))
    heatmap.set_data(np.array([[0.1, -0.2], [0.25, 0.0]]), row_axis="example", col_axis="unit", name="g")
    assert heatmap.levels() == pytest.approx((-0.3, 0.3))


def test_colour_maps_by_kind_and_probability_starts_at_0_to_1(heatmap):
    p = np.full((4, 5), 0.2)
    heatmap.set_data(p, row_axis="example", col_axis="word", kind="probability", name="p", levels=(0.0, 1.0))
    assert heatmap.levels() == (0.0, 1.0)
    assert heatmap.color_bar.colorMap() is SEQUENTIAL
    assert heatmap.scale_fraction() == pytest.approx(0.2)
    heatmap.set_data(p - 0.2, row_axis="example", col_axis="unit", kind="signed", name="d")
    assert heatmap.color_bar.colorMap() is DIVERGING
    # the diverging map is white at 0
    assert DIVERGING.map([0.5], mode="byte")[0][:3].tolist() == [255, 255, 255]


def test_all_zero_array_is_not_remembered_as_a_scale(heatmap):
    heatmap.set_data(np.zeros(5), row_axis="unit", name="b_h")
    assert heatmap.levels() == (-1.0, 1.0)
    assert heatmap.remembered_levels("b_h") is None
    heatmap.set_data(np.array([0.0, 0.001, -0.0005, 0, 0]), row_axis="unit", name="b_h")
    assert heatmap.levels() == (-0.001, 0.001)


def test_nan_and_inf_are_never_drawn_as_data(heatmap):
    a = np.array([[1.0, np.nan, -0.5], [np.inf, 2.0, -np.inf]])
    heatmap.set_data(a, row_axis="example", col_axis="unit", name="bad")
    img = heatmap.image_item.image
    assert np.isfinite(img).all()
    assert heatmap.levels() == (-2.0, 2.0)  # from the finite entries only
    assert heatmap._mask_item.isVisible()
    mask_rgba = heatmap._mask_item.image
    assert mask_rgba[0, 1, 3] == 255 and mask_rgba[1, 0, 3] == 255 and mask_rgba[0, 0, 3] == 0
    assert heatmap.note.isVisibleTo(heatmap) and "3 of 6" in heatmap.note.text()
    assert "NaN" in heatmap.hover_cell(0, 1) and "magenta" in heatmap.readout.text()
    assert "+inf" in heatmap.hover_cell(1, 0)
    # finite again: no mask, no note
    heatmap.set_data(np.ones((2, 3)), row_axis="example", col_axis="unit", name="bad")
    assert not heatmap._mask_item.isVisible() and not heatmap.note.isVisibleTo(heatmap)


@pytest.mark.parametrize("kind, values", [
    ("signed", [[1.5e308, -1e308], [3.0, 0.0]]),  # levels ±1.5e308: their width would be infinite
    ("activation", [[1.7e308, -1.7e308], [0.0, 1.0]]),
    ("signed", [[5e-324, -5e-324], [0.0, 0.0]]),  # the smallest floats there are
])
def test_any_finite_values_get_a_colour_scale_that_can_be_drawn(heatmap, qtbot, kind, values):
    """Weights of 1e308 (a checkpoint can hold them): the colour bar's ticks are computed from the width of
    the levels, which must stay finite; the largest values then take the end colours."""
    a = np.array(values)
    heatmap.set_data(a, row_axis="example", col_axis="unit", kind=kind, name="huge")
    lo, hi = heatmap.levels()
    assert np.isfinite(hi - lo) and hi > lo and hi >= min(np.abs(a).max(), LEVEL_LIMIT)
    assert heatmap.color_bar.levels() == (lo, hi) and heatmap.image_item.getLevels().tolist() == [lo, hi]
    axis = heatmap.color_bar.axis
    assert axis.tickValues(*axis.range, 300)  # what its paint() computes first: no OverflowError
    heatmap.rescale_button.click()
    assert heatmap.levels() == (lo, hi)
    assert not heatmap.grab().isNull()


def test_word_ticks_thin_out_when_zoomed_out_and_show_every_word_zoomed_in(heatmap, vocab, qtbot):
    W = np.random.default_rng(1).standard_normal((len(vocab), 50))  # V×d
    heatmap.set_data(W, row_axis="word", col_axis="embed", labels={"word": vocab}, name="W_emb")
    settle(qtbot, heatmap)
    whole = heatmap.left_axis.visible_labels()
    assert 5 < len(whole) < len(vocab) // 4  # every k-th word: legible, not all 236
    assert set(whole) <= set(vocab)
    heatmap.show_rows(40, 20)
    assert heatmap.left_axis.visible_labels() == vocab[40:60]
    heatmap.fit()
    assert heatmap.left_axis.visible_labels() == whole
    # the word axis along the bottom (N×V): every word once zoomed in
    z = np.random.default_rng(2).standard_normal((100, len(vocab)))
    heatmap.set_data(z, row_axis="example", col_axis="word", labels={"word": vocab}, name="z_o")
    settle(qtbot, heatmap)
    assert len(heatmap.bottom_axis.visible_labels()) < 30
    heatmap.show_columns(10, 8)
    assert heatmap.bottom_axis.visible_labels() == vocab[10:18]


def test_concat_columns_are_labelled_by_position_and_component(heatmap, qtbot):
    e = np.zeros((10, 150))
    e[0, 0] = 1
    heatmap.set_data(e, row_axis="example", col_axis="concat", name="e")
    settle(qtbot, heatmap)
    heatmap.show_columns(50, 10)
    assert heatmap.bottom_axis.visible_labels() == [f"x₂·{i}" for i in range(10)]
    assert "position 2, component 7 (column 57)" in heatmap.hover_cell(3, 57)
    lines = [line for line in heatmap._separators if line.isVisible()]
    assert sorted(line.value() for line in lines) == [50, 100]


def test_view_cannot_be_panned_away_from_the_array(heatmap):
    heatmap.set_data(np.ones((100, 236)), row_axis="example", col_axis="word", name="a")
    heatmap.view_box.setXRange(-500, -400, padding=0)
    (x0, x1), (y0, y1) = heatmap.view_box.viewRange()
    assert x0 >= 0 and x1 <= 236
    heatmap.view_box.setYRange(0, 1000, padding=0)
    (x0, x1), (y0, y1) = heatmap.view_box.viewRange()
    assert y0 >= 0 and y1 <= 100


def test_slice_controls_zoom_to_rows(heatmap):
    heatmap.set_data(np.ones((100, 236)), row_axis="example", col_axis="word", name="a")
    rows = heatmap.rows_control
    rows.count.setCurrentIndex(rows.count.findData(20))
    rows.count.activated.emit(rows.count.currentIndex())
    rows.start.setValue(30)
    (_x0, _x1), (y0, y1) = heatmap.view_box.viewRange()
    assert (y0, y1) == pytest.approx((30, 50))


def test_mouse_hover_reports_index_word_and_value(heatmap, vocab, qtbot):
    a = np.random.default_rng(3).standard_normal((20, len(vocab)))
    heatmap.set_data(a, row_axis="example", col_axis="word", labels={"word": vocab}, name="dz_o")
    heatmap.show_columns(0, 20)
    settle(qtbot, heatmap)
    with qtbot.waitSignal(heatmap.hovered) as blocker:
        QTest.mouseMove(heatmap.plot_widget.viewport(), heatmap.cell_center_in_widget(4, 11))
    assert blocker.args == [4, 11]
    text = heatmap.readout.text()
    assert "example 4" in text and f"word '{vocab[11]}' (#11)" in text
    assert f"value {format_value(a[4, 11])}" in text


def test_click_emits_the_cell(heatmap, qtbot):
    a = np.arange(30.0).reshape(5, 6)
    heatmap.set_data(a, row_axis="example", col_axis="unit", name="a")
    settle(qtbot, heatmap)
    with qtbot.waitSignal(heatmap.entry_clicked) as blocker:
        QTest.mouseClick(heatmap.plot_widget.viewport(), Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier, heatmap.cell_center_in_widget(3, 2))
    assert blocker.args == [3, 2]
    assert heatmap._marker.isVisible() and heatmap._marker.rect().topLeft().toTuple() == (2.0, 3.0)


def test_word_indices_are_a_table_of_words(heatmap, vocab, qtbot):
    x = np.array([[0, 3, 1], [2, 1, 0]])
    heatmap.set_data(x, row_axis="example", col_axis="position", kind="index", labels={"word": vocab}, name="x")
    assert heatmap.showing_table and heatmap.image_data is None
    t = heatmap.table
    assert [[t.item(r, c).text() for c in range(3)] for r in range(2)] == [[vocab[i] for i in row] for row in x]
    assert [t.horizontalHeaderItem(c).text() for c in range(3)] == ["x₁", "x₂", "x₃"]
    assert f"word '{vocab[3]}' (#3)" in heatmap.hover_cell(0, 1) and "position 2" in heatmap.readout.text()
    with qtbot.waitSignal(heatmap.entry_clicked) as blocker:
        heatmap.table.cellClicked.emit(1, 2)
    assert blocker.args == [1, 2]
    targets = np.array([4, 0])
    heatmap.set_data(targets, row_axis="example", kind="index", labels={"word": vocab}, name="t")
    assert [t.item(r, 0).text() for r in range(2)] == [vocab[4], vocab[0]]
    assert heatmap.index_of(1, 0) == (1,)
