"""The checker of a learner's own stage functions (core/checker.py) and its sandbox (core/sandbox.py)."""

import contextlib
import io
import re
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core.checker import KINDS, CheckFileError, check_source, gallery, stage_functions
from core.corpus import assets_dir
from core.model import Config, FourGramModel
from core.sandbox import Sandbox
from explorer.cli import main

BUGS = assets_dir() / "bugs"
CORRECT = BUGS / "correct.py"
FAST = dict(batch_size=20, timeout=1.0)  # small minibatches, a short limit: the suite stays quick


def check(source, **kw):
    return check_source(textwrap.dedent(source), "learner.py", **{**FAST, **kw})


@pytest.fixture(scope="module")
def correct_verdicts(demo_corpus):
    return check_source(CORRECT.read_text(), str(CORRECT), demo_corpus, **FAST)


# ---- the format ----------------------------------------------------------------------------------------------


def test_stage_functions_follow_the_stage_registry_with_signatures_from_the_formulas():
    model = FourGramModel([f"w{i}" for i in range(30)], Config(embed_dim=4, hidden_dims=(7,), batch_size=5))
    fns = stage_functions(model)
    assert [f.name for f in fns] == [s.name for s in model.stage_specs]
    by = {f.name: f for f in fns}
    assert by["embedding_gradient"].signature == "def embedding_gradient(x, de, V, d):"
    assert by["output_weights"].results == ("dW_o", "db_o")
    assert by["through_activation"].params == ("dh", "h")
    assert by["back_to_hidden"].params == ("dz_o", "W_o")
    assert by["output_error"].params == ("p", "t", "N")  # as the stage declares it, not only what its formula names
    for f in fns:
        assert set(f.params) <= set(f.available), f.name
    assert by["loss"].results == ("L",)
    # Only what exists before a stage can be passed to it.
    assert "de" not in by["output_weights"].available and "dz_o" in by["output_weights"].available
    assert "de" in by["embedding_gradient"].available
    # The docstring names the inputs with their shapes for these sizes.
    doc = by["embedding_gradient"].docstring
    assert "de: N×3d = 5×12" in doc and "V = 30" in doc and "dW_emb: V×d = 30×4" in doc
    assert by["embedding_gradient"].template.startswith("def embedding_gradient(x, de, V, d):\n    \"\"\"")


def test_deeper_networks_name_their_stage_functions_by_the_layers_rule():
    model = FourGramModel([f"w{i}" for i in range(30)], Config(embed_dim=4, hidden_dims=(7, 6), batch_size=5,
                                                               activations="relu"))
    by = {f.name: f for f in stage_functions(model)}
    assert by["hidden_weights_2"].params == ("h1", "dz_h2")
    assert by["through_activation_1"].params == ("dh1", "z_h1")  # ReLU's derivative reads z
    assert "H2 = 6" in by["hidden_input_2"].docstring or "H₂" in by["hidden_input_2"].docstring


# ---- verdicts --------------------------------------------------------------------------------------------------


def test_the_correct_file_is_exact_or_close_at_every_stage(correct_verdicts, demo_corpus):
    model = FourGramModel(demo_corpus.vocab, Config())
    assert [v.stage for v in correct_verdicts] == [s.name for s in model.stage_specs]
    for v in correct_verdicts:
        assert v.kind in ("exact", "close"), v.line_text()
        assert v.text == "exact" or v.text.startswith("close (max |diff| ")
    emb = next(v for v in correct_verdicts if v.stage == "embedding_gradient")
    assert emb.expected.shape == (demo_corpus.vocab_size, 50) and not emb.diff_mask.any()


