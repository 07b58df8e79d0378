"""The main window: panels in docks, the controls, menus and a status bar.

The window only assembles. Every panel is a ``Panel(session, parent=None)`` in a
QDockWidget (listed in the View menu); the panels talk to the session, never to
each other -- the few exceptions are wired here: clicking a box of the network
view shows that layer's tensors in the matrix view, clicking an entry of a
gradient runs the gradient check on it, and the first entry of the gallery of
bugs (Write it yourself) shows the embedding gradient panel's naive update.

Two modes share the window (``set_mode``): Lesson mode, where the lesson
(``panels/lesson_view.py``) fills it and the docks are hidden, and Explorer mode,
the docks as they were left. The interactive app opens the mode last used,
Lesson mode on the first start.

Controls are QActions with fixed object names, so tests and scripts can find
them: ``action_step_stage``, ``action_step_batch``, ``action_run`` (checkable)
and ``action_reset``; ``action_mode_lesson`` and ``action_mode_explorer``
(checkable, one of them checked); ``action_lesson_next`` (→, Space) and
``action_lesson_back`` (←), active in Lesson mode. Their shortcuts are chosen not to steal typing: single
letters and Space give way to a focused text field, the F-keys always work.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QRectF, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QFont, QKeySequence, QPainter, QPen, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSizePolicy,
    QStatusBar,
    QStyle,
    QToolBar,
    QWidget,
)

from core.corpus import DEFAULT_VOCAB_SIZE
from core.errors import ExplorerError
from core.text import plural

from . import dialogs, file_dialogs
from .guard import qt_override
from .widgets.elided import ElidedLabel
from .widgets.wheel import ignore_wheel_unless_focused
from .settings import SETTINGS_ENV, settings_path  # noqa: F401  (where the window remembers its layout)
from .panels.embedding_grad_view import EmbeddingGradView
from .panels.embedding_map_view import EmbeddingMapView
from .panels.gradcheck_view import GradCheckView
from .panels.health_view import HealthView
from .panels.hyperparams_view import HyperparamsView
from .panels.lesson_view import LessonView
from .panels.loss_view import LossView
from .panels.matrix_view import MatrixView
from .panels.network_view import NetworkView
from .panels.predictions_view import PredictionsView
from .panels.write_view import WriteView


# Panels that start in a tab behind another: built the first time they are shown or used, not at start-up.
DEFERRED_PANELS = ("embedding_grad_view", "health_view", "embedding_map_view", "gradcheck_view", "write_view")
WIDE_LAYOUT = 1500  # pixels: a narrower window (a laptop's) gets the two-column layout
TALL_LAYOUT = 880  # pixels: a shorter window puts the loss plot and the predictions in tabs, each at full height
# Of the saved dock layout (2: the gradient health panel; 3: two columns on a laptop; 4: the "Write it
# yourself" panel; 5: loss and predictions in tabs on a short screen): another version's is not restored.
LAYOUT_VERSION = 5
MODES = ("lesson", "explorer")  # Lesson mode: the lesson fills the window; Explorer mode: the docked panels


class _Panels(dict):
    """The window's panels by attribute name; looking up a deferred one builds it."""

    def __init__(self, window):
        super().__init__()
        self._window = window

    def __missing__(self, attr: str):
        return self._window.panel(attr)


# Every panel of the window, in one place: (attribute of the window and key of
# ``window.panels`` / ``window.docks``, class, dock title shown in the View menu).
PANELS = (
    ("network_view", NetworkView, "Network"),
    ("matrix_view", MatrixView, "Matrices"),
    ("embedding_grad_view", EmbeddingGradView, "Embedding gradient"),
    ("health_view", HealthView, "Gradient health"),
    ("loss_view", LossView, "Loss"),
    ("predictions_view", PredictionsView, "Predictions"),
    ("embedding_map_view", EmbeddingMapView, "Embedding map"),
    ("hyperparams_view", HyperparamsView, "Hyperparameters"),
    ("gradcheck_view", GradCheckView, "Gradient check"),
    ("write_view", WriteView, "Write it yourself"),
)


def stage_position_text(session) -> str:
    """'Stage 3/14: Hidden — h = σ(z_h)', where the next minibatch starts, or that run mode trains."""
    stage = session.stage
    stages = session.model.stage_specs
    if session.running:
        return "Running: minibatches train without stopping at their stages (pause to step through one)"
    if stage is None:
        return f"Between minibatches: next is minibatch {session.trainer.step + 1}, stage 1/{len(stages)} {stages[0].title}"
    return f"Stage {stage.index + 1}/{len(stages)}: {stage.title} — {stage.formula}"


