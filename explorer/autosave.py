"""Autosaves: a crash, a kill or a power cut costs at most a minute of training.

While the session has unsaved training of the user's (``Session.dirty``), an
``Autosaver`` writes an ordinary checkpoint of it whenever run mode pauses and
every ``interval`` seconds (60 by default) while anything new was trained. It
goes into the state folder: ``$BACKPROP_EXPLORER_STATE`` when set (tests use
it), else ``platformdirs.user_state_dir("backprop-explorer")``. Each run of the
window has its own file there, ``autosave-<time>-<pid>-<random>.npz``, next to

* ``….json``: the corpus it was made on (name, kind, where it was read from),
  so that a restore can load that corpus again;
* ``….lock``: a ``QLockFile`` held while the run lives, so that another window
  running at the same time neither offers nor deletes this run's file.

Saving the training, or discarding it (a new network, another checkpoint, a
clean exit), deletes the file: an autosave that survives is training that
was lost by a crash. ``find_autosaves`` lists those (newest first) and
``Autosaver.offer_restore`` asks about each through a callable, so tests can
answer.

Writing a checkpoint costs about 150 ms (compressing ~0.7 MB), too long for
the GUI thread: the GUI thread only copies the weights and the history
(under a millisecond) and a worker thread writes the file. One worker does
every file operation in order (write, delete, adopt), so a late write can
never bring back a file that was deleted after it.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Qt, QTimer, Signal

from core.errors import CheckpointError, CorpusError, ExplorerError
from core.text import plural

STATE_ENV = "BACKPROP_EXPLORER_STATE"  # a folder for the autosaves instead of the user's state folder
INTERVAL_SECONDS = 60.0
PREFIX = "autosave-"


def state_dir() -> Path:
    """The folder the autosaves go to (it may not exist yet)."""
    root = os.environ.get(STATE_ENV)
    if root:
        return Path(root).expanduser()
    import platformdirs

    return Path(platformdirs.user_state_dir("backprop-explorer", appauthor=False))


def _sidecar(path: Path, suffix: str) -> Path:
    return path.with_suffix(suffix)


def _lock(path: Path) -> QLockFile:
    """The lock of the run that writes ``path``: stale only when that process is gone (never by age)."""
    lock = QLockFile(str(_sidecar(path, ".lock")))
    lock.setStaleLockTime(0)
    return lock


# ---- what a crash left behind ---------------------------------------------------------------------


@dataclass
class Found:
    """An autosave that no running window owns: training a crash, a kill or a power cut left unsaved."""

    path: Path
    made: float  # time.time() of its last write
    step: int = 0  # minibatches it holds
    corpus_name: str = ""
    corpus: dict = field(default_factory=dict)  # "kind", "source" (from the .json): how to load the corpus again
    vocab: list[str] = field(default_factory=list)
    batch_size: int = 0
    problem: str = ""  # why it cannot be read ("" when it can)

    def describe(self, now: float | None = None) -> str:
        """The question that offers it: when it was made, what it holds, what each answer does."""
        made = datetime.datetime.fromtimestamp(self.made)
        when = f"{made:%A} {made.day} {made:%B} at {made:%H:%M}"
        ago = _ago((now if now is not None else time.time()) - self.made)
        corpus = self.corpus_name or "an unnamed corpus"
        return (
            f"Backprop Explorer did not close normally last time. Its unsaved training was autosaved on {when} "
            f"({ago}): {self.step:,} minibatch{'' if self.step == 1 else 'es'} of batch size {self.batch_size} "
            f"on the {corpus}.\n\n"
            "Restore continues from it (the training stays unsaved until you save it). "
            "Discard deletes the autosave; closing this question keeps it for the next start."
        )


def _ago(seconds: float) -> str:
    if seconds < 90:
        return "just now" if seconds < 45 else "a minute ago"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} minutes ago"
    hours = round(seconds / 3600)
    if hours < 36:
        return f"{hours} hours ago"
    return f"{round(seconds / 86400)} days ago"


def find_autosaves(folder=None, *, skip=()) -> list[Found]:
    """The autosaves in ``folder`` (default ``state_dir()``) whose run is over, newest first.

    ``skip``: paths to leave out (the caller's own). One that cannot be read
    is listed with its ``problem``.
    """
    from core import checkpoint

    folder = Path(folder) if folder is not None else state_dir()
    skip = {Path(p) for p in skip}
    found = []
    try:
        paths = sorted(folder.glob(PREFIX + "*.npz"))
    except OSError:
        return []
    for path in paths:
        if path in skip:
            continue
        lock = _lock(path)
        if not lock.tryLock(0):
            continue  # a window that is running now owns it
        lock.unlock()  # (and deletes the lock file the crashed run left)
        try:
            made = path.stat().st_mtime
        except OSError:
            continue
        item = Found(path=path, made=made)
        try:
            ckpt = checkpoint.load(path)
        except CheckpointError as err:
            item.problem = str(err)
        else:
            item.step, item.corpus_name, item.vocab = ckpt.step, ckpt.corpus_name, ckpt.vocab
            item.batch_size = ckpt.config.batch_size
            item.corpus = _read_corpus_note(path)
        found.append(item)
    _remove_dead_locks(folder, skip)
    found.sort(key=lambda f: f.made, reverse=True)
    return found


def _remove_dead_locks(folder: Path, skip) -> None:
    """Delete the lock files of runs that are over and left no autosave (they crashed before writing one).

    Every run takes its lock when it starts, so a crash leaves one whether it
    autosaved or not; the lock of a run that is still going is kept.
    """
    try:
        locks = sorted(folder.glob(PREFIX + "*.lock"))
    except OSError:
        return
    mine = {_sidecar(p, ".lock") for p in skip}
    for path in locks:
        if path in mine or _sidecar(path, ".npz").exists():
            continue  # this run's own, or found above with its autosave
        lock = _lock(path)
        if lock.tryLock(0):  # the run that held it is gone
            lock.unlock()  # deletes the file


def _read_corpus_note(path: Path) -> dict:
    try:
        note = json.loads(_sidecar(path, ".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    corpus = note.get("corpus") if isinstance(note, dict) else None
    return corpus if isinstance(corpus, dict) else {}


def load_corpus_for(found: Found):
    """The corpus ``found`` was made on, loaded again; CorpusError (one line) when it is not available now."""
    from core.corpus import load_demo, load_source

    kind, source = found.corpus.get("kind"), found.corpus.get("source")
    name = found.corpus_name or "its corpus"
    try:
        if kind == "demo":
            corpus = load_demo()
        elif isinstance(source, str) and source:
            corpus = load_source(source, max(2, len(found.vocab)))
        else:
            raise CorpusError("the autosave does not say where that corpus was read from")
    except ExplorerError as err:
        raise CorpusError(f"the autosave was made on the {name}, which is not available now: {err}") from None
    if list(corpus.vocab) != list(found.vocab):
        raise CorpusError(
            f"the autosave was made on the {name}, which is not available now: "
            f"{source} has another vocabulary today"
        )
    return corpus


# ---- writing ----------------------------------------------------------------------------------------


@dataclass
class _Snapshot:
    """What a checkpoint needs, copied on the GUI thread so that the worker never touches live arrays."""

    vocab: list
    config: object
    state: dict
    history: object
    step: int
    corpus_name: str
    corpus: dict


class Autosaver(QObject):
    """Autosaves ``session`` into ``folder``; see the module docstring.

    ``path`` is this run's file. ``interval`` (seconds) may be changed at any
    time (tests use a fraction of a second). Signals, on the GUI thread:
    ``saved(path, step)`` after a write finished (the file then holds ``step``
    minibatches), ``failed(message)`` when one could not be written,
    ``restored(message)`` and ``restore_failed(message)`` for ``offer_restore``.
    """

    saved = Signal(str, int)
    failed = Signal(str)
    restored = Signal(str)
    restore_failed = Signal(str)
    _done = Signal(object)  # from the worker: ("saved", step) | ("failed", message) | ("other", None)

    def __init__(self, session, folder=None, interval: float = INTERVAL_SECONDS, parent=None):
        super().__init__(parent)
        self.session = session
        self.folder = Path(folder) if folder is not None else state_dir()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.path = self.folder / f"{PREFIX}{stamp}-{os.getpid()}-{secrets.token_hex(3)}.npz"
        self._lock = _lock(self.path)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # the first write says why it cannot be done
        self._lock.tryLock(0)  # best effort: without it another window may offer this run's file
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(max_workers=1, thread_name_prefix="autosave")
        self._in_flight = 0  # writes submitted and not yet reported
        self._again = False  # a save was asked for while one was being written: write again when it is done
        self._written = None  # what the file holds (see _key), None when there is no file
        self._loader = None  # a corpus being loaded for a restore
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.save_now)
        self.interval = interval
        self._done.connect(self._on_done, Qt.QueuedConnection)
        session.dirty_changed.connect(self._on_dirty_changed)
        session.running_changed.connect(self._on_running_changed)
        if session.dirty:
            self._timer.start()

    # ---- settings and state ----------------------------------------------------------------
    @property
    def interval(self) -> float:
        return self._interval

    @interval.setter
    def interval(self, seconds: float) -> None:
        self._interval = float(seconds)
        self._timer.setInterval(max(1, int(round(self._interval * 1000))))

    @property
    def busy(self) -> bool:
        """A write is in progress (or queued)."""
        return self._in_flight > 0

    def _key(self):
        t = self.session.trainer
        h = t.history
        return id(t), t.step, len(h), len(h.valid), len(h.test)

    # ---- session announcements --------------------------------------------------------------
    def _on_dirty_changed(self, dirty: bool) -> None:
        if dirty:
            if not self._timer.isActive():
                self._timer.start()
        else:  # saved in a file, or discarded: the autosave has nothing left to keep
            self._timer.stop()
            self.discard()

    def _on_running_changed(self, running: bool) -> None:
        if not running:
            self.save_now()

    # ---- writing ------------------------------------------------------------------------------
    def save_now(self) -> bool:
        """Autosave now (in the background) if the user's unsaved training changed since the last one.

        Returns True when a write was started or queued behind the one in progress.
        """
        if self._executor is None or not self.session.dirty:
            return False
        key = self._key()
        if key == self._written:
            return False
        if self._in_flight:
            self._again = True
            return True
        t = self.session.trainer
        from core.history import History

        corpus = t.corpus
        snap = _Snapshot(
            vocab=list(t.model.vocab),
            config=t.model.config,
            state=t.model.state(),  # copies
            history=History.from_arrays(t.history.to_arrays()),  # a copy
            step=t.step,
            corpus_name=corpus.name,
            corpus={"name": corpus.name, "kind": corpus.kind, "source": corpus.source},
        )
        self._written = key
        self._submit(self._write, snap)
        return True

    def _submit(self, fn, *args) -> None:
        self._in_flight += 1
        self._executor.submit(self._run, fn, *args)

    def _run(self, fn, *args) -> None:
        """On the worker: one file operation; its outcome goes back to the GUI thread."""
        try:
            outcome = fn(*args)
        except ExplorerError as err:
            outcome = ("failed", str(err))
        except OSError as err:
            outcome = ("failed", f"cannot write the autosave in {self.folder}: {err.strerror or err}")
        except MemoryError:
            outcome = ("failed", "out of memory while autosaving")
        except Exception as err:  # a bug: logged by the error handler; the GUI thread still hears of it
            import sys

            sys.excepthook(type(err), err, err.__traceback__)
            outcome = ("failed", f"autosave failed ({type(err).__name__})")
        self._done.emit(outcome)

    def _write(self, snap: _Snapshot):
        from core import checkpoint
        from core.model import FourGramModel

        if not self.folder.is_dir():
            self.folder.mkdir(parents=True, exist_ok=True)
        model = FourGramModel(snap.vocab, snap.config)
        model.load_state(snap.state)
        note = _sidecar(self.path, ".json")
        tmp = note.with_name("." + note.name + ".tmp")
        tmp.write_text(json.dumps({"corpus": snap.corpus}), encoding="utf-8")
        os.replace(tmp, note)
        checkpoint.save(self.path, model, snap.history, step=snap.step, corpus_name=snap.corpus_name)
        return ("saved", snap.step)

    def _remove(self) -> tuple:
        for p in (self.path, _sidecar(self.path, ".json")):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
        return ("other", None)

    def _adopt(self, old: Path) -> tuple:
        """Make an earlier run's autosave this run's file (it holds what the session was restored to)."""
        os.replace(old, self.path)
        note = _sidecar(old, ".json")
        if note.exists():
            os.replace(note, _sidecar(self.path, ".json"))
        return ("other", None)

    def _on_done(self, outcome) -> None:
        self._in_flight -= 1
        if self._executor is None:
            return  # closed meanwhile: nobody is listening any more
        kind, value = outcome
        if kind == "saved":
            self.saved.emit(str(self.path), value)
        elif kind == "failed":
            self._written = None  # try again next time
            self.failed.emit(value)
        if self._again and not self._in_flight:
            self._again = False
            self.save_now()

    def discard(self) -> None:
        """Delete this run's autosave (after any write in progress)."""
        self._again = False
        self._written = None
        if self._executor is not None:
            self._submit(self._remove)

    def wait(self) -> None:
        """Block until every file operation asked for so far is done (closing; scripts)."""
        if self._executor is not None:
            self._executor.submit(lambda: None).result()

    def close(self, remove: bool) -> None:
        """Stop autosaving: ``remove`` on a clean exit (the training was saved or discarded).

        Waits for the write in progress, then releases this run's lock; without
        ``remove`` the file stays, for the next start to offer.
        """
        self._timer.stop()
        if self._loader is not None and self._loader.isRunning():
            self._loader.wait()
        if self._executor is None:
            return
        if remove:
            self.discard()
        self._executor.shutdown(wait=True)
        self._executor = None
        self._lock.unlock()

    # ---- restoring ------------------------------------------------------------------------------
    def offer_restore(self, ask, confirm=None) -> bool:
        """Offer each autosave a crash left, newest first, until one is restored.

        ``ask(text) -> bool | None``: True restores, False deletes the autosave,
        None (no answer: the question was closed) keeps it for a later start. One
        that cannot be read is renamed ``….unreadable`` and reported; one whose
        corpus is not available now stays for a later start, and is reported
        (``restore_failed``). ``confirm(doing) -> bool`` is asked before a
        restore would replace unsaved training of this run (False keeps both). Returns True when a restore was made or started
        (a corpus other than the session's is loaded in a thread first;
        ``restored`` or ``restore_failed`` follows).
        """
        for found in find_autosaves(self.folder, skip=[self.path]):
            if found.problem:
                bad = found.path.with_name(found.path.name + ".unreadable")
                try:
                    os.replace(found.path, bad)
                    _sidecar(found.path, ".json").unlink(missing_ok=True)
                except OSError:
                    pass
                self.restore_failed.emit(f"An autosave could not be read ({found.problem}); it was left as {bad}.")
                continue
            answer = ask(found.describe())
            if answer is None:
                continue
            if not answer:
                self._delete(found.path)
                continue
            if self.session.dirty and confirm is not None and not confirm("restoring the autosave"):
                return False
            corpus = self.session.corpus
            if corpus.name == found.corpus_name and list(corpus.vocab) == found.vocab:
                return self._restore(found, corpus)
            from .dialogs import BackgroundTask

            loader = BackgroundTask(lambda f=found: load_corpus_for(f), self)
            loader.succeeded.connect(lambda c, f=found: self._restore(f, c))
            loader.failed.connect(lambda message, f=found: self._cannot_restore(f, message))
            self._loader = loader
            loader.start()
            return True
        return False

    def _restore(self, found: Found, corpus) -> bool:
        try:
            self.session.load_checkpoint(found.path, corpus=corpus, unsaved=True)
        except ExplorerError as err:
            self._cannot_restore(found, str(err))
            return False
        self._written = self._key()  # the adopted file holds exactly this
        if self._executor is not None:
            self._submit(self._adopt, found.path)
        self.restored.emit(
            f"Restored the autosave: {plural(found.step, 'minibatch')} on the {found.corpus_name} "
            "(not yet saved in a file)."
        )
        return True

    def _cannot_restore(self, found: Found, message: str) -> None:
        self.restore_failed.emit(
            f"Cannot restore the autosave: {message}. It is kept in {found.path.parent} "
            "and offered again at the next start."
        )

    @staticmethod
    def _delete(path: Path) -> None:
        for p in (path, _sidecar(path, ".json")):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                pass


__all__ = ["Autosaver", "Found", "find_autosaves", "load_corpus_for", "state_dir", "STATE_ENV", "INTERVAL_SECONDS"]
