"""Which arrays after a wrong stage go wrong when the learner's result is swapped in (core.checker's downstream)."""

import inspect
import math

import numpy as np
import pytest

from core.checker import ATOL, RTOL, Reference, check_source, gallery
from core.model import Config, FourGramModel
from core.stages import UPDATE, run_minibatch, run_stages

GALLERY = gallery()
BATCH = 20  # small minibatches: the suite stays quick
CONFIG = Config(batch_size=BATCH, seed=1).validate()  # what check_source builds for batch_size=20, seed=1


@pytest.fixture(scope="module")
def reference(demo_corpus):
    return Reference(demo_corpus, CONFIG)


def _verdict(bug, corpus):
    verdicts = check_source(bug.text, str(bug.path), corpus, batch_size=BATCH, timeout=2.0, stage=bug.stage)
    assert len(verdicts) == 1
    return verdicts[0]


def _copy(reference, state):
    model = FourGramModel(reference.vocab, CONFIG)
    model.load_state(state)
    return model


def _learner_update(bug):
    """The gallery file's own update, run here (the file is ours, not a learner's)."""
    space = {}
    exec(compile(bug.text, str(bug.path), "exec"), space)
    fn = space[UPDATE]
    wanted = inspect.signature(fn).parameters
    return lambda args: fn(**{k: v for k, v in args.items() if k in wanted})


def _direct_downstream(reference, verdict, bug):
    """The stepper's arrays on a copy of the network, and on another with the learner's result swapped in."""
    b = reference.batches[verdict.batch]
    truth = {}  # stage → {array: value}, the network's own minibatch
    for stage in run_stages(_copy(reference, b.state), b.x, b.t, check_finite=False):
        truth[stage.name] = dict(stage.arrays)
        if stage.name == "loss":
            truth[stage.name]["L"] = np.array(stage.extras["L"])
    if bug.stage == UPDATE:
        replace = {UPDATE: (("Δθ",), _learner_update(bug))}
    else:
        results = reference.functions[bug.stage].results
        values = tuple(verdict.swapped[r] for r in results)
        replace = {bug.stage: (results, lambda v: values if len(values) > 1 else values[0])}
    swapped = {}
    with np.errstate(all="ignore"):
        run_minibatch(_copy(reference, b.state), b.x, b.t, replace, record=swapped)
    assert list(swapped) == list(truth)  # every stage, in order
    seen = set(b.state) | {"N", "V", "d", "H"}
    out, after = [], False
    for name in truth:
        if after or name == bug.stage == UPDATE:
            for a, want in truth[name].items():
                if a in seen:
                    continue
                want, got = np.asarray(want, np.float64), np.asarray(swapped[name][a], np.float64)
                scale = float(np.abs(want).max())
                with np.errstate(all="ignore"):
                    d = np.abs(got - want)
                    same = np.all(d <= RTOL * np.abs(want) + ATOL * scale)
                if not same:
                    rel = math.inf if not np.isfinite(d).all() else float(d.max()) / scale
                    out.append((a, rel))
        seen |= set(truth[name])
        after = after or name == bug.stage
    return out


@pytest.mark.parametrize("bug", GALLERY, ids=[b.path.stem for b in GALLERY])
def test_a_wrong_verdict_names_the_downstream_arrays_a_direct_computation_finds(bug, demo_corpus, reference):
    verdict = _verdict(bug, demo_corpus)
    assert verdict.kind == bug.verdict
    if verdict.kind != "wrong":  # a shape error: nothing can be swapped in
        assert verdict.downstream == () and "; downstream:" not in verdict.text
        return
    if bug.stage != UPDATE and verdict.got is not None and verdict.got.shape == verdict.expected.shape:
        if "overflows" not in verdict.text:  # the overflow's result is on shifted logits, not the minibatch's
            np.testing.assert_array_equal(verdict.swapped[verdict.result], verdict.got)  # the learner's own result
    direct = _direct_downstream(reference, verdict, bug)
    assert [n for n, _ in verdict.downstream] == [n for n, _ in direct]
    for (_, mine), (_, theirs) in zip(verdict.downstream, direct):
        assert mine == pytest.approx(theirs, rel=1e-9)
    assert verdict.text.endswith("; " + verdict.downstream_clause) and verdict.text.count("downstream:") == 1
    assert "\n" not in verdict.text


