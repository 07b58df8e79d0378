"""Checkpoints: a faithful round trip, atomic saves, and loads that refuse anything odd in one line.

A checkpoint must never be able to run code: the pickle tests build files
whose unpickling would create a file, show that a plain ``np.load`` with
pickling allowed really does create it, and that ``checkpoint.load`` refuses
them with the file never created.
"""

import io
import json
import os
import pickle
import select
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core import checkpoint
from core.errors import CheckpointError
from core.history import History
from core.model import Config, FourGramModel
from core.trainer import Trainer

VOCAB = [f"word{i}" for i in range(20)]
CONFIG = Config(embed_dim=4, hidden_dim=6, learning_rate=0.05, momentum=0.5, batch_size=10, seed=7)
ROOT = Path(__file__).resolve().parents[1]


from _support import PERMISSIONS_APPLY  # noqa: E402


def make_model(vocab=VOCAB, config=CONFIG) -> FourGramModel:
    """A model with non-trivial weights and velocities (one real training step)."""
    model = FourGramModel(vocab, config)
    rng = np.random.default_rng(0)
    x = rng.integers(0, len(vocab), size=(8, 3))
    t = rng.integers(0, len(vocab), size=8)
    model.forward(x, t)
    model.backward()
    model.apply_update()
    return model


def make_history() -> History:
    h = History()
    for i in range(25):
        h.add_train(3.0 - 0.01 * i)
    h.valid += [(10, 2.9), (20, 2.8)]
    h.test.append((25, 2.85))
    h.epoch_ends += [12, 24]
    return h


@pytest.fixture
def saved(tmp_path) -> Path:
    return checkpoint.save(tmp_path / "run.npz", make_model(), make_history(), step=25, corpus_name="test corpus")


def refused(path, **kwargs) -> str:
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path, **kwargs)
    message = str(info.value)
    assert message and "\n" not in message, message
    return message


