"""End to end with the real evaluator: schema check, pre-synthesis check, simulator, energy."""

from __future__ import annotations

import pandas as pd
import pytest

from cosim.sweep import load_results, load_spec, run_sweep
from sweep_support import make_sweep


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

    # Figures checkable by hand. The synthetic trace covers the graph's 3 frames of 2 x 2 tokens, the first one
    # conditioning: 8 decode steps. Dense, every step reads every int8 weight at least once: per layer
    # 4 x 64 x 64 (Q/K/V/O) + 3 x 64 x 128 (MLP) + 2 x 64 (norms), then the final norm and the 1 x 64 embedding.
    steps, weight_bytes = 8, 2 * (4 * 64 * 64 + 3 * 64 * 128 + 2 * 64) + 64 + 64
    for point in (dense, replaying):
        assert point["tokens_per_s"] * point["latency_s"] == pytest.approx(steps, rel=1e-12)
        assert point["latency_per_token_s"] * steps == pytest.approx(point["latency_s"], rel=1e-12)
        assert point["energy_per_token_j"] * steps == pytest.approx(point["energy_j"], rel=1e-12)
        assert point["average_power_w"] * point["latency_s"] == pytest.approx(point["energy_j"], rel=1e-12)
        assert (point["policy"], point["clock_mhz"]) == ("drs", 250.0)  # the base design (kv260-systolic)
    assert dense["dram_bytes"] >= steps * weight_bytes
    # Replaying 90 % of the MLPs skips most MLP weight reads (3 x 64 x 128 bytes per layer and step).
    assert replaying["dram_bytes"] < dense["dram_bytes"] - steps * 3 * 64 * 128
    assert 0 < replaying["mlp_share_of_latency"] < dense["mlp_share_of_latency"] < 1
