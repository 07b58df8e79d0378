"""Write it yourself: the learner's own NumPy code for a stage of the minibatch.

Pick a stage and its editor holds a Python function named after it, its
parameters the arrays and sizes the stage reads, pre-filled with the
signature and a docstring of the inputs' shapes that the checker's registry
gives for this network (``core.checker.stage_functions``), highlighted by
Pygments (``explorer.widgets.code_editor``).

The code of each stage is kept between runs, one file per stage in the
user's data folder (``core.solutions``: ``$BACKPROP_EXPLORER_DATA/solutions``,
else the platform's data folder), written a moment after the last keystroke
and whenever another stage is picked; code left as the template is not kept,
so a new network's template (other sizes) shows instead. *Open…* reads any
``.py`` file in the format ``backprop-explorer check`` reads: each stage
function it defines puts the file into that stage's editor; *Save as…*
writes the editor's code to a file of the user's choosing.

*Run* checks the function through ``core.checker.check_source`` in a
separate process (core/sandbox.py) on a worker thread: the window keeps
answering while it runs, an endless loop ends as "timed out" after
``timeout`` seconds. The verdict is shown in words and as a map of the
difference to the true array, the differing entries in full colour and the
others faded; *Show the answer* shows the true array and the reference
function instead. *Train with my code* trains two copies of the network
(``core.learner_train``) for N minibatches from the window's current
weights, one with the learner's function in its stage, and draws both loss
curves (the minibatch it is at shows as it goes). *Stop* ends either at once:
the learner's call under way is killed.

*Break it on purpose* loads a classic bug of the gallery (assets/bugs,
``core.checker.gallery``) into the editor of the stage it breaks; its
first entry, the overwrite shown beside the correct sum, is the embedding
gradient panel's *Show the naive update* (``naive_requested``: the window
shows it there).

The questions it asks go through replaceable callables (tests answer them):
``ask_open_path(parent, title, filters) -> str`` and
``ask_save_path(parent, title, suggested, filters) -> str`` ('' cancels).
"""

from __future__ import annotations

import html
import threading

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core import checker, learner_train, solutions
from core.errors import InputError
from core.sandbox import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT

from .. import file_dialogs
from ..dialogs import BackgroundTask
from ..widgets.code_editor import CodeEditor
from ..widgets.heatmap import Heatmap

__all__ = ["WriteView", "SAVE_DELAY_MS", "VERDICT_COLOURS"]

SAVE_DELAY_MS = 800  # after the last keystroke, the stage's code is written to its file
CODE_FILTERS = "Python files (*.py);;All files (*)"
FADED_RGBA = (236, 236, 236, 200)  # over the entries of the difference map that agree
VERDICT_COLOURS = {"exact": "#1b7a2e", "close": "#1b7a2e", "wrong": "#b00020", "shape": "#b35c00",
                   "raised": "#8a1538", "timed out": "#8a1538", "crashed": "#8a1538", "error": "#8a1538"}
CORRECT_PEN = (31, 111, 180)  # the network's own code: blue, as the loss panel's curves
MINE_PEN = (214, 64, 30)  # the learner's: orange-red


class _Progress(QObject):
    """Carries a worker's progress to the GUI thread (a queued signal)."""

    changed = Signal(int, int)  # done, total


class _DiffMarks:
    """Fades the entries of a heatmap that are not marked: the differing entries stand out in full colour."""

    def __init__(self, heatmap: Heatmap):
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(4)  # over the image, under the NaN mask and the markers
        heatmap.plot_item.addItem(self.item)
        self.item.hide()
        self.mask: np.ndarray | None = None

    def set_mask(self, mask) -> None:
        """``mask`` (the array's shape; True: marked), or None for no marks."""
        if mask is None:
            self.mask = None
            self.item.hide()
            return
        self.mask = np.asarray(mask, dtype=bool)
        grid = self.mask.reshape(1, -1) if self.mask.ndim < 2 else self.mask
        rgba = np.zeros(grid.shape + (4,), dtype=np.uint8)
        rgba[~grid] = FADED_RGBA
        self.item.setImage(rgba, autoLevels=False)
        self.item.show()


