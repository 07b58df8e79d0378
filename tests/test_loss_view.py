"""The loss curves panel, driven through a real session on the built-in corpus."""

import math

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from core.trainer import Trainer
from explorer.panels.loss_view import LossView


@pytest.fixture
def view(session, qtbot):
    v = LossView(session)
    qtbot.addWidget(v)
    v.resize(900, 420)
    v.show()
    qtbot.waitExposed(v)
    return v


def curve_data(curve):
    x, y = curve.getOriginalDataset()
    if x is None:
        return np.empty(0), np.empty(0)
    return np.array(x), np.array(y)  # copies: the view may reuse its buffers


def independent_ema(values, alpha):
    out, s = [], None
    for v in values:
        s = v if s is None else alpha * s + (1 - alpha) * v
        out.append(s)
    return np.array(out)


def test_curve_holds_every_minibatch_and_every_validation(view, session):
    assert session.run_batches(300) == 300
    h = session.trainer.history
    x, y = curve_data(view.raw_curve)
    assert len(y) == 300
    np.testing.assert_array_equal(x, np.arange(1, 301))  # minibatch k at x = k
    np.testing.assert_array_equal(y, h.train_ce)
    vx, vy = curve_data(view.valid_curve)
    assert len(h.valid) >= 2
    assert list(zip(vx.astype(int).tolist(), vy.tolist())) == h.valid
    sx, sy = curve_data(view.smooth_curve)
    np.testing.assert_array_equal(sx, x)
    np.testing.assert_allclose(sy, independent_ema(h.train_ce, view.smoothing), rtol=1e-12)


def test_minibatch_k_is_plotted_at_k_as_it_is_numbered_elsewhere(view, session):
    from core.model import Config

    session.rebuild(Config(batch_size=2))
    assert session.run_batches(6) == 6
    x, y = curve_data(view.raw_curve)
    np.testing.assert_array_equal(x, [1, 2, 3, 4, 5, 6])  # the curve ends where "6 minibatches" says
    np.testing.assert_array_equal(y, session.trainer.history.train_ce)
    assert view.readout.text().startswith("6 minibatches")
    session.step_stage()  # minibatch 7: its loss is drawn at 7 once the minibatch is done
    session.step_batch()
    assert curve_data(view.raw_curve)[0][-1] == 7 == session.trainer.step
    np.testing.assert_array_equal(curve_data(view.smooth_curve)[0], np.arange(1, 8))
    vx, _ = curve_data(view.valid_curve)
    assert all(1 <= v <= session.trainer.step for v in vx)


def test_smoothing_is_extended_incrementally(view, session):
    for n in (7, 100, 1, 150):
        session.run_batches(n)
    _, sy = curve_data(view.smooth_curve)
    np.testing.assert_allclose(sy, independent_ema(session.trainer.history.train_ce, view.smoothing), rtol=1e-12)


def test_smoothing_control_changes_the_smoothed_curve(view, session):
    session.run_batches(200)
    train = session.trainer.history.train_ce
    _, before = curve_data(view.smooth_curve)
    view.smoothing_spin.setValue(0.5)
    assert view.smoothing == 0.5
    assert view.smoothing_slider.value() == 500
    _, after = curve_data(view.smooth_curve)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, independent_ema(train, 0.5), rtol=1e-12)
    view.smoothing_slider.setValue(990)
    assert view.smoothing == pytest.approx(0.99)
    np.testing.assert_allclose(curve_data(view.smooth_curve)[1], independent_ema(train, 0.99), rtol=1e-12)
    view.smoothing_spin.setValue(0.0)
    np.testing.assert_array_equal(curve_data(view.smooth_curve)[1], train)
    assert "α = 0" in view.legend.getLabel(view.smooth_curve).text


def test_epoch_lines_appear_at_the_epoch_ends(view, session):
    per_epoch = session.trainer.batches_per_epoch
    session.run_batches(per_epoch - 1)
    assert view.epoch_line_positions() == []
    session.run_batches(1)
    session.run_batches(per_epoch + 5)
    ends = session.trainer.history.epoch_ends
    assert ends == [per_epoch, 2 * per_epoch]
    assert view.epoch_line_positions() == ends
    assert [line.label.format for line in view._epoch_lines] == ["epoch 2", "epoch 3"]
    # The epoch-end validation is on the curve too.
    vx, _ = curve_data(view.valid_curve)
    assert set(ends) <= set(vx.astype(int).tolist())


