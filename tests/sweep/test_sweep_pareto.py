"""Pareto fronts on hand-made sets, the `cosim pareto` command and the plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cosim.cli import main
from cosim.common.errors import UserError
from cosim.sweep import load_results, load_spec, non_dominated, pareto_front, run_sweep
from sweep_support import make_sweep

# (latency, energy): b dominates c; d and d2 tie; e loses to d on latency at equal energy.
POINTS = {"a": (1, 5), "b": (2, 3), "c": (3, 4), "d": (4, 1), "d2": (4, 1), "e": (5, 1), "f": (1, 6)}


def test_non_dominated_min_min_keeps_ties():
    values = np.array(list(POINTS.values()), dtype=float)
    front = [name for name, keep in zip(POINTS, non_dominated(values, ["min", "min"]), strict=True) if keep]
    assert front == ["a", "b", "d", "d2"]


def test_non_dominated_respects_max():
    # Maximise the second column: now f (1, 6) beats a (1, 5), and c (3, 4) beats b (2, 3) only on y.
    values = np.array(list(POINTS.values()), dtype=float)
    front = [name for name, keep in zip(POINTS, non_dominated(values, ["min", "max"]), strict=True) if keep]
    assert front == ["f"]
    front = [name for name, keep in zip(POINTS, non_dominated(values, ["max", "max"]), strict=True) if keep]
    assert front == ["c", "e", "f"]


def test_pareto_front_skips_unfinished_infeasible_and_missing_values():
    table = pd.DataFrame(
        {
            "name": ["a", "b", "c", "g", "h", "i"],
            "latency_s": [1.0, 2.0, 3.0, 0.5, 0.1, np.nan],
            "energy_j": [5.0, 3.0, 4.0, 0.5, 0.1, 0.0],
            "status": ["ok", "ok", "ok", "ok", "failed", "ok"],
            "feasible": [True, True, True, False, False, True],
        }
    )
    front = pareto_front(table, {"latency_s": "min", "energy_j": "min"})
    assert front["name"].tolist() == ["a", "b"]  # g is infeasible, h failed, i has no latency
    with_infeasible = pareto_front(table, {"latency_s": "min", "energy_j": "min"}, feasible_only=False)
    assert with_infeasible["name"].tolist() == ["g"]
    with pytest.raises(UserError, match="objectives: expected columns of the results table"):
        pareto_front(table, {"latency": "min"})


def test_pareto_command_and_plots(tmp_path, capsys):
    spec = make_sweep(
        tmp_path / "in",
        {
            "arrays": {"path": "engines.matrix.arrays", "values": [1, 2, 9]},
            "clock": {"path": "clock_mhz", "values": [200, 300]},
        },
        constraints={"fits_device": True},
    )
    run_sweep(load_spec(spec), tmp_path / "out", workers=1, progress=False)
    plot = tmp_path / "front.png"
    assert main(["pareto", str(tmp_path / "out"), "--objectives", "latency,energy", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    # arrays=9 does not fit the device; the other four trade latency for energy exactly.
    assert out.startswith("4 of 6 finished points on the front of latency_s (min), energy_j (min)")
    front = pd.read_csv(tmp_path / "out" / "pareto.csv")
    assert sorted(zip(front["arrays"], front["clock"], strict=True)) == [(1, 200), (1, 300), (2, 200), (2, 300)]
    assert plot.stat().st_size > 10_000
    assert main(["pareto", str(tmp_path / "out"), "--objectives", "latency,dsp_util:max", "--all"]) == 0
    assert capsys.readouterr().out.startswith("1 of 6")  # arrays=9 at 300 MHz: fastest and most DSPs
    assert main(["pareto", str(tmp_path / "out"), "--objectives", "power"]) == 2
    assert "--objectives: expected a column of the table" in capsys.readouterr().err

    from cosim.sweep.plots import plot_heatmap, save_figure

    table = load_results(tmp_path / "out")
    heat = save_figure(plot_heatmap(table, "arrays", "clock", "latency_s"), tmp_path / "heat.png")
    assert heat.stat().st_size > 10_000
