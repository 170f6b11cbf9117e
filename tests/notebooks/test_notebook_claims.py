"""What the notebooks say about their figures, checked by value on a small pipeline.

test_notebooks.py runs each notebook once on small parameters and checks only that it runs;
the claims its text makes are checked here, on a two-layer LLaMA-shaped decoder with a
synthetic trace (half the MLPs replay) simulated on the KV260 FastCar design, the way
notebooks 01 and 02 simulate the 7B geometry (`simulate_runs`: dense, then FastCar under
the static split and under DRS).
"""

import pytest

from cosim.analysis.comparison import simulate_runs
from cosim.analysis.report import roofline_position, utilisation_summary
from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.hw import load_design
from simulator_graphs import llama_graph


@pytest.fixture(scope="module")
def runs():
    graph = llama_graph(num_layers=2, hidden=256, heads=4, mlp_hidden=688, vocab=64, tokens_per_frame=4, frames=3)
    trace = synthetic_trace(num_layers=2, layer_rates=0.5, frames=3, frame_rows=2, frame_cols=2, seed=3)
    return {
        run.label: run.result
        for run in simulate_runs(graph, trace, load_design("kv260-fastcar"), policies=("static", "drs"), progress=False)
    }


def test_decode_sits_left_of_the_ridge_bound_by_dram(runs):
    """01 and 02: 'batch-1 decode ... is far left of the ridge, bound by DRAM bandwidth'."""
    for label, result in runs.items():
        position = roofline_position(result)
        assert position["bound"] == "dram", label
        assert position["arithmetic_intensity_macs_per_byte"] < position["ridge_macs_per_byte"] / 2, label


def test_the_dram_channel_is_the_busy_one(runs):
    """02: 'In every run the DRAM channel is the busy one: decode reads every weight once per token.'"""
    for label, result in runs.items():
        busy = utilisation_summary(result)["busy_fraction"]
        assert busy["dram"] > max(v for engine, v in busy.items() if engine != "dram"), label


def test_replay_trades_mlp_weight_reads_for_replay_cache_traffic(runs):
    """02: 'FastCar removes the MLP weight reads of layers where every CFG row replays and adds reads and
    writes of the replay cache (kept in DRAM on this design).'"""
    dense, static = runs["dense"], runs["fastcar-static"]
    assert static.dram_bytes["read"]["weights"] < dense.dram_bytes["read"]["weights"]
    assert static.dram_bytes["read"]["replay_read"] > 0 and static.dram_bytes["write"]["replay_write"] > 0
    assert dense.dram_bytes["read"]["replay_read"] == dense.dram_bytes["write"]["replay_write"] == 0


def test_drs_beats_the_static_split_and_fastcar_beats_dense(runs):
    """02: under the static split one partition idles while the other works; DRS hands all arrays and the
    DRAM bandwidth to whatever work remains."""
    latency = {label: result.total_cycles for label, result in runs.items()}
    assert latency["fastcar-drs"] < latency["fastcar-static"]
    assert latency["fastcar-drs"] < latency["dense"]
