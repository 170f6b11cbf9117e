"""The tables that keep a long video's simulation small and fast give what the direct computation gives."""

import numpy as np
import pytest

from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.hw.library import load_design
from cosim.sim import segment_results
from cosim.sim.context import SimContext, _per_distinct
from cosim.sim.policies import make_policy
from cosim.sim.segment_results import SegmentResult, SegmentResults
from cosim.sim.stream_views import StreamPlan
from cosim.sim.stream_windows import StreamWindows
from cosim.sim.workload import Workload
from simulator_graphs import llama_graph


@pytest.mark.parametrize("runs", ["few long runs", "many short runs"])
def test_per_distinct_gives_the_formula_of_every_row(runs):
    rng = np.random.default_rng(0)
    if runs == "few long runs":  # a KV stream: full tiles, the last one partial, per row of the batch
        a = np.repeat([7, 3, 7, 3], [40, 1, 40, 1])
        b = np.repeat([2, 2, 5, 5], [40, 1, 40, 1])
    else:  # alternating shapes: more runs than are evaluated one by one
        a = rng.integers(0, 4, 500)
        b = np.tile([1, 2], 250)
    calls = []

    def formula(x, y):
        calls.append((x, y))
        return 10 * x + y * y

    assert _per_distinct(formula, a, b).tolist() == [10 * x + y * y for x, y in zip(a, b, strict=True)]
    assert len(calls) == len(set(calls))  # once per distinct row
    assert _per_distinct(formula, a[:0], b[:0]).tolist() == []


def test_segment_results_sum_counters_across_blocks(monkeypatch):
    monkeypatch.setattr(segment_results, "BLOCK_ROWS", 3)
    rng = np.random.default_rng(1)
    rows = rng.integers(0, 1000, (8, 5))
    results = SegmentResults(5, ["weights"])
    for i, row in enumerate(rows):
        assert results.add(SegmentResult(i, row, {"weights": i}, None)) == i
    weights = rng.integers(0, 50, 8)
    assert results.weighted_counters(weights).tolist() == (weights @ rows).tolist()
    assert results.counter_columns([4, 1]).tolist() == rows[:, [4, 1]].tolist()
    assert results.durations.tolist() == list(range(8))
    assert SegmentResults(5, []).weighted_counters(np.zeros(0, np.int64)).tolist() == [0] * 5


def test_window_ids_found_by_column_are_the_windows_of_every_instance():
    # DRS on a short video with mixed replay decisions: every segment instance's window, found a column at a
    # time by the facts in reach, is the window built for that instance (also near the end of the video)
    graph = llama_graph(num_layers=2, hidden=256, heads=4, mlp_hidden=512, vocab=0)
    trace = synthetic_trace(
        num_layers=2, layer_rates=[0.4, 0.7], frames=5, frame_rows=2, frame_cols=2, correlation=0.5, seed=3
    )
    design = load_design("kv260-fastcar")
    workload = Workload(graph, trace, design)
    ctx = SimContext(design, make_policy("drs", design), workload, None, True)
    windows = StreamWindows(ctx, StreamPlan(ctx))
    for q in range(len(workload.segment_kind)):
        ids = windows.column_ids(q)
        for step in range(workload.steps):
            assert windows.windows[ids[step]] == windows.window(step, q), (step, q)
