"""Checkpoints: weights, optimizer state, vocabulary, hyperparameters and loss history in one ``.npz``.

Loading never unpickles: the ``.npz`` is opened as a zip file and each array
is read from its ``.npy`` header and raw bytes, so an array of Python objects
is refused from its header alone, before any of its bytes are read. A file
that is not a checkpoint, is truncated or corrupt, lacks a field, holds
arrays that do not fit its hyperparameters, or was made for another
vocabulary is refused with one clear line (:class:`~core.errors.CheckpointError`).

Saving writes a temporary file in the same folder, flushes it to disk and
renames it over the old one, so a crash or a kill mid-save leaves the old
file intact.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import CheckpointError, ConfigError
from .files import new_file_mode
from .history import History
from .model import Config, FourGramModel, param_shapes

FORMAT = "backprop-explorer checkpoint"
# Version 2 records the architecture (hidden_dims, activations); version 1 files (one hidden layer,
# hidden_dim and activation in their hyperparameters) still load.
VERSION = 2
READS = (1, 2)
_HISTORY_FIELDS = ("train_ce", "valid", "test", "epoch_ends")
_MAX_META_CHARS = 1 << 20  # the JSON header is a few hundred characters
_MAX_VOCAB = 100_000  # as core.corpus.MAX_VOCAB_SIZE
_MAX_HISTORY = 100_000_000  # loss values; a long run has tens of thousands
_STALE_TEMP_SECONDS = 600  # a temporary file this old was left by a save that was killed


@dataclass
class Checkpoint:
    config: Config
    vocab: list[str]
    state: dict[str, np.ndarray]  # parameters and "v_" velocities
    history: History
    step: int  # completed minibatches
    corpus_name: str = ""

    def build_model(self) -> FourGramModel:
        model = FourGramModel(self.vocab, self.config)
        model.load_state(self.state)
        return model


# ---- saving ----------------------------------------------------------------------------------


def save(path, model: FourGramModel, history: History | None = None, *, step: int = 0, corpus_name: str = "") -> Path:
    """Write a checkpoint atomically; returns the path written. CheckpointError if it cannot be written."""
    path = Path(path)
    if "\0" in str(path):
        raise CheckpointError(f"cannot save {str(path)!r}: not a valid file name")
    if not model.all_finite():
        raise CheckpointError(
            f"cannot save {path}: the weights hold non-finite values (restore the last good weights first)"
        )
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "config": model.config.to_dict(),
        "step": int(step),
        "corpus_name": str(corpus_name),
    }
    arrays = {"meta": np.array(json.dumps(meta)), "vocab": np.array(model.vocab, dtype=str)}
    if [str(w) for w in arrays["vocab"]] != list(model.vocab):  # NumPy drops trailing NUL characters
        raise CheckpointError(f"cannot save {path}: a vocabulary word cannot be stored (it ends in a NUL character)")
    arrays.update({k: np.asarray(v, dtype=np.float64) for k, v in model.state().items()})
    hist = (history or History()).to_arrays()
    arrays.update({"history_" + k: v for k, v in hist.items()})

    folder = path.parent
    tmp = None
    try:
        if path.is_dir():
            raise CheckpointError(f"cannot save {path}: it is a folder")
        if not folder.exists():
            raise CheckpointError(f"cannot save {path}: folder {folder} does not exist")
        if not folder.is_dir():
            raise CheckpointError(f"cannot save {path}: {folder} is not a folder")
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
        tmp = None
    except OSError as err:
        raise CheckpointError(f"cannot save {path}: {err.strerror or err}") from None
    finally:
        if tmp is not None:  # the save failed or was interrupted: leave nothing half-written
            try:
                os.unlink(tmp)
            except OSError:
                pass
    _sync_folder(folder)
    _remove_stale_temps(path)
    return path


def _temp_prefix(path: Path) -> str:
    """Temporary files are hidden and named after the checkpoint (shortened, to fit any file-name limit)."""
    return "." + path.name[:100] + "."


def _mode_for(path: Path) -> int:
    """The permissions to give the new file: what open() would give (the temporary file is private, 0600)."""
    return new_file_mode(path)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); harmless where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_stale_temps(path: Path) -> None:
    """Delete temporary files of earlier saves of ``path`` that were killed before they could clean up."""
    cutoff = time.time() - _STALE_TEMP_SECONDS
    for leftover in path.parent.glob(_temp_prefix(path) + "*.tmp"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except OSError:
            pass


# ---- loading ---------------------------------------------------------------------------------


def load(path, *, vocab: list[str] | None = None) -> Checkpoint:
    """Read and check a checkpoint. With ``vocab``, refuse one made for another vocabulary."""
    path = Path(path)
    name = path.name
    if "\0" in str(path):
        raise CheckpointError(f"{str(path)!r} is not a valid file name")
    _check_file(path)
    try:
        with zipfile.ZipFile(path) as z:
            return _check(name, _Arrays(name, z), vocab)
    except CheckpointError:
        raise
    except MemoryError:
        raise CheckpointError(f"{name} is too large to load into memory") from None
    except OSError as err:
        raise CheckpointError(f"cannot read {path}: {err.strerror or err}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, RuntimeError, ValueError):
        raise CheckpointError(f"{name} is not a complete .npz file: it is truncated or corrupt") from None
    except Exception:  # zlib errors and whatever else a damaged zip can raise
        raise CheckpointError(f"{name} is truncated or corrupt") from None


def _check_file(path: Path) -> None:
    """Refuse, by its first bytes, anything that is not a zip file (an ``.npz`` is one)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        if os.path.lexists(path):
            raise CheckpointError(f"{path} is a link to a file that does not exist") from None
        raise CheckpointError(f"no such checkpoint: {path}") from None
    except OSError as err:
        raise CheckpointError(f"cannot read {path}: {err.strerror or err}") from None
    if stat.S_ISDIR(st.st_mode):
        raise CheckpointError(f"{path} is a folder, not a checkpoint")
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointError(f"{path} is not a regular file")
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as err:
        raise CheckpointError(f"cannot read {path}: {err.strerror or err}") from None
    name = path.name
    if not head:
        raise CheckpointError(f"{name} is empty")
    if head.startswith(b"\x93NUMPY"):
        raise CheckpointError(f"{name} is a single NumPy array (.npy), not a checkpoint (.npz)")
    if head[:1] == b"\x80":
        raise CheckpointError(f"{name} is a pickled Python object; refusing to load it (it could run code)")
    if not head.startswith(b"PK"):
        raise CheckpointError(f"{name} is not a checkpoint (.npz) file")


