"""End to end with the real evaluator: schema check, pre-synthesis check, simulator, energy."""

from __future__ import annotations

import pandas as pd
import pytest

from cosim.analysis.energy import compute_energy
from cosim.analysis.metrics import headline_metrics
from cosim.artifacts.replay_trace import ReplayTrace
from cosim.hw import load_design, override_design
from cosim.sim.simulator import simulate
from cosim.sweep import load_results, load_spec, run_sweep
from cosim.sweep.store import ResultStore
from sweep_support import make_sweep, tiny_graph


def test_design_sweep_on_the_simulator(tmp_path):
    parameters = {
        "mlp_arrays": {"path": "scheduling.static_split.mlp_arrays", "values": [6, 7]},
        "rate": {"path": "workload.synthetic.layer_rates", "values": [0.0, 0.9]},
    }
    spec = make_sweep(
        tmp_path / "in",
        parameters,
        evaluator="design",
        constraints={"fits_device": True},
        workload={"graph": "graph.json", "synthetic": {"layer_rates": 0.5, "correlation": 0.5}},
    )
    summary = run_sweep(load_spec(spec), tmp_path / "out", workers=2, progress=False)
    assert summary.counts == {"ok": 2, "invalid": 2, "failed": 0}
    table = load_results(tmp_path / "out").set_index(["mlp_arrays", "rate"])
    # kv260-systolic has 8 arrays and gives attention 2: 2 + 7 does not fit.
    for rate in (0.0, 0.9):
        assert table.loc[(7, rate), "status"] == "invalid"
        error = table.loc[(7, rate), "error"]
        assert isinstance(error, str) and "attention_arrays + mlp_arrays <= engines.matrix.arrays = 8, found 9" in error
    dense, replaying = table.xs((6, 0.0)), table.xs((6, 0.9))
    assert isinstance(dense, pd.Series) and isinstance(replaying, pd.Series)  # one row each
    # 8 arrays of 16 x 8 int8 PEs at 2 MACs per DSP, + 32 vector + 16 TAS DSPs = 560 of 1248.
    assert dense["dsp_used"] == 560 and dense["dsp_util"] == pytest.approx(560 / 1248)
    assert dense["fits_device"] and dense["feasible"]
    assert dense["replay_ratio"] == 0.0 and replaying["replay_ratio"] > 0.5
    assert replaying["latency_s"] < dense["latency_s"] and replaying["energy_j"] < dense["energy_j"]
    assert dense["roofline_ratio"] >= 1.0  # never faster than the roofline

    # The stored point reproduces a direct simulation of the same design and trace exactly.
    record = ResultStore(tmp_path / "out").read(dense["key"])
    assert record is not None
    trace = ReplayTrace.load(tmp_path / "out" / "workloads" / record["recipe_key"] / "trace.npz")
    design = override_design(load_design(tmp_path / "in" / "design.yaml"), {"scheduling.static_split.mlp_arrays": 6})
    direct = simulate(tiny_graph(), trace, design)
    assert dense["latency_s"] == direct.latency_s
    assert dense["energy_j"] == pytest.approx(compute_energy(direct, design).total_j, rel=1e-12)
    assert dense["tokens_per_s"] == pytest.approx(direct.num_steps / direct.latency_s)
    # The headline figures under the report's names and formulas (cosim.analysis.metrics).
    headline = headline_metrics(direct)
    assert dense["mlp_share_of_latency"] == headline.mlp_share_of_latency > 0
    assert (dense["tokens_per_s"], dense["latency_per_token_s"]) == (
        headline.tokens_per_s,
        headline.latency_per_token_s,
    )
