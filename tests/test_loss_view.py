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
    np.testing.assert_array_equal(x, np.arange(300))
    np.testing.assert_array_equal(y, h.train_ce)
    vx, vy = curve_data(view.valid_curve)
    assert len(h.valid) >= 2
    assert list(zip(vx.astype(int).tolist(), vy.tolist())) == h.valid
    sx, sy = curve_data(view.smooth_curve)
    np.testing.assert_array_equal(sx, x)
    np.testing.assert_allclose(sy, independent_ema(h.train_ce, view.smoothing), rtol=1e-12)


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
    assert len(y) == 21 and x[-1] == 22 and y[-1] == 3.0
    assert np.isfinite(view.smoothed_values()).all()
    assert len(curve_data(view.test_curve)[1]) == 0


def test_a_roll_back_truncates_the_curve(view, session):
    session.run_batches(120)
    h = session.trainer.history
    h.truncate(50)
    session.history_changed.emit()
    np.testing.assert_array_equal(curve_data(view.raw_curve)[1], h.train_ce)
    session.run_batches(30)
    assert len(curve_data(view.raw_curve)[1]) == 80
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
    view.follow_box.setChecked(False)
    view.plot_item.vb.setRange(xRange=(10, 20), yRange=(1, 2), padding=0)
    session.run_batches(5)
    (x0, x1), _ = view.plot_item.vb.viewRange()
    assert (x0, x1) == pytest.approx((10, 20))


def test_uniform_guess_line_is_at_ln_v(view, session):
    assert view.uniform_line.value() == pytest.approx(math.log(len(session.vocab)))
    assert "uniform guess" in view.uniform_line.label.format


def test_export_png_writes_an_image(view, session, tmp_path):
    session.run_batches(40)
    path = view.export_png(tmp_path / "loss.png", width=640)
    image = QImage(str(path))
    assert not image.isNull()
    assert image.width() == 640