class StageStrip(QWidget):
    """One cell per stage of the network's minibatch: forward in blue, backward in orange, the current one filled."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.setFixedHeight(18)
        self.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Fixed)
        self.current = -1
        session.stage_changed.connect(self._on_stage_changed)
        session.network_changed.connect(self._on_network_changed)
        self._on_network_changed()

    @qt_override
    def sizeHint(self) -> QSize:
        return QSize(len(self.session.model.stage_specs) * 14, 18)

    def _on_network_changed(self) -> None:
        stages = self.session.model.stage_specs
        backward = sum(s.backward for s in stages)
        self.setMinimumWidth(len(stages) * 12)
        self.setToolTip(
            f"The {len(stages)} stages of one minibatch: {len(stages) - backward} forward (blue), "
            f"{backward} backward and update (orange)"
        )
        self.updateGeometry()
        self._on_stage_changed(self.session.stage)

    def _on_stage_changed(self, stage) -> None:
        self.current = -1 if stage is None else stage.index
        self.update()

    @qt_override
    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        stages = self.session.model.stage_specs
        w = self.width() / max(1, len(stages))
        for i, spec in enumerate(stages):
            colour = QColor("#d4670b") if spec.backward else QColor("#1f6fb4")
            rect = QRectF(i * w + 1.5, 3, w - 3, self.height() - 6)
            p.setPen(QPen(colour, 1.2))
            if i == self.current:
                p.setBrush(colour)
            elif i < self.current:
                p.setBrush(colour.lighter(170))
            else:
                p.setBrush(Qt.NoBrush)
            p.drawRoundedRect(rect, 2, 2)
        p.end()


class StatusBar(QStatusBar):
    """A status bar whose messages end, with "…", before its permanent fields.

    Qt draws a message up to the first permanent field and cuts it there, so a
    long one seems to run on into the epoch counter. ``showMessage`` shortens
    it to the room there is (again when the bar is resized) and keeps the
    whole text in ``full_message`` and the tooltip.
    """

    GAP = 14  # pixels between the end of a message and the first permanent field

    def __init__(self, parent=None):
        super().__init__(parent)
        self.full_message = ""
        self._shown = ""
        self._permanent: list[QWidget] = []
        self._clear_timer = QTimer(self)
        self._clear_timer.setSingleShot(True)
        self._clear_timer.timeout.connect(self.clearMessage)
        self.messageChanged.connect(self._on_message_changed)

    @qt_override
    def addPermanentWidget(self, widget: QWidget, stretch: int = 0) -> None:
        self._permanent.append(widget)
        super().addPermanentWidget(widget, stretch)

    @qt_override
    def showMessage(self, text: str, timeout: int = 0) -> None:
        self.full_message = text
        self._clear_timer.stop()
        self._show_fitted()
        if timeout > 0:
            self._clear_timer.start(timeout)

    def room(self) -> int:
        """The width a message may take, in pixels."""
        fields = [w for w in self._permanent if w.isVisible()]
        if fields and min(w.x() for w in fields) > 0:  # laid out
            right = min(w.x() for w in fields)
        else:
            right = self.width() - sum(w.sizeHint().width() + 6 for w in fields)
        return max(0, right - 6 - self.GAP)

    def _show_fitted(self) -> None:
        text = self.fontMetrics().elidedText(self.full_message, Qt.ElideRight, self.room())
        self._shown = text
        self.setToolTip(self.full_message if text != self.full_message else "")
        super().showMessage(text, 0)

    def _on_message_changed(self, text: str) -> None:
        if text != self._shown:  # shown by Qt itself (an action's status tip), or cleared
            self._clear_timer.stop()
            self.full_message = self._shown = text
            self.setToolTip("")

    @qt_override(fallback=None)
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.full_message and self.currentMessage() == self._shown:
            self._show_fitted()


class PanelScroll(QScrollArea):
    """Holds a panel at the size of the dock, or at the panel's minimum size with scroll bars.

    Unlike ``setWidgetResizable(True)``, it never makes a panel taller than the
    dock because of word-wrapped labels: scroll bars appear only below the
    panel's minimum size.
    """

    def __init__(self, panel: QWidget, name: str = ""):
        super().__init__()
        self.setObjectName(name)
        self.setFrameShape(QFrame.NoFrame)
        self.setWidgetResizable(False)
        self.setWidget(panel)
        panel.installEventFilter(self)
        ignore_wheel_unless_focused(panel)  # scrolling the panel never changes a setting

    def _minimum(self) -> QSize:
        panel = self.widget()
        return panel.minimumSizeHint().expandedTo(panel.minimumSize())

    def _fit(self) -> None:
        panel = self.widget()
        if panel is not None:
            view = self.viewport().size()
            m = self._minimum()
            width = max(view.width(), m.width())
            height = max(view.height(), m.height())
            layout = panel.layout()
            if layout is not None and layout.hasHeightForWidth():  # wrapped text needs more lines when narrow:
                height = max(height, layout.totalMinimumHeightForWidth(width))  # scroll rather than overlap
            panel.resize(width, height)

    @qt_override
    def resizeEvent(self, event) -> None:  # the viewport's size changed
        super().resizeEvent(event)
        self._fit()

    @qt_override
    def eventFilter(self, obj, event) -> bool:
        if obj is self.widget() and event.type() == QEvent.LayoutRequest:
            ignore_wheel_unless_focused(obj)  # boxes added since (a hidden layer's row)
            self._fit()
        return super().eventFilter(obj, event)

    @qt_override
    def sizeHint(self) -> QSize:
        return self.widget().sizeHint() if self.widget() is not None else super().sizeHint()

    @qt_override
    def minimumSizeHint(self) -> QSize:
        return self._minimum().boundedTo(QSize(160, 120))


class MainWindow(QMainWindow):
    """The Backprop Explorer window around one ``Session``; see the module docstring.

    Attributes: ``session``; ``panels`` and ``docks`` (keyed by the names in
    ``PANELS``), each panel also as an attribute (``network_view``,
    ``matrix_view``, ...); the actions
    ``action_step_stage``, ``action_step_batch``, ``action_run``, ``action_reset``
    and the File menu's ``action_open_*``, ``action_download``, ``action_save``,
    ``action_save_as``; ``stage_label`` and ``stage_strip``; the status bar labels
    ``status_epoch``, ``status_batch``, ``status_speed``, ``status_corpus``.

    The questions it asks go through replaceable callables, so that tests and
    scripts can answer them: ``ask_unsaved(parent, doing) -> "save"|"discard"|"cancel"``,
    ``ask_yes_no(parent, title, text) -> bool``, ``ask_save_path(parent) -> str``,
    ``ask_open_path(parent, title, filters) -> str``, ``ask_save_file(parent, title, suggested, filters) -> str``
    (a picture) and ``ask_folder(parent, title) -> str`` ('' when cancelled; every file dialog opens in the
    last folder used, see ``explorer.file_dialogs``),
    ``ask_restore(parent, text) -> bool | None`` (True restores an autosave, False deletes it,
    None keeps it for the next start) and ``ask_vocab_size(parent, path, offered) -> int | None``
    (File ▸ Open corpus text file: how many of its most frequent words make the vocabulary,
    None cancels; ``text_vocab_size`` is the size offered, the last one used).

    Autosaving (``enable_autosave``, then ``offer_restore``) is off unless turned on:
    the interactive app does; windows for scripts, screenshots and tests neither
    write autosaves nor offer them. ``autosaver`` is the ``Autosaver`` or None.
    """

    corpus_loaded = Signal(object)  # a Corpus opened from the File menu is in use
    corpus_failed = Signal(str)  # opening a corpus failed (the message)

    def __init__(self, session, parent=None, lessons=None):
        super().__init__(parent)
        self.session = session
        self.setObjectName("main_window")
        self.mode = "explorer"  # see set_mode; restore_layout opens the mode last used (Lesson mode at first)
        self._explorer_state: QByteArray | None = None  # the docks as Explorer mode left them
        self.ask_unsaved = dialogs.ask_unsaved
        self.ask_yes_no = _ask_yes_no
        self.ask_save_path = _ask_save_path
        self.ask_open_path = file_dialogs.ask_open_file
        self.ask_save_file = file_dialogs.ask_save_file
        self.ask_folder = file_dialogs.ask_folder
        self.ask_restore = _ask_restore
        self.ask_vocab_size = dialogs.ask_vocab_size
        # The vocabulary size offered when a text file is opened: the last one used (the command line's
        # --vocab-size, or the size of the text corpus in use), else the exercise's.
        self.text_vocab_size = session.corpus.vocab_size if session.corpus.kind == "text" else DEFAULT_VOCAB_SIZE
        self.autosaver = None  # an explorer.autosave.Autosaver once enable_autosave() is called
        self.confirm_on_close = True
        # The interactive app remembers the window's size and layout (restore_layout, and on closing);
        # windows for scripts, screenshots and tests leave the saved layout alone.
        self.remember_layout = False
        self.checkpoint_path: Path | None = None
        self.download_prefix: str | None = None  # a mirror for the download (tests use a local one)
        self.download_dest: str | None = None
        self.divergence_dialog: dialogs.DivergenceDialog | None = None
        self.download_dialog: dialogs.DownloadDialog | None = None
        self.last_message_box: QMessageBox | None = None
        self._loader: dialogs.BackgroundTask | None = None
        self._shut_down = False
        self._sized = False

        self.setDockNestingEnabled(True)
        self.setDockOptions(QMainWindow.AnimatedDocks | QMainWindow.AllowNestedDocks | QMainWindow.AllowTabbedDocks)
        self._make_actions()
        self._make_lesson(lessons)  # the centre: hidden in Explorer mode, where every panel is a dock
        self._make_panels()
        self._make_toolbar()
        self._make_menus()
        self._make_status_bar()
        self.resize(self._initial_size())
        self._arrange_docks()
        self._connect()
        self._fix_status_widths()
        self._update_status()
        self._update_stage()
        self._update_title()
        self._show_mode_actions()

    def _initial_size(self) -> QSize:
        """1600×1000, or less to fit the screen."""
        size = QSize(1600, 1000)
        screen = self.screen()
        if screen is not None:
            avail = screen.availableGeometry().size()
            if avail.width() > 200 and avail.height() > 200:
                size = size.boundedTo(QSize(int(avail.width() * 0.96), int(avail.height() * 0.94)))
        return size

    # ---- construction ---------------------------------------------------------------------
    def _action(self, name: str, text: str, slot, shortcuts=(), tip: str = "", icon=None, checkable=False) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
            action.setShortcutContext(Qt.WindowShortcut)
        if tip:
            keys = ", ".join(QKeySequence(s).toString(QKeySequence.NativeText) for s in shortcuts)
            action.setToolTip(f"{tip} ({keys})" if keys else tip)
            action.setStatusTip(tip)
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        action.setCheckable(checkable)
        if checkable:
            action.triggered.connect(slot)
        else:
            action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)  # shortcuts work wherever focus is in the window
        setattr(self, name, action)
        return action

    def _make_actions(self) -> None:
        s = QStyle
        self._action("action_step_stage", "Step stage", self.step_stage, ("F10", "N"),
                     "Compute the next stage of the minibatch", s.SP_MediaSeekForward)
        self._action("action_step_batch", "Step minibatch", self.step_batch, ("F11", "B"),
                     "Finish the minibatch in progress, or run one whole minibatch", s.SP_MediaSkipForward)
        self._action("action_run", "Run", self.set_running, ("F5", "Space"),
                     "Train continuously / pause", s.SP_MediaPlay, checkable=True)
        self._action("action_reset", "Reset", self.reset, ("Ctrl+R",),
                     "New weights from the seed (asks first if training is unsaved)", s.SP_BrowserReload)
        self._action("action_open_corpus_file", "Open corpus text file…", self.open_corpus_file, ("Ctrl+Shift+O",),
                     "Train on any plain-text file")
        self._action("action_open_corpus_folder", "Open corpus folder…", self.open_corpus_folder, (),
                     "A folder with the Hinton corpus files (raw_sentences.txt, vocab.txt, valid_data.csv, test_data.csv)")
        self._action("action_open_demo", "Built-in demo corpus", lambda: self.open_corpus("demo"), (),
                     "The small corpus shipped with the application")
        self._action("action_open_hinton", "Downloaded Hinton corpus", lambda: self.open_corpus("hinton"), (),
                     "The Hinton corpus from the cache folder")
        self._action("action_download", "Download the Hinton corpus…", self.download_hinton, (),
                     "Fetch the real corpus (about 4 MB), checked against sha256")
        self._action("action_open_checkpoint", "Open checkpoint…", self.open_checkpoint, ("Ctrl+O",),
                     "Continue from a saved checkpoint (.npz)")
        self._action("action_save", "Save checkpoint", self.save_checkpoint, ("Ctrl+S",),
                     "Save weights, optimizer state, hyperparameters and loss history")
        self._action("action_save_as", "Save checkpoint as…", self.save_checkpoint_as, ("Ctrl+Shift+S",),
                     "Save to a new file")
        self._action("action_save_picture", "Save a picture of the window…", self.save_picture, (),
                     "Write what the window shows to a PNG image")
        self._action("action_quit", "Quit", self.close, ("Ctrl+Q",), "Close the window")
        self._action("action_shortcuts", "Keyboard shortcuts", self.show_shortcuts, ("F1",), "List the keyboard shortcuts")
        self._action("action_guide", "How to use Backprop Explorer", self.show_guide, (), "A short tour of the window")
        self._action("action_about", "About Backprop Explorer", self.show_about, (), "Version and what this is")
        self._action("action_reset_layout", "Reset layout", self._arrange_docks, (), "Put every panel back in place")
        self._action("action_mode_lesson", "Lesson", lambda on: on and self.set_mode("lesson"), (),
                     "Lesson mode: one guided step at a time, on a network small enough to read", checkable=True)
        self._action("action_mode_explorer", "Explorer", lambda on: on and self.set_mode("explorer"), (),
                     "Explorer mode: every panel of the full-size network", checkable=True)
        self.action_mode_explorer.setChecked(True)
        self.mode_group = QActionGroup(self)
        self.mode_group.setExclusive(True)
        self.mode_group.addAction(self.action_mode_lesson)
        self.mode_group.addAction(self.action_mode_explorer)
        self._action("action_lesson_back", "Back", lambda: self.lesson_view.back(), ("Left",),
                     "The lesson's previous step", s.SP_ArrowBack)
        self._action("action_lesson_next", "Next", lambda: self.lesson_view.next(), ("Right", "Space"),
                     "The lesson's next step", s.SP_ArrowForward)

    def _make_lesson(self, folder) -> None:
        from core.lessons import open_course

        batch, chapters, problem = open_course(self.session.corpus, folder)
        titles = {attr: title for attr, _cls, title in PANELS}
        self.lesson_view = LessonView(self.session, batch, chapters, problem, titles)
        self.lesson_view.hide()
        self.setCentralWidget(self.lesson_view)
        self.lesson_view.explore_requested.connect(self.explore_panel)
        self.lesson_view.write_requested.connect(self.write_stage)
        self.lesson_problem = problem
        if problem is not None:  # said once, when the window is up; Explorer mode works as ever
            QTimer.singleShot(0, self, lambda: self.show_error(f"Cannot open the lessons: {problem}",
                                                               "Could not read the lessons"))

    def _make_panels(self) -> None:
        self.panels = _Panels(self)  # attr → panel; a deferred panel is built on its first look-up
        self.docks: dict[str, QDockWidget] = {}
        self._deferred: dict[str, type] = {}
        for attr, cls, title in PANELS:
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock_{attr}")
            dock.setFeatures(QDockWidget.DockWidgetClosable | QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
            self.docks[attr] = dock
            if attr in DEFERRED_PANELS:
                self._deferred[attr] = cls
                dock.setWidget(QWidget())  # a stand-in until the panel is first shown or used
                dock.visibilityChanged.connect(lambda visible, a=attr: visible and self.panel(a))
            else:
                self._install_panel(attr, cls(self.session))

        # The few connections between panels, all made here (and in _install_panel for deferred ones).
        self.network_view.layer_clicked.connect(self.matrix_view.show_layer)
        self.network_view.layer_clicked.connect(lambda _layer: self.docks["matrix_view"].raise_())
        self.matrix_view.entry_clicked.connect(self._check_gradient_entry)
        self.hyperparams_view.confirm = self.maybe_discard

    def _install_panel(self, attr: str, widget: QWidget) -> None:
        dock = self.docks[attr]
        # A scroll area lets a dock be smaller than its panel's minimum size (small
        # screens, many panels side by side); the network diagram shrinks by itself.
        dock.setWidget(widget if attr == "network_view" else PanelScroll(widget, f"scroll_{attr}"))
        dock.visibilityChanged.connect(lambda visible, w=widget: visible and self._brought_forward(w))
        dict.__setitem__(self.panels, attr, widget)
        setattr(self, attr, widget)
        if attr == "embedding_grad_view":
            widget.entry_clicked.connect(self._check_gradient_entry)
            widget.confirm = self.maybe_discard
        if attr == "write_view":
            widget.naive_requested.connect(self._show_naive_update)

    def panel(self, attr: str) -> QWidget:
        """The panel ``attr``; one of ``DEFERRED_PANELS`` is built now if it was not yet."""
        widget = dict.get(self.panels, attr)
        if widget is None:
            widget = self._deferred.pop(attr)(self.session)
            self._install_panel(attr, widget)
            if not self.docks[attr].visibleRegion().isEmpty():
                self._brought_forward(widget)
        return widget

    def __getattr__(self, name: str):
        """``window.gradcheck_view`` and the other deferred panels: built on first use."""
        try:
            deferred = object.__getattribute__(self, "_deferred")
        except AttributeError:
            raise AttributeError(name) from None
        if name in deferred:
            return self.panel(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _fill_export_menu(self, build: bool) -> None:
        """File ▸ Export: what every panel can export (a matrix, a plot: its ``export_actions()``), then a
        picture of the window. ``build``: build the deferred panels first (when the menu opens; at start-up
        the menu lists the panels built so far)."""
        menu = self.export_menu
        menu.clear()
        panels = [self.panel(a) for a, _cls, _title in PANELS] if build else self.panels.values()
        exports = [a for w in panels if hasattr(w, "export_actions") for a in w.export_actions()]
        for a in exports:
            menu.addAction(a)
        if exports:
            menu.addSeparator()
        menu.addAction(self.action_save_picture)

    def _show_naive_update(self) -> None:
        """The gallery's first entry (Write it yourself): the embedding gradient panel's naive update."""
        self.docks["embedding_grad_view"].raise_()
        self.embedding_grad_view.set_naive_visible(True)

    def _check_gradient_entry(self, name: str, index) -> None:
        """A click on a matrix entry: check that gradient entry against finite differences."""
        self.gradcheck_view.check(name, index)
        self.docks["gradcheck_view"].raise_()

    @staticmethod
    def _brought_forward(panel: QWidget) -> None:
        """A dock's tab came to the front (or the dock was shown): let its panel catch up.

        A panel in a tab behind another stays "visible" for Qt (``isVisible()``), but its
        ``visibleRegion()`` is empty: panels skip redrawing then and catch up in
        ``showEvent``, which Qt does not call when a tab comes forward; this does,
        once the dock has its new geometry.
        """
        QTimer.singleShot(0, panel, lambda: QApplication.sendEvent(panel, QShowEvent()))

    def _arrange_docks(self) -> None:
        """The default layout: network on top; hyperparameters | matrices | loss over predictions.

        A window narrower than ``WIDE_LAYOUT`` (a laptop) has two columns: the hyperparameters and the
        gradient check join the predictions' tabs, and the matrices get the width. A window shorter than
        ``TALL_LAYOUT`` has no room for the loss plot above the predictions (each needs a plot some 150
        pixels tall): the loss comes first in their tabs, in front.
        """
        d = self.docks
        self._compact, self._short = self._layout_kind()
        for dock in d.values():
            self.removeDockWidget(dock)
        # All in one dock area, split: sizes then behave (the centre is empty and hidden).
        self.addDockWidget(Qt.LeftDockWidgetArea, d["network_view"])
        if self._compact:
            self.splitDockWidget(d["network_view"], d["matrix_view"], Qt.Vertical)
        else:
            self.splitDockWidget(d["network_view"], d["hyperparams_view"], Qt.Vertical)
            self.splitDockWidget(d["hyperparams_view"], d["matrix_view"], Qt.Horizontal)
        self.splitDockWidget(d["matrix_view"], d["loss_view"], Qt.Horizontal)
        if self._short:
            self.tabifyDockWidget(d["loss_view"], d["predictions_view"])
        else:
            self.splitDockWidget(d["loss_view"], d["predictions_view"], Qt.Vertical)
        self.tabifyDockWidget(d["matrix_view"], d["embedding_grad_view"])
        self.tabifyDockWidget(d["embedding_grad_view"], d["health_view"])
        self.tabifyDockWidget(d["health_view"], d["write_view"])
        self.tabifyDockWidget(d["predictions_view"], d["embedding_map_view"])
        if self._compact:
            self.tabifyDockWidget(d["embedding_map_view"], d["hyperparams_view"])
            self.tabifyDockWidget(d["hyperparams_view"], d["gradcheck_view"])
        else:
            self.tabifyDockWidget(d["hyperparams_view"], d["gradcheck_view"])
        for dock in d.values():
            dock.show()
        for key in ("matrix_view", "hyperparams_view", "predictions_view") + (("loss_view",) if self._short else ()):
            d[key].raise_()
        self._size_docks()
        if self.mode == "lesson":
            self._hide_docks()  # the layout Explorer mode will come back to

    def _size_docks(self) -> None:
        """Proportions that suit 1600×1000: a 180-pixel diagram; columns 320 | 656 | 624 (on a laptop 56 | 44 %)."""
        d = self.docks
        w, h = self.width(), self.height()
        top = max(d["network_view"].minimumSizeHint().height(), int(h * (0.16 if self._compact else 0.18)))
        self.resizeDocks([d["network_view"], d["matrix_view"]], [top, h - top], Qt.Vertical)
        if self._compact:
            self.resizeDocks([d["matrix_view"], d["loss_view"]], [int(w * 0.56), int(w * 0.44)], Qt.Horizontal)
        else:
            self.resizeDocks(
                [d["hyperparams_view"], d["matrix_view"], d["loss_view"]],
                [int(w * 0.20), int(w * 0.41), int(w * 0.39)],
                Qt.Horizontal,
            )
        if not self._short:
            rest = h - top
            self.resizeDocks([d["loss_view"], d["predictions_view"]], [int(rest * 0.42), int(rest * 0.58)],
                             Qt.Vertical)

    def _layout_kind(self) -> tuple[bool, bool]:
        """(compact, short): narrower than ``WIDE_LAYOUT``, shorter than ``TALL_LAYOUT``."""
        return self.width() < WIDE_LAYOUT, self.height() < TALL_LAYOUT

    # ---- the two modes -------------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        """"lesson": the lesson fills the window, the docks hidden (their layout kept); "explorer": the docks
        as Explorer mode left them. The interactive app remembers the mode for the next start."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r} (known: {', '.join(MODES)})")
        if mode != self.mode:
            self.mode = mode
            if mode == "lesson":
                self._hide_docks()
                self.lesson_view.show()
                self.lesson_view.setFocus()
            else:
                self.lesson_view.hide()
                if self._explorer_state is None or not self.restoreState(self._explorer_state, LAYOUT_VERSION):
                    self._arrange_docks()
            if self.remember_layout:
                self._save_mode()
        self._show_mode_actions()

    def _hide_docks(self) -> None:
        self._explorer_state = self.saveState(LAYOUT_VERSION)
        for dock in self.docks.values():
            dock.hide()

    def _show_mode_actions(self) -> None:
        lesson = self.mode == "lesson"
        self.action_mode_lesson.setChecked(lesson)
        self.action_mode_explorer.setChecked(not lesson)
        for action in (self.action_lesson_back, self.action_lesson_next):
            action.setEnabled(lesson)
        # The full-size network's controls and stage belong to Explorer mode (the lesson has Back and Next).
        for item in self._explorer_tools + [self.action_step_stage, self.action_step_batch, self.action_run,
                                            self.action_reset]:
            item.setVisible(not lesson)
        # Space: the lesson's next step in Lesson mode, Run / pause in Explorer mode.
        self.action_run.setShortcuts([QKeySequence(k) for k in (("F5",) if lesson else ("F5", "Space"))])

    def explore_panel(self, attr: str) -> None:
        """A chapter's end: Explorer mode, with panel ``attr`` in front."""
        self.set_mode("explorer")
        dock = self.docks[attr]
        dock.show()
        dock.raise_()
        self.panel(attr)

    def write_stage(self, stage: str) -> None:
        """A backward step of the lesson: Explorer mode, the "Write it yourself" panel on that stage."""
        self.explore_panel("write_view")
        view = self.panel("write_view")
        if stage in view.stage_names():
            view.set_stage(stage)
        else:  # another depth of network: its stages are named otherwise
            self.statusBar().showMessage(f"This network has no stage {stage!r} to write; pick one in the panel.", 8000)

    def _save_mode(self) -> None:
        settings = QSettings(str(settings_path()), QSettings.Format.IniFormat)
        settings.setValue("window/mode", self.mode)
        settings.sync()

    def _make_toolbar(self) -> None:
        bar = QToolBar("Controls", self)
        bar.setObjectName("controls_toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        bar.setIconSize(QSize(18, 18))
        bar.addAction(self.action_mode_lesson)
        bar.addAction(self.action_mode_explorer)
        # What steps the full-size network: Explorer mode's (the lesson has its own Back and Next).
        self._explorer_tools = [bar.addSeparator()]
        for action in (self.action_step_stage, self.action_step_batch, self.action_run, self.action_reset):
            bar.addAction(action)
        self._explorer_tools.append(bar.addSeparator())
        self.stage_strip = StageStrip(self.session)
        self._explorer_tools.append(bar.addWidget(self.stage_strip))
        spacer = QWidget()
        spacer.setFixedWidth(10)
        self._explorer_tools.append(bar.addWidget(spacer))
        self.stage_label = ElidedLabel(minimum=160)  # cut short with "…" on a narrow window, never hidden
        self.stage_label.setObjectName("stage_label")
        font = QFont(self.stage_label.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.stage_label.setFont(font)
        self.stage_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self._explorer_tools.append(bar.addWidget(self.stage_label))
        self.addToolBar(Qt.TopToolBarArea, bar)
        self.toolbar = bar

    def _make_menus(self) -> None:
        mb = self.menuBar()
        file = mb.addMenu("&File")
        corpus = file.addMenu("Open &corpus")
        for a in (self.action_open_corpus_file, self.action_open_corpus_folder, self.action_open_demo, self.action_open_hinton):
            corpus.addAction(a)
        file.addAction(self.action_download)
        file.addSeparator()
        file.addAction(self.action_open_checkpoint)
        file.addAction(self.action_save)
        file.addAction(self.action_save_as)
        self.export_menu = file.addMenu("&Export")
        self.export_menu.aboutToShow.connect(lambda: self._fill_export_menu(build=True))
        self._fill_export_menu(build=False)
        file.addSeparator()
        file.addAction(self.action_quit)

        train = mb.addMenu("&Train")
        for a in (self.action_step_stage, self.action_step_batch, self.action_run, self.action_reset):
            train.addAction(a)

        view = mb.addMenu("&View")
        view.addAction(self.action_mode_lesson)
        view.addAction(self.action_mode_explorer)
        view.addAction(self.action_lesson_back)
        view.addAction(self.action_lesson_next)
        view.addSeparator()
        for attr, _cls, _title in PANELS:
            view.addAction(self.docks[attr].toggleViewAction())
        view.addSeparator()
        view.addAction(self.toolbar.toggleViewAction())
        view.addAction(self.action_reset_layout)

        help_menu = mb.addMenu("&Help")
        help_menu.addAction(self.action_guide)
        help_menu.addAction(self.action_shortcuts)
        help_menu.addAction(self.action_about)

    def _make_status_bar(self) -> None:
        bar = StatusBar(self)
        bar.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)  # as QMainWindow's own: no minimum width
        self.setStatusBar(bar)
        self.status_epoch = QLabel()
        self.status_batch = QLabel()
        self.status_speed = QLabel()
        self.status_corpus = QLabel()
        for name, label in (
            ("status_epoch", self.status_epoch),
            ("status_batch", self.status_batch),
            ("status_speed", self.status_speed),
            ("status_corpus", self.status_corpus),
        ):
            label.setObjectName(name)
            label.setContentsMargins(8, 0, 8, 0)
            bar.addPermanentWidget(label)
        self.status_batch.setToolTip("Minibatches completed in this epoch / minibatches per epoch")

    def _connect(self) -> None:
        s = self.session
        s.stage_changed.connect(self._update_stage)
        s.stage_changed.connect(self._update_status)
        s.status_changed.connect(self._update_status)
        s.status_changed.connect(self._update_stage)  # the minibatch count moved (run mode, a load...)
        s.network_changed.connect(self._fix_status_widths)
        s.network_changed.connect(self._update_status)
        s.network_changed.connect(self._update_title)
        s.network_changed.connect(self._update_stage)
        s.running_changed.connect(self._on_running_changed)
        s.diverged.connect(self._on_diverged)
        s.dirty_changed.connect(self.setWindowModified)
        s.message.connect(self._on_message)
        if hasattr(s, "error"):
            s.error.connect(self.show_error)

    # ---- showing the state --------------------------------------------------------------------
    def _update_stage(self, *_args) -> None:
        text = stage_position_text(self.session)
        self.stage_label.setText(text)  # (its tooltip holds the whole text when it is cut)

    def _fix_status_widths(self) -> None:
        """Give the labels that change while training a fixed size that fits their widest text.

        A label of fixed size does not ask its window to lay out again when its text
        changes: run mode rewrites them many times a second.
        """
        fm = self.status_batch.fontMetrics()
        t = self.session.trainer
        widest = {
            self.status_epoch: "Epoch 9999",
            self.status_batch: f"Batch {t.batches_per_epoch:,}/{t.batches_per_epoch:,}",
            self.status_speed: "8,888,888 examples/s",
        }
        for label, text in widest.items():
            digits = "".join("8" if ch.isdigit() else ch for ch in text)
            m = label.contentsMargins()
            label.setFixedSize(fm.horizontalAdvance(digits) + m.left() + m.right() + 4, label.sizeHint().height())

    def _update_status(self, *_args) -> None:
        s = self.session
        t = s.trainer
        self.status_epoch.setText(f"Epoch {t.epoch + 1}")
        self.status_batch.setText(f"Batch {t.batch_in_epoch:,}/{t.batches_per_epoch:,}")
        self.status_batch.setToolTip(
            f"Minibatches completed in this epoch / per epoch; {plural(t.step, 'minibatch')} in all, "
            f"batch size {s.config.batch_size}, learning rate {t.learning_rate:g}, momentum {t.momentum:g}"
        )
        eps = s.examples_per_second
        # A speed is shown while run mode trains; paused, nothing trains.
        self.status_speed.setText(f"{eps:,.0f} examples/s" if s.running and eps > 0 else "– examples/s")
        self.status_speed.setToolTip(
            "Training examples per second in run mode"
            + (f" (the last run: {eps:,.0f} a second)" if eps > 0 and not s.running else "")
        )
        c = s.corpus
        a, b, v = c.sizes()
        self.status_corpus.setText(f"Corpus: {c.name} ({c.vocab_size} words; {a:,} / {b:,} / {v:,} 4-grams)")
        self.status_corpus.setToolTip(c.describe() + "".join(f"\nnote: {n}" for n in c.notes))

    def _update_title(self, *_args) -> None:
        # The application's name last: Linux desktops add it at the end unless it is there already.
        self.setWindowTitle(f"{self.session.corpus.name}[*] — Backprop Explorer")
        self.setWindowModified(self.session.dirty)

    def _on_running_changed(self, running: bool) -> None:
        self.action_run.setChecked(running)
        self.action_run.setText("Pause" if running else "Run")
        self.action_run.setIcon(self.style().standardIcon(QStyle.SP_MediaPause if running else QStyle.SP_MediaPlay))
        self._update_status()
        self._update_stage()

    def _on_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 10_000)

    def show_error(self, text: str, title: str = "Backprop Explorer") -> QMessageBox:
        """A one-line problem: in the status bar and in a (non-modal) message box."""
        self.statusBar().showMessage(text, 15_000)
        if self.last_message_box is not None and self.last_message_box.isVisible():
            self.last_message_box.close()
        self.last_message_box = dialogs.show_message(self, title, text)
        return self.last_message_box

    def _on_diverged(self, explanation: str) -> None:
        err = self.session.trainer.diverged
        self.statusBar().showMessage(err.summary if err is not None else "Training diverged.", 15_000)
        if self.divergence_dialog is not None:
            self.divergence_dialog.close()
        dialog = dialogs.DivergenceDialog(
            explanation,
            self,
            suggested_learning_rate=None if err is None else err.suggested_learning_rate,
            learning_rate=None if err is None else err.learning_rate,
        )
        dialog.reset_requested.connect(self.session.reset)
        dialog.restore_requested.connect(self._restore_learning_rate)
        self.divergence_dialog = dialog
        dialog.open()

    def _restore_learning_rate(self, learning_rate: float) -> None:
        """The divergence dialog's first choice: the last good weights (already in place) and this learning rate."""
        try:
            self.session.set_learning_rate(learning_rate)
        except ExplorerError as err:
            self.show_error(str(err), "Could not set the learning rate")
            return
        self.statusBar().showMessage(f"Last good weights, learning rate {learning_rate:g}: ready to go on.", 10_000)

    # ---- training controls ------------------------------------------------------------------------
    def step_stage(self) -> None:
        self.session.step_stage()

    def step_batch(self) -> None:
        self.session.step_batch()

    def set_running(self, run: bool) -> None:
        self.session.start() if run else self.session.pause()
        self.action_run.setChecked(self.session.running)

    def reset(self) -> bool:
        if not self.maybe_discard("resetting to new weights"):
            return False
        self.session.reset()
        self.statusBar().showMessage("New weights from the seed.", 5000)
        return True

    # ---- unsaved work ---------------------------------------------------------------------------------
    def maybe_discard(self, doing: str) -> bool:
        """True when it is fine to discard the current training (nothing unsaved, saved, or discarded)."""
        self.session.pause()
        if not self.session.dirty:
            return True
        answer = self.ask_unsaved(self, doing)
        if answer == dialogs.SAVE:
            return self.save_checkpoint()
        return answer == dialogs.DISCARD

    # ---- checkpoints ------------------------------------------------------------------------------------
    def save_checkpoint(self) -> bool:
        if self.checkpoint_path is None:
            return self.save_checkpoint_as()
        return self.save_checkpoint_to(self.checkpoint_path)

    def save_checkpoint_as(self) -> bool:
        path = self.ask_save_path(self)
        if not path:
            return False
        return self.save_checkpoint_to(path)

    def save_checkpoint_to(self, path) -> bool:
        path = Path(path)
        if path.suffix.lower() != ".npz":
            path = path.with_name(path.name + ".npz")
        try:
            self.session.save_checkpoint(path)
        except ExplorerError as err:
            self.show_error(str(err), "Could not save")
            return False
        except OSError as err:
            self.show_error(f"cannot save {path}: {err.strerror or err}", "Could not save")
            return False
        self.checkpoint_path = path
        self.statusBar().showMessage(f"Saved {path}", 8000)
        return True

    def open_checkpoint(self) -> None:
        if not self.maybe_discard("opening a checkpoint"):
            return
        path = self.ask_open_path(self, "Open checkpoint", "Checkpoints (*.npz);;All files (*)")
        if path:
            self.load_checkpoint_from(path)

    def load_checkpoint_from(self, path) -> bool:
        try:
            self.session.load_checkpoint(path)
        except ExplorerError as err:
            self.show_error(str(err), "Could not open the checkpoint")
            return False
        except MemoryError:
            self.show_error("out of memory while loading the checkpoint", "Could not open the checkpoint")
            return False
        self.checkpoint_path = Path(path)
        self.statusBar().showMessage(f"Opened {path}", 8000)
        return True

    # ---- autosaves -------------------------------------------------------------------------------------
    def enable_autosave(self, folder=None, interval: float | None = None):
        """Autosave unsaved training into ``folder`` (default: the state folder) every ``interval`` seconds
        (default 60) and whenever run mode pauses; returns the ``Autosaver``."""
        from . import autosave

        if self.autosaver is None:
            saver = autosave.Autosaver(self.session, folder, interval or autosave.INTERVAL_SECONDS, self)
            saver.saved.connect(self._on_autosaved)
            saver.failed.connect(self._on_autosave_failed)
            saver.restored.connect(self._on_autosave_restored)
            saver.restore_failed.connect(lambda text: self.show_error(text, "Could not restore the autosave"))
            self.autosaver = saver
            self._autosave_failed = False
        elif interval is not None:
            self.autosaver.interval = interval
        return self.autosaver

    def offer_restore(self) -> bool:
        """Offer the autosaves a crash left (``ask_restore``); True when one is being restored."""
        if self.autosaver is None:
            return False
        return self.autosaver.offer_restore(lambda text: self.ask_restore(self, text), self.maybe_discard)

    def _on_autosaved(self, _path: str, step: int) -> None:
        self.statusBar().showMessage(f"Autosaved ({plural(step, 'minibatch')}).", 4000)

    def _on_autosave_failed(self, text: str) -> None:
        if self._autosave_failed:  # said once in a dialog; afterwards in the status bar only
            self.statusBar().showMessage(f"Autosave failed: {text}", 10_000)
        else:
            self._autosave_failed = True
            self.show_error(f"Autosave failed: {text}", "Could not autosave")

    def _on_autosave_restored(self, text: str) -> None:
        self.checkpoint_path = None  # the restored training is in no file of the user's yet
        self.statusBar().showMessage(text, 10_000)

    # ---- pictures -----------------------------------------------------------------------------------------------
    def save_picture(self) -> None:
        path = self.ask_save_file(self, "Save a picture of the window", "backprop-explorer.png", "PNG images (*.png)")
        if path:
            self.save_picture_to(path)

    def save_picture_to(self, path) -> bool:
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_name(path.name + ".png")
        from core.files import atomic_path

        try:
            with atomic_path(path, suffix=".png") as tmp:  # written whole, or not at all
                if not self.grab().save(str(tmp), "PNG"):
                    raise OSError(f"could not write the picture to {path}")
        except OSError as err:
            text = f"cannot write {path}: {err.strerror}" if err.strerror else str(err)
            self.show_error(text, "Could not save the picture")
            return False
        self.statusBar().showMessage(f"Saved {path}", 8000)
        return True

    # ---- corpora ---------------------------------------------------------------------------------------------
    def open_corpus_file(self) -> None:
        path = self.ask_open_path(self, "Open a text corpus", "Text files (*.txt);;All files (*)")
        if not path:
            return
        size = self.ask_vocab_size(self, path, self.text_vocab_size)
        if size is not None:
            self.open_corpus(path, vocab_size=size)

    def open_corpus_folder(self) -> None:
        path = self.ask_folder(self, "Open a folder with the Hinton corpus files")
        if path:
            self.open_corpus(path)

    @property
    def loading(self) -> bool:
        return self._loader is not None and self._loader.isRunning()

    def open_corpus(self, source, vocab_size: int | None = None) -> bool:
        """Load ``source`` (``load_source``) in a thread, then train a new network on it.

        ``vocab_size``: for a text file, its most frequent words kept (default
        ``text_vocab_size``); the other sources have their own vocabulary.
        Returns False when it did not start (a load already running, or the user
        kept the current training). ``corpus_loaded`` or ``corpus_failed`` follow.
        """
        if self.loading:
            self.statusBar().showMessage("A corpus is already being loaded.", 5000)
            return False
        if not self.maybe_discard("opening another corpus"):
            return False
        from core.corpus import load_source

        size = self.text_vocab_size if vocab_size is None else int(vocab_size)
        self.text_vocab_size = size
        self.statusBar().showMessage(f"Loading corpus {source}…")
        loader = dialogs.BackgroundTask(lambda: load_source(source, size), self)
        loader.succeeded.connect(self._on_corpus_loaded)
        loader.failed.connect(self._on_corpus_failed)
        loader.finished.connect(self._on_loader_finished)
        self._loader = loader
        loader.start()
        return True

    def _on_loader_finished(self) -> None:
        if self._loader is not None and not self._loader.isRunning():
            self._loader.deleteLater()
            self._loader = None

    def _on_corpus_loaded(self, corpus) -> None:
        try:
            self.session.rebuild(self.session.config, corpus)
        except ExplorerError as err:
            self._on_corpus_failed(str(err))
            return
        note = f" ({'; '.join(corpus.notes)})" if corpus.notes else ""
        self.statusBar().showMessage(f"Now training on {corpus.describe()}{note}", 10_000)
        self.checkpoint_path = None
        self.corpus_loaded.emit(corpus)

    def _on_corpus_failed(self, message: str) -> None:
        self.show_error(f"Cannot open the corpus: {message}", "Could not open the corpus")
        self.corpus_failed.emit(message)

    def download_hinton(self) -> dialogs.DownloadDialog:
        """File ▸ Download: the dialog that asks first, says when the files are already there, then downloads."""
        if self.download_dialog is not None and (self.download_dialog.running or self.download_dialog.isVisible()):
            self.download_dialog.raise_()
            return self.download_dialog
        c = self.session.corpus
        dialog = dialogs.DownloadDialog(
            self,
            dest=self.download_dest,
            prefix=self.download_prefix,
            in_use=c.source if c.kind == "hinton" else None,
        )
        dialog.finished_download.connect(self._on_downloaded)
        dialog.train_requested.connect(lambda folder: self._train_on_download(folder))
        dialog.folder_requested.connect(self._open_folder_instead)
        self.download_dialog = dialog
        dialog.open()
        return dialog

    def _on_downloaded(self, folder: str) -> None:
        if self.download_dialog is not None:
            self.download_dialog.accept()
        if self.ask_yes_no(self, "Hinton corpus", f"The Hinton corpus is downloaded (in {folder}).\nTrain on it now?"):
            self.open_corpus(folder)

    def _train_on_download(self, folder: str) -> None:
        if self.download_dialog is not None:
            self.download_dialog.accept()
        self.open_corpus(folder)

    def _open_folder_instead(self) -> None:
        """The download dialog's "Open a folder instead…": a folder that already holds the four files."""
        folder = self.ask_folder(self, "Open a folder with the Hinton corpus files")
        if not folder:
            return
        if self.download_dialog is not None:
            self.download_dialog.accept()
        self.open_corpus(folder)

    # ---- help -----------------------------------------------------------------------------------------------
    def shortcut_rows(self) -> list[tuple[str, str]]:
        rows = []
        for action in self.actions():
            keys = [k.toString(QKeySequence.NativeText) for k in action.shortcuts()]
            if keys:
                text = "Run / pause" if action is self.action_run else action.text().replace("&", "").rstrip("…")
                rows.append((" or ".join(keys), text))
        return rows

    def _inform(self, title: str, text: str, rich: bool = False) -> QMessageBox:
        """An information box (kept in ``last_message_box`` for tests)."""
        box = dialogs.show_message(self, title, text, QMessageBox.Information)
        if rich:
            box.setTextFormat(Qt.RichText)
        self.last_message_box = box
        return box

    def show_shortcuts(self) -> QMessageBox:
        rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{t}</td></tr>" for k, t in self.shortcut_rows())
        text = (
            f"<table>{rows}</table><p>Letters and Space give way to a text field that has the focus "
            "(the prompt of the predictions); the F-keys work everywhere.</p>"
        )
        return self._inform("Keyboard shortcuts", text, rich=True)

    def show_guide(self) -> QMessageBox:
        n = len(self.session.model.stage_specs)
        text = (
            "<p><b>Step stage</b> (F10 or N) computes one stage of a minibatch. The label on the toolbar says "
            "which stage and shows its formula; the network diagram highlights the layer; the <i>Matrices</i> "
            "panel shows the arrays that stage produced, with their shapes. Point at an entry to read its "
            f"arithmetic. The first stages go forward to the loss, the next send gradients back, stage {n} "
            "updates every weight. Click a box of the diagram to see that layer's arrays.</p>"
            "<p><b>Run</b> (F5 or Space) trains continuously and draws the loss curves; pause any time. "
            "Type three words in <i>Predictions</i> to see what the network expects next.</p>"
            "<p><b>The teaching batch.</b> In <i>Embedding gradient</i>, <b>Teaching batch</b> switches to "
            "minibatches of 2 examples and finds one in which a word occurs twice; the panel then shows that "
            "word's row of dW_emb as the <b>sum</b> of its contributions, and <i>Show the naive update</i> "
            "puts the wrong dW[x] = de beside it. (A batch size of 2 in <i>Hyperparameters</i> does the same "
            "by hand.)</p>"
            "<p><b>The gradient check.</b> Click an entry of a gradient in <i>Matrices</i> (or pick one in "
            "<i>Gradient check</i> and press Check): its analytic value is compared with a central finite "
            "difference of the loss on the same minibatch, with the relative error. <i>Check all</i> samples "
            "entries of every parameter.</p>"
            "<p>The <b><i>Embedding map</i></b> places every word's vector (a row of W_emb) in 2-D. Find a word or "
            "click its point for its nearest words (measured in all dimensions); type two words for their "
            "distance. Words used alike drift together as training goes on.</p>"
            "<p><b>Gradient health</b> plots, per layer, the gradient norms, how far each update moves the "
            "weights and how saturated each hidden layer is: where vanishing gradients show.</p>"
            "<p><b>Write it yourself</b>: pick a stage, write its NumPy function in the editor (it starts with the "
            "signature and the inputs' shapes) and press <i>Run</i> (Ctrl+Return): the verdict and a map of what "
            "differs from the true array. <i>Train with my code</i> draws its loss curve beside the correct one; "
            "<i>Break it on purpose</i> loads a classic bug.</p>"
        )
        return self._inform("How to use Backprop Explorer", text, rich=True)

    def show_about(self) -> QMessageBox:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("backprop-explorer")
        except PackageNotFoundError:
            v = "development"
        text = (
            f"Backprop Explorer {v}\n\nWatch backpropagation: the classic 4-gram neural language model "
            "(three words in, a probability for every next word out) in NumPy, every matrix of a minibatch on screen."
        )
        return self._inform("About Backprop Explorer", text)

    @qt_override
    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._sized:  # dock sizes need the laid-out window: set them once it is shown
            self._sized = True
            if (self._compact, self._short) != self._layout_kind():
                self._arrange_docks()  # shown at another size than it was made at: the layout for this one
            else:
                self._size_docks()

    # ---- the layout between runs -----------------------------------------------------------------------------
    def restore_layout(self) -> bool:
        """Size, position and panel layout as the last run left them; False (and the default) if none was saved
        or it does not fit this version of the window."""
        self.remember_layout = True
        settings = QSettings(str(settings_path()), QSettings.Format.IniFormat)
        restored = self._restore_docks(settings)
        self.set_mode(self.saved_mode())
        return restored

    def saved_mode(self) -> str:
        """The mode the interactive app opens in: the one last used, Lesson mode on the first start
        (Explorer mode when the lessons cannot be read)."""
        if self.lesson_problem is not None:
            return "explorer"
        mode = QSettings(str(settings_path()), QSettings.Format.IniFormat).value("window/mode", "lesson")
        return mode if mode in MODES else "lesson"

    def _restore_docks(self, settings: QSettings) -> bool:
        geometry, state = settings.value("window/geometry"), settings.value("window/state")
        if not isinstance(geometry, QByteArray) or not isinstance(state, QByteArray):
            return False
        if not self.restoreGeometry(geometry):
            return False
        if not self.restoreState(state, LAYOUT_VERSION):
            self.resize(self._initial_size())
            return False
        self._sized = True  # the saved dock sizes, not the default proportions
        return True

    def save_layout(self) -> bool:
        """Remember the size, position and panel layout for the next run; False if the file cannot be written."""
        path = settings_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        settings = QSettings(str(path), QSettings.Format.IniFormat)
        settings.setValue("window/geometry", self.saveGeometry())
        # In Lesson mode the docks are hidden: the layout kept is Explorer mode's.
        state = self._explorer_state if self.mode == "lesson" and self._explorer_state else self.saveState(LAYOUT_VERSION)
        settings.setValue("window/state", state)
        settings.setValue("window/mode", self.mode)
        settings.sync()
        return settings.status() == QSettings.Status.NoError

    # ---- closing --------------------------------------------------------------------------------------------
    @qt_override
    def closeEvent(self, event) -> None:
        self.session.pause()
        if self.confirm_on_close and not self.maybe_discard("closing"):
            event.ignore()
            return
        if self.remember_layout:
            self.save_layout()  # nothing to tell if it fails: the next start simply has the default layout
        if self.autosaver is not None:
            self.autosaver.close(remove=True)  # a clean exit: the training was saved or discarded
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop everything that runs: the training timer, a download, a corpus load."""
        if self._shut_down:
            return
        self._shut_down = True
        if self.autosaver is not None:
            self.autosaver.close(remove=False)  # (after a clean exit, closeEvent has removed the file already)
        self.session.shutdown()
        for panel in list(self.panels.values()):  # the panels built so far: what they keep or run
            if hasattr(panel, "shutdown"):
                panel.shutdown()
        if self.download_dialog is not None:
            self.download_dialog.wait_stopped()
        if self._loader is not None and self._loader.isRunning():
            self._loader.wait()


def _ask_yes_no(parent, title: str, text: str) -> bool:
    return QMessageBox.question(parent, title, text, QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes) == QMessageBox.Yes


def _ask_restore(parent, text: str) -> bool | None:
    """Restore (True) or Discard (False); None when the box was closed without an answer."""
    box = QMessageBox(QMessageBox.Question, "Restore unsaved training?", text, QMessageBox.NoButton, parent)
    restore = box.addButton("Restore", QMessageBox.AcceptRole)
    discard = box.addButton("Discard", QMessageBox.DestructiveRole)
    box.setDefaultButton(restore)
    box.exec()
    clicked = box.clickedButton()
    return True if clicked is restore else False if clicked is discard else None


def _ask_save_path(parent) -> str:
    return file_dialogs.ask_save_file(parent, "Save checkpoint", "backprop.npz", "Checkpoints (*.npz)")


__all__ = ["MainWindow", "PANELS", "stage_position_text", "StageStrip", "StatusBar"]
