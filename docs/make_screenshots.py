"""Render the screenshots of the README's tour (offscreen) into docs/.

    QT_QPA_PLATFORM=offscreen uv run python docs/make_screenshots.py [--data ../shared/data/hinton] [--size 1366x768]

Each picture is the real window or one of its panels, driven the way a user
would drive it (steps, a run, a click, Lesson mode's steps and answers); nothing
is drawn specially for it.
The window is a laptop's, 1366×768 unless ``--size`` says otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

HERE = Path(__file__).resolve().parent


def settle(app, rounds: int = 5) -> None:
    """Let the window lay itself out and paint (a screenshot tool, not a loop that polls)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(60 * rounds, loop.quit)
    loop.exec()


def save(widget, name: str) -> None:
    path = HERE / name
    widget.grab().save(str(path))
    print(f"wrote {path.relative_to(HERE.parent)} ({widget.width()}×{widget.height()})")


def save_floating(app, dock, name: str, size: tuple[int, int]) -> None:
    """A dock floated at ``size``, as a user would to give its panel room, saved, and docked again."""
    dock.setFloating(True)
    dock.resize(*size)
    settle(app)
    save(dock, name)
    dock.setFloating(False)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data" / "hinton"))
    p.add_argument("--size", default="1366x768", help="the window's width x height in pixels")
    args = p.parse_args()
    width, height = (int(n) for n in args.size.lower().split("x"))

    from core.model import Config
    from explorer.app import create_window, ensure_app

    app = ensure_app()
    window = create_window(data=args.data)
    window.confirm_on_close = False
    window.resize(width, height)
    window.show()
    s = window.session
    settle(app)

    # 0. Lesson mode: a forward step answered with an entry pointed at; a question; the 5×3 sketch.
    lesson = window.lesson_view
    window.set_mode("lesson")
    first = {}  # the first step of each stage or widget
    for i, (_chapter, step) in enumerate(lesson.steps):
        first.setdefault(step.stage or step.widget, i)
    lesson.go_to(first["hidden_input"])
    lesson.answer(lesson.question.answer)
    settle(app)
    lesson.point_at("z_h", (1, 2))
    settle(app)
    save(window, "lesson_forward.png")
    lesson.go_to(first["embedding_gradient"])
    settle(app)
    save(window, "lesson_question.png")
    lesson.go_to(first["sketch"])
    settle(app)
    save(window, "lesson_sketch.png")
    window.set_mode("explorer")
    settle(app)

    # 1. A forward stage of a minibatch, after a little training, with predictions.
    s.run_batches(3000)
    for _ in range(3):
        s.step_stage()
    window.predictions_view.set_text("life in the")
    window.docks["predictions_view"].raise_()  # (on a laptop it shares the loss plot's place, in a tab)
    settle(app)
    save(window, "window_forward.png")

    # 2. A backward stage: the output weights' gradient, with a formula tooltip's numbers.
    while s.stage.name != "output_weights":
        s.step_stage()
    window.matrix_view.show_tensor("dW_o")
    window.matrix_view.heatmap.select_cell(12, 3)
    window.matrix_view.heatmap.hover_cell(12, 3)
    settle(app)
    save(window.docks["matrix_view"], "matrix_view.png")

    # 3. The embedding gradient as a sum: batch size 2, a word at two positions.
    window.embedding_grad_view.confirm = lambda _doing: True
    s.rebuild(Config(batch_size=2))
    window.docks["embedding_grad_view"].raise_()
    window.docks["predictions_view"].raise_()
    window.embedding_grad_view.teaching_batch()
    settle(app)
    scroll = window.docks["embedding_grad_view"].widget()  # on a laptop the panel scrolls: down to the sum
    scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())
    settle(app)
    save(window, "window_embedding_gradient.png")
    scroll.verticalScrollBar().setValue(0)
    window.embedding_grad_view.set_naive_visible(True)
    save_floating(app, window.docks["embedding_grad_view"], "overwrite_bug.png",
                  (min(1150, width - 40), min(800, height - 40)))

    # 4. After a run: an epoch of the classic network, the loss curves, the map; then the gradient check.
    s.rebuild(Config())
    window.docks["matrix_view"].raise_()
    window.docks["embedding_map_view"].raise_()
    s.run_batches(s.trainer.batches_per_epoch)
    window.embedding_map_view.select_word("he")
    for _ in range(8):
        s.step_stage()
    settle(app)
    save(window, "window_after_run.png")
    window.docks["loss_view"].raise_()  # (on a laptop it shares the map's place, in a tab)
    settle(app)
    save(window.docks["loss_view"], "loss_view.png")
    save_floating(app, window.docks["embedding_map_view"], "embedding_map.png",
                  (min(900, width - 40), min(560, height - 40)))

    window.docks["gradcheck_view"].raise_()  # (on a laptop it shares the map's place, in a tab)
    window.gradcheck_view.check("W_o", (12, 3))
    results = {}
    window.gradcheck_view.check_all_finished.connect(results.update)
    window.gradcheck_view.check_all()
    from PySide6.QtCore import QEventLoop

    loop = QEventLoop()
    window.gradcheck_view.check_all_finished.connect(lambda _r: loop.quit())
    loop.exec()
    settle(app)
    save(window.gradcheck_view, "gradient_check.png")  # the whole panel, not just what its dock shows

    # 5. Write it yourself: the overwrite bug from the gallery, run: wrong, with its difference map.
    # (The code a run keeps goes to a folder of its own, never into the user's solutions.)
    import tempfile

    os.environ["BACKPROP_EXPLORER_DATA"] = tempfile.mkdtemp(prefix="backprop-screenshots-")
    s.rebuild(Config())
    window.docks["write_view"].raise_()
    view = window.write_view
    view.load_bug(next(k for k, bug in enumerate(view.gallery) if bug.stage == "embedding_gradient"))
    loop = QEventLoop()
    view.verdict_shown.connect(lambda _v: loop.quit())
    view.run()
    loop.exec()
    save_floating(app, window.docks["write_view"], "write_it_yourself.png",
                  (min(1300, width - 40), min(720, height - 40)))

    window.shutdown()
    window.close()
    import shutil

    shutil.rmtree(os.environ["BACKPROP_EXPLORER_DATA"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
