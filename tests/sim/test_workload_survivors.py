"""Workload by hand, for what the other workload tests leave open: graph defaults, the dtypes of the
per-step arrays, ops scaling with the KV length outside the attention core, the previous-frame
prediction on traces whose steps do not follow one another frame by frame, the replay ring of a
run without FastCar and the size at which the ops cache is emptied."""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np

from cosim.artifacts.graph import add_op
from cosim.artifacts.replay_trace import ReplayTrace
from cosim.sim.segments import SegmentParam
from cosim.sim.workload import Workload
from simulator_graphs import one_layer_graph, one_op_graph, one_token_per_frame_trace, tiny_design

GRAPH = one_op_graph(weight_elems=64 * 64, macs_fixed=64 * 64, act_read_elems_fixed=64, act_write_elems_fixed=64)


def test_a_graph_without_phase_or_model_is_a_decode_graph_without_a_name():
    graph = GRAPH.copy()
    del graph.graph["phase"], graph.graph["model"]
    work = Workload(graph, one_token_per_frame_trace([(False,), (True,)]), tiny_design())
    assert work.summary()["graph_model"] == ""


def test_the_workload_keeps_its_design_and_integer_and_boolean_arrays():
    design = tiny_design()
    work = Workload(GRAPH, one_token_per_frame_trace([(False,), (True,)]), design)
    assert work.design is design
    int64, boolean = np.dtype(np.int64), np.dtype(bool)
    assert [a.dtype for a in (work.n_compute, work.kv_len, work.kv_attended, work.segment_template)] == [int64] * 4
    assert [work.predicted_compute.dtype, work.has_prediction.dtype] == [boolean] * 2


def test_an_op_reading_the_kv_outside_the_core_is_sized_by_the_kv_length():
    graph = one_op_graph(weight_elems=64 * 64, macs_fixed=64 * 64, act_read_elems_per_kv=64)
    work = Workload(graph, one_token_per_frame_trace([(False,), (True,), (True,)]), tiny_design())
    pre = work.segment_kind.index("pre")
    assert work.param_size[:, pre].tolist() == [1, 2, 3]  # kv_len of steps 0, 1, 2


def positions_trace(steps: list[tuple[int, int]], replay: list[bool], frames: int) -> ReplayTrace:
    """One row, one layer, two tokens per frame (one per step): step i decodes the token at column
    steps[i][1] of frame steps[i][0] and replays its MLP if replay[i]."""
    n = len(steps)
    return ReplayTrace(
        tas=np.where(np.array([frame for frame, _ in steps]) >= 1, 0.5, np.nan).astype(np.float32).reshape(n, 1, 1),
        replay=np.array(replay, bool).reshape(n, 1, 1),
        frame=np.array([frame for frame, _ in steps], np.int32),
        row=np.zeros(n, np.int32),
        col=np.array([col for _, col in steps], np.int32),
        kv_len=np.arange(1, n + 1, dtype=np.int32),
        kv_attended=np.arange(1, n + 1, dtype=np.int32)[:, None],
        meta={
            "model": "test",
            "num_layers": 1,
            "batch_rows": 1,
            "tokens_per_frame": 2,
            "frame_rows": 1,
            "frame_cols": 2,
            "frames": frames,
            "prompt_len": 0,
            "source": "synthetic",
        },
    )


def prediction(steps: list[tuple[int, int]], replay: list[bool], frames: int) -> tuple[list[bool], list[bool]]:
    work = Workload(GRAPH, positions_trace(steps, replay, frames), tiny_design())
    return work.has_prediction[:, 0].tolist(), work.predicted_compute[:, 0].tolist()


def test_each_step_is_predicted_by_the_same_position_one_frame_back():
    # two steps per frame; step 2 (frame 1, column 0) replays, so step 4 (frame 2, column 0) is predicted to
    steps = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)]
    known, predicted = prediction(steps, [False, False, True, False, False], frames=3)
    assert known == [False, False, True, True, True]
    assert predicted == [True, True, True, True, False]


def test_a_skipped_frame_predicts_nothing():
    # frame 1 is missing: the steps two back are the same positions two frames back, not one
    known, predicted = prediction([(0, 0), (0, 1), (2, 0), (2, 1)], [False] * 4, frames=3)
    assert known == [False] * 4 and predicted == [True] * 4


def test_a_later_step_never_predicts_an_earlier_one():
    # frame 1 decoded before frame 0: the previous frame's positions come two steps later, not before
    known, _ = prediction([(1, 0), (1, 1), (0, 0), (0, 1)], [False] * 4, frames=2)
    assert known == [False] * 4


def mlp_graph() -> nx.DiGraph:
    """One layer whose MLP block is one replayable linear op (its output goes to the replay ring)."""
    graph = one_layer_graph("one-mlp")
    add_op(graph, "layers.0.mlp", "linear", "mlp", layer=0, replayable=True, weight_elems=64 * 64, macs_fixed=64 * 64)
    return graph


def test_a_run_without_fastcar_writes_no_replay_ring():
    trace = one_token_per_frame_trace([(False,), (False,)])
    baseline = dataclasses.replace(trace, meta={**trace.meta, "dense_baseline": True})
    roles: dict[str, list[str]] = {}
    for name, run in (("fastcar", trace), ("baseline", baseline)):
        work = Workload(mlp_graph(), run, tiny_design())
        roles[name] = [op.role for op in work.instance_ops(1, work.segment_kind.index("mlp"))]
    assert "replay_write" in roles["fastcar"] and "replay_write" not in roles["baseline"]


def test_the_ops_cache_is_emptied_when_it_holds_more_than_10000_instances():
    work = Workload(GRAPH, one_token_per_frame_trace([(False,)]), tiny_design())
    pre = int(work.segment_template[work.segment_kind.index("pre")])
    first = work.ops(pre, SegmentParam(0))
    # 10 000 more held (put in by hand: sizing them one by one takes half a second); none dropped yet
    work._ops_cache.update({(pre, SegmentParam(size)): [] for size in range(1, 10_000)})
    work.ops(pre, SegmentParam(10_000))
    assert len(work._ops_cache) == 10_001
    assert work.ops(pre, SegmentParam(0)) is first
    work.ops(pre, SegmentParam(10_001))  # the 10 002nd finds more than 10 000 held: all are dropped first
    assert work.ops(pre, SegmentParam(0)) is not first
