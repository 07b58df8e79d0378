"""Property-based tests: random bytes and text fed to the corpus and checkpoint loaders.

Whatever the input, a loader either succeeds (with a well-formed result) or
raises one of the project's own errors with a one-line message. Any other
exception (UnicodeDecodeError, IndexError, ValueError from NumPy, a zip
error...) is a bug.
"""

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from core import checkpoint
from core.corpus import Corpus, load_hinton_folder, load_source, load_text
from core.errors import CheckpointError, CorpusError, ExplorerError
from core.model import Config, FourGramModel
from core.text import tokenize

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NO_SURROGATES = st.characters(blacklist_categories=("Cs",))
WORDS = ["the", "cat", "sat", "on", "mat", "naïve", "日本", "a", "b"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def one_line(err: Exception) -> None:
    message = str(err)
    assert message and "\n" not in message, repr(message)


def check_corpus(c: Corpus) -> None:
    """A corpus that loaded is usable: rows of valid indices, three non-empty splits."""
    assert c.name and c.vocab_size >= 2 and len(set(c.vocab)) == c.vocab_size
    assert all(len(part) > 0 for part in (c.train, c.valid, c.test))
    for part in (c.train, c.valid, c.test):
        assert part.dtype == np.int32 and part.ndim == 2 and part.shape[1] == 4
        assert part.min() >= 0 and part.max() < c.vocab_size
    assert all(isinstance(n, str) and "\n" not in n for n in c.notes)


def load_file(path: Path, data: bytes, vocab_size: int = 250):
    path.write_bytes(data)
    for loader in (load_source, load_text):
        try:
            check_corpus(loader(path, vocab_size))
        except ExplorerError as err:
            assert isinstance(err, CorpusError)
            one_line(err)


# ---- corpora -------------------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=4000))
@example(data=b"")
@example(data=b"\xff\xfe")  # a UTF-16 byte-order mark and nothing else
@example(data=b"\xff\xfe\x00")  # ... and half a character
@example(data=b"\xff\xfe\x00\x00\x00")  # a UTF-32 mark and a partial character
@example(data=b"\xef\xbb\xbf")  # a UTF-8 mark alone
@example(data=b"\xef\xbb\xbfa b c d\ne f g h\ni j k l\n")
@example(data=b"\x00" * 100)
@example(data=b"\r" * 100)
@example(data=b"a b c d\r\n" * 50 + b"\xe9\xe8" * 20)
@example(data=b"MATLAB 5.0 MAT-file")
@example(data=b"\x80" * 3000)
def test_random_bytes_never_crash_the_text_loaders(folder, data):
    load_file(folder / "bytes.txt", data)


@FUZZ
@given(text=st.text(max_size=2000), encoding=st.sampled_from(["utf-8", "utf-16", "utf-32", "utf-8-sig"]))
@example(text="\x00\x01\x02 a b c d", encoding="utf-8")
@example(text="\u2028\u2029\x85\x1c\x1d\x1e\x1f", encoding="utf-8")
@example(text="\ud800", encoding="utf-8")  # a lone surrogate, written with surrogatepass
def test_random_text_in_any_encoding_never_crashes_the_text_loaders(folder, text, encoding):
    load_file(folder / "text.txt", text.encode(encoding, errors="surrogatepass"))


@FUZZ
@given(
    lines=st.lists(
        st.lists(st.sampled_from(WORDS) | st.text(NO_SURROGATES, min_size=1, max_size=5), max_size=12).map(" ".join),
        max_size=60,
    ),
    separator=st.sampled_from(["\n", "\r\n", "\r", "\n\n", "\x0c"]),
    vocab_size=st.integers(2, 30),
)
def test_random_sentences_either_load_with_every_4_gram_or_are_refused(folder, lines, separator, vocab_size):
    path = folder / "sentences.txt"
    text = separator.join(lines)
    path.write_bytes(text.encode("utf-8"))
    try:
        c = load_text(path, vocab_size)
    except CorpusError as err:
        one_line(err)
        return
    check_corpus(c)
    # Every 4-gram of vocabulary words appears exactly once among the three splits.
    counted = sum(c.sizes())
    expected = 0
    vocab = set(c.vocab)
    text = text.removeprefix("\ufeff").replace("\0", " ")  # a byte-order mark; NUL counts as a space
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        t = tokenize(line)  # as the loader cuts text into words
        expected += sum(1 for i in range(len(t) - 3) if set(t[i : i + 4]) <= vocab)
    assert counted == expected


@FUZZ
@given(
    which=st.sampled_from(["vocab.txt", "raw_sentences.txt", "valid_data.csv", "test_data.csv"]),
    data=st.binary(max_size=500) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
@example(which="valid_data.csv", data=b"1,2,3,4\n5,6,7\n")
@example(which="vocab.txt", data=b"the\nthe\n")
def test_a_hinton_folder_with_one_random_file_never_crashes(folder, which, data):
    h = folder / "hinton"
    h.mkdir(exist_ok=True)
    (h / "vocab.txt").write_text("the\ncat\nsat\non\nmat\n")
    (h / "raw_sentences.txt").write_text("the cat sat on the mat\nthe mat sat on the cat\n" * 3)
    (h / "valid_data.csv").write_text("1,2,3,4\n")
    (h / "test_data.csv").write_text("1,5,3,4\n")
    (h / which).write_bytes(data)
    try:
        check_corpus(load_hinton_folder(h))
    except CorpusError as err:
        one_line(err)


# ---- checkpoints ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory) -> bytes:
    model = FourGramModel([f"w{i}" for i in range(12)], Config(embed_dim=3, hidden_dim=4))
    path = checkpoint.save(tmp_path_factory.mktemp("ckpt") / "good.npz", model, step=3)
    return path.read_bytes()


def load_checkpoint(path: Path, data: bytes):
    path.write_bytes(data)
    try:
        ckpt = checkpoint.load(path)
    except ExplorerError as err:
        assert isinstance(err, CheckpointError)
        one_line(err)
        return None
    assert all(np.isfinite(a).all() for a in ckpt.state.values())
    ckpt.build_model()
    return ckpt


@FUZZ
@given(data=st.binary(max_size=3000))
@example(data=b"")
@example(data=b"PK\x03\x04")
@example(data=b"PK\x05\x06" + bytes(18))  # an empty zip
@example(data=b"\x93NUMPY\x01\x00")
@example(data=b"\x80\x04K\x01.")  # pickle of 1
def test_random_bytes_never_crash_the_checkpoint_loader(folder, data):
    load_checkpoint(folder / "random.npz", data)


@FUZZ
@given(text=st.text(max_size=2000))
def test_random_text_never_crashes_the_checkpoint_loader(folder, text):
    load_checkpoint(folder / "text.npz", text.encode("utf-8", errors="surrogatepass"))


@FUZZ
@given(data=st.data())
def test_a_damaged_checkpoint_is_refused_or_still_sound(folder, good_checkpoint, data):
    """Cut, or flip bytes anywhere in a real checkpoint."""
    raw = bytearray(good_checkpoint)
    if data.draw(st.booleans(), label="truncate"):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1), label="cut at")]
    else:
        for _ in range(data.draw(st.integers(1, 5), label="flips")):
            at = data.draw(st.integers(0, len(raw) - 1), label="at")
            raw[at] = data.draw(st.integers(0, 255), label="byte")
    load_checkpoint(folder / "damaged.npz", bytes(raw))


