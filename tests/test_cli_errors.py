"""The command line: bad input gives one line on stderr and status 2, a failure status 1, never a traceback."""

import pickle
from pathlib import Path

import numpy as np
import pytest

from core import checkpoint
from core.corpus import load_demo
from core.model import Config, FourGramModel
from explorer.cli import main

PROG = "backprop-explorer"


def run(argv, capsys) -> tuple[int, str, str]:
    """Status, stdout and stderr of ``backprop-explorer argv``; argument errors exit through SystemExit."""
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exit:
        status = exit.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, out, err, expected_status, *fragments):
    assert status == expected_status, (status, out, err)
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(PROG) and "error: " in lines[0], lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def demo_checkpoint(tmp_path_factory) -> Path:
    """An (untrained) network for the demo corpus's vocabulary."""
    model = FourGramModel(load_demo().vocab, Config(embed_dim=4, hidden_dim=8))
    return checkpoint.save(tmp_path_factory.mktemp("cli") / "demo.npz", model)


# ---- bad corpora ---------------------------------------------------------------------------------


def test_a_missing_corpus_file(tmp_path, capsys):
    result = run(["train", "--data", tmp_path / "nope.txt", "--epochs", 1], capsys)
    assert_one_line_error(*result, 2, "no such file or folder", "nope.txt")


@pytest.mark.parametrize(
    "content,fragment",
    [
        (b"", "is empty"),
        (b"   \n\n", "contains no words"),
        (bytes(range(256)) * 40, "does not look like a text file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(50), "does not look like a text file"),
        (b"one two\nthree\n", "no line has 4 or more words"),
    ],
)
def test_a_corpus_file_that_cannot_be_used(tmp_path, capsys, content, fragment):
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    assert_one_line_error(*run(["train", "--data", path, "--epochs", 1], capsys), 2, fragment)


def test_a_folder_that_is_not_a_corpus(tmp_path, capsys):
    assert_one_line_error(*run(["train", "--data", tmp_path, "--epochs", 1], capsys), 2, "is a folder")


def test_a_corpus_too_small_for_the_batch_size(tmp_path, capsys):
    path = tmp_path / "small.txt"
    path.write_text("\n".join(f"the cat number {i} sat on the mat" for i in range(12)))
    assert_one_line_error(*run(["train", "--data", path, "--epochs", 1], capsys), 2, "batch size 100 is larger")


# ---- bad checkpoints -----------------------------------------------------------------------------


class CreatesAFile:
    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_a_missing_checkpoint(tmp_path, capsys):
    result = run(["predict", "--model", tmp_path / "none.npz", "the", "cat", "sat"], capsys)
    assert_one_line_error(*result, 2, "no such checkpoint")


@pytest.mark.parametrize("kind", ["text", "truncated", "random", "npy"])
def test_a_bad_checkpoint(tmp_path, capsys, demo_checkpoint, kind):
    path = tmp_path / "bad.npz"
    if kind == "text":
        path.write_text("not a checkpoint")
    elif kind == "truncated":
        path.write_bytes(demo_checkpoint.read_bytes()[:1000])
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(3000))
    else:
        with open(path, "wb") as f:
            np.save(f, np.zeros(4))
    for argv in (["predict", "--model", path, "a", "b", "c"], ["nearest", "--model", path, "the"]):
        assert_one_line_error(*run(argv, capsys), 2, "bad.npz")


def test_a_pickled_checkpoint_is_refused_and_runs_nothing(tmp_path, capsys, demo_checkpoint):
    target = tmp_path / "created by unpickling"
    with np.load(demo_checkpoint) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["vocab"] = np.array([CreatesAFile(target)], dtype=object)
    path = tmp_path / "evil.npz"
    np.savez(path, **arrays)
    result = run(["predict", "--model", path, "the", "cat", "sat"], capsys)
    assert_one_line_error(*result, 2, "contains pickled Python objects")
    plain = tmp_path / "plain.npz"
    plain.write_bytes(pickle.dumps(CreatesAFile(target)))
    assert_one_line_error(*run(["distance", "--model", plain, "a", "b"], capsys), 2, "pickled Python object")
    assert not target.exists()