class _Arrays:
    """The arrays of an open ``.npz``, read one at a time without unpickling.

    ``header(key)`` gives an array's shape and dtype from its ``.npy`` header
    alone; ``read(key, expect_shape)`` checks them before reading any data.
    """

    def __init__(self, name: str, z: zipfile.ZipFile):
        self.name = name
        self.z = z
        self.members = {}
        for info in z.infolist():
            if info.filename.endswith(".npy"):
                self.members.setdefault(info.filename[:-4], info)
        for key in self.members:  # refuse pickled objects anywhere, even in fields we do not use
            shape, fortran, dtype = self.header(key)
            if dtype.hasobject:
                raise CheckpointError(
                    f"{name} contains pickled Python objects ('{key}'); refusing to load it (it could run code)"
                )

    def __contains__(self, key: str) -> bool:
        return key in self.members

    def _open_array(self, fp):
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(fp)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(fp)
        raise CheckpointError(f"{self.name} uses an array format version {version} this program does not read")

    def header(self, key: str) -> tuple[tuple, bool, np.dtype]:
        if key not in self.members:
            raise CheckpointError(f"{self.name} is missing the field '{key}'")
        with self.z.open(self.members[key]) as fp:
            return self._open_array(fp)

    def read(self, key: str, *, shape=None, max_items: int | None = None) -> np.ndarray:
        """The array ``key``; refuses another ``shape``, or more than ``max_items`` elements, unread."""
        info = self.members.get(key)
        if info is None:
            raise CheckpointError(f"{self.name} is missing the field '{key}'")
        with self.z.open(info) as fp:
            got_shape, fortran, dtype = self._open_array(fp)
            if shape is not None and got_shape != tuple(shape):
                raise CheckpointError(
                    f"{self.name}: {key} has shape {got_shape}, the hyperparameters and vocabulary need {tuple(shape)}"
                )
            count = int(np.prod(got_shape, dtype=np.int64)) if got_shape else 1
            if max_items is not None and count > max_items:
                raise CheckpointError(f"{self.name}: the field '{key}' is implausibly large")
            nbytes = count * dtype.itemsize
            if nbytes > info.file_size:
                raise CheckpointError(f"{self.name}: the field '{key}' is truncated")
            data = fp.read()  # to the end, so the zip's checksum is verified
        if len(data) != nbytes:
            raise CheckpointError(f"{self.name}: the field '{key}' is truncated or corrupt")
        return np.frombuffer(data, dtype=dtype).reshape(got_shape, order="F" if fortran else "C").copy()


