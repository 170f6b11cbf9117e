"""Batched (N videos) and multi-token (K tokens per step) decode: trace layout, mapping, and hand-computed MLPs."""

import numpy as np
import pytest

from cosim.artifacts.graph import add_op
from cosim.artifacts.lockstep import in_lockstep
from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.common.errors import UserError
from cosim.sim.simulator import simulate
from cosim.sim.workload import Workload
from simulator_graphs import llama_graph, one_layer_graph, tiny_design

# --------------------------------------------------------------------------- traces


def test_one_video_one_token_is_the_trace_of_before():
    plain = synthetic_trace(num_layers=2, layer_rates=0.5, frames=3, frame_rows=2, frame_cols=2, correlation=0.5)
    same = synthetic_trace(
        num_layers=2, layer_rates=0.5, frames=3, frame_rows=2, frame_cols=2, correlation=0.5, videos=1
    )
    assert np.array_equal(plain.replay, same.replay) and plain.meta == same.meta
    assert plain.videos == plain.tokens_per_step == 1 and "videos" not in plain.meta


def test_a_synthetic_lockstep_trace_has_a_row_per_video_token_and_cfg_row():
    trace = synthetic_trace(
        num_layers=2, layer_rates=0.5, frames=3, frame_rows=2, frame_cols=4, videos=3, tokens_per_step=4, seed=1
    )
    # 2 generated frames of 8 tokens, 4 per step: 4 steps; 3 videos x 4 tokens x 2 CFG rows = 24 rows
    assert trace.replay.shape == (4, 2, 24) and trace.sequences == 6
    assert trace.kv_len.tolist() == [9 + 4, 9 + 8, 9 + 12, 9 + 16]  # prompt 1 + 8, then 4 entries per step
    assert trace.frame.tolist() == [1, 1, 2, 2] and trace.col.tolist() == [0, 0, 0, 0]
    rows = trace.replay.reshape(4, 2, 3, 4, 2)  # (step, layer, video, token, CFG row)
    assert (rows[..., 0] == rows[..., 1]).all()  # CFG rows agree
    assert not (rows[:, :, 0] == rows[:, :, 1]).all()  # videos decide on their own
    assert not rows[0].any() or trace.frame[0] >= 1  # the first generated frame has a previous one (conditioning)


def test_a_one_token_trace_maps_onto_lockstep_steps():
    one = synthetic_trace(num_layers=2, layer_rates=0.5, frames=3, frame_rows=2, frame_cols=4, rows_agree=False)
    mapped = in_lockstep(one, videos=2, tokens_per_step=2)
    assert mapped.replay.shape == (8, 2, 8) and mapped.meta["batch_rows"] == 8
    # step 0: video 0 holds tokens 0 and 1 of the frame, video 1 the tokens 4 positions on (8 / 2 videos)
    assert np.array_equal(mapped.replay[0, :, 0:2], one.replay[0])
    assert np.array_equal(mapped.replay[0, :, 2:4], one.replay[1])
    assert np.array_equal(mapped.replay[0, :, 4:6], one.replay[4])
    assert np.array_equal(mapped.replay[3, :, 6:8], one.replay[(7 + 4) % 8])  # rotation stays in the frame
    assert np.array_equal(mapped.replay[4, :, 4:6], one.replay[8 + 4])
    assert mapped.kv_len.tolist() == one.kv_len[1::2].tolist()
    assert mapped.replay_ratio() == pytest.approx(one.replay_ratio())


def test_the_kv_stream_of_a_step_covers_every_token_s_window():
    one = synthetic_trace(num_layers=1, layer_rates=0.0, frames=2, frame_rows=1, frame_cols=4)
    one.kv_attended[:] = np.minimum(one.kv_len, 3)[:, None]  # a 3-entry window
    mapped = in_lockstep(one, tokens_per_step=2)
    # kv_len 6 and 7 for the first two tokens: windows of 3 ending at 6 and at 7 cover 4 entries
    assert one.kv_len[:2].tolist() == [6, 7] and mapped.kv_attended[:, 0].tolist() == [4, 4]


@pytest.mark.parametrize(
    "videos, tokens, key",
    [(0, 1, "--videos"), (1, 3, "--tokens-per-step"), (1, 0, "--tokens-per-step"), (300, 1, "--videos")],
)
def test_bad_lockstep_values_are_one_line_user_errors(videos, tokens, key):
    from cosim.common.cli_values import check_lockstep

    with pytest.raises(UserError, match=key):
        check_lockstep(videos, tokens, tokens_per_frame=256)