# ---- words ---------------------------------------------------------------------------------------


def test_a_good_checkpoint_answers(capsys, demo_checkpoint):
    status, out, err = run(["predict", "--model", demo_checkpoint, "the", "cat", "is", "-k", 3], capsys)
    assert (status, err) == (0, "") and len(out.strip().splitlines()) == 3


@pytest.mark.parametrize(
    "argv",
    [
        ["predict", "--model", "{ckpt}", "the", "zyzzyva", "sat"],
        ["nearest", "--model", "{ckpt}", "zyzzyva"],
        ["distance", "--model", "{ckpt}", "the", "zyzzyva"],
    ],
)
def test_an_unknown_word(capsys, demo_checkpoint, argv):
    argv = [str(demo_checkpoint) if a == "{ckpt}" else a for a in argv]
    assert_one_line_error(*run(argv, capsys), 2, "'zyzzyva' is not in the vocabulary")


def test_the_wrong_number_of_words(capsys, demo_checkpoint):
    assert_one_line_error(*run(["predict", "--model", demo_checkpoint, "the", "cat"], capsys), 2, "at least 3 words")


# ---- hyperparameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "option,value,fragment",
    [
        ("--epochs", "0", "expected a number of at least 1, got 0"),
        ("--epochs", "ten", "expected a whole number, got 'ten'"),
        ("--batch-size", "0", "expected a number of at least 1"),
        ("--lr", "-1", "learning rate must be above 0"),
        ("--lr", "0", "learning rate must be above 0"),
        ("--lr", "nan", "expected a finite number"),
        ("--lr", "1e400", "expected a finite number"),
        ("--momentum", "1", "momentum must be at least 0 and below 1"),
        ("--hidden-dim", "1000000", "hidden dim must be between 1 and 5,000, got 1,000,000"),
        ("--embed-dim", "-5", "expected a number of at least 1"),
        ("--vocab-size", "1", "vocabulary size must be between 2 and 100,000, got 1"),
        ("--vocab-size", "99999999", "vocabulary size must be between 2 and 100,000"),
        ("--activation", "softsign", "activation must be one of sigmoid, tanh, relu, got 'softsign'"),
        ("--hidden-dims", "128,x", "hidden sizes must be whole numbers separated by commas"),
        ("--activation", "relu,tanh", "1 hidden layer needs one activation, got 2"),
        ("--init-std", "0", "init std must be above 0"),
        ("--init-std", "1e-300", "init std must be at least 1e-30, got 1e-300: smaller weights round to 0"),
    ],
)
def test_hyperparameters_that_cannot_work(capsys, option, value, fragment):
    result = run(["train", "--data", "demo", "--epochs", "1", option, value], capsys)
    assert_one_line_error(*result, 2, fragment)


def test_an_unknown_option(capsys):
    assert_one_line_error(*run(["train", "--data", "demo", "--learning-rate", "3"], capsys), 2, "unrecognized")


# ---- failures ------------------------------------------------------------------------------------


def test_divergence_is_a_failure_with_an_explanation(capsys):
    result = run(["train", "--data", "demo", "--lr", "100", "--epochs", "1", "--quiet"], capsys)
    assert_one_line_error(*result, 1, "diverged", "learning rate 100", "last good weights")
    assert "nan" not in result[1].lower()


def test_saving_where_it_cannot_be_written(tmp_path, capsys):
    argv = ["train", "--data", "demo", "--epochs", "1", "--hidden-dim", "8", "--embed-dim", "4", "--quiet"]
    result = run(argv + ["--save", tmp_path / "missing folder" / "x.npz"], capsys)
    assert_one_line_error(*result, 2, "cannot save", "does not exist")