def test_the_overwrite_marks_exactly_the_rows_fed_more_than_once(demo_corpus):
    source = CORRECT.read_text().replace("np.add.at(dW_emb, x.reshape(-1), de.reshape(-1, d))",
                                         "dW_emb[x.reshape(-1)] = de.reshape(-1, d)")
    (v,) = check_source(source, "overwrite.py", demo_corpus, stage="embedding_gradient", **FAST)
    assert v.kind == "wrong"
    assert "rows fed more than once keep only one contribution" in v.text
    assert "gradient check" in v.text and "sides with the reference" in v.text
    # Exactly the rows of words that occur more than once in the minibatch differ (each loses a slice of de).
    words, counts = np.unique(_batch_x(demo_corpus, v), return_counts=True)
    assert set(np.flatnonzero(v.diff_mask.any(axis=1)).tolist()) == set(words[counts > 1].tolist())
    assert all(g.verdict == "ok" for g in v.referee) and len(v.referee) == 3


def _batch_x(corpus, verdict):
    from core.trainer import Trainer

    trainer = Trainer(corpus, Config(batch_size=FAST["batch_size"]))
    return trainer.batch_at(verdict.minibatch)[0]


def test_a_function_that_raises_reports_its_line(demo_corpus):
    source = """\
    import numpy as np

    def output_error(p, t, N):
        dz = p.copy()
        raise ValueError("not written yet")
    """
    (v,) = check(source)
    assert v.kind == "raised" and v.line == 5
    assert v.result == "dz_o" and v.expected.shape == (FAST["batch_size"], demo_corpus.vocab_size)  # the reference answer all the same
    assert "ValueError: not written yet" in v.text and "line 5 of learner.py" in v.text


def test_writing_into_a_read_only_input_is_explained():
    (v,) = check("""\
    def output_error(p, t, N):
        p[range(N), t] -= 1
        return p / N
    """)
    assert v.kind == "raised" and "read-only" in v.text and "copy" in v.text


def test_a_parameter_the_checker_does_not_know_is_named():
    (v,) = check("def back_to_hidden(dz_o, W_out):\n    return dz_o @ W_out.T\n")
    assert v.kind == "raised" and "'W_out'" in v.text and "W_o" in v.text


def test_a_syntax_error_is_one_line_naming_the_line():
    with pytest.raises(CheckFileError) as err:
        check("def embed(x, W_emb):\n    return W_emb[x\n")
    assert err.value.line in (2, 3) and "\n" not in str(err.value) and "learner.py line" in str(err.value)


def test_a_file_without_stage_functions_is_refused():
    with pytest.raises(CheckFileError, match="defines no stage function"):
        check("def helper(a):\n    return a\n")
    with pytest.raises(CheckFileError, match="no function embed"):
        check("def loss(p, t, N):\n    return 0.0\n", stage="embed")
    with pytest.raises(CheckFileError, match="no stage called 'emb'"):
        check("def loss(p, t, N):\n    return 0.0\n", stage="emb")


@pytest.mark.parametrize("source, kind, says", [
    ("def loss(p, t, N):\n    return -np.log(p[np.arange(N), t])\n", "shape", "the shape of loss_n (loss of each example"),
    ("def output_weights(h, dz_o):\n    return h.T @ dz_o, dz_o.sum(axis=0, keepdims=True)\n", "shape",
     "db_o (236,) expected, (1, 236) returned: an extra axis of length 1"),
    ("def output_weights(h, dz_o):\n    return dz_o.T @ h, dz_o.sum(axis=0)\n", "shape",
     "(200, 236) expected, (236, 200) returned: that is the transpose"),
    ("def embedding_gradient(x, de, V, d):\n    return de.reshape(-1, d)\n", "shape",
     "(60, 50) returned: (60, 50) reads as N·3×d where V×d is expected"),
    ("def hidden_weights(e, dz_h):\n    return e.T @ dz_h\n", "shape", "returned 1 value, the stage has 2 (dW_h, db_h)"),
    ("def back_to_embeddings(dz_h, W_h):\n    dz_h @ W_h.T\n", "wrong", "returned None instead of de (a missing return?)"),
    ("def output_error(p, t, N):\n    return 'dz_o'\n", "wrong", "returned a str, not an array"),
    ("def output_error(p, t, N):\n    return -(p - np.eye(p.shape[1])[t]) / N\n", "wrong", "opposite sign"),
])
def test_what_a_wrong_shape_or_value_suggests(source, kind, says, demo_corpus):
    (v,) = check_source("import numpy as np\n\n" + source, "l.py", demo_corpus, **FAST)
    assert v.kind == kind and says in v.text, v.text


