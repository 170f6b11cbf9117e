"""Two runs on one sweep folder evaluate each missing point once: the second waits for the first.

The order of events is forced, not timed: the evaluator of the first run waits for a gate
file, the test opens the gate only when the second run has said it is waiting, and the
first run is known to hold the folder when its pid is in the lock file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cosim.cli import main
from cosim.sweep import load_spec, run_sweep
from cosim.sweep.lock import LOCK_FILE, hold_sweep_folder
from cosim.sweep.store import ResultStore
from sweep_support import make_sweep, marker_keys, subprocess_env

PARAMETERS = {
    "arrays": {"path": "engines.matrix.arrays", "values": [1, 2, 4]},
    "clock": {"path": "clock_mhz", "values": [200, 300]},
}
DEADLINE_S = 90


def test_two_concurrent_resumes_evaluate_each_missing_point_once(tmp_path):
    spec = make_sweep(tmp_path / "in", PARAMETERS)
    out = tmp_path / "out"
    run_sweep(load_spec(spec), out, workers=1, progress=False)
    missing = sorted(ResultStore(out).keys())[:4]
    for key in missing:
        ResultStore(out).path_of(key).unlink()
    markers, gate = tmp_path / "markers", tmp_path / "gate"
    markers.mkdir()
    make_sweep(tmp_path / "in", PARAMETERS, markers=markers, gate=gate)  # same points; evaluations now wait

    first = _resume(out, tmp_path / "first.err")
    _wait_until(lambda: _holder_pid(out) == first.pid, first, "the first run to take the lock")
    second = _resume(out, tmp_path / "second.err")
    _wait_until(
        lambda: f"waiting for pid {first.pid} " in (tmp_path / "second.err").read_text(), second, "the second to wait"
    )
    gate.touch()
    first_out, second_out = _finish(first, tmp_path / "first.err"), _finish(second, tmp_path / "second.err")

    assert "6 of 6 points stored" in first_out and "4 new on 2 local worker processes, 2 reused" in first_out
    assert "0 new on 2 local worker processes, 6 reused" in second_out
    evaluations = marker_keys(markers)
    assert set(evaluations) == set(missing)
    assert set(evaluations.values()) == {1}


def test_a_held_folder_is_refused_at_once_naming_the_holder(tmp_path, capsys):
    spec = make_sweep(tmp_path / "in", PARAMETERS)
    out = tmp_path / "out"
    run_sweep(load_spec(spec), out, workers=1, progress=False)
    with hold_sweep_folder(out):
        assert main(["sweep", "--resume", str(out), "--lock-wait", "0", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert f"{out / LOCK_FILE}: expected a sweep folder no other run is using" in err
    assert f"found it held by pid {os.getpid()} on " in err


def test_the_lock_of_a_killed_run_is_free_at_once(tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from cosim.sweep.lock import hold_sweep_folder\nwith hold_sweep_folder({str(out)!r}): input()",
        ],
        stdin=subprocess.PIPE,
        env=subprocess_env(),
    )
    try:
        _wait_until(lambda: _holder_pid(out) == holder.pid, holder, "the holder to take the lock")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    spec = make_sweep(tmp_path / "in", PARAMETERS)
    summary = run_sweep(load_spec(spec), out, workers=1, progress=False, lock_wait_s=0)
    assert summary.recorded == 6


def _resume(out: Path, stderr: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "cosim.cli", "sweep", "--resume", str(out), "--workers", "2", "--no-progress"]
    with stderr.open("w") as err:
        return subprocess.Popen(command, env=subprocess_env(), stdout=subprocess.PIPE, stderr=err, text=True)


def _holder_pid(out: Path) -> int | None:
    try:
        return int(json.loads((out / LOCK_FILE).read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def _wait_until(condition, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert process.poll() is None, f"the process ended (exit {process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no sign of {what} within {DEADLINE_S} s"
        time.sleep(0.02)


def _finish(process: subprocess.Popen[str], stderr: Path) -> str:
    out, _ = process.communicate(timeout=DEADLINE_S)
    assert process.returncode == 0, stderr.read_text()
    return out
