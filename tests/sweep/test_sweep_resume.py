"""A sweep killed with SIGKILL halfway resumes to the same table, re-evaluating no stored point.

The sweep runs in its own process group (driver, forkserver and workers); the test kills
the whole group with SIGKILL, as a crash or an OOM kill would, at a known point: the
evaluator never finishes the points with 5 arrays, so the kill comes when exactly the other
9 points are stored and the workers hang on the 5-array ones. The evaluator leaves one
marker file per evaluation; a point with a stored record must never be evaluated again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from cosim.sweep import load_results, load_spec, run_sweep
from cosim.sweep.store import ResultStore
from sweep_support import make_sweep, marker_keys, stable, subprocess_env

PARAMETERS = {
    "arrays": {"path": "engines.matrix.arrays", "values": [1, 2, 4, 5]},
    "clock": {"path": "clock_mhz", "values": [200, 250, 300]},
}


def test_sigkill_then_resume_gives_the_uninterrupted_table(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    spec = make_sweep(tmp_path / "in", PARAMETERS, markers=markers, hang_arrays=5)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "cosim.cli", "sweep", str(spec), "-o", str(out), "--workers", "2", "--no-progress"]
    process = subprocess.Popen(
        command, env=subprocess_env(), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    stderr = process.stderr
    assert stderr is not None  # stderr=PIPE
    try:
        deadline = time.monotonic() + 60
        while _stored(out) < 9:
            assert process.poll() is None, stderr.read()
            assert time.monotonic() < deadline, "no points stored in time"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    stored_before = ResultStore(out).keys()
    assert len(stored_before) == 9, "the kill came when the 9 points without 5 arrays were stored"
    markers_before = marker_keys(markers)
    make_sweep(tmp_path / "in", PARAMETERS, markers=markers)  # the same sweep, no longer hanging

    summary = run_sweep(load_spec(spec), out, workers=2, progress=False)
    assert (summary.reused, summary.recorded) == (len(stored_before), 12 - len(stored_before))

    new = marker_keys(markers) - markers_before
    all_keys = ResultStore(out).keys()
    assert len(all_keys) == 12
    assert set(new) == all_keys - stored_before  # exactly the missing points were evaluated...
    assert set(new.values()) == {1}  # ...each once

    reference = tmp_path / "reference"
    run_sweep(load_spec(make_sweep(tmp_path / "in", PARAMETERS)), reference, workers=2, progress=False)
    assert stable(load_results(out)).equals(stable(load_results(reference)))


def _stored(out) -> int:
    return len(ResultStore(out).keys()) if (out / "points").is_dir() else 0