FIELDS = [
    "meta", "vocab", "W_emb", "W_h", "b_h", "W_o", "b_o",
    "v_W_emb", "v_W_h", "v_b_h", "v_W_o", "v_b_o",
    "history_train_ce", "history_valid", "history_test", "history_epoch_ends",
]  # fmt: skip

any_array = hnp.arrays(
    dtype=hnp.scalar_dtypes() | hnp.unicode_string_dtypes() | hnp.byte_string_dtypes(),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=5),
)


# Arrays close to the right ones: the right kind and plausible shapes, any values (NaN, inf, huge, negative).
def near_array(key):
    if key.startswith("history"):
        return hnp.arrays(
            dtype=st.sampled_from([np.float64, np.int64, np.float32]),
            shape=st.sampled_from([(0,), (3,), (2, 2), (1, 2), (3, 2), (5,)]),
        )
    if key == "vocab":
        return st.lists(st.text(max_size=4), max_size=14).map(lambda w: np.array(w, dtype=str))
    right = {"W_emb": (12, 3), "W_h": (9, 4), "b_h": (4,), "W_o": (4, 12), "b_o": (12,)}.get(key.removeprefix("v_"))
    shape = st.just(right) | hnp.array_shapes(min_dims=1, max_dims=2) if right else hnp.array_shapes(max_dims=2)
    return hnp.arrays(dtype=st.sampled_from([np.float64, np.float32, np.float16]), shape=shape)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def write_npz(arrays: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, v in arrays.items():
            with zf.open(k + ".npy", "w") as f:
                np.lib.format.write_array(f, v)
    return buf.getvalue()


@FUZZ
@given(data=st.data())
def test_a_checkpoint_with_a_field_replaced_by_any_array_is_refused_or_sound(folder, good_checkpoint, data):
    with np.load(io.BytesIO(good_checkpoint)) as z:
        arrays = {k: z[k] for k in z.files}
    for key in data.draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True), label="fields"):
        how = data.draw(st.sampled_from(["drop", "any", "near"]), label="how")
        if how == "drop":
            del arrays[key]
        else:
            arrays[key] = data.draw(any_array if how == "any" else near_array(key), label=key)
    load_checkpoint(folder / "replaced.npz", write_npz(arrays))


@FUZZ
@given(
    changes=st.dictionaries(
        st.sampled_from(["format", "version", "config", "step", "corpus_name", "other"]), json_values, max_size=3
    ),
    config=st.dictionaries(
        st.sampled_from(
            [
                "embed_dim",
                "hidden_dim",
                "activation",
                "init_std",
                "seed",
                "learning_rate",
                "momentum",
                "batch_size",
                "colour",
            ]
        ),
        json_values,
        max_size=3,
    ),
)
def test_any_metadata_is_refused_or_sound(folder, good_checkpoint, changes, config):
    with np.load(io.BytesIO(good_checkpoint)) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    meta["config"].update(config)
    meta.update(changes)
    arrays["meta"] = np.array(json.dumps(meta))
    load_checkpoint(folder / "meta.npz", write_npz(arrays))
