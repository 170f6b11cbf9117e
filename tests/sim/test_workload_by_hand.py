"""Workload by hand on a one-op model: its summary, the refused graphs and traces in full, the
previous-frame prediction and the per-instance parameters."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cosim.common.errors import UserError
from cosim.sim.segments import TAS_FROM_STREAM, TAS_NONE
from cosim.sim.workload import Workload
from simulator_graphs import first_frame_trace, one_op_graph, one_token_per_frame_trace, tiny_design

GRAPH = one_op_graph(weight_elems=64 * 64, macs_fixed=64 * 64, act_read_elems_fixed=64, act_write_elems_fixed=64)


def workload(replay: list[tuple[bool, ...]]) -> Workload:
    return Workload(GRAPH, one_token_per_frame_trace(replay), tiny_design())


def test_the_summary_by_hand():
    # 3 steps (one per frame) of 2 rows: 4 of 6 MLPs replayed; steps 1 and 2 replay both rows: 2 of 3 skip the weights
    summary = workload([(False, False), (True, True), (True, True)]).summary()
    assert summary == {
        "steps": 3,
        "layers": 1,
        "batch_rows": 2,
        "videos": 1,
        "tokens_per_step": 1,
        "replay_ratio": 4 / 6,
        "weights_skipped_ratio": 2 / 3,
        "graph_model": "one-op",
        "trace_source": "synthetic",
    }


def test_a_trace_without_steps_skips_nothing():
    trace = first_frame_trace(steps=0)
    summary = Workload(GRAPH, trace, tiny_design()).summary()
    assert (summary["steps"], summary["replay_ratio"], summary["weights_skipped_ratio"]) == (0, 0.0, 0.0)


def test_refused_graphs_and_traces_in_full():
    prefill = GRAPH.copy()
    prefill.graph["phase"] = "prefill"
    with pytest.raises(UserError) as phase:
        Workload(prefill, first_frame_trace(), tiny_design())
    assert (phase.value.key, phase.value.expected, phase.value.found) == (
        "graph.phase",
        "a decode-step graph",
        "prefill",
    )
    with pytest.raises(UserError) as layers:
        Workload(GRAPH, first_frame_trace(num_layers=2), tiny_design())
    error = layers.value
    assert (error.file, error.key, error.found) == (None, "trace.num_layers", 2)
    assert error.expected == "1 (the graph's layers; use trace.map_to_layers)"


def test_replay_in_the_first_frame_is_named_in_full():
    trace = one_token_per_frame_trace([(False, False), (True, False)])
    replay = trace.replay.copy()
    replay[0, 0, 1] = True
    with pytest.raises(UserError) as caught:
        Workload(GRAPH, dataclasses.replace(trace, replay=replay), tiny_design())
    error = caught.value
    assert (error.file, error.key, error.expected, error.found) == (
        None,
        "trace.replay[0, 0, 1]",
        "no replay in frame 0 (it has no previous frame)",
        True,
    )


def test_the_previous_frame_predicts_each_step():
    # one step per frame: step s looks at step s - 1; frame 0 has nothing before it (predicted: the MLP runs)
    work = workload([(False, False), (True, True), (True, False), (False, False)])
    assert work.n_compute[:, 0].tolist() == [2, 0, 1, 2]
    assert work.has_prediction[:, 0].tolist() == [False, True, True, True]
    assert work.predicted_compute[:, 0].tolist() == [True, True, False, True]


def test_instance_parameters_by_hand():
    work = workload([(False, False), (True, False)])
    assert work.segment_kind == ["prologue", "pre", "core", "post", "mlp", "epilogue"]
    core, mlp = work.segment_kind.index("core"), work.segment_kind.index("mlp")
    # kv_len 1 then 2, all attended; the core of frame 1 reads the TAS key from the stream; 2 then 1 rows compute
    assert work.param_size[:, core].tolist() == [1, 2] and work.param_size[:, mlp].tolist() == [2, 1]
    assert work.param_tas[:, core].tolist() == [TAS_NONE, TAS_FROM_STREAM] and not work.param_tas[:, mlp].any()
    assert work.param_size.dtype == np.int32 and work.param_tas.dtype == np.int8
    assert tuple(work.instance_param(1, core)) == (2, 1)
    assert work.instance_ops(1, mlp) is work.instance_ops(1, mlp)  # sized once per distinct instance
