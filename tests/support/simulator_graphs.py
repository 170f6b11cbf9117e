"""Hand-built decode-step graphs for the simulator tests (LLaMA-style layers, closed-form sizes).

Sizes follow FACTS.md section 1: per layer and token, Q/K/V/O projections 4 x hidden^2
MACs, MLP 3 x hidden x mlp_hidden MACs, attention core 2 x hidden x L MACs.
"""

from __future__ import annotations

import copy
from functools import partial
from typing import Any, TypedDict, Unpack

import networkx as nx
import numpy as np

from cosim.artifacts.graph import add_op
from cosim.artifacts.replay_trace import ReplayTrace
from cosim.hw.schema import Design


class OpSizes(TypedDict, total=False):
    """Sizes of a hand-built op, as `add_op` takes them (absent ones are zero / False)."""

    weight_elems: int
    kv_write_elems: int
    replayable: bool
    macs_fixed: int
    macs_per_kv: int
    flops_fixed: int
    flops_per_kv: int
    act_read_elems_fixed: int
    act_read_elems_per_kv: int
    act_write_elems_fixed: int
    act_write_elems_per_kv: int
    kv_read_elems_fixed: int
    kv_read_elems_per_kv: int


def _layer_op(
    g: nx.DiGraph, layer: int, name: str, kind: str, block: str, after: list[str], **sizes: Unpack[OpSizes]
) -> str:
    """Add op ``layers.<layer>.<name>`` of decoder layer `layer` after the ops `after`."""
    return add_op(g, f"layers.{layer}.{name}", kind, block, layer=layer, after=after, **sizes)