def arrays_of(path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def rewrite(path, arrays: dict, *, allow_pickle=False) -> Path:
    """Write ``arrays`` as an .npz at ``path`` (what a tampered or foreign checkpoint looks like)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for key, value in arrays.items():
            with z.open(key + ".npy", "w") as f:
                np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=allow_pickle)
    Path(path).write_bytes(buf.getvalue())
    return Path(path)


def with_meta(arrays: dict, **changes) -> dict:
    meta = json.loads(str(arrays["meta"]))
    for k, v in changes.items():
        if k == "config":
            meta["config"].update(v)
        else:
            meta[k] = v
    return {**arrays, "meta": np.array(json.dumps(meta))}


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# ---- the round trip ------------------------------------------------------------------------------


def test_save_and_load_give_back_everything(tmp_path):
    model, history = make_model(), make_history()
    path = checkpoint.save(tmp_path / "run.npz", model, history, step=25, corpus_name="test corpus")
    assert path == tmp_path / "run.npz" and temp_files(tmp_path) == []
    ckpt = checkpoint.load(path, vocab=VOCAB)
    assert ckpt.config == CONFIG and ckpt.vocab == VOCAB and ckpt.step == 25 and ckpt.corpus_name == "test corpus"
    for k, v in model.state().items():
        np.testing.assert_array_equal(ckpt.state[k], v)
        assert ckpt.state[k].dtype == np.float64
    assert any(np.abs(ckpt.state["v_" + k]).max() > 0 for k in ("W_h", "W_o"))  # velocities really saved
    np.testing.assert_array_equal(ckpt.history.train_ce, history.train_ce)
    assert ckpt.history.valid == history.valid and ckpt.history.test == history.test
    assert ckpt.history.epoch_ends == history.epoch_ends
    rebuilt = ckpt.build_model()
    for k in model.params:
        np.testing.assert_array_equal(rebuilt.params[k], model.params[k])
        np.testing.assert_array_equal(rebuilt.velocity[k], model.velocity[k])
    x = np.array([[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(rebuilt.forward(x), model.forward(x))


def test_unicode_words_and_an_empty_history_survive(tmp_path):
    vocab = ["naïve", "café", "日本", "größe", "ñ", "x"]
    model = make_model(vocab)
    ckpt = checkpoint.load(checkpoint.save(tmp_path / "u.npz", model), vocab=vocab)
    assert ckpt.vocab == vocab and len(ckpt.history) == 0 and ckpt.history.valid == [] and ckpt.step == 0


def test_a_trainer_continues_from_its_checkpoint(tmp_path, demo_corpus):
    trainer = Trainer(demo_corpus, CONFIG)
    trainer.run(5)
    path = trainer.save(tmp_path / "t.npz")
    again = Trainer.from_checkpoint(demo_corpus, path)
    assert again.step == trainer.step == 5 and again.config == trainer.config
    np.testing.assert_array_equal(again.history.train_ce, trainer.history.train_ce)
    for k in trainer.model.params:
        np.testing.assert_array_equal(again.model.params[k], trainer.model.params[k])


@pytest.mark.parametrize("hidden_dims, activations", [((), "sigmoid"), ((5, 4, 3), ("relu", "tanh", "sigmoid"))])
def test_the_architecture_is_saved_and_rebuilt(tmp_path, hidden_dims, activations):
    config = CONFIG.replace(hidden_dims=hidden_dims, activations=activations)
    model = make_model(config=config)
    ckpt = checkpoint.load(checkpoint.save(tmp_path / "deep.npz", model), vocab=VOCAB)
    assert ckpt.config == config and ckpt.config.activations == model.config.activations
    rebuilt = ckpt.build_model()
    assert list(rebuilt.params) == list(model.params) and [s.name for s in rebuilt.stage_specs] == [
        s.name for s in model.stage_specs]
    for k in model.params:
        np.testing.assert_array_equal(rebuilt.params[k], model.params[k])
        np.testing.assert_array_equal(rebuilt.velocity[k], model.velocity[k])


def test_a_version_1_checkpoint_of_one_hidden_layer_still_loads(saved):
    arrays = arrays_of(saved)
    meta = json.loads(str(arrays["meta"]))
    old = {k: v for k, v in meta["config"].items() if k not in ("hidden_dims", "activations")}
    old.update(hidden_dim=meta["config"]["hidden_dims"][0], activation=meta["config"]["activations"][0])
    meta.update(version=1, config=old)
    rewrite(saved, {**arrays, "meta": np.array(json.dumps(meta))})
    ckpt = checkpoint.load(saved, vocab=VOCAB)
    assert ckpt.config == CONFIG and ckpt.step == 25
    model = make_model()
    for k in model.params:
        np.testing.assert_array_equal(ckpt.build_model().params[k], model.params[k])


def test_saving_keeps_the_permissions_of_the_file_it_replaces(saved):
    saved.chmod(0o640)
    checkpoint.save(saved, make_model())
    assert saved.stat().st_mode & 0o777 == 0o640


# ---- atomic saves --------------------------------------------------------------------------------


def _fails_midway(exc):
    """A savez_compressed that writes part of the file, then fails like a full disk or a ^C."""
    real = np.savez_compressed

    def fake(f, **arrays):
        buf = io.BytesIO()
        real(buf, **arrays)
        f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
        raise exc

    return fake


@pytest.mark.parametrize(
    "exc,expected",
    [(OSError(28, "No space left on device"), CheckpointError), (KeyboardInterrupt(), KeyboardInterrupt)],
)
def test_a_save_that_fails_midway_leaves_the_old_checkpoint_intact(saved, monkeypatch, exc, expected):
    before = saved.read_bytes()
    monkeypatch.setattr(checkpoint.np, "savez_compressed", _fails_midway(exc))
    bigger = make_model(config=CONFIG.replace(hidden_dim=30))
    with pytest.raises(expected) as info:
        checkpoint.save(saved, bigger, step=99)
    if expected is CheckpointError:
        assert str(info.value) == f"cannot save {saved}: No space left on device"
    monkeypatch.undo()
    assert saved.read_bytes() == before
    assert checkpoint.load(saved).step == 25
    assert temp_files(saved.parent) == []


def test_a_rename_that_fails_leaves_the_old_checkpoint_intact(saved, monkeypatch):
    before = saved.read_bytes()

    def no_rename(src, dst):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(checkpoint.os, "replace", no_rename)
    with pytest.raises(CheckpointError, match="Input/output error"):
        checkpoint.save(saved, make_model(), step=99)
    assert saved.read_bytes() == before and temp_files(saved.parent) == []


_KILLED_SAVE = """
import os, sys
import numpy as np
from core import checkpoint
from core.model import Config, FourGramModel

real_fdopen = os.fdopen

class Stalls:
    # Writes through to the temporary file; once 1 MB is written, says so and waits to be killed.
    def __init__(self, f):
        self.f, self.n = f, 0
    def write(self, data):
        n = self.f.write(data)
        self.n += n
        if self.n > 1_000_000:
            self.f.flush()
            print("midway", flush=True)
            sys.stdin.read()
        return n
    def __getattr__(self, name):
        return getattr(self.f, name)
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return self.f.__exit__(*exc)

checkpoint.os.fdopen = lambda fd, mode: Stalls(real_fdopen(fd, mode))
model = FourGramModel([f"w{i}" for i in range(3000)], Config(embed_dim=20, hidden_dim=300, init_std=1.0))
checkpoint.save(sys.argv[1], model, step=123)
print("finished", flush=True)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_save_killed_midway_leaves_the_old_checkpoint_intact(saved):
    before = saved.read_bytes()
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_SAVE, str(saved)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "the saving process never got midway"
        assert proc.stdout.readline().strip() == "midway", proc.stderr.read()
        partial = temp_files(saved.parent)
        assert len(partial) == 1 and (saved.parent / partial[0]).stat().st_size > 1_000_000
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdin.close()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert saved.read_bytes() == before
    ckpt = checkpoint.load(saved, vocab=VOCAB)
    assert ckpt.step == 25 and ckpt.config == CONFIG
    # A kill leaves its temporary file behind; a later save removes it once it is stale.
    leftover = saved.parent / partial[0]
    assert leftover.exists()
    old = time.time() - 3600
    os.utime(leftover, (old, old))
    checkpoint.save(saved, make_model(), step=26)
    assert temp_files(saved.parent) == [] and checkpoint.load(saved).step == 26


def test_a_later_save_leaves_a_fresh_temporary_file_of_another_save_alone(saved):
    fresh = saved.parent / f".{saved.name}.inprogress.tmp"
    fresh.write_bytes(b"another save at work")
    checkpoint.save(saved, make_model())
    assert fresh.exists()


def test_saving_under_an_impossible_name_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="not a valid file name"):
        checkpoint.save(tmp_path / "nul\0.npz", make_model())
    with pytest.raises(CheckpointError, match="File name too long"):
        checkpoint.save(tmp_path / ("x" * 300 + ".npz"), make_model())
    assert temp_files(tmp_path) == []