# ---- the sandbox -------------------------------------------------------------------------------------------------


def test_an_endless_loop_times_out_within_the_limit_plus_a_second_and_the_next_stage_still_runs():
    source = """\
    def hidden(z_h):
        while True:
            pass

    def logits(h, W_o, b_o):
        return h @ W_o + b_o
    """
    loop, after = check(source)
    assert loop.kind == "timed out" and "1 s" in loop.text
    assert 1.0 <= loop.seconds < 1.0 + 1.0  # stopped within the limit plus a second (starting a child not counted)
    assert after.kind in ("exact", "close")


@pytest.mark.parametrize("body, how", [
    ("import os\n    os._exit(3)", "exited with status 3"),
    ("import ctypes\n    ctypes.string_at(0)", "SIGSEGV"),
])
def test_a_function_that_kills_its_interpreter_costs_a_verdict(body, how):
    crash, after = check(f"def embed(x, W_emb):\n    {body}\n\ndef hidden(z_h):\n    import numpy as np\n"
                         "    return 1 / (1 + np.exp(-z_h))\n")
    assert crash.kind == "crashed" and how in crash.text
    assert after.kind in ("exact", "close")


def test_processes_a_timed_out_call_started_are_stopped_with_it(tmp_path):
    pid_file = tmp_path / "pid"
    (v,) = check(f"""\
    import subprocess, time

    def embed(x, W_emb):
        p = subprocess.Popen(["sleep", "60"])
        open({str(pid_file)!r}, "w").write(str(p.pid))
        time.sleep(60)
    """)
    assert v.kind == "timed out"
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:  # a zombie until init reaps it
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_float32_arithmetic_is_named():
    (v,) = check("import numpy as np\n\ndef back_to_hidden(dz_o, W_o):\n"
                 "    return dz_o.astype(np.float32) @ W_o.T.astype(np.float32)\n")
    assert v.kind == "wrong" and "computed in float32" in v.text


def test_an_endless_loop_at_the_top_of_the_file_is_a_file_that_cannot_be_checked(monkeypatch):
    import core.sandbox

    monkeypatch.setattr(core.sandbox, "DEFAULT_TIMEOUT", 0.5)  # the least the top-level code gets
    with pytest.raises(CheckFileError, match="top-level code took more than 0.5 s"):
        check("while True:\n    pass\n\ndef embed(x, W_emb):\n    return W_emb[x]\n", timeout=0.2)


def test_a_huge_allocation_is_refused_by_the_memory_limit():
    (v,) = check("import numpy as np\n\ndef embed(x, W_emb):\n    big = np.ones((1 << 28,))\n    return big\n",
                 memory_mb=256)
    assert v.kind == "raised" and "MemoryError" in v.text and v.line == 4


def test_the_sandbox_keeps_module_state_between_calls_and_returns_printed_output():
    source = "calls = 0\ndef f(a):\n    global calls\n    calls += 1\n    print('call', calls)\n    return a * calls\n"
    with Sandbox(source, "s.py", timeout=1) as box:
        assert box.load().kind == "loaded"
        first, second = box.call("f", {"a": np.arange(3)}), box.call("f", {"a": np.arange(3)})
    assert first.output == "call 1\n" and np.array_equal(second.value, [0, 2, 4])


