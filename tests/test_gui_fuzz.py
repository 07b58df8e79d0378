"""Seeded random sequences of user actions on the real window (tests/gui_fuzz.py), each in a child process.

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
SECONDS = float(os.environ.get("GUI_FUZZ_SECONDS", "9"))


def start(tmp_path: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", OPENBLAS_NUM_THREADS="1")
    for name, sub in (("BACKPROP_EXPLORER_LOGS", "logs"), ("BACKPROP_EXPLORER_SETTINGS", "settings"),
                      ("BACKPROP_EXPLORER_CACHE", "cache"), ("BACKPROP_EXPLORER_STATE", "state")):
        env[name] = str(tmp_path / sub)
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


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_random_user_actions_never_crash_hang_or_reach_the_error_handler(seed, tmp_path):
    proc = start(tmp_path, "--seed", str(seed), "--seconds", str(SECONDS))
    outcome = finish(proc, timeout=SECONDS + 90)
    assert outcome["status"] == 0 and not outcome["hung"], explain(seed, outcome, tmp_path)
    result = outcome["result"]
    assert result["seed"] == seed and result["problems"] == []
    assert result["actions"] >= 20, "too few actions in the time: the run hardly tested anything"


def test_the_script_notices_each_kind_of_failure_and_replays_a_log(tmp_path):
    """An exception (in a slot, a thread, a guarded Qt override), a bad Qt warning, a crash and a hang each fail a
    run, from a replayed log."""
    faults = ("exception", "thread", "override", "qt_warning")
    runs = {"faults": faults, "crash": ("crash",), "hang": ("hang",), "nothing": ()}
    procs = {}
    for what, injected in runs.items():
        folder = tmp_path / what
        folder.mkdir()
        log = folder / "replay.log"
        steps = [{"action": "step_stage", "args": {"times": 2}}]
        steps += [{"action": "inject", "args": {"what": kind}} for kind in injected]
        steps.append({"action": "type", "args": {"text": "the day", "mode": "set"}})
        log.write_text("SEED 5\n" + "".join(f"ACTION {json.dumps(s)}\n" for s in steps), encoding="utf-8")
        limit = ["--hang-after", "3"] if what == "hang" else []
        procs[what] = start(folder, "--replay", str(log), *limit)
    got = {what: finish(p, timeout=60) for what, p in procs.items()}

    ok = got["nothing"]
    assert ok["status"] == 0, ok["stdout"][-2000:] + ok["stderr"][-2000:]
    assert ok["result"]["seed"] == 5 and ok["result"]["actions"] == 2  # replayed: the log's actions, in order
    assert [json.loads(a[7:])["action"] for a in ok["actions"]] == ["step_stage", "type"]
    assert ok["result"]["problems"] == []

    bad = got["faults"]
    assert bad["status"] == 1 and bad["result"]["actions"] == 2 + len(faults)  # a replay goes on to its end
    problems = bad["result"]["problems"]
    for injected in ("an exception in a slot", "an exception in a worker thread", "an exception in paintEvent",
                     "QPainter::begin: injected"):
        assert sum(injected in p for p in problems) == 1, (injected, problems)
    crash = got["crash"]
    assert crash["status"] == -signal.SIGSEGV and crash["result"] is None
    assert '"inject"' in crash["actions"][-1] and "Segmentation fault" in crash["stderr"]  # the culprit is named
    hang = got["hang"]
    assert hang["status"] == 1 and hang["result"] is None and "Timeout" in hang["stderr"]
    assert '"inject"' in hang["actions"][-1] and "do_inject" in hang["stderr"]  # the stacks show where it hung