def test_the_missing_derivative_breaks_every_gradient_below_it_and_their_updates(demo_corpus):
    bug = next(b for b in GALLERY if b.stage == "through_activation")
    verdict = _verdict(bug, demo_corpus)
    assert [n for n, _ in verdict.downstream] == ["dW_h", "db_h", "de", "dW_emb", "ΔW_emb", "ΔW_h", "Δb_h"]
    assert all(rel > 0.5 for _, rel in verdict.downstream)  # dz_h is several times too large: so are they
    assert verdict.downstream_clause == "downstream: dW_h, db_h, de, dW_emb and the update of W_emb, W_h, b_h go wrong"


def test_a_bug_in_the_last_stage_has_nothing_downstream_but_the_update_itself(demo_corpus):
    bug = next(b for b in GALLERY if b.stage == UPDATE)
    verdict = _verdict(bug, demo_corpus)
    names = [n for n, _ in verdict.downstream]
    assert names == ["Δ" + p for p in ("W_emb", "W_h", "b_h", "W_o", "b_o")]
    assert "downstream: nothing but the update itself" in verdict.text


def test_the_overwrite_breaks_only_the_update_of_the_embedding(demo_corpus):
    verdict = _verdict(GALLERY[0], demo_corpus)
    assert [n for n, _ in verdict.downstream] == ["ΔW_emb"]
    assert verdict.text.endswith("downstream: the update of W_emb goes wrong")


def test_the_correct_file_has_no_downstream_list(demo_corpus):
    from core.corpus import assets_dir

    path = assets_dir() / "bugs" / "correct.py"
    verdicts = check_source(path.read_text(), str(path), demo_corpus, batch_size=BATCH, timeout=2.0)
    assert verdicts and all(v.ok for v in verdicts)
    assert all(v.downstream == () and not v.downstream_clause and "downstream:" not in v.text for v in verdicts)


def test_a_wrong_loss_changes_nothing_downstream(demo_corpus):
    # dz_o is computed from p, not from L: a wrong mean loss leaves every gradient right.
    source = "import numpy as np\n\ndef loss(p, t, N):\n    return -np.log(p[np.arange(N), t]).sum()\n"
    (verdict,) = check_source(source, "loss.py", demo_corpus, batch_size=BATCH, timeout=2.0)
    assert verdict.kind == "wrong" and verdict.downstream == ()
    assert verdict.text.endswith("; downstream: nothing else goes wrong")


def test_run_minibatch_records_what_the_stepper_computes(demo_corpus, reference):
    b = reference.batches[0]
    record = {}
    run_minibatch(_copy(reference, b.state), b.x, b.t, record=record)
    stages = list(run_stages(_copy(reference, b.state), b.x, b.t))
    assert list(record) == [s.name for s in stages]
    for s in stages:
        assert set(record[s.name]) == set(s.arrays) | ({"L"} if s.name == "loss" else set())
        for k, v in s.arrays.items():
            np.testing.assert_array_equal(record[s.name][k], v)


def test_check_prints_the_downstream_clause_on_the_stage_s_one_line():
    import contextlib
    import io

    from explorer.cli import main

    bug = next(b for b in GALLERY if b.stage == "through_activation")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["check", str(bug.path), "--batch-size", "20", "--timeout", "2"])
    lines = out.getvalue().splitlines()
    assert status == 1 and len(lines) == 1  # the file's one function: one line, with the clause at its end
    assert lines[0].startswith("through_activation: wrong: ")
    assert lines[0].endswith("; downstream: dW_h, db_h, de, dW_emb and the update of W_emb, W_h, b_h go wrong")