def test_a_long_but_valid_file_name_saves(tmp_path):
    path = tmp_path / ("x" * 240 + ".npz")
    checkpoint.save(path, make_model(), step=4)
    assert checkpoint.load(path).step == 4 and temp_files(tmp_path) == []


def test_saving_into_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint.save(tmp_path / "no such folder" / "x.npz", make_model())


def test_saving_onto_a_folder_or_under_a_file_is_refused(tmp_path, saved):
    with pytest.raises(CheckpointError, match="it is a folder"):
        checkpoint.save(tmp_path, make_model())
    with pytest.raises(CheckpointError, match="is not a folder"):
        checkpoint.save(saved / "x.npz", make_model())


def test_saving_where_files_cannot_be_created_is_refused(saved, monkeypatch):
    """What a read-only folder does (simulated: tests may run as root, which may write anywhere)."""
    before = saved.read_bytes()

    def denied(**kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(checkpoint.tempfile, "mkstemp", denied)
    with pytest.raises(CheckpointError, match="Permission denied"):
        checkpoint.save(saved, make_model())
    assert saved.read_bytes() == before


@pytest.mark.skipif(not PERMISSIONS_APPLY, reason="this user writes anywhere (root)")
def test_saving_into_a_read_only_folder_is_refused(saved):
    before = saved.read_bytes()
    saved.parent.chmod(0o555)
    try:
        with pytest.raises(CheckpointError, match="Permission denied"):
            checkpoint.save(saved, make_model())
    finally:
        saved.parent.chmod(0o755)
    assert saved.read_bytes() == before


def test_a_vocabulary_that_cannot_be_stored_is_refused_before_writing(tmp_path):
    model = make_model(["a\0", "a", "b"])
    with pytest.raises(CheckpointError, match="vocabulary word cannot be stored"):
        checkpoint.save(tmp_path / "x.npz", model)
    assert list(tmp_path.iterdir()) == []


def test_saving_non_finite_weights_is_refused(tmp_path, saved):
    model = make_model()
    model.params["W_o"][0, 0] = np.nan
    before = saved.read_bytes()
    with pytest.raises(CheckpointError, match="non-finite"):
        checkpoint.save(saved, model)
    assert saved.read_bytes() == before and temp_files(tmp_path) == []


# ---- files that are not checkpoints --------------------------------------------------------------


def test_truncated_checkpoints_are_refused(tmp_path, saved):
    data = saved.read_bytes()
    for cut in (1, 2, 4, 10, 30, 100, len(data) // 4, len(data) // 2, len(data) - 100, len(data) - 22, len(data) - 1):
        msg = refused(write_bytes(tmp_path / "cut.npz", data[:cut]))
        assert "cut.npz" in msg, (cut, msg)


def test_a_damaged_byte_is_refused(tmp_path, saved):
    data = bytearray(saved.read_bytes())
    for at in (200, len(data) // 2, len(data) // 3 * 2):
        damaged = bytearray(data)
        damaged[at] ^= 0xFF
        refused(write_bytes(tmp_path / "damaged.npz", bytes(damaged)))


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "is empty"),
        (b"weights: 1 2 3\n", "is not a checkpoint (.npz) file"),
        (np.random.default_rng(0).bytes(5000), "is not a checkpoint (.npz) file"),
        (pickle.dumps({"W_emb": [1, 2]}), "is a pickled Python object"),
        ("npy", "is a single NumPy array (.npy), not a checkpoint (.npz)"),
        ("empty zip", "is missing the field 'meta'"),
        ("other zip", "is missing the field 'meta'"),
        ("PK junk", "truncated or corrupt"),
    ],
)
def test_files_that_are_not_checkpoints_are_refused(tmp_path, content, message):
    path = tmp_path / "model.npz"
    if content == "npy":
        np.save(path.with_suffix(".npy"), np.zeros((3, 3)))
        path.with_suffix(".npy").rename(path)
    elif content in ("empty zip", "other zip"):
        with zipfile.ZipFile(path, "w") as z:
            if content == "other zip":
                z.writestr("document.xml", "<xml/>")
    elif content == "PK junk":
        path.write_bytes(b"PK\x03\x04" + bytes(100))
    else:
        path.write_bytes(content)
    assert message in refused(path)


