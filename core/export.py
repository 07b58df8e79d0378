"""Writing an array to disk for use elsewhere: ``.npy`` for NumPy, ``.csv`` for a spreadsheet.

Files are written to a temporary name in the same folder and renamed into
place (``core.files.atomic_path``), so a failure never leaves a half-written
file under the real name; they get the permissions ``open()`` would give.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from .errors import InputError
from .files import atomic_path

FORMATS = (".npy", ".csv")


def save_array(path, array, *, row_labels=None, col_labels=None) -> Path:
    """Write ``array`` (1-D or 2-D) to ``path``; the suffix (.npy or .csv) picks the format.

    A CSV gets a header row (``col_labels``, or column numbers) and, for a
    2-D array, a first column of ``row_labels`` (or row numbers); numbers are
    written with enough digits to read back exactly.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"export to .npy or .csv, not {path.name!r}")
    a = np.asarray(array)
    if a.ndim not in (1, 2):
        raise InputError(f"only 1-D and 2-D arrays can be exported, this one has shape {a.shape}")
    if not path.parent.is_dir():
        raise InputError(f"cannot write {path}: folder {path.parent} does not exist")
    data = _npy_bytes(a) if suffix == ".npy" else _csv_bytes(a, row_labels, col_labels).encode("utf-8")
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
    except OSError as err:
        raise InputError(f"cannot write {path}: {err.strerror or err}") from None
    return path


def _npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def _csv_bytes(a: np.ndarray, row_labels, col_labels) -> str:
    table = a.reshape(1, -1) if a.ndim == 1 else a
    digits = "%.9g" if table.dtype == np.float32 else "%.17g"

    def cell(v) -> str:
        return digits % v if np.issubdtype(table.dtype, np.floating) else str(v)

    cols = list(col_labels) if col_labels is not None else [str(j) for j in range(table.shape[1])]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    if a.ndim == 1:
        w.writerow(cols)
        w.writerow([cell(v) for v in table[0]])
    else:
        rows = list(row_labels) if row_labels is not None else [str(i) for i in range(table.shape[0])]
        w.writerow([""] + cols)
        for label, values in zip(rows, table):
            w.writerow([label] + [cell(v) for v in values])
    return out.getvalue()
