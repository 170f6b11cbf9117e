"""Workload = graph x trace x design: segments, closed-form sizes of the 7B geometry, replay rules."""

import numpy as np
import pytest

from cosim.artifacts.replay_trace import ReplayTrace
from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.common.errors import UserError
from cosim.sim.segments import TAS_FROM_STREAM, TAS_NONE, TAS_READS_KEY
from cosim.sim.workload import Workload
from simulator_graphs import llama7b_graph, llama_graph, tiny_design
from workload_totals import expected_dram_bytes, total_macs, uniform_layers

H, MLP_HIDDEN, VOCAB, LAYERS = 4096, 11008, 32000, 32
GRAPH = llama7b_graph(num_layers=LAYERS, vocab=VOCAB)


def trace_with(
    replay_rows: list[list[bool]], *, kv_len: int = 300, kv_attended: int | None = None, frame: int = 1
) -> ReplayTrace:
    """One decode step per entry of `replay_rows` (the same decisions for every layer)."""
    steps, rows = len(replay_rows), len(replay_rows[0])
    replay = np.repeat(np.asarray(replay_rows, bool)[:, None, :], LAYERS, axis=1)
    kv = np.full(steps, kv_len, np.int32)
    return ReplayTrace(
        tas=np.zeros(replay.shape, np.float32),
        replay=replay,
        frame=np.full(steps, frame, np.int32),
        row=np.zeros(steps, np.int32),
        col=np.arange(steps, dtype=np.int32),
        kv_len=kv,
        kv_attended=np.full((steps, LAYERS), kv_attended or kv_len, np.int32),
        meta={
            "model": "test",
            "num_layers": LAYERS,
            "batch_rows": rows,
            "tokens_per_frame": 256,
            "frame_rows": 16,
            "frame_cols": 16,
            "frames": 8,
            "prompt_len": 257,
            "source": "synthetic",
        },
    )


def int8_design(**changes):
    return tiny_design(changes)


def totals(workload: Workload) -> dict:
    return expected_dram_bytes(workload)


def test_segments_and_shared_templates():
    workload = Workload(GRAPH, trace_with([[False, False]]), int8_design())
    assert workload.segment_kind == ["prologue"] + ["pre", "core", "post", "mlp"] * LAYERS + ["epilogue"]
    assert uniform_layers(workload) and len(workload.templates) == 6  # one template per segment kind
    kinds = {t.kind: [op.name for op in t.ops] for t in workload.templates}
    assert kinds["core"] == ["self_attn.score", "self_attn.softmax", "self_attn.value", "tas"]
    assert kinds["mlp"][-2:] == ["replay_cache.read", "replay_cache.write"]
    assert "mlp.gate_proj" in kinds["mlp"] and "self_attn.o_proj" in kinds["post"]


def test_dense_step_matches_the_closed_form_7b_sizes():
    workload = Workload(GRAPH, trace_with([[False, False]], kv_len=300), int8_design())
    bytes_ = totals(workload)
    per_layer_weights = 4 * H * H + 3 * H * MLP_HIDDEN + 2 * H  # Q/K/V/O, gate/up/down, two RMSNorms (int8)
    embedding, head = 2 * H, H * VOCAB + H  # one table row per batch row; final norm + LM head
    assert bytes_[("read", "weights")] == LAYERS * per_layer_weights + embedding + head
    assert bytes_[("read", "kv_read")] == LAYERS * 2 * (2 * H * 300)  # K and V of 300 entries, 2 rows
    assert bytes_[("write", "kv_write")] == LAYERS * 2 * (2 * H)
    assert bytes_[("write", "replay_write")] == LAYERS * 2 * H  # both rows computed: ring updated
    assert ("read", "replay_read") not in bytes_
    macs = total_macs(workload)
    mlp_per_row = 3 * H * MLP_HIDDEN
    assert mlp_per_row == 135_266_304  # FACTS.md: 135.3 M
    assert macs == 2 * (LAYERS * (4 * H * H + mlp_per_row + 2 * H * 300 + H) + H * VOCAB)


def test_replaying_rows_skip_the_mlp_and_read_the_ring():
    both = totals(Workload(GRAPH, trace_with([[True, True]]), int8_design()))
    one = totals(Workload(GRAPH, trace_with([[True, False]]), int8_design()))
    dense = totals(Workload(GRAPH, trace_with([[False, False]]), int8_design()))
    mlp_weights = LAYERS * (3 * H * MLP_HIDDEN + H)
    assert dense[("read", "weights")] - both[("read", "weights")] == mlp_weights
    assert one[("read", "weights")] == dense[("read", "weights")]  # any row computing streams the MLP once
    assert both[("read", "replay_read")] == LAYERS * 2 * H and ("write", "replay_write") not in both
    assert one[("read", "replay_read")] == LAYERS * H and one[("write", "replay_write")] == LAYERS * H


