"""Segments evaluated in closed form (`serial_segment`) equal the step-by-step SimPy simulation, figure for figure."""

from collections import Counter

import numpy as np
import pytest

from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.hw.library import load_design, override_design
from cosim.sim import serial_segment
from cosim.sim.policies import POLICIES
from cosim.sim.simulator import simulate, simulate_dense
from simulator_graphs import llama_graph

# 4 heads x 64 of head_dim, int4 KV: a 2 KiB KV slot holds 64 score columns, so the attention products stream
# from 1 to ~30 tiles per row as the cache grows, across tile and period boundaries; an 8 KiB score buffer makes
# the score spill through DRAM from ~500 entries on (short caches: no spill, or a store that drains while the
# next op loads -- left to SimPy), and a 4 KiB output buffer makes the longer spills hold their op until written
GRAPH = llama_graph(num_layers=2, hidden=256, heads=4, mlp_hidden=512, vocab=0)
DESIGN = override_design(
    load_design("kv260-fastcar"), {"buffers.1.bytes": 2048, "buffers.3.bytes": 1024, "buffers.4.bytes": 1024}
)


def _trace(attention: str):
    trace = synthetic_trace(
        num_layers=2,
        layer_rates=[0.4, 0.7],
        frames=14,
        conditioning_frames=12,
        frame_rows=4,
        frame_cols=8,
        correlation=0.5,
        rows_agree=False,
        seed=4,
    )
    if attention == "sparse":  # bounded, a different count each step: short caches, lengths across boundaries
        rng = np.random.default_rng(1)
        trace.kv_attended[:, 1] = rng.integers(1, trace.kv_len + 1)
        trace.kv_attended[:, 0] = np.minimum(trace.kv_len, 64 + 7 * np.arange(trace.num_steps))
        trace.meta["attention"] = {"policy": "sparse"}
    return trace


def _same(a, b) -> bool:
    skip = {"wall_time_s", "segments_simulated", "events_simulated"}
    return {k: v for k, v in a.to_dict().items() if k not in skip} == {
        k: v for k, v in b.to_dict().items() if k not in skip
    }


@pytest.fixture
def outcomes(monkeypatch):
    """Counts of segments evaluated in closed form (True) and left to SimPy (False)."""
    counts: Counter[bool] = Counter()
    evaluate = serial_segment.evaluate

    def counted(*args):
        result = evaluate(*args)
        counts[result is not None] += 1
        return result

    monkeypatch.setattr(serial_segment, "evaluate", counted)
    return counts


@pytest.mark.parametrize("attention", ["dense", "sparse"])
@pytest.mark.parametrize("policy", POLICIES.names())
def test_closed_form_segments_equal_the_step_by_step_simulation(policy, attention, outcomes):
    trace = _trace(attention)
    memoised = simulate(GRAPH, trace, DESIGN, policy=policy, timeline_steps=(0, 0))
    reference = simulate(GRAPH, trace, DESIGN, policy=policy, memoize=False, fast_forward=False, timeline_steps=(0, 0))
    assert _same(memoised, reference)
    if policy != "drs":  # the weight stream runs beside every segment: always SimPy
        assert outcomes[True] >= 10 and outcomes[False] >= 1, outcomes


def test_closed_form_dense_baseline_equals_the_step_by_step_simulation(outcomes):
    trace = _trace("dense")
    fast = simulate_dense(GRAPH, trace, DESIGN, policy="static", timeline_steps=(0, 0))
    reference = simulate_dense(
        GRAPH, trace, DESIGN, policy="static", memoize=False, fast_forward=False, timeline_steps=(0, 0)
    )
    assert _same(fast, reference) and outcomes[True] >= 20


def test_fast_forward_off_never_uses_the_closed_form(outcomes):
    simulate(GRAPH, _trace("dense"), DESIGN, policy="static", fast_forward=False, timeline_steps=(0, 0))
    assert outcomes[True] == 0


def test_periodic_runs_found_from_stretches_equal_those_found_tile_by_tile():
    from cosim.sim.buffers import periodic_runs, periodic_runs_of_segments

    rng = np.random.default_rng(0)
    for _ in range(2000):
        values: list[int] = []
        counts: list[int] = []
        for value in rng.integers(0, 3, size=int(rng.integers(1, 10))).tolist():
            if not values or values[-1] != value:  # neighbouring stretches differ
                values.append(value)
                counts.append(int(rng.choice([1, 1, 2, 3, 15, 16, 17, 40])))
        tiles = np.repeat(values, counts)
        assert periodic_runs_of_segments(list(zip(values, counts, strict=True))) == periodic_runs(tiles, 0 * tiles)
