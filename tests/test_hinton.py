"""The real corpus: the original split exactly, and a short training run that learns.

Skipped when ../shared/data/hinton is absent (see the ``hinton_dir`` fixture).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.hinton


def read_csv(path) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", dtype=np.int64).reshape(-1, 4) - 1


def keys(rows: np.ndarray, V: int) -> np.ndarray:
    r = rows.astype(np.int64)
    return ((r[:, 0] * V + r[:, 1]) * V + r[:, 2]) * V + r[:, 3]


def test_the_original_split(hinton_corpus, hinton_dir):
    c = hinton_corpus
    assert c.sizes() == (372_550, 46_568, 46_568)
    vocab = [w.strip() for w in (hinton_dir / "vocab.txt").read_text().splitlines() if w.strip()]
    assert c.vocab == vocab and len(vocab) == 250
    np.testing.assert_array_equal(c.valid, read_csv(hinton_dir / "valid_data.csv"))
    np.testing.assert_array_equal(c.test, read_csv(hinton_dir / "test_data.csv"))
    assert c.notes == []
    assert "372,550" in c.describe()


def test_training_is_the_multiset_difference(hinton_corpus, hinton_dir):
    """Every 4-gram of raw_sentences.txt is in exactly one split, as often as it occurs."""
    c = hinton_corpus
    index = {w: i for i, w in enumerate(c.vocab)}
    grams = []
    for line in (hinton_dir / "raw_sentences.txt").read_text().lower().splitlines():
        ids = [index[w] for w in line.split()]
        grams += [ids[i : i + 4] for i in range(len(ids) - 3)]
    grams = np.array(grams, dtype=np.int64)
    assert len(grams) == 465_686
    V = len(c.vocab)
    every, n_every = np.unique(keys(grams, V), return_counts=True)
    split, n_split = np.unique(keys(np.concatenate([c.train, c.valid, c.test]), V), return_counts=True)
    np.testing.assert_array_equal(split, every)
    np.testing.assert_array_equal(n_split, n_every)
    assert c.train.dtype == np.int32 and c.train.shape == (372_550, 4)


# One epoch of the classic settings on the fast path (float32), in a fresh process
# whose BLAS runs one thread: with these small matrices a second BLAS thread
# only waits for a core, and on a busy 2-core machine that made the same epoch
# ten times slower.
EPOCH = """
import json, sys
import numpy as np
from core.corpus import load_hinton_folder
from core.trainer import Trainer
tr = Trainer(load_hinton_folder(sys.argv[1]), fast_dtype=np.float32)
done = tr.run(tr.batches_per_epoch)
ce = tr.history.train_ce
print(json.dumps({
    "per_epoch": tr.batches_per_epoch, "done": done, "valid": tr.history.valid,
    "finite": bool(np.isfinite(ce).all()), "first": float(ce[:200].mean()), "last": float(ce[-200:].mean()),
}))
"""


def test_one_epoch_learns(hinton_dir):
    """One epoch gets the validation CE well below a uniform guess (ln 250 = 5.52)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", EPOCH, str(hinton_dir)],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout.strip().splitlines()[-1])
    assert r["per_epoch"] == r["done"] == 3725
    step, ce = r["valid"][-1]
    assert step == 3725
    assert ce < 3.4
    assert r["finite"]
    assert r["last"] < r["first"] - 1.0