def test_missing_paths_folders_and_dangling_links_are_refused(tmp_path):
    assert "no such checkpoint" in refused(tmp_path / "nothing.npz")
    assert "is not a valid file name" in refused(tmp_path / "nul\0.npz")
    assert "is a folder" in refused(tmp_path)
    link = tmp_path / "link.npz"
    link.symlink_to(tmp_path / "gone.npz")
    assert "link to a file that does not exist" in refused(link)


@pytest.mark.skipif(not PERMISSIONS_APPLY, reason="this user reads files whatever their permissions (root)")
def test_an_unreadable_checkpoint_is_refused(saved):
    saved.chmod(0)
    try:
        assert "Permission denied" in refused(saved)
    finally:
        saved.chmod(0o644)


# ---- checkpoints that do not fit ----------------------------------------------------------------


def test_a_checkpoint_for_another_vocabulary_is_refused(saved):
    other = VOCAB[:-1] + ["zebra"]
    assert "made for another vocabulary" in refused(saved, vocab=other)
    assert "20 words; the corpus has 250" in refused(saved, vocab=[f"w{i}" for i in range(250)])
    assert "same words in another order" in refused(saved, vocab=VOCAB[::-1])


def test_a_trainer_refuses_a_checkpoint_for_another_corpus(saved, demo_corpus):
    with pytest.raises(CheckpointError, match="made for another vocabulary"):
        Trainer.from_checkpoint(demo_corpus, saved)


