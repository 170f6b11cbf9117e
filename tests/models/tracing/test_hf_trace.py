"""Tracing transformers' own modeling code on meta (models/tracing/hf_trace.py) and the model library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict

import pytest

from cosim.artifacts.graph import load_graph
from cosim.cli import main
from models.config import ModelConfig
from models.library import library
from models.tracing.graph_trace import trace_model
from models.tracing.hf_trace import hf_config_from_dict, trace_hf_model

HIDDEN, MLP, LAYERS, HEADS, KV_HEADS, VOCAB = 64, 176, 2, 4, 2, 300
HEAD_DIM = HIDDEN // HEADS
TINY_TEXT = {
    "hidden_size": HIDDEN,
    "intermediate_size": MLP,
    "num_hidden_layers": LAYERS,
    "num_attention_heads": HEADS,
    "num_key_value_heads": KV_HEADS,
    "vocab_size": VOCAB,
    "tie_word_embeddings": False,
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
}
TOKENS_PER_FRAME, FRAMES = 4, 3


def tiny_config(model_type: str) -> dict:
    """A tiny config of `model_type` (the library's shape, tiny sizes)."""
    if model_type == "emu3":
        return {"model_type": "emu3", "text_config": TINY_TEXT}
    fields = {"model_type": model_type, **TINY_TEXT}
    if model_type == "chameleon":
        fields["vocabulary_map"] = {"<image>": VOCAB - 1}
    return fields


def per_layer(graph, block: str, quantity: str) -> dict[int, int]:
    sums: dict[int, int] = defaultdict(int)
    for _, node in graph.nodes(data=True):
        if node["block"] == block:
            sums[node["layer"]] += node[quantity]
    return dict(sums)


def test_llama_config_by_hand_mlp_and_attention_macs_follow_their_closed_forms(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(tiny_config("llama")))
    out = tmp_path / "g.json"
    assert main(["trace", "--hf-config", str(path), "--tokens-per-frame", "4", "--frames", "3", "-o", str(out)]) == 0
    graph = load_graph(out)
    assert per_layer(graph, "mlp", "macs_fixed") == {i: 3 * HIDDEN * MLP for i in range(LAYERS)}
    assert per_layer(graph, "mlp", "macs_per_kv") == {i: 0 for i in range(LAYERS)}
    projections = 2 * HIDDEN * HEADS * HEAD_DIM + 2 * HIDDEN * KV_HEADS * HEAD_DIM  # q and o, k and v
    assert per_layer(graph, "attention", "macs_fixed") == {i: projections for i in range(LAYERS)}
    assert per_layer(graph, "attention", "macs_per_kv") == {i: 2 * HEADS * HEAD_DIM for i in range(LAYERS)}
    assert per_layer(graph, "tas", "macs_fixed") == {i: HEADS * HEAD_DIM for i in range(LAYERS)}
    # The cache is read once per kv head (repeat_kv's copy is not a second read).
    assert per_layer(graph, "attention", "kv_read_elems_per_kv") == {i: 2 * KV_HEADS * HEAD_DIM for i in range(LAYERS)}
    replayable = {n["module"].split(".", 2)[-1] for _, n in graph.nodes(data=True) if n["replayable"]}
    assert replayable == {
        "post_attention_layernorm",
        "mlp.gate_proj",
        "mlp.up_proj",
        "mlp.down_proj",
        "mlp.act_fn",
        "mlp",
    }
    assert graph.graph["mlp_hidden"] == MLP and graph.graph["kv_heads"] == KV_HEADS


@pytest.mark.parametrize("model_type", sorted({e.hf_config["model_type"] for e in library().values() if e.hf_config}))
@pytest.mark.parametrize("phase", ["decode", "prefill"])
def test_each_library_model_type_traces_on_meta(model_type, phase):
    config = hf_config_from_dict(tiny_config(model_type), model_type)
    graph = trace_hf_model(config, model_type, phase, tokens_per_frame=TOKENS_PER_FRAME, frames=FRAMES)
    blocks = {node["block"] for _, node in graph.nodes(data=True)}
    assert {"embedding", "attention", "mlp", "norm", "head"} <= blocks
    assert ("tas" in blocks) == (phase == "decode")
    tokens = 1 if phase == "decode" else 1 + TOKENS_PER_FRAME
    assert per_layer(graph, "mlp", "macs_fixed") == {i: tokens * 3 * HIDDEN * MLP for i in range(LAYERS)}


def test_the_new_path_equals_the_project_transformer_but_for_four_stated_differences():
    """docs/models.md, "VILA-U through transformers": the same LLaMA geometry traced through
    the project's transformer and through transformers' LlamaForCausalLM."""
    own = ModelConfig(
        name="tiny",
        num_layers=LAYERS,
        hidden=HIDDEN,
        num_heads=HEADS,
        num_kv_heads=KV_HEADS,
        mlp_hidden=MLP,
        vocab_size=VOCAB,
        codebook_size=VOCAB - 1,
        frames=3,
        frame_rows=2,
        frame_cols=2,
    )
    hf = hf_config_from_dict(tiny_config("llama"), "llama")
    quantities = ("macs_fixed", "macs_per_kv", "weight_elems", "kv_read_elems_fixed", "kv_read_elems_per_kv")
    for phase in ("decode", "prefill"):
        a, b = (
            trace_model(own, phase),
            trace_hf_model(hf, "tiny", phase, tokens_per_frame=TOKENS_PER_FRAME, frames=FRAMES),
        )
        assert a.number_of_nodes() == b.number_of_nodes() and a.number_of_edges() == b.number_of_edges()
        # The same ops (the TAS runs right after the attention here, after the residual add there)
        # with the same MACs, weights and cache reads, op by op.
        ops_a, ops_b = (
            sorted((n["layer"], n["block"], n["kind"], *(n[q] for q in quantities)) for _, n in g.nodes(data=True))
            for g in (a, b)
        )
        assert ops_a == ops_b
    decode_a, decode_b = (
        trace_model(own, "decode"),
        trace_hf_model(hf, "tiny", "decode", tokens_per_frame=TOKENS_PER_FRAME, frames=FRAMES),
    )
    # 1. transformers' eager attention adds the causal mask in decode too: one FLOP per head and KV entry.
    score_a, score_b = (
        [n["flops_per_kv"] for _, n in g.nodes(data=True) if n["kind"] == "attention_score"]
        for g in (decode_a, decode_b)
    )
    assert score_b == [f + HEADS for f in score_a]
    # 2. the greedy pick runs over the whole vocabulary, the project's over the codebook.
    pick = [
        n["act_read_elems_fixed"]
        for g in (decode_a, decode_b)
        for _, n in g.nodes(data=True)
        if n["kind"] == "sampling"
    ]
    assert pick == [VOCAB - 1, VOCAB]
    # 3. the TAS reads the query before RoPE (q_proj's output), the project's after.
    assert [p for p in decode_b.predecessors("layers.0.tas")] == ["layers.0.self_attn.q_proj"]
    assert [p for p in decode_a.predecessors("layers.0.tas")] == ["layers.0.self_attn.rope"]


def test_models_lists_the_library(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name, entry in library().items():
        assert name in out
        assert entry.sources["architecture"] and entry.sources["geometry"]
    assert "6.74B" in out  # LLaMA-2-7B's parameters in closed form


@pytest.mark.parametrize("name", ["llamagen-b", "janus-pro-1b"])
def test_trace_model_runs_a_library_entry_of_each_kind(name, capsys):
    assert main(["trace", "--model", name, "--kv-len", "1200", "--summary"]) == 0
    assert "MLP share of decoder-layer MACs" in capsys.readouterr().out


def test_hf_id_offline_is_a_one_line_user_error():
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "cosim.cli", "trace", "--hf-id", "meta-llama/Llama-2-7b-hf", "--summary"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "--hf-id: expected a model id" in done.stderr