def test_reset_clears_the_plot(view, session, qtbot):
    session.run_batches(session.trainer.batches_per_epoch + 3)
    qtbot.mouseClick(view.test_button, Qt.MouseButton.LeftButton)
    assert len(curve_data(view.test_curve)[1]) == 1
    session.reset()
    for curve in (view.raw_curve, view.smooth_curve, view.valid_curve, view.test_curve):
        assert len(curve_data(curve)[1]) == 0
    assert view.epoch_line_positions() == []
    session.run_batches(5)
    np.testing.assert_array_equal(curve_data(view.raw_curve)[1], session.trainer.history.train_ce)


def test_non_finite_values_are_never_plotted(view, session):
    session.run_batches(20)
    h = session.trainer.history
    h.add_train(float("nan"))
    h.add_train(float("inf"))
    h.add_train(3.0)
    h.valid.append((21, float("nan")))
    h.test.append((22, float("-inf")))
    session.history_changed.emit()
    for curve in (view.raw_curve, view.smooth_curve, view.valid_curve, view.test_curve):
        x, y = curve_data(curve)
        assert np.isfinite(x).all() and np.isfinite(y).all()
    x, y = curve_data(view.raw_curve)
    assert len(y) == 21 and x[-1] == 23 and y[-1] == 3.0  # the 23rd minibatch's loss
    assert np.isfinite(view.smoothed_values()).all()
    assert len(curve_data(view.test_curve)[1]) == 0


def test_a_roll_back_truncates_the_curve(view, session):
    session.run_batches(120)
    h = session.trainer.history
    h.truncate(50)
    session.history_changed.emit()
    np.testing.assert_array_equal(curve_data(view.raw_curve)[1], h.train_ce)
    np.testing.assert_array_equal(curve_data(view.raw_curve)[0], np.arange(1, 51))
    session.run_batches(30)
    assert len(curve_data(view.raw_curve)[1]) == 80
    np.testing.assert_array_equal(curve_data(view.raw_curve)[0], np.arange(1, 81))
    np.testing.assert_allclose(curve_data(view.smooth_curve)[1], independent_ema(h.train_ce, view.smoothing),
                               rtol=1e-12)


def test_test_ce_button_records_and_shows_the_point(view, session, qtbot):
    session.run_batches(30)
    qtbot.mouseClick(view.test_button, Qt.MouseButton.LeftButton)
    h = session.trainer.history
    assert len(h.test) == 1 and h.test[0][0] == 30
    assert h.test[0][1] == pytest.approx(session.trainer.evaluate("test"))
    tx, ty = curve_data(view.test_curve)
    assert list(zip(tx.astype(int).tolist(), ty.tolist())) == h.test
    assert "test CE" in view.readout.text()


def test_test_ce_between_stages_does_not_disturb_the_minibatch(view, session, demo_corpus, qtbot):
    reference = Trainer(demo_corpus, session.config)
    for _ in range(7):
        session.step_stage()
        reference.step_stage()
    qtbot.mouseClick(view.test_button, Qt.MouseButton.LeftButton)
    assert len(session.trainer.history.test) == 1
    session.step_batch()
    reference.finish_batch()
    for name, theta in reference.model.params.items():
        np.testing.assert_array_equal(session.model.params[name], theta)


def test_follow_mode_fits_the_recent_losses(view, session):
    session.run_batches(300)
    (x0, x1), (y0, y1) = view.plot_item.vb.viewRange()
    recent = view.smoothed_values()[-100:]
    assert x0 <= 0 and x1 >= 300
    assert y0 == pytest.approx(0, abs=1e-9)
    assert recent.max() < y1 < 1.5 * recent.max()


def test_uniform_guess_line_is_at_ln_v(view, session):
    assert view.uniform_line.value() == pytest.approx(math.log(len(session.vocab)))
    assert "uniform guess" in view.uniform_line.label.format


