"""The course's ``data.mat``: the Hinton corpus as the original MATLAB exercise shipped it.

The file holds one MATLAB struct ``data`` with the fields

    vocab      1×V cell of strings (V = 250)
    trainData  4×372550   columns (w₁, w₂, w₃, target), 1-based word numbers
    validData  4×46568
    testData   4×46568

Reading it needs scipy (the optional extra ``mat``), imported only when such
a file is opened. Anything that is not such a file is refused with one line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .corpus import HINTON_SIZES, MAX_VOCAB_SIZE, Corpus
from .errors import CorpusError

SPLITS = (("train", "trainData"), ("valid", "validData"), ("test", "testData"))
NEEDS_SCIPY = (
    "reading .mat files needs scipy, which is not installed: run `uv sync --extra mat` "
    "(or `pip install 'backprop-explorer[mat]'`)"
)


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _read(path: Path) -> dict:
    try:
        import scipy.io
    except ImportError:
        raise CorpusError(NEEDS_SCIPY) from None
    try:
        return scipy.io.loadmat(str(path), simplify_cells=True)
    except FileNotFoundError:
        raise CorpusError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise CorpusError(f"{path} is a folder, not a .mat file") from None
    except PermissionError as err:
        raise CorpusError(f"cannot read {path}: {err.strerror or err}") from None
    except NotImplementedError:
        raise CorpusError(
            f"{path.name} is a MATLAB v7.3 (HDF5) file, which cannot be read; save it in MATLAB with -v7"
        ) from None
    except MemoryError:
        raise CorpusError(f"{path.name} is too large to load into memory") from None
    except Exception as err:  # scipy reports a corrupt file with many exception types
        raise CorpusError(f"{path.name} is not a readable MATLAB .mat file ({_one_line(err)})") from None


def _vocab(name: str, raw) -> list[str]:
    if isinstance(raw, str):  # a cell of one string comes back as the string
        raw = [raw]
    words = np.asarray(raw, dtype=object).ravel() if isinstance(raw, (list, tuple, np.ndarray)) else None
    if words is None or not all(isinstance(w, str) for w in words):
        raise CorpusError(f"{name}: data.vocab must be a cell array of words")
    vocab = [w.strip() for w in words]
    if len(vocab) < 2 or len(vocab) > MAX_VOCAB_SIZE:
        raise CorpusError(
            f"{name}: data.vocab must hold between 2 and {MAX_VOCAB_SIZE:,} words, it holds {len(vocab):,}"
        )
    if any(not w or "\0" in w for w in vocab):
        raise CorpusError(f"{name}: data.vocab holds an empty or unreadable word")
    if len(set(vocab)) != len(vocab):
        raise CorpusError(f"{name}: data.vocab lists a word twice")
    return vocab


def _rows(name: str, key: str, raw, V: int) -> np.ndarray:
    """A 4×M matrix of 1-based word numbers as 0-based rows (M, 4) int32."""
    a = raw if isinstance(raw, np.ndarray) else None
    if a is None or a.dtype.kind not in "fiu":
        raise CorpusError(f"{name}: data.{key} must be a numeric matrix")
    if a.ndim == 1 and a.size == 4:  # a single column comes back without its second dimension
        a = a.reshape(4, 1)
    if a.ndim != 2 or a.shape[0] != 4:
        raise CorpusError(f"{name}: data.{key} has shape {'×'.join(map(str, a.shape))}, expected 4 rows")
    if a.shape[1] == 0:
        raise CorpusError(f"{name}: data.{key} is empty")
    if a.dtype.kind == "f" and not (np.isfinite(a).all() and (a == np.round(a)).all()):
        raise CorpusError(f"{name}: data.{key} holds numbers that are not whole word numbers")
    if a.min() < 1 or a.max() > V:
        raise CorpusError(f"{name}: data.{key} holds word numbers outside 1..{V}")
    return np.ascontiguousarray(a.T.astype(np.int32) - 1)


def load_mat(path) -> Corpus:
    """The ``data`` struct of a course ``data.mat``; CorpusError for anything else."""
    path = Path(path)
    name = path.name
    contents = _read(path)
    data = contents.get("data")
    if data is None and all(k in contents for _, k in SPLITS):
        data = contents  # the fields saved as separate variables
    if not isinstance(data, dict):
        raise CorpusError(f"{name} has no struct 'data' (expected fields vocab, trainData, validData, testData)")
    missing = [k for k in ("vocab", *(k for _, k in SPLITS)) if k not in data]
    if missing:
        fields = "fields" if len(missing) > 1 else "field"
        raise CorpusError(f"{name}: the struct 'data' lacks the {fields} {', '.join(missing)}")
    try:
        vocab = _vocab(name, data["vocab"])
        rows = {split: _rows(name, key, data[key], len(vocab)) for split, key in SPLITS}
    except MemoryError:
        raise CorpusError(f"{name} is too large to load into memory") from None
    notes = []
    sizes = tuple(len(rows[s]) for s, _ in SPLITS)
    if len(vocab) == 250 and sizes != HINTON_SIZES:
        notes.append("split sizes differ from the original exercise's " + " / ".join(f"{s:,}" for s in HINTON_SIZES))
    return Corpus(
        name=f"MATLAB file {name}",
        kind="mat",
        source=str(path),
        vocab=vocab,
        train=rows["train"],
        valid=rows["valid"],
        test=rows["test"],
        notes=notes,
    )
