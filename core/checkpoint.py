"""Checkpoints: weights, optimizer state, vocabulary, hyperparameters and loss history in one ``.npz``.

Loading never unpickles (``allow_pickle=False``: a checkpoint cannot run code)
and refuses, with one clear line, a file that is not a checkpoint, is
truncated or corrupt, lacks a field, or does not fit the expected vocabulary.
Saving writes a temporary file in the same folder and renames it into place,
so a crash mid-save leaves the old file intact.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import CheckpointError, ConfigError
from .model import PARAM_NAMES, Config, FourGramModel
from .history import History

FORMAT = "backprop-explorer checkpoint"
VERSION = 1
_HISTORY_FIELDS = ("train_ce", "valid", "test", "epoch_ends")


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


def save(path, model: FourGramModel, history: History | None = None, *, step: int = 0, corpus_name: str = "") -> Path:
    """Write a checkpoint atomically; returns the path written."""
    path = Path(path)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "config": model.config.to_dict(),
        "step": int(step),
        "corpus_name": corpus_name,
    }
    arrays = {"meta": np.array(json.dumps(meta)), "vocab": np.array(model.vocab, dtype=str)}
    arrays.update({k: np.asarray(v, dtype=np.float64) for k, v in model.state().items()})
    hist = (history or History()).to_arrays()
    arrays.update({"history_" + k: v for k, v in hist.items()})
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CheckpointError(f"cannot save {path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(err, OSError):
            raise CheckpointError(f"cannot save {path}: {err.strerror or err}") from None
        raise
    return path


def load(path, *, vocab: list[str] | None = None) -> Checkpoint:
    """Read and check a checkpoint. With ``vocab``, refuse one made for another vocabulary."""
    path = Path(path)
    name = path.name
    try:
        with np.load(path, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise CheckpointError(f"{name} is not a checkpoint (.npz) file")
            data = {k: z[k] for k in z.files}
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"no such checkpoint: {path}") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path} is a folder, not a checkpoint") from None
    except ValueError as err:
        if "pickle" in str(err).lower():
            raise CheckpointError(f"{name} contains pickled Python objects; refusing to load it") from None
        raise CheckpointError(f"{name} is not a checkpoint (.npz) file or is corrupt") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, RuntimeError, TypeError, UnicodeDecodeError):
        raise CheckpointError(f"{name} is not a checkpoint (.npz) file, or it is truncated or corrupt") from None
    except Exception:
        raise CheckpointError(f"{name} is not a readable checkpoint") from None
    return _check(name, data, vocab)


def _field(name: str, data: dict, key: str) -> np.ndarray:
    if key not in data:
        raise CheckpointError(f"{name} is missing the field '{key}'")
    return data[key]


def _check(name: str, data: dict, expect_vocab) -> Checkpoint:
    meta_raw = _field(name, data, "meta")
    try:
        meta = json.loads(str(meta_raw.item()))
    except (ValueError, TypeError):
        raise CheckpointError(f"{name}: the field 'meta' is not readable") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{name} is not a Backprop Explorer checkpoint")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{name} is checkpoint version {meta.get('version')}, this program reads {VERSION}")
    try:
        config = Config.from_dict(dict(meta["config"]))
    except (KeyError, TypeError):
        raise CheckpointError(f"{name}: the hyperparameters are missing or malformed") from None
    except ConfigError as err:
        raise CheckpointError(f"{name}: {err}") from None
    vocab_arr = _field(name, data, "vocab")
    if vocab_arr.dtype.kind != "U" or vocab_arr.ndim != 1:
        raise CheckpointError(f"{name}: the vocabulary is malformed")
    vocab = [str(w) for w in vocab_arr]
    if len(set(vocab)) != len(vocab) or len(vocab) < 2:
        raise CheckpointError(f"{name}: the vocabulary is malformed")
    if expect_vocab is not None and list(expect_vocab) != vocab:
        raise CheckpointError(
            f"{name} was made for another vocabulary ({len(vocab)} words) than the corpus loaded "
            f"({len(expect_vocab)} words)"
        )
    V, d, H = len(vocab), config.embed_dim, config.hidden_dim
    expected = {"W_emb": (V, d), "W_h": (3 * d, H), "b_h": (H,), "W_o": (H, V), "b_o": (V,)}
    state = {}
    for key in PARAM_NAMES:
        for k in (key, "v_" + key):
            a = _field(name, data, k)
            if a.shape != expected[key]:
                raise CheckpointError(f"{name}: {k} has shape {a.shape}, the hyperparameters need {expected[key]}")
            if a.dtype.kind != "f":
                raise CheckpointError(f"{name}: {k} is not an array of numbers")
            if not np.isfinite(a).all():
                raise CheckpointError(f"{name}: {k} holds non-finite values")
            state[k] = a.astype(np.float64)
    hist = {}
    for k in _HISTORY_FIELDS:
        a = _field(name, data, "history_" + k)
        if a.dtype.kind not in "fiu":
            raise CheckpointError(f"{name}: the loss history is malformed")
        hist[k] = a
    try:
        history = History.from_arrays(hist)
    except (ValueError, TypeError):
        raise CheckpointError(f"{name}: the loss history is malformed") from None
    step = meta.get("step", 0)
    if not isinstance(step, int) or step < 0:
        raise CheckpointError(f"{name}: the step count is malformed")
    return Checkpoint(
        config=config,
        vocab=vocab,
        state=state,
        history=history,
        step=step,
        corpus_name=str(meta.get("corpus_name", "")),
    )
