"""The simulator refuses a trace in which the video's first frame (frame index 0) replays: no previous
frame exists there, so there is no TAS and no cached MLP output to replay."""

import dataclasses

import pytest

from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.common.errors import UserError
from cosim.sim.simulator import simulate
from cosim.sim.workload import Workload
from simulator_graphs import llama_graph, tiny_design

GRAPH = llama_graph(num_layers=2, hidden=64, heads=4, mlp_hidden=128)


def from_scratch():
    """Every position of frames 0 and 1 generated; the generator replays every MLP of frame 1 only."""
    return synthetic_trace(num_layers=2, layer_rates=1.0, frames=2, frame_rows=2, frame_cols=2, conditioning_frames=0)


def test_a_generated_first_frame_is_dense_and_simulates():
    trace = from_scratch()
    assert (trace.frame == 0).sum() == 4 and not trace.replay[trace.frame == 0].any()
    assert trace.replay[trace.frame == 1].all()
    assert simulate(GRAPH, trace, tiny_design()).total_cycles > 0


def test_replay_in_the_first_frame_is_refused():
    good = from_scratch()
    replay = good.replay.copy()
    replay[2, 1, 0] = True  # step 2 is in frame 0
    bad = dataclasses.replace(good, replay=replay)
    with pytest.raises(UserError, match=r"trace\.replay\[2, 1, 0\]: expected no replay in frame 0"):
        Workload(GRAPH, bad, tiny_design())