def test_check_source_runs_on_a_worker_thread_and_can_be_cancelled():
    cancel = threading.Event()
    seen = []

    def on_verdict(v):
        seen.append(v)
        cancel.set()  # stop after the first stage

    out = []
    worker = threading.Thread(target=lambda: out.extend(check_source(
        CORRECT.read_text(), "c.py", cancel=cancel, on_verdict=on_verdict, **FAST)))
    worker.start()
    worker.join(60)
    assert not worker.is_alive()
    assert len(out) == 1 and out == seen and out[0].stage == "embed"


def test_a_cancel_stops_a_call_under_way_at_once():
    cancel, reached = threading.Event(), threading.Event()
    out = []
    source = "def embed(x, W_emb):\n    return W_emb[x].reshape(len(x), -1)\n\ndef hidden(z_h):\n    while True:\n        pass\n"
    worker = threading.Thread(target=lambda: out.extend(check_source(
        source, "c.py", cancel=cancel, on_verdict=lambda v: reached.set(), batch_size=20, timeout=30.0)))
    worker.start()
    assert reached.wait(30)  # embed is checked; the endless loop starts now
    worker.join(0.5)  # well inside it
    cancel.set()
    stopped = time.monotonic()
    worker.join(10)
    assert not worker.is_alive() and time.monotonic() - stopped < 3.0  # not the 30 s limit
    assert [v.stage for v in out] == ["embed"] and out[0].kind == "exact"


def test_kinds_are_the_documented_ones(correct_verdicts):
    assert KINDS == ("exact", "close", "wrong", "shape", "raised", "timed out", "crashed")
    assert all(v.kind in KINDS for v in correct_verdicts)


# ---- the gallery of classic bugs -------------------------------------------------------------------------------


GALLERY = gallery()


def test_the_gallery_has_every_classic_bug_and_its_reference():
    assert CORRECT.is_file()
    assert {b.stage for b in GALLERY} >= {"embedding_gradient", "through_activation", "output_error",
                                          "back_to_hidden", "softmax", "output_weights", "update"}
    assert len(GALLERY) == 8 and all(b.title and b.verdict in ("wrong", "shape") for b in GALLERY)


def run_check(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["check", *map(str, argv)])
    return status, out.getvalue().splitlines(), err.getvalue()


CLI_FAST = ("--batch-size", "20", "--timeout", "1")


@pytest.mark.parametrize("bug", GALLERY, ids=[b.path.stem for b in GALLERY])
def test_each_gallery_bug_breaks_its_stage_exits_1_and_the_verdict_names_the_cause(bug):
    status, lines, err = run_check(bug.path, *CLI_FAST)
    assert status == 1 and err == ""
    by = dict(line.split(": ", 1) for line in lines)
    assert by[bug.stage].startswith(bug.verdict + ":"), by[bug.stage]
    assert bug.cause in by[bug.stage]
    assert all(text.startswith(("exact", "close (")) for stage, text in by.items() if stage != bug.stage)


# ---- the command ----------------------------------------------------------------------------------------------------


def test_check_the_correct_file_prints_a_line_per_stage_and_exits_0():
    status, lines, err = run_check(CORRECT, *CLI_FAST, "--batches", "1", "--seed", "3")
    assert status == 0 and err == ""
    assert [line.split(":")[0] for line in lines] == [f.name for f in stage_functions()]
    assert all(re.fullmatch(r"[a-z_]+: (exact|close \(max \|diff\| [0-9.e-]+\))", line) for line in lines), lines


def test_check_one_stage():
    status, lines, _ = run_check(BUGS / "01_overwrite.py", *CLI_FAST, "--stage", "embedding_gradient")
    assert status == 1 and len(lines) == 1 and lines[0].startswith("embedding_gradient: wrong: ")


def test_check_an_endless_loop_exits_1(tmp_path):
    path = tmp_path / "loop.py"
    path.write_text("def output_error(p, t, N):\n    while True:\n        pass\n")
    status, lines, _ = run_check(path, *CLI_FAST)
    assert status == 1 and lines == ["output_error: timed out: no answer within 1 s (an endless loop?)"]


