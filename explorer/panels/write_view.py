"""Write it yourself: the learner's own NumPy code for a stage of the minibatch.

Pick a stage and its editor holds a Python function named after it, its
parameters the arrays and sizes the stage reads, pre-filled from the model's
registries with the signature and a docstring of the inputs' shapes
(``core.solutions.template``), highlighted by Pygments
(``explorer.widgets.code_editor``).

The code of each stage is kept between runs, one file per stage in the
user's data folder (``core.solutions``: ``$BACKPROP_EXPLORER_DATA/solutions``,
else the platform's data folder), written a moment after the last keystroke
and whenever another stage is picked; code left as the template is not kept,
so a new network's template (other sizes) shows instead. *Open…* reads any
``.py`` file in the format ``backprop-explorer check`` reads: each stage
function it defines puts the file into that stage's editor; *Save as…*
writes the editor's code to a file of the user's choosing.

The questions it asks go through replaceable callables (tests answer them):
``ask_open_path(parent, title, filters) -> str`` and
``ask_save_path(parent, title, suggested, filters) -> str`` ('' cancels).
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core import solutions
from core.errors import InputError

from .. import file_dialogs
from ..widgets.code_editor import CodeEditor

__all__ = ["WriteView", "SAVE_DELAY_MS"]

SAVE_DELAY_MS = 800  # after the last keystroke, the stage's code is written to its file
CODE_FILTERS = "Python files (*.py);;All files (*)"


class WriteView(QWidget):
    """The "Write it yourself" panel; see the module docstring.

    ``stage_combo`` picks the stage (its item data: the stage name), ``editor`` holds its code,
    ``status`` says what the last action did. ``stage_shown`` is emitted with the stage's name
    when the editor shows another stage.
    """

    stage_shown = Signal(str)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.ask_open_path = file_dialogs.ask_open_file
        self.ask_save_path = file_dialogs.ask_save_file
        self._codes: dict[str, str] = {}  # stage → its code as edited in this run (kept or not yet)
        self._stage: str | None = None
        self._loading = False  # set_code in progress: not the learner's edit

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

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(QLabel("Stage"))
        top.addWidget(self.stage_combo, 1)
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

        self.results = QWidget()  # what a run shows (filled in by the run's widgets)
        self.results_layout = QVBoxLayout(self.results)
        self.results_layout.setContentsMargins(0, 0, 0, 0)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.results)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)

        self.status = QLabel()
        self.status.setObjectName("write_status")
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

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
        """The stage's template for the network and batch size in use."""
        return solutions.template(self.session.model, stage or self._stage, self.session.config.batch_size)

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
        current = self._stage
        self.stage_combo.blockSignals(True)
        self.stage_combo.clear()
        for spec in solutions.writable_stages(model):
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

    # ---- files ----------------------------------------------------------------------------------------------
    def open_file(self) -> None:
        path = self.ask_open_path(self, "Open stage functions", CODE_FILTERS)
        if path:
            self.open_path(path)

    def open_path(self, path) -> list[str]:
        """Read ``path`` into the editor of every stage it defines; returns those stages ([] on failure)."""
        try:
            text = solutions.read_code(path)
            stages = solutions.defined_stages(text, self.session.model)
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

    def shutdown(self) -> None:
        """Keep what was typed (the window is closing)."""
        self.keep()