def _check(name: str, arrays: _Arrays, expect_vocab) -> Checkpoint:
    meta_raw = arrays.read("meta", shape=(), max_items=1)
    if meta_raw.dtype.kind != "U" or meta_raw.dtype.itemsize > 4 * _MAX_META_CHARS:
        raise CheckpointError(f"{name}: the field 'meta' is not readable")
    try:
        meta = json.loads(str(meta_raw.item()))
    except (ValueError, TypeError, RecursionError):
        raise CheckpointError(f"{name}: the field 'meta' is not readable") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{name} is not a Backprop Explorer checkpoint")
    if meta.get("version") not in READS or isinstance(meta.get("version"), bool):
        raise CheckpointError(
            f"{name} is checkpoint version {meta.get('version')!r}, this program reads {' and '.join(map(str, READS))}"
        )
    if not isinstance(meta.get("config"), dict):
        raise CheckpointError(f"{name}: the hyperparameters are missing or malformed")
    try:
        config = Config.from_dict(meta["config"])
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"{name}: the hyperparameters are missing or malformed") from None
    except ConfigError as err:
        raise CheckpointError(f"{name}: {err}") from None
    step = meta.get("step", 0)
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise CheckpointError(f"{name}: the step count is malformed")

    vocab_arr = arrays.read("vocab", max_items=_MAX_VOCAB)
    if vocab_arr.dtype.kind != "U" or vocab_arr.ndim != 1:
        raise CheckpointError(f"{name}: the vocabulary is malformed")
    vocab = [str(w) for w in vocab_arr]
    if len(set(vocab)) != len(vocab) or len(vocab) < 2:
        raise CheckpointError(f"{name}: the vocabulary is malformed (fewer than 2 words, or a word twice)")
    if expect_vocab is not None and list(expect_vocab) != vocab:
        if len(expect_vocab) == len(vocab) and set(expect_vocab) == set(vocab):
            detail = "the same words in another order"
        else:
            detail = f"{len(vocab)} words; the corpus has {len(expect_vocab)}"
        raise CheckpointError(f"{name} was made for another vocabulary than the corpus loaded ({detail})")

    expected = param_shapes(config, len(vocab))  # every parameter's name and shape, from the architecture
    state = {}
    for key in expected:
        for k in (key, "v_" + key):
            shape, _, dtype = arrays.header(k)
            if dtype.kind != "f":
                raise CheckpointError(f"{name}: {k} is not an array of floating-point numbers ({dtype})")
            a = arrays.read(k, shape=expected[key])
            if not np.isfinite(a).all():
                raise CheckpointError(f"{name}: {k} holds non-finite values (NaN or infinity)")
            state[k] = a.astype(np.float64)

    hist = {}
    for k in _HISTORY_FIELDS:
        a = arrays.read("history_" + k, max_items=_MAX_HISTORY)
        if a.dtype.kind not in "fiu" or not np.isfinite(a).all():
            raise CheckpointError(f"{name}: the loss history is malformed")
        if k != "train_ce" and (a < 0).any():
            raise CheckpointError(f"{name}: the loss history is malformed")
        hist[k] = a
    if hist["valid"].size % 2 or hist["test"].size % 2:
        raise CheckpointError(f"{name}: the loss history is malformed")
    try:
        history = History.from_arrays(hist)
    except (ValueError, TypeError, OverflowError):
        raise CheckpointError(f"{name}: the loss history is malformed") from None
    return Checkpoint(
        config=config,
        vocab=vocab,
        state=state,
        history=history,
        step=step,
        corpus_name=str(meta.get("corpus_name", "")),
    )