def test_a_lockstep_trace_is_not_mapped_again_and_k_divides_the_frame():
    one = synthetic_trace(num_layers=1, layer_rates=0.5, frames=2, frame_rows=1, frame_cols=4)
    with pytest.raises(UserError, match="tokens_per_step"):
        in_lockstep(in_lockstep(one, videos=2), tokens_per_step=2)
    with pytest.raises(UserError, match="tokens_per_step"):
        in_lockstep(one, tokens_per_step=3)


# --------------------------------------------------------------------------- hand-computed batched MLPs

# The tiny design: 19.2 GB/s x 0.5 efficiency at 200 MHz = 48 DRAM bytes per cycle, 100 ns = 20 cycles of latency,
# 4096-byte bursts. A replay-cache buffer whose 2048-byte port moves a row's 64-byte MLP output in one cycle.
LATENCY = 20
REPLAY_BUFFER = {"name": "rc", "purpose": "replay_cache", "bytes": 1 << 16, "memory": "bram", "width_bits": 16384}


def batched_design(matrix=None):
    from cosim.hw.library import design_from_dict
    from simulator_graphs import TINY_DESIGN

    data = {**TINY_DESIGN, "buffers": [*TINY_DESIGN["buffers"], REPLAY_BUFFER], "replay_cache": "buffer"}
    if matrix:
        data["engines"] = {**TINY_DESIGN["engines"], "matrix": matrix}
    return design_from_dict(data, "tiny-batched")


def mlp_graph(weight_elems: int, k: int, n: int):
    """One layer whose only op is a replayable projection (the MLP) of k inputs and n outputs."""
    g = one_layer_graph("one-mlp")
    add_op(
        g,
        "layers.0.mlp.up_proj",
        "linear",
        "mlp",
        layer=0,
        weight_elems=weight_elems,
        macs_fixed=k * n,
        act_read_elems_fixed=k,
        act_write_elems_fixed=n,
        replayable=True,
    )
    return g


def first_frame(videos: int, tokens: int):
    """Frame 0 of a video of 4 tokens decoded from scratch (nothing replays), `tokens` per step, 1 row per token."""
    trace = synthetic_trace(
        num_layers=1,
        layer_rates=0.0,
        frames=2,
        frame_rows=1,
        frame_cols=4,
        batch_rows=1,
        conditioning_frames=0,
        videos=videos,
        tokens_per_step=tokens,
    )
    return trace


OS_2X4X4 = {"type": "systolic", "arrays": 2, "rows": 4, "cols": 4, "dataflow": "output_stationary"}