def test_export_png_writes_an_image(view, session, tmp_path):
    session.run_batches(40)
    path = view.export_png(tmp_path / "loss.png", width=640)
    image = QImage(str(path))
    assert not image.isNull()
    assert image.width() == 640


# ---- what the plot shows: legend, view ranges, single points ---------------------------------


def _zoom_with_the_wheel(view, qtbot, clicks: int = 3) -> None:
    """Turn the mouse wheel over the middle of the plot, as a user zooming in would."""
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    viewport = view.plot_widget.viewport()
    centre = view.plot_widget.mapFromScene(view.plot_item.vb.sceneBoundingRect().center())
    for _ in range(clicks):
        event = QWheelEvent(
            QPointF(centre), QPointF(viewport.mapToGlobal(centre)), QPoint(0, 0), QPoint(0, 120),
            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
        )
        QApplication.sendEvent(viewport, event)


def _range(view):
    (x0, x1), (y0, y1) = view.plot_item.vb.viewRange()
    return x0, x1, y0, y1


@pytest.mark.parametrize("width", [900, 420])
def test_the_legend_sits_above_the_plot_area_never_over_the_data(view, session, width, qtbot):
    view.resize(width, 420)
    session.run_batches(2 * session.trainer.batches_per_epoch + 10)  # curves, validation points, epoch labels
    assert len(view._epoch_lines) == 2
    qtbot.mouseClick(view.test_button, Qt.MouseButton.LeftButton)

    def placed():  # once the plot has laid itself out at the new width
        legend, box = view.legend.sceneBoundingRect(), view.plot_item.vb.sceneBoundingRect()
        return box.width() > 0 and legend.bottom() <= box.top() + 0.5

    qtbot.waitUntil(placed, timeout=3000)
    legend = view.legend.sceneBoundingRect()
    box = view.plot_item.vb.sceneBoundingRect()
    assert legend.width() > 0 and legend.height() > 0
    assert not legend.intersects(box), (legend, box)
    assert legend.bottom() <= box.top() + 0.5  # a header row above the axes
    assert box.left() - 1 <= legend.left() and legend.right() <= view.plot_item.sceneBoundingRect().right() + 1
    for line in view._epoch_lines:
        if line.label.isVisible():
            assert not legend.intersects(line.label.sceneBoundingRect())
    names = [label.text for _sample, label in view.legend.items]
    assert names == ["training CE per minibatch", view._smooth_name(), "validation CE", "test CE"]
    # The legend belongs to the plot item, so the exported picture has it in the same place.
    assert view.legend.parentItem() is view.plot_item


def _falling_run(session, n: int, start: int = 0) -> None:
    """Losses that fall from about ln V to 2.5 over ``n`` minibatches, as a long run's do, with a validation
    point every 100 (written into the session's history, which the view reads)."""
    h = session.trainer.history
    top = math.log(len(session.vocab))
    for i in range(start, start + n):
        h.add_train(2.5 + (top - 2.5) * math.exp(-i / 150) + 0.05 * math.sin(i))
        if i % 100 == 99:
            h.valid.append((i + 1, 2.6 + (top - 2.5) * math.exp(-i / 150)))
    session.history_changed.emit()


def test_follow_fits_the_recent_losses_and_unticking_shows_the_whole_run(view, session):
    _falling_run(session, 1000)
    train = session.trainer.history.train_ce
    x0, x1, y0, y1 = _range(view)
    assert y1 < train.max()  # following: the fall from the first losses is above the view
    view.follow_box.setChecked(False)
    x0, x1, y0, y1 = _range(view)
    assert x0 <= 0 and x1 >= 999
    assert y0 <= 0 + 1e-9 and y1 >= train.max()
    assert y1 <= 1.3 * max(train.max(), math.log(len(session.vocab)))  # fitted, not merely huge
    _falling_run(session, 500, start=1000)  # the whole run stays in view while it grows
    x0, x1, y0, y1 = _range(view)
    assert x1 >= 1499 and y1 >= train.max()
    view.follow_box.setChecked(True)
    assert _range(view)[3] < train.max()