@pytest.mark.parametrize(
    "key,shape",
    [("W_emb", (20, 5)), ("W_h", (12, 7)), ("b_h", (6, 1)), ("W_o", (6, 21)), ("v_b_o", (19,)), ("v_W_h", ())],
)
def test_arrays_of_the_wrong_shape_are_refused(saved, key, shape):
    arrays = arrays_of(saved)
    arrays[key] = np.zeros(shape)
    msg = refused(rewrite(saved, arrays))
    assert f"{key} has shape {shape}" in msg and "need" in msg


def test_hyperparameters_that_do_not_match_the_arrays_are_refused(saved):
    assert "W_h has shape (12, 6), the hyperparameters and vocabulary need (12, 8)" in refused(
        rewrite(saved, with_meta(arrays_of(saved), config={"hidden_dims": [8]}))
    )


def test_a_vocabulary_that_does_not_match_the_arrays_is_refused(saved):
    arrays = arrays_of(saved)
    arrays["vocab"] = np.array(VOCAB + ["extra"])
    assert "W_emb has shape (20, 4)" in refused(rewrite(saved, arrays))


@pytest.mark.parametrize(
    "key",
    ["meta", "vocab", "W_emb", "W_h", "b_h", "W_o", "b_o", "v_W_emb", "v_b_o", "history_train_ce", "history_valid"],
)
def test_a_missing_field_is_refused(saved, key):
    arrays = arrays_of(saved)
    del arrays[key]
    assert refused(rewrite(saved, arrays)) == f"run.npz is missing the field '{key}'"


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("W_emb", np.ones((20, 4), dtype=np.int64), "W_emb is not an array of floating-point numbers"),
        ("v_W_o", np.ones((6, 20), dtype=np.complex128), "v_W_o is not an array of floating-point numbers"),
        ("b_h", np.array(["a"] * 6), "b_h is not an array of floating-point numbers"),
        ("vocab", np.arange(20), "the vocabulary is malformed"),
        ("vocab", np.array(VOCAB).reshape(4, 5), "the vocabulary is malformed"),
        ("vocab", np.array(VOCAB[:-1] + ["word0"]), "the vocabulary is malformed"),
        ("meta", np.array(3.5), "the field 'meta' is not readable"),
        ("meta", np.array("{not json"), "the field 'meta' is not readable"),
        ("meta", np.array("[" * 100_000), "the field 'meta' is not readable"),
        ("meta", np.array(["a", "b"]), "meta has shape (2,)"),
        ("meta", np.array(json.dumps({"format": "something else"})), "is not a Backprop Explorer checkpoint"),
        ("history_train_ce", np.array(["x", "y"]), "the loss history is malformed"),
        ("history_valid", np.ones(3), "the loss history is malformed"),
        ("history_epoch_ends", np.array([-5]), "the loss history is malformed"),
    ],
)
def test_fields_of_the_wrong_kind_are_refused(saved, key, value, message):
    arrays = arrays_of(saved)
    arrays[key] = value
    assert message in refused(rewrite(saved, arrays))