def test_computing_rows_share_one_weight_stream():
    workload = Workload(GRAPH, trace_with([[True, False]]), int8_design())
    q = workload.segment_kind.index("mlp")
    ops = {op.name: op for op in workload.instance_ops(0, q)}
    gate = ops["mlp.gate_proj"]
    assert (gate.m, gate.k, gate.n, gate.streamed_bytes) == (1, H, MLP_HIDDEN, H * MLP_HIDDEN)
    assert gate.macs == H * MLP_HIDDEN and gate.conditional
    assert ops["residual_mlp"].m == 2 and ops["replay_cache.read"].loads == (("replay_read", H),)


def test_attention_is_sized_by_kv_attended_and_tas_reads_a_key_only_when_sparse():
    dense_attn = Workload(GRAPH, trace_with([[False, False]], kv_len=600), int8_design())
    sparse_attn = Workload(GRAPH, trace_with([[False, False]], kv_len=600, kv_attended=260), int8_design())
    first_frame = Workload(GRAPH, trace_with([[False, False]], frame=0), int8_design())
    assert dense_attn.tas_flag[0, 0] == TAS_FROM_STREAM
    assert sparse_attn.tas_flag[0, 0] == TAS_READS_KEY
    assert first_frame.tas_flag[0, 0] == TAS_NONE
    assert totals(dense_attn)[("read", "kv_read")] == LAYERS * 2 * 2 * H * 600
    # 260 entries attended, plus the previous frame's key (H elements) for TAS, per row and layer
    assert totals(sparse_attn)[("read", "kv_read")] == LAYERS * 2 * (2 * H * 260 + H)
    assert total_macs(dense_attn) - total_macs(first_frame) == 2 * LAYERS * (2 * H * 300 + H)


def ring_design(ring_bytes: int):
    """The tiny design keeping the replay ring in a buffer of `ring_bytes`."""
    import copy

    from cosim.hw.library import design_from_dict
    from simulator_graphs import TINY_DESIGN

    data = copy.deepcopy(TINY_DESIGN)
    data["replay_cache"] = "buffer"
    data["buffers"].append(
        {"name": "ring", "purpose": "replay_cache", "bytes": ring_bytes, "memory": "uram", "width_bits": 512}
    )
    return design_from_dict(data, "ring")


# a small model whose replay ring is 8 positions x 64 hidden x 2 layers x 2 rows int8 = 2048 bytes
SMALL = llama_graph(num_layers=2, hidden=64, heads=2, mlp_hidden=176)
SMALL_TRACE = synthetic_trace(num_layers=2, layer_rates=0.5, frames=3, frame_rows=2, frame_cols=4, rows_agree=False)


def test_replay_cache_in_a_buffer_moves_nothing_through_dram():
    workload = Workload(SMALL, SMALL_TRACE, ring_design(65536))
    bytes_ = totals(workload)
    assert ("read", "replay_read") not in bytes_ and ("write", "replay_write") not in bytes_


def test_a_replay_ring_larger_than_its_buffer_keeps_the_rest_in_dram():
    in_dram = totals(Workload(SMALL, SMALL_TRACE, tiny_design()))  # replay_cache: dram
    replayed, computed = in_dram[("read", "replay_read")], in_dram[("write", "replay_write")]
    assert replayed and computed
    quarter = totals(Workload(SMALL, SMALL_TRACE, ring_design(512)))  # holds 512 of the 2048 bytes
    assert quarter[("read", "replay_read")] == replayed * 3 // 4
    assert quarter[("write", "replay_write")] == computed * 3 // 4


def test_activations_that_do_not_fit_spill_to_dram():
    workload = Workload(GRAPH, trace_with([[False, False]], kv_len=300), tiny_design(buffers={"act": {"bytes": 20000}}))
    q = workload.segment_kind.index("mlp")
    ops = {op.name: op for op in workload.instance_ops(0, q)}
    # mlp.mul reads 2 x 11008 and writes 11008 bytes per row: 66048 for 2 rows, 46048 over the 20000 bytes;
    # the inputs that do not fit are read from DRAM (44032), the rest of the excess is written out (2016)
    mul = ops["mlp.mul"]
    assert mul.loads == (("activations", 44032),) and mul.stores == (("activations", 2016),)


def test_previous_frame_prediction():
    trace = synthetic_trace(
        num_layers=2, layer_rates=0.5, frames=3, frame_rows=2, frame_cols=2, correlation=0.3, seed=4
    )
    small = llama7b_graph(num_layers=2, vocab=0)
    workload = Workload(small, trace, tiny_design())
    truth = workload.n_compute > 0
    assert not workload.has_prediction[:4].any() and workload.has_prediction[4:].all()
    assert (workload.predicted_compute[4:] == truth[:-4]).all()
    assert workload.predicted_compute[:4].all()  # no previous frame in the trace: assume the MLP runs


def test_layer_mismatch_and_dense_trace():
    trace = synthetic_trace(num_layers=4, layer_rates=0.5, frames=2, frame_rows=1, frame_cols=2)
    with pytest.raises(UserError, match="map_to_layers"):
        Workload(GRAPH, trace, int8_design())
    mapped = Workload(GRAPH, trace.map_to_layers(LAYERS), int8_design())
    assert mapped.n_compute.shape == (2, LAYERS)
    dense = trace.dense_baseline(full_attention=False)
    assert not dense.replay.any() and (dense.kv_attended == trace.kv_attended).all()
    assert dense.meta["dense_baseline"] is True
