"""Buffer occupancy over cycles (the timeline's counter tracks): a hand case, and what holds by construction."""

import numpy as np
import pytest

from cosim.analysis.timeline import trace_events
from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.sim import buffer_timeline
from cosim.sim.policies import POLICIES
from cosim.sim.simulator import simulate
from simulator_graphs import OpSizes, first_frame_trace, llama_graph, one_op_graph, tiny_design

# The tiny design: 48 DRAM bytes per cycle, 20 cycles of latency, 12288-byte weight tiles (two slots).
TILE, LATENCY, LOAD = 12288, 20, 12288 // 48
GEMV = OpSizes(weight_elems=48 * 1024, macs_fixed=48 * 1024, act_read_elems_fixed=48, act_write_elems_fixed=1024)
SYSTOLIC_4X4_WS = {"type": "systolic", "arrays": 1, "rows": 4, "cols": 4, "dataflow": "weight_stationary"}
SLOW_TILE = 12 * 64 * 11  # one 48 x 256 tile on the 4 x 4 weight-stationary array (test_simulator.py)


def test_a_compute_bound_gemv_keeps_both_weight_slots_full_until_its_last_two_tiles():
    # 4 tiles: tile 0 requested at 0, loaded at 276 (latency + one tile); tile 1 requested then (second slot).
    # From then on a slot is refilled in the cycle its tile finishes computing, so the level stays at two
    # tiles until tiles 2 and 3 finish at 276 + 3 and 4 tile computes.
    result = simulate(one_op_graph(**GEMV), first_frame_trace(), tiny_design(matrix=SYSTOLIC_4X4_WS))
    start = LATENCY + LOAD
    assert result.total_cycles == start + 4 * SLOW_TILE
    assert result.timeline_occupancy == {
        "weights": [(0, TILE), (start, 2 * TILE), (start + 3 * SLOW_TILE, TILE), (start + 4 * SLOW_TILE, 0)]
    }
    counters = [e for e in trace_events([("r", result)])["traceEvents"] if e["ph"] == "C"]
    assert [(e["name"], e["ts"] * result.clock_mhz, e["args"]["bytes"]) for e in counters] == [
        ("weights buffer", pytest.approx(t), level) for t, level in result.timeline_occupancy["weights"]
    ]


@pytest.mark.parametrize("policy", POLICIES.names())
def test_the_counters_stay_within_the_buffers_and_peak_at_each_steps_peak(policy):
    graph = llama_graph(num_layers=2, hidden=256, heads=4, mlp_hidden=512, vocab=0)
    trace = synthetic_trace(num_layers=2, layer_rates=0.5, frames=3, frame_rows=2, frame_cols=2, seed=1)
    design = tiny_design(matrix={"type": "mac_tree", "arrays": 2, "rows": 64, "cols": 64})  # static: one array each
    first, last = 4, 7
    result = simulate(graph, trace, design, policy=policy, timeline_steps=(first, last))
    assert result.timeline_occupancy["weights"] and result.timeline_occupancy["kv_cache"]
    starts = np.concatenate(([0], np.cumsum(result.step_cycles)))
    buffer_of = {"weights": "w", "kv_cache": "kv"}  # one buffer per purpose in the tiny design
    for purpose, points in result.timeline_occupancy.items():
        cycles = np.array([c for c, _ in points])
        levels = np.array([level for _, level in points])
        assert cycles[0] == starts[first] and np.all(np.diff(cycles) > 0)
        assert levels.min() >= 0 and levels.max() <= result.buffer_capacity_bytes[buffer_of[purpose]]
        for step in range(first, last):
            inside = levels[(cycles >= starts[step]) & (cycles < starts[step + 1])]
            held = levels[cycles < starts[step]][-1:]  # the level carried into the step
            assert max([*inside, *held, 0]) == result.step_buffer_peak_bytes[buffer_of[purpose]][step]
    continuous = simulate(graph, trace, design, policy=policy, memoize=False, timeline_steps=(first, last))
    assert result.timeline_occupancy == continuous.timeline_occupancy


def test_a_long_series_keeps_its_peaks_in_bins(monkeypatch):
    monkeypatch.setattr(buffer_timeline, "MAX_OCCUPANCY_POINTS", 4)
    series = [(0, 0), (1, 5), (2, 0), (10, 3), (11, 0), (20, 7), (39, 1)]
    # bins [0, 10), [10, 20), [20, 30), [30, 40): their highest levels, the level carried in counted
    assert buffer_timeline._bounded(series, (0, 40)) == [(0, 5), (10, 3), (20, 7)]