def test_float32_weights_are_accepted_as_float64(saved):
    arrays = arrays_of(saved)
    arrays = {k: (v.astype(np.float32) if k[0] in "Wbv" and v.dtype == np.float64 else v) for k, v in arrays.items()}
    ckpt = checkpoint.load(rewrite(saved, arrays))
    assert all(a.dtype == np.float64 for a in ckpt.state.values())


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"version": 3}, "is checkpoint version 3, this program reads 1 and 2"),
        ({"config": {"hidden_dims": [0]}}, "hidden dim must be between"),
        ({"config": {"hidden_dims": [6, 6, 6, 6, 6]}}, "at most 4 hidden layers"),
        ({"config": {"activations": ["softsign"]}}, "activation must be one of"),
        ({"config": {"activations": ["sigmoid", "relu"]}}, "1 hidden layer needs one activation, got 2"),
        ({"config": {"hidden_dim": 6}}, "give hidden_dims or hidden_dim, not both"),
        ({"config": {"learning_rate": "fast"}}, "learning rate must be a finite number"),
        ({"config": {"colour": "blue"}}, "unknown hyperparameter: colour"),
        ({"config": {"\n": None, "a b": 1}}, "unknown hyperparameters: '\\n', 'a b'"),  # one line, whatever the names
        ({"config": {"embed_dim": [4]}}, "embed dim must be a whole number"),
        ({"step": -1}, "the step count is malformed"),
        ({"step": "ten"}, "the step count is malformed"),
        ({"step": True}, "the step count is malformed"),
    ],
)
def test_malformed_metadata_is_refused(saved, changes, message):
    assert message in refused(rewrite(saved, with_meta(arrays_of(saved), **changes)))


def test_hyperparameters_that_are_not_a_table_are_refused(saved):
    arrays = arrays_of(saved)
    meta = json.loads(str(arrays["meta"]))
    for bad in ([["embed_dim", 4]], "sigmoid", None):
        meta["config"] = bad
        arrays["meta"] = np.array(json.dumps(meta))
        assert "the hyperparameters are missing or malformed" in refused(rewrite(saved, arrays))


@pytest.mark.parametrize("key", ["W_emb", "v_W_h", "b_o"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_refused(saved, key, bad):
    arrays = arrays_of(saved)
    arrays[key].flat[3] = bad
    assert f"{key} holds non-finite values" in refused(rewrite(saved, arrays))


def test_a_non_finite_loss_history_is_refused(saved):
    arrays = arrays_of(saved)
    arrays["history_valid"] = np.array([[10, np.inf]])
    assert "the loss history is malformed" in refused(rewrite(saved, arrays))


# ---- checkpoints that try to run code -------------------------------------------------------------


class CreatesAFile:
    """Unpickling this object opens (and so creates) a file: a stand-in for any code a pickle can run."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_the_pickle_in_these_tests_really_runs_code(tmp_path):
    """Control: with pickling allowed, NumPy would run it and create the file."""
    target = tmp_path / "created by unpickling"
    path = rewrite(tmp_path / "evil.npz", {"x": np.array([CreatesAFile(target)], dtype=object)}, allow_pickle=True)
    with np.load(path, allow_pickle=True) as z:
        z["x"]
    assert target.exists()


@pytest.mark.parametrize("where", ["vocab", "W_emb", "meta", "extra field", "history_train_ce"])
def test_a_checkpoint_with_a_pickled_object_is_refused_and_never_unpickled(tmp_path, saved, where):
    target = tmp_path / "created by unpickling"
    arrays = arrays_of(saved)
    bomb = np.array([CreatesAFile(target)], dtype=object)
    arrays["surprise" if where == "extra field" else where] = bomb
    path = rewrite(tmp_path / "evil.npz", arrays, allow_pickle=True)
    msg = refused(path)
    assert "contains pickled Python objects" in msg and "refusing to load it" in msg
    assert not target.exists()


def test_a_plain_pickle_named_npz_is_refused_and_never_unpickled(tmp_path):
    target = tmp_path / "created by unpickling"
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps(CreatesAFile(target)))
    assert "is a pickled Python object" in refused(path)
    assert not target.exists()


def test_a_pickled_npy_inside_a_checkpoint_named_like_a_field_is_refused(tmp_path, saved):
    """An .npy member holding a raw pickle rather than an array header."""
    target = tmp_path / "created by unpickling"
    arrays = arrays_of(saved)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in arrays.items():
            with z.open(k + ".npy", "w") as f:
                if k == "W_h":
                    f.write(pickle.dumps(CreatesAFile(target)))
                else:
                    np.lib.format.write_array(f, v)
    path = write_bytes(tmp_path / "evil.npz", buf.getvalue())
    refused(path)
    assert not target.exists()