class WriteView(QWidget):
    """The "Write it yourself" panel; see the module docstring.

    ``stage_combo`` picks the stage (its item data: the stage name), ``editor`` holds its code,
    ``status`` says what the last action did. ``stage_shown`` is emitted with the stage's name
    when the editor shows another stage.
    """

    stage_shown = Signal(str)
    # A run ended: its core.checker.Verdict (or None when the code could not be checked at all).
    verdict_shown = Signal(object)
    # "Train with my code" ended: its core.learner_train.Curves (or None when it could not start).
    curves_shown = Signal(object)
    # The gallery's first entry: show the naive update in the embedding gradient panel.
    naive_requested = Signal()

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.ask_open_path = file_dialogs.ask_open_file
        self.ask_save_path = file_dialogs.ask_save_file
        self._codes: dict[str, str] = {}  # stage → its code as edited in this run (kept or not yet)
        self._stage: str | None = None
        self._loading = False  # set_code in progress: not the learner's edit
        self.timeout = DEFAULT_TIMEOUT  # seconds a call of the learner's function may take
        self.memory_mb = DEFAULT_MEMORY_MB
        self.verdict: checker.Verdict | None = None  # the last run's
        self.curves: learner_train.Curves | None = None  # the last training's
        self._task: BackgroundTask | None = None
        self._cancel: threading.Event | None = None
        self._progress: _Progress | None = None
        self._threads: set = set()  # worker threads not yet finished
        self._functions: dict = {}  # stage name → core.checker.StageFunction, for the network in use

        self.stage_combo = QComboBox()
        self.stage_combo.setObjectName("write_stage")
        self.stage_combo.setToolTip("The stage of the minibatch whose function you write")
        self.stage_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.stage_combo.setMinimumContentsLength(16)
        self.stage_combo.currentIndexChanged.connect(self._on_stage_picked)
        self.template_button = QPushButton("Start again")
        self.template_button.setToolTip("Put the stage's template (signature and docstring) back in the editor")
        self.template_button.clicked.connect(self.restore_template)
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Read a .py file with stage functions (the format `check` reads)")
        self.open_button.clicked.connect(self.open_file)
        self.save_button = QPushButton("Save as…")
        self.save_button.setToolTip("Write this stage's code to a .py file")
        self.save_button.clicked.connect(self.save_file)

        self.gallery_combo = QComboBox()
        self.gallery_combo.setObjectName("write_gallery")
        self.gallery_combo.setToolTip("Load a classic bug into the editor of the stage it breaks, then Run it "
                                      "or train with it")
        self.gallery_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.gallery_combo.setMinimumContentsLength(14)
        self.gallery = checker.gallery()
        self.gallery_combo.addItem("Break it on purpose…", None)
        self.gallery_combo.addItem("0. The overwrite, beside the sum: Show the naive update", "naive")
        for i, bug in enumerate(self.gallery, 1):
            self.gallery_combo.addItem(f"{i}. {bug.title} ({bug.stage})", i - 1)
            self.gallery_combo.setItemData(i + 1, f"Breaks {bug.stage}: {bug.cause}", Qt.ItemDataRole.ToolTipRole)
        self.gallery_combo.activated.connect(self._on_gallery_picked)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(QLabel("Stage"))
        top.addWidget(self.stage_combo, 3)
        top.addWidget(self.gallery_combo, 2)
        top.addWidget(self.template_button)
        top.addWidget(self.open_button)
        top.addWidget(self.save_button)

        self.editor = CodeEditor()
        self.editor.setObjectName("write_editor")
        self.editor.setMinimumSize(260, 160)
        self.editor.textChanged.connect(self._on_text_changed)
        self.formula = QLabel()
        self.formula.setObjectName("write_formula")
        self.formula.setWordWrap(True)
        self.formula.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.formula)
        ll.addWidget(self.editor, 1)

        self._build_results()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.results)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([1000, 1000])  # half each, whatever the panel's width

        self.status = _text_label("write_status")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.splitter, 1)
        lay.addWidget(self.status)

        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.keep)

        session.network_changed.connect(self._on_network_changed)
        self._on_network_changed()

    def _build_results(self) -> None:
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("write_run")
        self.run_button.setToolTip("Check your function against the network's on real minibatches (Ctrl+Return)")
        self.run_button.setShortcut("Ctrl+Return")
        self.run_button.clicked.connect(self.run)
        self.answer_button = QPushButton("Show the answer")
        self.answer_button.setObjectName("write_answer")
        self.answer_button.setCheckable(True)
        self.answer_button.setEnabled(False)
        self.answer_button.setToolTip("Show the true array and the reference function instead of the difference")
        self.answer_button.toggled.connect(self._show_map)
        self.train_button = QPushButton("Train with my code")
        self.train_button.setObjectName("write_train")
        self.train_button.setToolTip("Train a copy of the network with your function in this stage, beside a copy "
                                     "with the network's own, from the current weights")
        self.train_button.clicked.connect(self.train)
        self.batches_spin = QSpinBox()
        self.batches_spin.setRange(1, 5000)
        self.batches_spin.setValue(learner_train.DEFAULT_BATCHES)
        self.batches_spin.setSuffix(" minibatches")
        self.batches_spin.setToolTip("How many minibatches the two copies train")
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.answer_button)
        buttons.addWidget(self.train_button)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("write_stop")
        self.stop_button.setToolTip("Stop the run or the training in progress")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)

        self.verdict_label = _text_label("write_verdict", "Write the function, then Run.")
        # A wrong verdict's arrays after the stage that go wrong with the learner's result swapped in.
        self.downstream_label = _text_label("write_downstream")
        self.downstream_label.hide()

        self.heatmap = Heatmap()
        self.heatmap.setMinimumSize(220, 200)
        # The wheel zooms and a drag pans; the row and column pickers would make the panel too wide for the editor.
        self.heatmap.rows_control.hide()
        self.heatmap.cols_control.hide()
        self.marks = _DiffMarks(self.heatmap)
        self.map_title = QLabel()
        self.map_title.setWordWrap(True)
        self.map_title.setTextFormat(Qt.TextFormat.RichText)
        self.map_title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.answer_code = CodeEditor()  # the reference function, shown with the true array
        self.answer_code.setObjectName("write_answer_code")
        self.answer_code.setReadOnly(True)
        self.answer_code.setMaximumHeight(self.answer_code.fontMetrics().lineSpacing() * 9)
        self.answer_code.hide()
        diff_page = QWidget()
        dl = QVBoxLayout(diff_page)
        dl.setContentsMargins(2, 2, 2, 2)
        dl.addWidget(self.map_title)
        dl.addWidget(self.heatmap, 1)
        dl.addWidget(self.answer_code)

        self.loss_plot = pg.PlotWidget(background="w")
        self.loss_plot.setObjectName("write_loss_plot")
        self.loss_plot.setMinimumSize(220, 180)
        p = self.loss_plot.getPlotItem()
        p.setLabel("bottom", "minibatch")
        p.setLabel("left", "cross-entropy (nats)")
        p.showGrid(x=True, y=True, alpha=0.15)
        p.hideButtons()
        self.legend = p.addLegend(offset=(-10, 10), labelTextColor=(30, 30, 30))
        self.correct_curve = p.plot(pen=pg.mkPen(CORRECT_PEN, width=2), name="the network's code")
        self.mine_curve = p.plot(pen=pg.mkPen(MINE_PEN, width=2), name="with your code")
        self.train_label = QLabel("Train with my code draws your function's loss curve beside the correct one.")
        self.train_label.setWordWrap(True)
        self.train_label.setTextFormat(Qt.TextFormat.RichText)
        self.train_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        train_page = QWidget()
        tl = QVBoxLayout(train_page)
        tl.setContentsMargins(2, 2, 2, 2)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.train_label, 1)
        row.addWidget(self.batches_spin)
        tl.addLayout(row)
        tl.addWidget(self.loss_plot, 1)

        self.tabs = QTabWidget()
        self.tabs.addTab(diff_page, "Difference")
        self.tabs.addTab(train_page, "Loss curves")

        self.results = QWidget()
        rl = QVBoxLayout(self.results)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addLayout(buttons)
        rl.addWidget(self.verdict_label)
        rl.addWidget(self.downstream_label)
        rl.addWidget(self.tabs, 1)

    # ---- what is shown ---------------------------------------------------------------------------------
    @property
    def stage(self) -> str | None:
        """The stage whose code the editor holds."""
        return self._stage

    def stage_names(self) -> list[str]:
        return [self.stage_combo.itemData(i) for i in range(self.stage_combo.count())]

    def code(self) -> str:
        return self.editor.code()

    def template(self, stage: str | None = None) -> str:
        """The stage's template for the network and batch size in use (the checker's: the format `check` reads)."""
        return "import numpy as np\n\n\n" + self._functions[stage or self._stage].template

    def set_stage(self, name: str) -> None:
        """Show stage ``name``'s code (KeyError for a stage the learner cannot write in this network)."""
        i = self.stage_combo.findData(name)
        if i < 0:
            raise KeyError(f"no stage {name!r} to write in this network")
        self.stage_combo.setCurrentIndex(i)

    def set_code(self, text: str) -> None:
        """Put ``text`` in the editor as the learner's code for the stage shown (kept like typing)."""
        self.editor.set_code(text)

    def _say(self, text: str, error: bool = False) -> None:
        colour = "#b00020" if error else "#333"
        self.status.setText(f"<span style='color:{colour}'>{html.escape(text)}</span>")
        self.status.setToolTip(text)

    # ---- the stages ---------------------------------------------------------------------------------------
    def _on_network_changed(self) -> None:
        self.keep()
        model = self.session.model
        self._functions = {f.name: f for f in checker.stage_functions(model, self.session.config.batch_size)}
        current = self._stage
        self.stage_combo.blockSignals(True)
        self.stage_combo.clear()
        for spec in model.stage_specs:
            if spec.name in self._functions:
                self.stage_combo.addItem(f"{spec.index + 1}. {spec.title} ({spec.name})", spec.name)
        self.stage_combo.blockSignals(False)
        names = self.stage_names()
        # The first stage learners come for: the embedding gradient (the scatter-add), unless one was picked.
        pick = current if current in names else ("embedding_gradient" if "embedding_gradient" in names else names[0])
        self._stage = None
        self.stage_combo.setCurrentIndex(names.index(pick))
        if self._stage is None:  # the index did not change: show it anyway
            self._on_stage_picked(self.stage_combo.currentIndex())

    def _on_stage_picked(self, index: int) -> None:
        if index < 0:
            return
        self.keep()
        name = self.stage_combo.itemData(index)
        self._stage = name
        spec = self.session.model.stage_spec(name)
        self.formula.setText(f"<b>{html.escape(spec.title)}</b>: {html.escape(spec.formula)}")
        if name in self._codes:  # edited, not yet kept (the file could not be written)
            text = self._codes[name]
        else:
            text = solutions.load_solution(name)
        self._loading = True
        self.editor.set_code(text if text is not None else self.template(name))
        self._loading = False
        self.editor.document().clearUndoRedoStacks()
        self.editor.document().setModified(False)
        if self.verdict is not None and self.verdict.stage != name:  # the last verdict is another stage's
            self.verdict = None
            self.verdict_label.setText("Write the function, then Run.")
            self.verdict_label.setToolTip("")
            self._show_downstream(None)
            self.answer_button.setEnabled(False)
            self._show_map()
        self.stage_shown.emit(name)

    def restore_template(self) -> None:
        self.editor.set_code(self.template())
        self._say(f"The template of {self._stage} is back (Undo brings your code back).")

    # ---- keeping the code -----------------------------------------------------------------------------------
    def _on_text_changed(self) -> None:
        if self._loading or self._stage is None:
            return
        text = self.editor.code()
        # None: the template as it is now (its file goes, so that another network's template shows)
        self._codes[self._stage] = None if text.strip() == self.template().strip() else text
        self._save_timer.start()

    def keep(self) -> bool:
        """Write the code edited in this run to its stages' files now; False (and a message) if one could not be.

        A stage whose code is its template has nothing to keep: its file is removed, so that the next
        network's template shows.
        """
        self._save_timer.stop()
        ok = True
        for name, text in list(self._codes.items()):
            try:
                if text is None:
                    solutions.solution_path(name).unlink(missing_ok=True)
                else:
                    solutions.save_solution(name, text)
            except OSError as err:
                self._say(f"Cannot keep the code of {name}: {err.strerror or err}", error=True)
                ok = False
                continue
            del self._codes[name]
        return ok

    # ---- the gallery ----------------------------------------------------------------------------------------
    def _on_gallery_picked(self, index: int) -> None:
        choice = self.gallery_combo.itemData(index)
        self.gallery_combo.setCurrentIndex(0)
        if choice == "naive":
            self.naive_requested.emit()
        elif choice is not None:
            self.load_bug(int(choice))

    def load_bug(self, k: int) -> str:
        """Put bug ``k`` of the gallery (0-based) in the editor of the stage it breaks; returns that stage."""
        bug = self.gallery[k]
        if bug.stage not in self.stage_names():
            self._say(f"{bug.title} breaks {bug.stage}, a stage this network does not have.", error=True)
            return ""
        self.set_stage(bug.stage)
        self.set_code(bug.text)  # one undo step: Undo brings the learner's code back
        self._say(f"Loaded the bug “{bug.title}” into {bug.stage}: Run it, or train with it. "
                  f"(Undo brings your code back.)")
        return bug.stage

    # ---- files ----------------------------------------------------------------------------------------------
    def open_file(self) -> None:
        path = self.ask_open_path(self, "Open stage functions", CODE_FILTERS)
        if path:
            self.open_path(path)

    def open_path(self, path) -> list[str]:
        """Read ``path`` into the editor of every stage it defines; returns those stages ([] on failure)."""
        try:
            text = checker.read_source(path)
            stages = solutions.defined_stages(text, self.stage_names())
        except InputError as err:
            self._say(f"Cannot open {path}: {err}", error=True)
            return []
        if not stages:
            names = ", ".join(self.stage_names()[:3])
            self._say(f"{path} defines no stage function (functions named after stages: {names}, …).", error=True)
            return []
        self.keep()
        for name in stages:
            self._codes[name] = text
        self.keep()
        show = self._stage if self._stage in stages else stages[0]
        self._stage = None  # shown again from the file
        self.set_stage(show)
        if self._stage is None:
            self._on_stage_picked(self.stage_combo.currentIndex())
        self._say(f"Opened {path}: {', '.join(stages)}.")
        return stages

    def save_file(self) -> None:
        path = self.ask_save_path(self, "Save the stage function", f"{self._stage}.py", CODE_FILTERS)
        if path:
            self.save_path(path)

    def save_path(self, path):
        """Write the editor's code to ``path`` (``.py`` added when missing); the path written, or None."""
        try:
            written = solutions.write_code(path, self.editor.code())
        except InputError as err:
            self._say(str(err), error=True)
            return None
        self._say(f"Saved {written}")
        return written

    # ---- running the learner's code --------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A run or a training is in progress."""
        return self._task is not None

    def _start(self, job, done, what: str) -> bool:
        """Run ``job(cancel)`` on a worker thread; ``done(result)`` or ``done(None, one line)`` on this one."""
        if self.busy:
            self._say("Wait for the run in progress to end.")
            return False
        self.keep()
        cancel = self._cancel = threading.Event()
        task = BackgroundTask(lambda: job(cancel), self)
        # The buttons come back before the result is shown: whoever waits for the result may run again at once.
        task.succeeded.connect(lambda result: (self._release(), done(result)))
        task.failed.connect(lambda text: (self._release(), done(None, text)))
        task.finished.connect(lambda: self._on_task_finished(task))
        self._task = task
        self._threads.add(task)
        for b in (self.run_button, self.train_button):
            b.setEnabled(False)
        self.stop_button.setEnabled(True)
        self._say(what)
        task.start()
        return True

    def _release(self) -> None:
        """The job has its result: nothing runs any more (its thread is ending)."""
        self._task = None
        for b in (self.run_button, self.train_button):
            b.setEnabled(True)
        self.stop_button.setEnabled(False)

    def _on_task_finished(self, task) -> None:
        if self._task is task:  # ended without a result (never expected: BackgroundTask always gives one)
            self._release()
        self._threads.discard(task)
        task.wait()
        task.deleteLater()

    def stop(self) -> None:
        """Stop the run or training in progress (between two calls of the learner's function, at most)."""
        if self._cancel is not None and self.busy:
            self._cancel.set()
            self._say("Stopping…")

    def run(self) -> bool:
        """Check the editor's function on a worker thread; ``verdict_shown`` follows. False if one is running."""
        stage, source = self._stage, self.editor.code()
        s = self.session
        corpus, config, timeout, memory = s.corpus, s.config, self.timeout, self.memory_mb

        def job(cancel):
            verdicts = checker.check_source(source, f"{stage}.py", corpus, config=config, stage=stage,
                                            timeout=timeout, memory_mb=memory, cancel=cancel)
            return verdicts[0] if verdicts else None  # none: stopped before its verdict

        started = self._start(job, self._on_verdict, f"Checking {stage} in a separate process…")
        if started:
            self.verdict_label.setText(f"Running {html.escape(stage)}…")
            self._show_downstream(None)
        return started

    def _on_verdict(self, verdict, error: str = "") -> None:
        self.verdict = verdict
        if verdict is None and not error:
            self.verdict_label.setText(_badge("error", "stopped") + " before a verdict.")
            self.verdict_label.setToolTip("")
            self.answer_button.setEnabled(False)
            self._say("Stopped.")
        elif verdict is None:
            self.verdict_label.setText(_badge("error", "cannot run") + " " + html.escape(error))
            self.verdict_label.setToolTip(error)
            self.answer_button.setEnabled(False)
            self._say(error, error=True)
        else:
            other = f"({verdict.stage}) " if verdict.stage != self._stage else ""  # picked another stage since
            self.verdict_label.setText(_badge(verdict.kind, verdict.kind) + " " + html.escape(other + verdict.main_text))
            self.verdict_label.setToolTip(verdict.text)
            self.answer_button.setEnabled(verdict.expected is not None)
            self._say(f"{verdict.stage}: {verdict.kind}")
            self.tabs.setCurrentIndex(0)
        self._show_downstream(verdict)
        self._show_map()
        self.verdict_shown.emit(verdict)

    def _show_downstream(self, verdict) -> None:
        """Under a wrong verdict: what goes wrong after the stage when the learner's result is swapped in."""
        clause = verdict.downstream_clause if verdict is not None else ""
        self.downstream_label.setVisible(bool(clause))
        if not clause:
            self.downstream_label.setText("")
            return
        text = html.escape(clause[0].upper() + clause[1:])
        if verdict.downstream:
            text += ("<br><small>Your result swapped in, the network's code computing the rest on the same "
                     "minibatch; largest relative difference of each: " + html.escape(verdict.downstream_detail)
                     + "</small>")
        self.downstream_label.setText(text)

    def _show_map(self, *_args) -> None:
        """The difference to the true array (its entries that differ marked), or with the answer on, the true one."""
        v = self.verdict
        shown = v is not None and v.expected is not None
        self.heatmap.setVisible(shown)
        answer = solutions.reference_code(v.stage) if shown and self.answer_button.isChecked() else None
        self.answer_code.setVisible(answer is not None)
        if answer is not None:
            self.answer_code.set_code(answer)
        if not shown:
            self.marks.set_mask(None)
            self.map_title.setText("" if v is None else f"No array to compare: {html.escape(v.kind)}.")
            return
        spec = self.session.model.specs.get(v.result)
        axes = spec.axes if spec is not None else ()
        kw = dict(row_axis=axes[0] if axes else None, col_axis=axes[1] if len(axes) > 1 else None,
                  labels={"word": self.session.vocab})
        expected = np.asarray(v.expected, dtype=np.float64)
        got = None if v.got is None else np.asarray(v.got)
        comparable = got is not None and got.shape == expected.shape and got.dtype.kind in "biuf"
        if self.answer_button.isChecked() or not comparable:
            kind = spec.kind if spec is not None and spec.kind != "index" else "signed"
            self.heatmap.set_data(expected, kind=kind, name=f"answer:{v.result}", **kw)
            self.heatmap.rescale()
            self.marks.set_mask(None)
            why = "" if comparable or self.answer_button.isChecked() else " (yours cannot be compared with it)"
            self.map_title.setText(f"<b>The true {html.escape(v.result)}</b> {_shape(expected.shape)}{why}")
            return
        with np.errstate(invalid="ignore", over="ignore"):
            diff = got.astype(np.float64) - expected
        mask = v.diff_mask if v.diff_mask is not None else diff != 0
        self.heatmap.set_data(diff, kind="signed", name=f"diff:{v.result}", **kw)
        self.heatmap.rescale()
        self.marks.set_mask(mask)
        count = int(np.count_nonzero(mask))
        self.map_title.setText(
            f"<b>yours − true {html.escape(v.result)}</b> {_shape(expected.shape)}: "
            + (f"{count:,} entries differ (in colour; the others faded)" if count else "every entry agrees"))

    def marked_entries(self) -> np.ndarray | None:
        """The entries marked as differing in the difference map (None when no difference is shown)."""
        return None if self.marks.mask is None or not self.marks.item.isVisible() else self.marks.mask

    def marked_rows(self) -> set[int]:
        """The rows of the difference map with a marked entry."""
        m = self.marked_entries()
        if m is None:
            return set()
        rows = m.reshape(m.shape[0], -1).any(axis=1) if m.ndim > 1 else m
        return set(np.flatnonzero(rows).tolist())

    def train(self) -> bool:
        """Train the two copies on a worker thread; ``curves_shown`` follows. False if one is running."""
        stage, source = self._stage, self.editor.code()
        s = self.session
        results = self._functions[stage].results
        trainer = s.trainer
        n = self.batches_spin.value()
        progress = self._progress = _Progress()  # lives on this thread: its signal reaches the label queued
        progress.changed.connect(lambda done, total: self.train_label.setText(
            f"Training two copies: minibatch {done} of {total}…"))
        first = trainer.step
        # Everything the worker needs, copied here: it touches nothing the window goes on using.
        batches = [tuple(np.array(a) for a in trainer.batch_at(first + k)) for k in range(n)]
        state = s.model.state()
        vocab, config = list(s.vocab), s.config
        timeout, memory = self.timeout, self.memory_mb

        def job(cancel):
            with learner_train.sandboxed_stage(source, f"{stage}.py", stage, timeout=timeout,
                                               memory_mb=memory, cancel=cancel) as fn:
                return learner_train.train_beside(vocab, config, state, batches, stage, results, fn,
                                                  first_step=first, cancel=cancel, on_progress=progress.changed.emit)

        started = self._start(job, self._on_curves, f"Training with your {stage} on a copy of the network…")
        if started:
            self.train_label.setText(f"Training two copies for {n} minibatches…")
            self.tabs.setCurrentIndex(1)
        return started

    def _on_curves(self, curves, error: str = "") -> None:
        self.curves = curves
        if curves is None:
            self.train_label.setText(_badge("error", "cannot train") + " " + html.escape(error))
            self.mine_curve.setData([], [])
            self._say(error, error=True)
        else:
            self.correct_curve.setData(curves.steps, curves.correct)
            ok = np.isfinite(curves.mine)
            self.mine_curve.setData(curves.steps[ok], curves.mine[ok])
            self.train_label.setText(html.escape(_curves_text(curves)))
            self._say(f"Trained {curves.trained} minibatches with your {curves.stage}.")
        self.curves_shown.emit(curves)

    def shutdown(self) -> None:
        """Keep what was typed and stop a run in progress (the window is closing)."""
        self.keep()
        if self._cancel is not None:
            self._cancel.set()
        for task in list(self._threads):
            task.wait()


def _text_label(name: str, text: str = "") -> QLabel:
    """A wrapping, selectable rich-text line of the panel that takes the width it is given."""
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _badge(kind: str, text: str) -> str:
    colour = VERDICT_COLOURS.get(kind, "#333")
    return f"<b style='color:white; background:{colour}'>&nbsp;{html.escape(text)}&nbsp;</b>"


def _shape(shape) -> str:
    return "×".join(str(n) for n in shape) or "a number"


def _curves_text(c) -> str:
    """'Trained 100 minibatches. The curves part: up to 0.31 nats apart; after minibatch 100: yours …'."""
    last = c.trained - 1
    if c.cancelled:
        head = "Stopped."
    elif c.stopped:
        head = f"Your code stopped at {c.stopped}."
    else:
        head = f"Trained {len(c.steps)} minibatches."
    if last < 0:
        return head
    gap = c.max_gap()
    same = "The curves agree" if gap < 1e-9 else f"The curves part: up to {gap:.3g} nats apart"
    return (f"{head} {same}; after minibatch {c.steps[last]}: yours {c.mine[last]:.4f}, "
            f"the network's {c.correct[last]:.4f}.")