def test_a_zoom_with_the_mouse_turns_follow_off_and_keeps_the_view(view, session, qtbot):
    _falling_run(session, 300)
    before = _range(view)
    _zoom_with_the_wheel(view, qtbot)
    zoomed = _range(view)
    assert not view.follow_box.isChecked()
    assert zoomed[1] - zoomed[0] < 0.9 * (before[1] - before[0])  # the wheel zoomed in ...
    session.run_batches(5)
    _falling_run(session, 100, start=305)
    assert _range(view) == pytest.approx(zoomed)  # ... and the view stays where the user put it


@pytest.mark.parametrize("follow", [True, False])
def test_a_single_point_is_drawn_as_a_marker(view, session, follow, qtbot):
    view.follow_box.setChecked(follow)
    session.step_batch()
    assert len(session.trainer.history.train_ce) == 1
    for curve in (view.raw_curve, view.smooth_curve):
        x, y = curve_data(curve)
        assert len(y) == 1
        assert curve.opts["symbol"] is not None  # a line through one point draws nothing
        pts = curve.scatter.data
        assert len(pts) == 1 and curve.scatter.isVisible()
    x0, x1, y0, y1 = _range(view)
    assert x0 <= 0 <= x1 and y0 < session.trainer.history.train_ce[0] < y1
    session.step_batch()
    for curve in (view.raw_curve, view.smooth_curve):
        assert curve.opts["symbol"] is None  # two points: the line again
        assert len(curve_data(curve)[1]) == 2


@pytest.mark.parametrize("how", ["follow", "whole run", "zoomed"])
def test_a_new_network_resets_the_axis_ranges(view, session, how, qtbot):
    _falling_run(session, 600)
    if how == "whole run":
        view.follow_box.setChecked(False)
    elif how == "zoomed":
        _zoom_with_the_wheel(view, qtbot)
        assert not view.follow_box.isChecked()
    session.rebuild(session.config.replace(batch_size=50))
    session.step_batch()
    loss = float(session.trainer.history.train_ce[0])
    x0, x1, y0, y1 = _range(view)
    assert x0 <= 0 and 1 <= x1 <= 20  # not the 600 minibatches of the old run
    assert y0 <= 0 + 1e-9 and max(loss, math.log(len(session.vocab))) < y1 < 8


def test_the_exported_picture_has_the_legend_in_its_header_row(view, session, tmp_path, qtbot):
    session.run_batches(30)
    qtbot.waitUntil(lambda: view.legend.sceneBoundingRect().bottom() <= view.plot_item.vb.sceneBoundingRect().top() + 0.5)
    plot = view.plot_item.sceneBoundingRect()
    scale = 1200 / plot.width()
    image = QImage(str(view.export_png(tmp_path / "loss.png", width=1200)))
    header = int((view.plot_item.vb.sceneBoundingRect().top() - plot.top()) * scale)  # rows above the axes
    from explorer.panels.loss_view import SMOOTH_COLOUR

    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(rgb.constBits(), dtype=np.uint8).reshape(rgb.height(), rgb.bytesPerLine())
    pixels = pixels[:, : 3 * rgb.width()].reshape(rgb.height(), rgb.width(), 3)
    is_smooth = (pixels == np.array(SMOOTH_COLOUR, dtype=np.uint8)).all(axis=2)

    def smooth_pixels(y0, y1):
        return int(is_smooth[y0:y1].sum())

    assert header > 10
    assert smooth_pixels(0, header) > 10  # the smoothed curve's legend sample, above the plot area
    assert smooth_pixels(header, image.height()) > 10  # and the curve itself, inside it


@pytest.mark.parametrize("before", [5, 30])  # the first minibatches are fitted differently from a long run
def test_huge_finite_losses_are_fitted_without_raising(view, session, before):
    _falling_run(session, before)
    session.trainer.history.add_train(1e308)
    session.history_changed.emit()
    for follow in (False, True):
        view.follow_box.setChecked(follow)
        x0, x1, y0, y1 = _range(view)
        assert math.isfinite(y1) and y1 > 5
