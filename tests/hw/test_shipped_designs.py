"""What docs/designs.md promises about the shipped designs, checked on a small 7B-shaped decode.

Every shipped file validating cleanly is tested in test_hw_validate.py; here: the FastCar
designs decode at the DRAM rate (batch 2, CFG), the systolic comparison designs do not,
and a systolic array is the faster engine for prefill. The workload is two layers of the
LLaMA-2-7B geometry (FACTS.md section 1) decoding 2 frames of 2 x 4 positions after one
conditioning frame, 2 rows: each weight matrix streams in many buffer tiles, as in the
whole model, yet a design simulates in well under a second.
"""

from __future__ import annotations

import pytest

from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.hw import load_design
from cosim.sim.compute import matrix_cycles
from cosim.sim.simulator import simulate, simulate_dense
from simulator_graphs import llama7b_graph

LAYERS = 2
GRAPH = llama7b_graph(num_layers=LAYERS, vocab=1000)
TRACE = synthetic_trace(
    num_layers=LAYERS, layer_rates=0.5, frames=3, frame_rows=2, frame_cols=4, correlation=0.8, seed=0
)
FASTCAR_DESIGNS = ["kv260-fastcar", "zcu104-fastcar", "u280-fastcar"]
EDGE_DESIGNS = ["kv260-fastcar", "zcu104-fastcar"]


def over_roofline(result) -> float:
    """Latency over the roofline bound of the same run (1.0 = at the bound)."""
    return result.total_cycles / result.roofline["bound_cycles"]


@pytest.mark.parametrize("name", FASTCAR_DESIGNS)
def test_fastcar_designs_decode_at_the_dram_rate(name):
    design = load_design(name)
    dense = simulate_dense(GRAPH, TRACE, design)
    assert dense.roofline["dram_bound_cycles"] > dense.roofline["compute_bound_cycles"]  # bandwidth is the bound
    assert over_roofline(dense) < 1.15
    assert over_roofline(simulate(GRAPH, TRACE, design)) < 1.15  # with replay too


@pytest.mark.parametrize("name", EDGE_DESIGNS)
def test_each_static_partition_of_an_edge_design_keeps_up_with_the_ddr4(name):
    # attention and MLP never overlap (the CFG rows run in lockstep), so a static split is
    # sensible only if either partition alone streams weights at the DRAM rate
    dense = simulate_dense(GRAPH, TRACE, load_design(name), policy="static")
    assert over_roofline(dense) < 1.15


@pytest.mark.parametrize("name", ["kv260-systolic", "u280-systolic"])
def test_systolic_designs_are_compute_bound_in_batch_2_decode(name):
    # 2 streamed rows: each fold of the array is mostly fill and drain
    dense = simulate_dense(GRAPH, TRACE, load_design(name))
    assert over_roofline(dense) > 2


def test_systolic_array_wins_prefill():
    # MLP gate projection of a 257-token prefill with 2 CFG rows: m = 514, k = 4096, n = 11008.
    def cycles(name: str) -> int:
        e = load_design(name).engines.matrix
        return matrix_cycles(e.type, 514, 4096, 11008, rows=e.rows, cols=e.cols, dataflow=e.dataflow, arrays=e.arrays)

    # weight-stationary 8 x (16 x 8): ceil(4096/16) x ceil(11008/8) / 8 folds of 2*16 + 8 + 514 - 2 cycles
    assert cycles("kv260-systolic") == 256 * 1376 // 8 * 552 == 24_305_664
    # MAC trees 2 x 4 lanes x 64 wide (4-bit weights): ceil(514 x 11008 / 8) outputs per lane x 4096/64
    # + depth 1 + log2(64)
    assert cycles("kv260-fastcar") == 707_264 * 64 + 7 == 45_264_903
