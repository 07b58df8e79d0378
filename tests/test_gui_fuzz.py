"""Seeded random sequences of user actions on the real window (tests/gui_fuzz.py), each in a child process.

The children are started together (the ``children`` fixture) and run side by side.

A seed fails when the child reports a problem (an exception reached the
application's error handler, an action raised, Qt printed a warning that means
a bug), dies (a crash), or hangs. The failure message holds the seed, the
last actions and the command that replays them exactly. More seeds or time:
``GUI_FUZZ_SEEDS="1 2 3 4"`` and ``GUI_FUZZ_SECONDS=20``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("gui_fuzz.py")
ROOT = SCRIPT.parents[1]
SEEDS = [int(s) for s in os.environ.get("GUI_FUZZ_SEEDS", "11 12 13").split()]
SECONDS = float(os.environ.get("GUI_FUZZ_SECONDS", "8"))
MIN_ACTIONS = 25


def start(tmp_path: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", OPENBLAS_NUM_THREADS="1")
    for name, sub in (("BACKPROP_EXPLORER_LOGS", "logs"), ("BACKPROP_EXPLORER_SETTINGS", "settings"),
                      ("BACKPROP_EXPLORER_CACHE", "cache"), ("BACKPROP_EXPLORER_STATE", "state")):
        env[name] = str(tmp_path / sub)
    env["GUI_FUZZ_FOLDER"] = str(tmp_path)  # the child's own files go there too, and pytest cleans them up
    return subprocess.Popen([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen, timeout: float) -> dict:
    """Wait for the child; what happened: status, the ACTION lines, the RESULT, stderr, and whether it hung."""
    hung = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        hung = True
        proc.kill()
        out, err = proc.communicate()
    lines = out.splitlines()
    results = [json.loads(line[len("RESULT "):]) for line in lines if line.startswith("RESULT ")]
    return {
        "status": proc.returncode,
        "hung": hung,
        "actions": [line for line in lines if line.startswith("ACTION ")],
        "result": results[0] if results else None,
        "stdout": out,
        "stderr": err,
    }


def explain(seed: int, outcome: dict, tmp_path: Path) -> str:
    """The failure message: what went wrong, the last actions, how to replay."""
    log = tmp_path / f"gui-fuzz-{seed}.log"
    log.write_text(outcome["stdout"], encoding="utf-8")
    status = outcome["status"]
    if outcome["hung"]:
        what = "the window hung (killed after the time limit)"
    elif status is not None and status < 0:
        what = f"the window died of signal {signal.Signals(-status).name}"
    elif outcome["result"] is not None and outcome["result"]["problems"]:
        what = "problems:\n" + "\n".join(outcome["result"]["problems"])
    else:
        what = f"exit status {status}"
    tail = "\n".join(outcome["actions"][-12:])
    errors = "\n".join(outcome["stderr"].splitlines()[-25:])
    return (
        f"seed {seed}: {what}\n--- last actions ---\n{tail}\n--- stderr ---\n{errors}\n"
        f"--- replay: uv run python tests/gui_fuzz.py --replay {log}"
    )


FAULTS = ("exception", "thread", "override", "qt_warning")  # failures a run survives: one replay holds them all
NOTICE_RUNS = {"faults": FAULTS, "crash": ("crash",), "hang": ("hang",)}
NOTICE_TEST = "test_the_script_notices_each_kind_of_failure_and_replays_a_log"


def _notice_log(folder: Path, injected: tuple[str, ...]) -> Path:
    """A replay log: two stages, the faults to inject, then typing."""
    steps = [{"action": "step_stage", "args": {"times": 2}}]
    steps += [{"action": "inject", "args": {"what": kind}} for kind in injected]
    steps.append({"action": "type", "args": {"text": "the day", "mode": "set"}})
    log = folder / "replay.log"
    log.write_text("SEED 5\n" + "".join(f"ACTION {json.dumps(s)}\n" for s in steps), encoding="utf-8")
    return log


@pytest.fixture(scope="module")
def children(request, tmp_path_factory):
    """Every child process the selected tests of this module need, started at once: they run side by side
    (mostly waiting on each other's start-up otherwise), and each test then waits for its own."""
    here = request.node.path if hasattr(request.node, "path") else Path(__file__)
    selected = [item for item in request.session.items if getattr(item, "path", None) == here]
    procs: dict[object, tuple[subprocess.Popen, Path]] = {}
    for item in selected:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "seed" in callspec.params:
            seed = callspec.params["seed"]
            folder = tmp_path_factory.mktemp(f"seed{seed}")
            procs[seed] = (start(folder, "--seed", str(seed), "--seconds", str(SECONDS),
                                 "--min-actions", str(MIN_ACTIONS)), folder)
        elif item.originalname == NOTICE_TEST:
            for what, injected in NOTICE_RUNS.items():
                folder = tmp_path_factory.mktemp(what)
                limit = ["--hang-after", "3"] if what == "hang" else []
                procs[what] = (start(folder, "--replay", str(_notice_log(folder, injected)), *limit), folder)
    yield procs
    for proc, _folder in procs.values():  # a test that failed early leaves no process behind
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_random_user_actions_never_crash_hang_or_reach_the_error_handler(seed, children):
    proc, folder = children[seed]
    outcome = finish(proc, timeout=SECONDS + 120)
    assert outcome["status"] == 0 and not outcome["hung"], explain(seed, outcome, folder)
    result = outcome["result"]
    assert result["seed"] == seed and result["problems"] == []
    assert result["actions"] >= MIN_ACTIONS  # on a busy machine it goes on past SECONDS until it has done these


def test_the_script_notices_each_kind_of_failure_and_replays_a_log(children):
    """An exception (in a slot, a thread, a guarded Qt override), a bad Qt warning, a crash and a hang each fail a
    run, from a replayed log."""
    got = {what: finish(children[what][0], timeout=90) for what in NOTICE_RUNS}

    bad = got["faults"]
    assert bad["status"] == 1, bad["stdout"][-2000:] + bad["stderr"][-2000:]
    # replayed: the log's actions in order, to its end (a replay does not stop at a problem)
    assert bad["result"]["seed"] == 5 and bad["result"]["actions"] == 2 + len(FAULTS)
    assert [json.loads(a[7:])["action"] for a in bad["actions"]] == ["step_stage", *["inject"] * len(FAULTS), "type"]
    problems = bad["result"]["problems"]
    for injected in ("an exception in a slot", "an exception in a worker thread", "an exception in paintEvent",
                     "QPainter::begin: injected"):
        assert sum(injected in p for p in problems) == 1, (injected, problems)
    assert len(problems) == len(FAULTS)  # the two stages and the typing around them added none
    crash = got["crash"]
    assert crash["status"] == -signal.SIGSEGV and crash["result"] is None
    assert '"inject"' in crash["actions"][-1] and "Segmentation fault" in crash["stderr"]  # the culprit is named
    hang = got["hang"]
    assert hang["status"] == 1 and hang["result"] is None and "Timeout" in hang["stderr"]
    assert '"inject"' in hang["actions"][-1] and "do_inject" in hang["stderr"]  # the stacks show where it hung
