"""Running sweeps: the right points, every outcome recorded, nothing evaluated twice."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cosim.cli import main
from cosim.common.errors import UserError
from cosim.sweep import load_results, load_spec, run_sweep
from cosim.sweep.store import ResultStore
from sweep_support import make_sweep, marker_keys, subprocess_env


def test_grid_gives_exactly_the_expected_points(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    spec = make_sweep(
        tmp_path / "in",
        {
            "arrays": {"path": "engines.matrix.arrays", "values": [1, 2]},
            "clock": {"path": "clock_mhz", "values": {"low": 200, "high": 300, "step": 50}},
        },
        markers=markers,
    )
    summary = run_sweep(load_spec(spec), tmp_path / "out", workers=2, progress=False)
    assert (summary.total, summary.recorded, summary.reused) == (6, 6, 0)
    table = load_results(tmp_path / "out")
    assert list(zip(table["arrays"], table["clock"], strict=True)) == list(itertools.product([1, 2], [200, 250, 300]))
    assert (table["status"] == "ok").all()
    assert table["latency_s"].tolist() == pytest.approx(
        [1 / (a * c) for a, c in zip(table["arrays"], table["clock"], strict=True)]
    )
    assert table["energy_j"].tolist() == pytest.approx([0.2, 0.25, 0.3, 0.4, 0.5, 0.6])
    # One record per point, keyed by its config, holding the design after the overrides.
    store = ResultStore(tmp_path / "out")
    assert store.keys() == set(table["key"])
    record = store.read(table["key"][5])
    assert record is not None
    assert record["config"]["design"]["engines"]["matrix"]["arrays"] == 2
    assert record["config"]["design"]["clock_mhz"] == 300
    assert set(marker_keys(markers).values()) == {1} and len(marker_keys(markers)) == 6

    again = run_sweep(load_spec(spec), tmp_path / "out", workers=2, progress=False)
    assert (again.recorded, again.reused) == (0, 6)
    assert sum(marker_keys(markers).values()) == 6  # nothing evaluated a second time


def test_failed_invalid_and_dead_worker_points_are_recorded_and_the_rest_complete(tmp_path):
    spec = make_sweep(
        tmp_path / "in",
        {
            "arrays": {"path": "engines.matrix.arrays", "values": [1, 3, 99, 4]},
            "clock": {"path": "clock_mhz", "values": [200, 999]},
        },
    )
    summary = run_sweep(load_spec(spec), tmp_path / "out", workers=2, progress=False)
    assert summary.counts == {"ok": 2, "invalid": 4, "failed": 2}
    table = load_results(tmp_path / "out").set_index(["arrays", "clock"])
    assert table.loc[(1, 200), "status"] == "ok" and table.loc[(4, 200), "status"] == "ok"
    assert table.loc[(4, 200), "latency_s"] == pytest.approx(1 / 800)
    for arrays in (1, 3, 99, 4):
        assert table.loc[(arrays, 999), "status"] == "invalid"
        assert table.loc[(arrays, 999), "error"] == "clock_mhz 999 is above the DSP Fmax"
        assert table.loc[(arrays, 999), "dsp_util"] == pytest.approx(arrays / 10)  # known without simulating
    assert table.loc[(3, 200), "status"] == "failed"
    cursed = table.loc[(3, 200), "error"]
    assert isinstance(cursed, str) and cursed.startswith("RuntimeError: arrays = 3 is cursed")
    assert table.loc[(99, 200), "status"] == "failed"
    died = table.loc[(99, 200), "error"]
    assert isinstance(died, str) and "worker process died" in died and "SIGKILL" in died
    assert not table["feasible"][table["status"] != "ok"].any()


def test_retry_failed_evaluates_only_failed_points_again(tmp_path):
    spec = make_sweep(
        tmp_path / "in",
        {
            "arrays": {"path": "engines.matrix.arrays", "values": [1, 3]},
            "clock": {"path": "clock_mhz", "values": [200, 999]},
        },
    )
    run_sweep(load_spec(spec), tmp_path / "out", workers=1, progress=False)
    again = run_sweep(load_spec(spec), tmp_path / "out", workers=1, progress=False, retry_failed=True)
    assert (again.recorded, again.reused) == (1, 3)


def test_folder_refuses_another_spec(tmp_path):
    spec = make_sweep(tmp_path / "in", {"arrays": {"path": "engines.matrix.arrays", "values": [1, 2]}})
    run_sweep(load_spec(spec), tmp_path / "out", workers=1, progress=False)
    other = make_sweep(tmp_path / "in", {"arrays": {"path": "engines.matrix.arrays", "values": [1, 2, 4]}})
    with pytest.raises(UserError, match=r"sweep\.json: parameters: expected the spec this folder was started with"):
        run_sweep(load_spec(other), tmp_path / "out", workers=1, progress=False)


def test_cli_runs_resumes_and_reports_user_errors(tmp_path, capsys, monkeypatch):
    spec = make_sweep(
        tmp_path / "in",
        {
            "clock": {"path": "clock_mhz", "values": [200, 300]},
            "arrays": {"path": "engines.matrix.arrays", "values": [1, 2]},
        },
    )
    assert main(["sweep", str(spec), "-o", str(tmp_path / "out"), "--workers", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "4 of 4 points stored" in out and "Pareto front of latency_s (min), energy_j (min): 4 points" in out
    assert (tmp_path / "out" / "pareto.png").stat().st_size > 0
    assert list(load_results(tmp_path / "out").columns[:4]) == ["key", "clock", "arrays", "status"]
    assert main(["sweep", "--resume", str(tmp_path / "out"), "--workers", "1", "--no-progress"]) == 0
    assert "0 new" in capsys.readouterr().out
    assert list(load_results(tmp_path / "out").columns[:4]) == ["key", "clock", "arrays", "status"]
    assert main(["sweep", str(spec)]) == 2
    assert "-o: expected an output folder" in capsys.readouterr().err
    assert main(["sweep", "--resume", str(tmp_path / "nothing")]) == 2
    assert "expected a sweep folder" in capsys.readouterr().err


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path):
    spec = make_sweep(
        tmp_path / "in",
        {
            "arrays": {"path": "engines.matrix.arrays", "values": [1, 2, 4, 5]},
            "clock": {"path": "clock_mhz", "values": [200, 250, 300]},
        },
        hang_arrays=5,  # interrupted at a known point: the other 9 points stored, the workers busy
    )
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "cosim.cli", "sweep", str(spec), "-o", str(out), "--workers", "2", "--no-progress"],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell that starts the test run in the background (`cmd &` without job control) makes every
        # child ignore SIGINT, and the sweep would rightly keep ignoring it; a user's terminal does not.
        preexec_fn=_sigint_as_in_a_terminal,
    )
    _wait_for_points(out, 9, process)
    process.send_signal(signal.SIGINT)
    _stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert f"Resume with: cosim sweep --resume {out}" in stderr
    stored = len(ResultStore(out).keys())
    assert stored == 9
    assert len(load_results(out)) == stored  # the table holds the finished points
    assert json.loads(ResultStore(out).path_of(next(iter(ResultStore(out).keys()))).read_text())["status"] == "ok"


def _sigint_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_points(out, count, process, timeout_s=60):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        points = out / "points"
        if points.is_dir() and len(list(points.glob("*.json"))) >= count:
            return
        if process.poll() is not None:
            raise AssertionError(f"sweep ended early: {process.communicate()}")
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    raise AssertionError("no points stored in time")
