"""benchmarks/drs_regimes.py: the lower bounds on any schedule's cycles, by hand on one bandwidth-bound GEMV."""

from __future__ import annotations

from types import ModuleType

import pytest

from benchmark_scripts import load_benchmark
from cosim.sim.simulator import simulate
from simulator_graphs import OpSizes, first_frame_trace, one_op_graph, tiny_design

# The tiny design: 48 DRAM bytes per cycle, 20 cycles of latency, two 12288-byte weight slots.
GEMV = OpSizes(weight_elems=48 * 1024, macs_fixed=48 * 1024, act_read_elems_fixed=48, act_write_elems_fixed=1024)


@pytest.fixture(scope="module")
def benchmark() -> ModuleType:
    return load_benchmark("drs_regimes")


def test_bounds_of_a_bandwidth_bound_gemv(benchmark: ModuleType):
    design = tiny_design()
    drs = simulate(one_op_graph(**GEMV), first_frame_trace(), design, policy="drs")
    # 49152 weight bytes = 4 tiles of 256 cycles each on the DRAM (the access latency is not busy time);
    # 4 tiles of 11 cycles on the matrix engine
    assert drs.total_cycles == 20 + 4 * 256 + 11
    bounds = benchmark.schedule_bounds(drs, design)
    assert bounds["overlap"] == 4 * 256
    assert bounds["two_groups"] == 4 * 256 + 49152 // 48  # the second group reads every weight again
    # all on-chip buffers (2 x 12288 + 12288 + 1 MiB) take far longer to fill than the step: no better than overlap
    assert bounds["prefetch"] == bounds["overlap"]