def llama_graph(
    *,
    num_layers: int,
    hidden: int,
    heads: int,
    mlp_hidden: int,
    kv_heads: int | None = None,
    vocab: int = 0,
    model: str = "llama-shaped",
    tokens_per_frame: int = 256,
    frames: int = 8,
) -> nx.DiGraph:
    """One decode step of one row of a LLaMA-style decoder (embedding, layers, final norm, head)."""
    kv_heads = kv_heads or heads
    head_dim = hidden // heads
    kv_dim = kv_heads * head_dim
    g: nx.DiGraph[str] = nx.DiGraph(
        model=model,
        phase="decode",
        batch_rows=2,
        tokens_per_frame=tokens_per_frame,
        frames=frames,
        num_layers=num_layers,
        hidden=hidden,
        kv_len_ref=1,
        precision_bytes={"weights": 1},
    )
    prev = add_op(
        g, "embed_tokens", "embedding", "embedding", weight_elems=max(vocab, 1) * hidden, act_write_elems_fixed=hidden
    )
    for layer in range(num_layers):
        op = partial(_layer_op, g, layer)
        norm = op(
            "input_layernorm",
            "norm",
            "attention",
            [prev],
            weight_elems=hidden,
            flops_fixed=4 * hidden,
            act_read_elems_fixed=hidden,
            act_write_elems_fixed=hidden,
        )
        q = op(
            "self_attn.q_proj",
            "linear",
            "attention",
            [norm],
            weight_elems=hidden * hidden,
            macs_fixed=hidden * hidden,
            act_read_elems_fixed=hidden,
            act_write_elems_fixed=hidden,
        )
        k = op(
            "self_attn.k_proj",
            "linear",
            "attention",
            [norm],
            weight_elems=hidden * kv_dim,
            macs_fixed=hidden * kv_dim,
            act_read_elems_fixed=hidden,
            act_write_elems_fixed=kv_dim,
        )
        v = op(
            "self_attn.v_proj",
            "linear",
            "attention",
            [norm],
            weight_elems=hidden * kv_dim,
            macs_fixed=hidden * kv_dim,
            act_read_elems_fixed=hidden,
            act_write_elems_fixed=kv_dim,
            kv_write_elems=kv_dim,
        )
        rq = op(
            "self_attn.rope_q",
            "rope",
            "attention",
            [q],
            flops_fixed=3 * hidden,
            act_read_elems_fixed=hidden,
            act_write_elems_fixed=hidden,
        )
        rk = op(
            "self_attn.rope_k",
            "rope",
            "attention",
            [k],
            flops_fixed=3 * kv_dim,
            act_read_elems_fixed=kv_dim,
            act_write_elems_fixed=kv_dim,
            kv_write_elems=kv_dim,
        )
        score = op(
            "self_attn.score",
            "attention_score",
            "attention",
            [rq, rk],
            macs_per_kv=hidden,
            kv_read_elems_per_kv=kv_dim,
            act_read_elems_fixed=hidden,
            act_write_elems_per_kv=heads,
        )
        soft = op(
            "self_attn.softmax",
            "softmax",
            "attention",
            [score],
            flops_per_kv=5 * heads,
            act_read_elems_per_kv=heads,
            act_write_elems_per_kv=heads,
        )
        val = op(
            "self_attn.value",
            "attention_value",
            "attention",
            [soft, v],
            macs_per_kv=hidden,
            kv_read_elems_per_kv=kv_dim,
            act_read_elems_per_kv=heads,
            act_write_elems_fixed=hidden,
        )
        o = op(
            "self_attn.o_proj",
            "linear",
            "attention",
            [val],
            weight_elems=hidden * hidden,
            macs_fixed=hidden * hidden,
            act_read_elems_fixed=hidden,
            act_write_elems_fixed=hidden,
        )
        add1 = op(
            "residual_attn",
            "elementwise",
            "attention",
            [o],
            flops_fixed=hidden,
            act_read_elems_fixed=2 * hidden,
            act_write_elems_fixed=hidden,
        )
        norm2 = op(
            "post_attention_layernorm",
            "norm",
            "mlp",
            [add1],
            weight_elems=hidden,
            flops_fixed=4 * hidden,
            act_read_elems_fixed=hidden,
            act_write_elems_fixed=hidden,
            replayable=True,
        )
        gate = op(
            "mlp.gate_proj",
            "linear",
            "mlp",
            [norm2],
            weight_elems=hidden * mlp_hidden,
            macs_fixed=hidden * mlp_hidden,
            act_read_elems_fixed=hidden,
            act_write_elems_fixed=mlp_hidden,
            replayable=True,
        )
        up = op(
            "mlp.up_proj",
            "linear",
            "mlp",
            [norm2],
            weight_elems=hidden * mlp_hidden,
            macs_fixed=hidden * mlp_hidden,
            act_read_elems_fixed=hidden,
            act_write_elems_fixed=mlp_hidden,
            replayable=True,
        )
        act = op(
            "mlp.act_fn",
            "activation",
            "mlp",
            [gate],
            flops_fixed=4 * mlp_hidden,
            act_read_elems_fixed=mlp_hidden,
            act_write_elems_fixed=mlp_hidden,
            replayable=True,
        )
        mul = op(
            "mlp.mul",
            "elementwise",
            "mlp",
            [act, up],
            flops_fixed=mlp_hidden,
            act_read_elems_fixed=2 * mlp_hidden,
            act_write_elems_fixed=mlp_hidden,
            replayable=True,
        )
        down = op(
            "mlp.down_proj",
            "linear",
            "mlp",
            [mul],
            weight_elems=mlp_hidden * hidden,
            macs_fixed=mlp_hidden * hidden,
            act_read_elems_fixed=mlp_hidden,
            act_write_elems_fixed=hidden,
            replayable=True,
        )
        prev = op(
            "residual_mlp",
            "elementwise",
            "mlp",
            [down, add1],
            flops_fixed=hidden,
            act_read_elems_fixed=2 * hidden,
            act_write_elems_fixed=hidden,
        )
    norm = add_op(
        g,
        "norm",
        "norm",
        "head",
        after=[prev],
        weight_elems=hidden,
        flops_fixed=4 * hidden,
        act_read_elems_fixed=hidden,
        act_write_elems_fixed=hidden,
    )
    if vocab:
        add_op(
            g,
            "lm_head",
            "head",
            "head",
            after=[norm],
            weight_elems=hidden * vocab,
            macs_fixed=hidden * vocab,
            act_read_elems_fixed=hidden,
            act_write_elems_fixed=vocab,
        )
    return g


def llama7b_graph(num_layers: int = 32, vocab: int = 32000) -> nx.DiGraph:
    """The LLaMA-2-7B geometry of VILA-U's language model (FACTS.md section 1)."""
    return llama_graph(
        num_layers=num_layers, hidden=4096, heads=32, mlp_hidden=11008, vocab=vocab, model="llama-7b-shaped"
    )


# --------------------------------------------------------------------------- small cases for hand checks

