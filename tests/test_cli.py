"""The headless command line: train, predict, nearest, distance, and how it reports errors."""

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core import checkpoint
from explorer.cli import main

FINAL = [
    re.compile(r"^Final Training CE \d+\.\d{3}$"),
    re.compile(r"^Final Validation CE \d+\.\d{3}$"),
    re.compile(r"^Final Test CE \d+\.\d{3}$"),
]


def run_main(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One epoch on the demo corpus with a checkpoint: (status, stdout, stderr, checkpoint path)."""
    path = tmp_path_factory.mktemp("cli") / "demo.npz"
    status, out, err = run_main(["train", "--data", "demo", "--epochs", "1", "--save", str(path)])
    return status, out, err, path


def test_train_prints_progress_and_the_three_final_lines(trained):
    status, out, err, _ = trained
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert any(re.search(r"batch +\d+/222  Train CE \d\.\d{3}$", line) for line in lines), out
    valid = [line for line in lines if re.search(r"batch +\d+/222  Validation CE \d\.\d{3}$", line)]
    assert len(valid) >= 4  # at intervals (every 55 minibatches) and at the epoch end
    assert "222/222  Validation CE" in valid[-1]
    finals = [line for line in lines if line.startswith("Final")]
    assert len(finals) == 3
    for pattern, line in zip(FINAL, finals):
        assert pattern.match(line), line
    assert any(re.match(r"^Time \d+\.\d s \(\d+\.\d\d s per epoch\)$", line) for line in lines)
    assert lines[-1].startswith("Saved checkpoint")
    assert "Traceback" not in out
    assert "asked for" not in out  # no vocabulary size was asked for: no note about one


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_train_on_a_terminal_draws_a_tqdm_bar_with_rate_and_time_left():
    out = FakeTerminal()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["train", "--data", "demo", "--epochs", "1", "--hidden-dims", "20"]) == 0
    text = out.getvalue()
    drawn = [part for part in re.split(r"[\r\n]", text) if part.startswith("Epoch 1/1:")]
    assert drawn, text
    # tqdm's bar: minibatches done of the epoch, elapsed<time left, the rate, the running CE
    assert any(re.search(r"\d+/222 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+(minibatch/s|s/minibatch), Train CE \d\.\d{3}\]", p) for p in drawn), drawn
    assert "[####" not in text and "...]" not in text  # not the hand-drawn bar
    lines = text.replace("\r", "\n").splitlines()  # the validation lines print above the bar, whole
    assert sum(bool(re.fullmatch(r"Epoch 1/1  batch +\d+/222  Validation CE \d\.\d{3}", line.strip())) for line in lines) >= 4
    assert any(line.startswith("Epoch 1/1 done: mean Train CE") for line in lines)
    assert re.search(r"^Final Test CE \d\.\d{3}$", text, re.M)


def final_value(out, which):
    return float(re.search(rf"^Final {which} CE (\d+\.\d+)$", out, re.M).group(1))


def test_the_checkpoint_holds_the_run(trained, demo_corpus):
    status, out, _, path = trained
    ckpt = checkpoint.load(path, vocab=demo_corpus.vocab)
    assert ckpt.step == 222 and len(ckpt.history) == 222
    assert round(float(ckpt.history.train_ce.mean()), 3) == final_value(out, "Training")
    model = ckpt.build_model()
    assert model.evaluate(demo_corpus.valid) == pytest.approx(final_value(out, "Validation"), abs=1.5e-3)
    assert model.evaluate(demo_corpus.test) == pytest.approx(final_value(out, "Test"), abs=1.5e-3)
    # One epoch learned something: well below a uniform guess (ln 236 = 5.46).
    assert final_value(out, "Validation") < 4.8


def test_the_validation_passes_run_beside_training_give_a_plain_runs_values(trained, demo_corpus):
    """`train` evaluates the validation set on a second thread while it trains: the printed lines and the
    checkpoint's history are those of a trainer that validates inline."""
    from core.trainer import Trainer

    _, out, _, path = trained
    plain = Trainer(demo_corpus)
    plain.run(222)
    assert checkpoint.load(path, vocab=demo_corpus.vocab).history.valid == plain.history.valid
    printed = [
        (int(m.group(1)), float(m.group(2)))
        for m in re.finditer(r"batch +(\d+)/222  Validation CE (\d\.\d{3})$", out, re.M)
    ]
    assert printed == [(step, round(ce, 3)) for step, ce in plain.history.valid]


def test_train_prints_its_lines_in_minibatch_order_when_validation_lags_behind(monkeypatch):
    """A validation pass still running when a Train CE line is due: the line waits, nothing is printed early."""
    from core.trainer import Trainer

    collect = Trainer.collect_validations

    def slow(self, deadline=None):  # the other thread has not finished any pass until the epoch's end waits
        return False if deadline is not None else collect(self, deadline)

    monkeypatch.setattr(Trainer, "collect_validations", slow)
    status, out, _err = run_main(["train", "--data", "demo", "--epochs", "1"])
    assert status == 0
    lines = re.findall(r"^Epoch 1/1  batch +(\d+)/222  (Train|Validation) CE \d\.\d{3}$", out, re.M)
    kinds = {kind for _b, kind in lines}
    assert kinds == {"Train", "Validation"} and len(lines) >= 6
    batches = [int(b) for b, _kind in lines]
    assert batches == sorted(batches), out


def test_predict_nearest_distance_read_the_checkpoint(trained, capsys):
    path = trained[3]
    model = checkpoint.load(path).build_model()

    assert main(["predict", "--model", str(path), "she", "went", "to", "-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = model.predict(["she", "went", "to"], k=3)
    assert len(lines) == 3
    for line, (word, p) in zip(lines, expected):
        got_word, got_p = line.split()
        assert got_word == word and float(got_p) == pytest.approx(p, abs=5e-5)

    assert main(["nearest", "--model", str(path), "morning", "-k", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [w for w, _ in model.nearest("morning", k=4)]
    assert "morning" not in [line.split()[0] for line in lines]
    dists = [float(line.split()[1]) for line in lines]
    assert dists == sorted(dists)

    assert main(["distance", "--model", str(path), "morning", "evening"]) == 0
    line = capsys.readouterr().out.strip()
    d = model.config.embed_dim
    said = re.fullmatch(rf"Euclidean distance between the embeddings of 'morning' and 'evening' \(d={d}\): (\d+\.\d{{3}})",
                        line)
    assert said, line
    shown = float(said[1])
    W = model.params["W_emb"]
    by_hand = float(np.sqrt(((W[model.word_index("morning")] - W[model.word_index("evening")]) ** 2).sum()))
    assert shown == pytest.approx(by_hand, abs=5e-4)
    assert main(["distance", "--model", str(path), "evening", "morning"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"'evening' and 'morning' (d={d}): {shown:.3f}")


def one_line_error(capsys, argv, status=2, *words):
    assert main(argv) == status
    captured = capsys.readouterr()
    err = captured.err
    assert err.count("\n") == 1 and err.startswith("backprop-explorer"), err
    assert "Traceback" not in err + captured.out
    for w in words:
        assert w in err, err
    return err


def test_bad_option_values(capsys):
    one_line_error(capsys, ["train", "--data", "demo", "--lr", "abc"], 2, "--lr", "abc")
    one_line_error(capsys, ["train", "--data", "demo", "--batch-size", "0"], 2, "--batch-size")
    one_line_error(capsys, ["train", "--data", "demo", "--epochs", "two"], 2, "--epochs")
    one_line_error(capsys, ["train", "--data", "demo", "--lr", "nan"], 2, "--lr")
    one_line_error(capsys, ["train", "--data", "demo", "--activation", "softplus"], 2, "softplus")
    one_line_error(capsys, ["train", "--data", "demo", "--lr", "-1"], 2, "learning rate")
    one_line_error(capsys, ["train", "--data", "demo", "--momentum", "1"], 2, "momentum")
    one_line_error(capsys, ["train", "--data", "demo", "--hidden-dim", "1000000"], 2, "hidden dim")
    one_line_error(capsys, ["train", "--data", "demo", "--batch-size", "100000"], 2, "batch size")
    one_line_error(capsys, ["predict", "--model", "x.npz", "a", "b"], 2)
    one_line_error(capsys, ["frobnicate"], 2)


def test_missing_files(capsys, tmp_path):
    one_line_error(capsys, ["train", "--data", str(tmp_path / "nothing.txt")], 2, "nothing.txt")
    one_line_error(capsys, ["predict", "--model", str(tmp_path / "none.npz"), "a", "b", "c"], 2, "none.npz")
    one_line_error(capsys, ["nearest", "--model", str(tmp_path), "morning"], 2)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all")
    one_line_error(capsys, ["distance", "--model", str(garbage), "a", "b"], 2, "garbage.npz")
    one_line_error(
        capsys, ["train", "--data", "demo", "--save", str(tmp_path / "no" / "such" / "m.npz")], 2, "does not exist"
    )


def test_unknown_words(capsys, trained):
    path = str(trained[3])
    err = one_line_error(capsys, ["predict", "--model", path, "she", "went", "xyzzy"], 2, "xyzzy", "vocabulary")
    assert "nearest vocabulary words" in err
    one_line_error(capsys, ["nearest", "--model", path, "mornin"], 2, "mornin", "morning")
    one_line_error(capsys, ["distance", "--model", path, "morning", "qqq"], 2, "qqq")


def test_predict_takes_any_number_of_words_and_uses_the_last_three_as_the_window_does(trained, capsys):
    path = str(trained[3])
    model = checkpoint.load(path).build_model()
    assert main(["predict", "--model", path, "on", "monday", "she", "went", "to", "-k", "3"]) == 0
    captured = capsys.readouterr()
    assert [line.split()[0] for line in captured.out.splitlines()] == [w for w, _ in model.predict(["she", "went", "to"], 3)]
    assert "the last three of 5 words: she went to" in captured.err
    # punctuation is cut off as in the corpus ("rains," is "rains ,") and counts as a word
    assert main(["predict", "--model", path, "it", "rains,", "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == [w for w, _ in model.predict(["it", "rains", ","], 2)]
    err = one_line_error(capsys, ["predict", "--model", path, "she", "went"], 2, "at least 3 words", "got 2 words")
    assert "she went" in err
    one_line_error(capsys, ["predict", "--model", path, "she"], 2, "got 1 word:")


def test_download_says_how_to_use_the_corpus_with_the_readmes_command(capsys, tmp_path):
    hinton = Path(__file__).resolve().parents[2] / "shared" / "data" / "hinton"
    if not (hinton / "vocab.txt").is_file():
        pytest.skip(f"the real corpus is not at {hinton}")
    assert main(["download", "--from", hinton.as_uri() + "/", "--dest", str(tmp_path / "dl")]) == 0
    out = capsys.readouterr().out
    assert "Use it with: uv run backprop-explorer train --data hinton" in out


def test_divergence_exits_1_with_the_message(capsys):
    assert main(["train", "--data", "demo", "--epochs", "1", "--lr", "100", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert "diverged" in captured.err and "smaller learning rate" in captured.err
    assert "Traceback" not in captured.err and "Final" not in captured.out


def test_the_console_script(tmp_path):
    """The installed entry point itself, in a fresh process."""
    script = Path(sys.executable).with_name("backprop-explorer")
    assert script.is_file(), f"the console script is not installed next to {sys.executable}"
    result = subprocess.run(
        [str(script), "train", "--data", "demo", "--epochs", "1", "--quiet", "--hidden-dim", "50"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # not the source folder: the installed package must find its assets
        # One BLAS thread: on a busy 2-core machine a second one only waits for a core.
        env={**os.environ, "PYTHONPATH": "", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [p.match(line) is not None for p, line in zip(FINAL, lines[:3])] == [True] * 3, result.stdout
    assert lines[3].startswith("Time ")
    assert len(lines) == 4 and result.stderr == ""
    bad = subprocess.run(
        [str(script), "train", "--data", "demo", "--lr", "abc"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_an_unexpected_error_is_one_line_and_logged(capsys, monkeypatch, tmp_path):
    import explorer.cli as cli

    def broken(args, out):
        raise RuntimeError("something inside broke\nsecond line")

    monkeypatch.setitem(cli.COMMANDS, "nearest", broken)
    monkeypatch.setenv("BACKPROP_EXPLORER_LOGS", str(tmp_path / "logs"))
    assert main(["nearest", "--model", "m.npz", "word"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "something inside broke" in err
    log = (tmp_path / "logs").glob("*.log")
    assert any("RuntimeError" in p.read_text() and "Traceback" in p.read_text() for p in log)


def test_help_returns_0(capsys):
    assert main(["train", "--help"]) == 0
    assert "--batch-size" in capsys.readouterr().out


def test_the_command_uses_one_blas_thread_unless_told_otherwise():
    code = "import os, explorer.cli; print(os.environ['OPENBLAS_NUM_THREADS'])"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[1])
    assert done.stdout.strip() == "1", done.stderr
    env["OPENBLAS_NUM_THREADS"] = "2"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[1])
    assert done.stdout.strip() == "2", done.stderr