@pytest.mark.parametrize("text, expect", [
    ("def embed(x, W_emb):\n    return W_emb[x\n", r"loop\.py line \d: SyntaxError: "),
    ("def helper():\n    pass\n", r"defines no stage function"),
    ("import no_such_module_here\n", r"line 1: running the file raised ModuleNotFoundError"),
    (None, r"no such file"),
])
def test_check_a_file_that_cannot_be_checked_exits_2_with_one_line(tmp_path, text, expect):
    path = tmp_path / "loop.py"
    if text is not None:
        path.write_text(text)
    status, lines, err = run_check(path, *CLI_FAST)
    assert status == 2 and lines == []
    assert len(err.splitlines()) == 1 and re.search(expect, err) and "Traceback" not in err, err


def test_check_a_folder_or_binary_file_exits_2(tmp_path):
    status, _, err = run_check(tmp_path, *CLI_FAST)
    assert status == 2 and "is a folder" in err
    (tmp_path / "b.py").write_bytes(b"\xff\xfe\x00bad")
    status, _, err = run_check(tmp_path / "b.py", *CLI_FAST)
    assert status == 2 and "not UTF-8" in err


def test_a_file_may_import_its_neighbours(tmp_path):
    (tmp_path / "helpers.py").write_text("import numpy as np\n\ndef scatter(V, d, x, de):\n"
                                         "    out = np.zeros((V, d))\n    np.add.at(out, x.reshape(-1), de.reshape(-1, d))\n"
                                         "    return out\n")
    path = tmp_path / "mine.py"
    path.write_text("from helpers import scatter\n\ndef embedding_gradient(x, de, V, d):\n"
                    "    return scatter(V, d, x, de)\n")
    status, lines, _ = run_check(path, *CLI_FAST)
    assert status == 0 and lines == ["embedding_gradient: exact"]


def test_check_a_deeper_network_by_the_layers_naming_rule(tmp_path):
    path = tmp_path / "deep.py"
    path.write_text(textwrap.dedent("""\
        import numpy as np

        def hidden_input_2(h1, W_h2, b_h2):
            return h1 @ W_h2 + b_h2

        def hidden_weights_2(h1, dz_h2):
            return h1.T @ dz_h2, dz_h2.sum(axis=0)

        def through_activation_1(dh1, z_h1):
            return dh1 * (z_h1 > 0)
        """))
    status, lines, _ = run_check(path, *CLI_FAST, "--hidden-dims", "30,20", "--activation", "relu")
    assert status == 0 and [line.split(":")[0] for line in lines] == [
        "hidden_input_2", "hidden_weights_2", "through_activation_1"]
    status, lines, err = run_check(path, *CLI_FAST)  # the default network has one hidden layer
    assert status == 2 and "hidden_input_2 is a stage of a network with 2 hidden layers" in err


def test_a_newly_registered_activation_is_checked_from_the_registry_alone(demo_corpus):
    from core.layers import registered_activation
    from test_new_activation import Softplus

    with registered_activation(Softplus):
        config = Config(activations="softplus", batch_size=FAST["batch_size"])
        fns = {f.name: f for f in stage_functions(FourGramModel(demo_corpus.vocab, config))}
        assert fns["through_activation"].signature == "def through_activation(dh, h):"
        assert "(1 − exp(−h))" in fns["through_activation"].docstring
        source = ("import numpy as np\n\ndef hidden(z_h):\n    return np.logaddexp(0.0, z_h)\n\n"
                  "def through_activation(dh, h):\n    return dh * h\n")
        hidden, through = check_source(source, "softplus.py", demo_corpus, config=config, timeout=1.0)
    assert hidden.kind in ("exact", "close")
    assert through.kind == "wrong"  # h is not softplus' derivative