@pytest.mark.parametrize("videos, tokens", [(1, 1), (2, 2), (2, 4)])
def test_compute_bound_batched_mlp(videos, tokens):
    """m = videos x tokens rows x k=48 x n=100 on two 4x4 output-stationary arrays; 4800 weight bytes in one tile."""
    rows = videos * tokens
    steps = 2 * 4 // tokens
    trace = first_frame(videos, tokens)
    assert trace.replay.shape == (steps, 1, rows)
    # a fold takes rows + cols + T - 2 = 4 + 4 + 48 - 2 = 54 cycles; S_R = m rows, S_C = 100 columns:
    # ceil(m / 4) x 25 folds over 2 arrays
    compute = -(-(-(-rows // 4) * 25) // 2) * 54
    # the tile (4800 bytes = 2 bursts = 8192 bytes) loads in ceil(8192 / 48) = 171 cycles after the latency;
    # the computing rows' outputs go to the replay buffer in 1 cycle; no previous frame in frame 0: no TAS.
    # Frame 1 replays nothing either (rate 0) but runs TAS first: a 64-element dot product per row through
    # the 64-lane TAS tree, one row per cycle plus the tree depth 1 + log2(64) = 7
    load = LATENCY + 171
    per_step_frame0 = load + compute + 1
    per_step_frame1 = rows + 7 + load + compute + 1
    result = simulate(mlp_graph(4800, 48, 100), trace, batched_design(OS_2X4X4), policy="time_multiplexed")
    assert result.total_cycles == steps // 2 * (per_step_frame0 + per_step_frame1)
    assert result.engine_busy_cycles["matrix"] == steps * compute


def test_compute_bound_batched_mlp_computes_only_the_rows_that_compute():
    """8 rows per step, rows replaying at random: the matrix engine works for the computing rows only."""
    trace = synthetic_trace(
        num_layers=1,
        layer_rates=0.5,
        frames=3,
        frame_rows=1,
        frame_cols=4,
        batch_rows=1,
        videos=2,
        tokens_per_step=4,
        seed=3,
    )
    computing = (~trace.replay).sum(axis=2)[:, 0]
    assert 0 < computing.min() < 8 or 0 < computing.max() < 8  # some step computes some rows only
    result = simulate(mlp_graph(4800, 48, 100), trace, batched_design(OS_2X4X4), policy="time_multiplexed")
    expected = sum(-(-(-(-int(c) // 4) * 25) // 2) * 54 for c in computing if c)
    assert result.engine_busy_cycles["matrix"] == expected


@pytest.mark.parametrize("videos, tokens", [(1, 1), (2, 2), (4, 2)])
def test_bandwidth_bound_batched_mlp(videos, tokens):
    """48 x 1024 weights (4 tiles of 12288 bytes) on a 64x64 MAC tree: the weight stream sets the time."""
    rows = videos * tokens
    steps = 2 * 4 // tokens
    trace = first_frame(videos, tokens)
    # a tile loads in 12288 / 48 = 256 cycles; it computes in ceil(m x 256 / 64) x ceil(48 / 64) + depth 7 cycles,
    # less than a load for up to 62 rows: latency, 4 loads back to back, the last tile's compute, the ring write
    last_tile = -(-rows * 256 // 64) + 7
    per_step = LATENCY + 4 * 256 + last_tile + 1
    tas = rows + 7  # frame 1 (second half of the steps)
    result = simulate(mlp_graph(48 * 1024, 48, 1024), trace, batched_design(), policy="time_multiplexed")
    assert result.total_cycles == steps * per_step + steps // 2 * tas
    assert result.dram_bytes["read"]["weights"] == steps * 49152  # once per step, shared by every row


def test_attention_of_the_tokens_of_a_step_shares_one_kv_stream():
    graph = llama_graph(num_layers=1, hidden=64, heads=2, mlp_hidden=128, tokens_per_frame=8)
    one = synthetic_trace(num_layers=1, layer_rates=0.0, frames=2, frame_rows=2, frame_cols=4)
    four = in_lockstep(one, tokens_per_step=4)
    workload = Workload(graph, four, tiny_design())
    core = workload.segment_kind.index("core")
    ops = {op.name: op for op in workload.instance_ops(0, core)}
    score = ops["self_attn.score"]
    assert (score.m, score.instances) == (4, 2)  # 4 tokens of each of the 2 CFG rows' caches
    assert score.streamed_bytes == int(four.kv_attended[0, 0]) * 64  # one key per entry, int8


@pytest.mark.parametrize("pattern", [(1, 0, 0, 0), (1, 1, 0, 0), (1, 1, 1, 0)])
def test_a_step_mixing_replaying_and_computing_rows_pays_the_gather_and_the_scatter(pattern):
    """4 tokens per step; in frame 2 the rows replay as `pattern` says. One 4x4 fold row holds up to 4 rows, so
    the GEMM takes as long for 1 to 4 computing rows: what differs is the gather of the c computing rows' 64-byte
    inputs and the scatter of their outputs, each a read and a write through the 64-byte activation port
    (2c cycles), and the replaying rows' replay-cache read (1 cycle); time-multiplexed, nothing overlaps."""
    trace = synthetic_trace(
        num_layers=1, layer_rates=0.0, frames=3, frame_rows=1, frame_cols=4, batch_rows=1, tokens_per_step=4
    )
    design = batched_design(OS_2X4X4)
    dense = simulate(mlp_graph(4800, 48, 100), trace, design, policy="time_multiplexed")
    trace.replay = trace.replay.copy()
    trace.replay[1, 0] = pattern
    mixed = simulate(mlp_graph(4800, 48, 100), trace, design, policy="time_multiplexed")
    computing = pattern.count(0)
    assert mixed.step_cycles[1] == dense.step_cycles[1] + 1 + 2 * computing + 2 * computing
    assert mixed.step_cycles[0] == dense.step_cycles[0]


def test_drs_on_a_stream_of_mlp_weights_alone_ends():
    """Every streamed weight of this graph is an MLP's (conditional): the DRS window's reach never counted a tile
    and looped forever before the fix; it now ends at the end of the video."""
    trace = synthetic_trace(num_layers=1, layer_rates=0.5, frames=3, frame_rows=1, frame_cols=4, batch_rows=1)
    result = simulate(mlp_graph(4800, 48, 100), trace, batched_design(OS_2X4X4), policy="drs")
    plain = simulate(mlp_graph(4800, 48, 100), trace, batched_design(OS_2X4X4), policy="drs", memoize=False)
    assert result.total_cycles == plain.total_cycles > 0