TINY_DESIGN: dict[str, Any] = {  # a design file's contents (`design_from_dict`)
    # 19.2 GB/s x 0.5 at 200 MHz = 48 bytes per cycle; 100 ns = 20 cycles of latency
    "name": "tiny",
    "device": "kv260",
    "clock_mhz": 200.0,
    "precision": {"weights": "int8", "activations": "int8", "kv_cache": "int8"},
    "engines": {
        "matrix": {"type": "mac_tree", "arrays": 1, "rows": 64, "cols": 64},
        "vector": {"lanes": 64, "dsps": 0},
        "tas": {"lanes": 64, "dsps": 0},
    },
    "buffers": [
        # 16384-bit port: 2048 bytes per cycle, so reading a 12288-byte tile takes 6 cycles
        {
            "name": "w",
            "purpose": "weights",
            "bytes": 12288,
            "memory": "uram",
            "width_bits": 16384,
            "double_buffered": True,
        },
        {"name": "kv", "purpose": "kv_cache", "bytes": 12288, "memory": "uram", "width_bits": 16384},
        {"name": "act", "purpose": "activations", "bytes": 1 << 20, "memory": "bram", "width_bits": 512},
    ],
    "dram": {"channels": 1, "efficiency": 0.5, "burst_bytes": 4096, "access_latency_ns": 100.0},
    "replay_cache": "dram",
    "scheduling": {"policy": "time_multiplexed"},
}


def tiny_design(
    changes: dict[str, Any] | None = None,
    matrix: dict[str, Any] | None = None,
    buffers: dict[str, dict[str, Any]] | None = None,
    scheduling: dict[str, Any] | None = None,
) -> Design:
    """The tiny design with some keys replaced (``buffers`` maps a buffer name to its changed keys)."""
    from cosim.hw.library import design_from_dict

    data = copy.deepcopy(TINY_DESIGN)
    data.update(changes or {})
    if matrix:
        data["engines"]["matrix"] = matrix
    for buffer in data["buffers"]:
        buffer.update((buffers or {}).get(buffer["name"], {}))
    if scheduling:
        data["scheduling"] = scheduling
    return design_from_dict(data, "tiny")


def one_layer_graph(model: str) -> nx.DiGraph:
    """An empty one-layer decode graph of hidden 64, one row, 2 frames of 4 tokens, to add ops to."""
    return nx.DiGraph(
        model=model,
        phase="decode",
        batch_rows=1,
        tokens_per_frame=4,
        frames=2,
        num_layers=1,
        hidden=64,
        kv_len_ref=1,
        precision_bytes={"weights": 1},
    )


def one_op_graph(kind: str = "linear", **sizes: Unpack[OpSizes]) -> nx.DiGraph:
    """A one-layer graph holding a single op (in the layer's pre-attention segment)."""
    g: nx.DiGraph[str] = one_layer_graph("one-op")
    add_op(g, "layers.0.op", kind, "attention", layer=0, **sizes)
    return g


def first_frame_trace(rows: int = 1, num_layers: int = 1, steps: int = 1) -> ReplayTrace:
    """Steps of the first frame only: no previous frame, so no TAS and no replay."""
    return ReplayTrace(
        tas=np.full((steps, num_layers, rows), np.nan, np.float32),
        replay=np.zeros((steps, num_layers, rows), bool),
        frame=np.zeros(steps, np.int32),
        row=np.zeros(steps, np.int32),
        col=np.arange(steps, dtype=np.int32),
        kv_len=np.arange(1, steps + 1, dtype=np.int32),
        kv_attended=np.repeat(np.arange(1, steps + 1, dtype=np.int32)[:, None], num_layers, axis=1),
        meta={
            "model": "test",
            "num_layers": num_layers,
            "batch_rows": rows,
            "tokens_per_frame": 4,
            "frame_rows": 1,
            "frame_cols": max(steps, 4),
            "frames": 2,
            "prompt_len": 0,
            "source": "synthetic",
        },
    )


def one_token_per_frame_trace(replay: list[tuple[bool, ...]]) -> ReplayTrace:
    """One step per frame on a one-layer model: frame f's rows replay as replay[f] says (frame 0 has no TAS)."""
    steps, rows = len(replay), len(replay[0])
    return ReplayTrace(
        tas=np.array([[np.nan] * rows] + [[0.5] * rows] * (steps - 1), np.float32).reshape(steps, 1, rows),
        replay=np.array(replay, bool).reshape(steps, 1, rows),
        frame=np.arange(steps, dtype=np.int32),
        row=np.zeros(steps, np.int32),
        col=np.zeros(steps, np.int32),
        kv_len=np.arange(1, steps + 1, dtype=np.int32),
        kv_attended=np.arange(1, steps + 1, dtype=np.int32)[:, None],
        meta={
            "model": "test",
            "num_layers": 1,
            "batch_rows": rows,
            "tokens_per_frame": 1,
            "frame_rows": 1,
            "frame_cols": 1,
            "frames": steps,
            "prompt_len": 0,
            "source": "synthetic",
        },
    )
