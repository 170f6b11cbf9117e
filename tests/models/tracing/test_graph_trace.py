"""Traced compute graphs: the 7B closed form, an independent count of what a real forward
runs, replay marking, KV-length scaling, file round trip and CLI errors."""

import json
import subprocess
import sys
from collections import Counter

import pytest
import torch

from cosim.artifacts.graph import load_graph, node_cost, save_graph, totals
from cosim.artifacts.graph_summary import summarize
from cosim.cli import main
from models.config import get_preset
from models.decoding.fastcar import FastCarRun, FastCarSettings
from models.tracing.graph_trace import KVScalingError, _solve, trace_model
from models.transformer import VideoTransformer
from tiny_models import tiny_depth_config

torch.set_num_threads(1)

HIDDEN, MLP_HIDDEN = 4096, 11008
MLP_NAMES = (
    "post_attention_layernorm",
    "mlp.gate_proj",
    "mlp.activation",
    "mlp.up_proj",
    "mlp.elementwise",
    "mlp.down_proj",
)


@pytest.fixture(scope="module")
def vila_graph():
    return trace_model("vila-u-7b-256", "decode", kv_len=2048)


@pytest.fixture(scope="module")
def toy_graph():
    return trace_model("toyworld", "decode", kv_len=300, dtype="float32")


def layer_nodes(graph, layer, **match):
    return [n for n, a in graph.nodes(data=True) if a["layer"] == layer and all(a[k] == v for k, v in match.items())]


def test_vila_decode_layer_macs_equal_the_closed_form(vila_graph):
    g = vila_graph
    for layer in range(32):
        mlp = totals(g, 0, layer_nodes(g, layer, block="mlp"))
        assert mlp["macs"] == 3 * HIDDEN * MLP_HIDDEN == 135_266_304
        assert mlp["weight_elems"] == 3 * HIDDEN * MLP_HIDDEN
        projections = totals(g, 0, layer_nodes(g, layer, block="attention", kind="linear"))
        assert projections["macs"] == 4 * HIDDEN**2 == 67_108_864
        core = layer_nodes(g, layer, kind="attention_score") + layer_nodes(g, layer, kind="attention_value")
        assert sum(g.nodes[n]["macs_fixed"] for n in core) == 0
        assert sum(g.nodes[n]["macs_per_kv"] for n in core) == 2 * HIDDEN == 8192
        assert sum(g.nodes[n]["kv_read_elems_per_kv"] for n in core) == 2 * HIDDEN  # keys and values
        tas = g.nodes[f"layers.{layer}.tas"]
        assert (tas["macs_fixed"], tas["kv_read_elems_fixed"]) == (HIDDEN, HIDDEN)  # one dot product
    assert g.graph["kv_len_ref"] == 2048 and g.graph["precision_bytes"]["weights"] == 2


def test_vila_trace_allocates_no_weights():
    """The 7B weights alone are 13 GB at float16; a process that only traces the model stays under 1 GB
    (measured in its own process, so that nothing else the test session did counts)."""
    code = (
        "import resource\n"
        "from models.tracing.graph_trace import trace_model\n"
        "trace_model('vila-u-7b-256', 'decode', kv_len=2048)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(done.stdout.split()[-1]) < 1_000_000  # KiB on Linux


def test_vila_summary_mlp_share(vila_graph):
    """FACTS.md: about 62 % of a layer's decode MACs at 2k context, two thirds of its weights."""
    summary = summarize(vila_graph, 2048)
    mlp, projections, core, norms = 3 * HIDDEN * MLP_HIDDEN, 4 * HIDDEN**2, 2 * HIDDEN * 2048, 2 * HIDDEN
    assert summary.mlp_share_of_layer_macs == pytest.approx(mlp / (mlp + projections + core + HIDDEN))  # + TAS
    assert summary.mlp_share_of_layer_weight_bytes == pytest.approx(mlp / (mlp + projections + norms))
    assert round(summary.mlp_share_of_layer_macs, 2) == 0.62
    assert summary.layers[0].label == "0-31"


def test_kv_cache_writes_belong_to_the_key_and_value_producers(vila_graph):
    g = vila_graph
    writers = {n: a["kv_write_elems"] for n, a in g.nodes(data=True) if a["kv_write_elems"]}
    assert writers == {
        name: HIDDEN
        for layer in range(32)
        for name in (f"layers.{layer}.self_attn.rope#2", f"layers.{layer}.self_attn.v_proj")
    }
    # A matmul's output width is its act_write_elems, also when the output goes to the cache.
    assert g.nodes["layers.0.self_attn.v_proj"]["act_write_elems_fixed"] == HIDDEN
    # The score reads the key written this step: an edge through the cache.
    assert g.edges["layers.5.self_attn.rope#2", "layers.5.self_attn.attention_score"]["via"] == "kv_cache"


def test_replayable_nodes_are_the_post_attention_norm_and_the_mlp(vila_graph):
    replayable = {n for n, a in vila_graph.nodes(data=True) if a["replayable"]}
    assert replayable == {f"layers.{layer}.{name}" for layer in range(32) for name in MLP_NAMES}


def profiled_step(model, kv_len):
    """Run one real CPU decode step with TAS (never replaying) under torch's profiler."""
    config = model.config
    cache = model.new_cache(1, kv_len)
    cache.length = kv_len - 1
    fastcar = FastCarRun(FastCarSettings.uniform(float("inf"), config.num_layers), config, 1, prefix_len=0, max_steps=1)
    fastcar.step = 0
    codes = torch.zeros(1, config.codes_per_position, dtype=torch.long)
    with (
        torch.no_grad(),
        torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], with_flops=True) as prof,
    ):
        model.step(codes, cache, fastcar)
    events = prof.events()
    counts = Counter(e.name for e in events)
    matmul_flops = sum(e.flops for e in events if e.name in ("aten::mm", "aten::addmm", "aten::bmm"))
    tas_values = int(torch.isfinite(fastcar.tas).sum())  # one per layer that scored this token
    return counts, matmul_flops // 2, tas_values


@pytest.mark.parametrize("config", [get_preset("toyworld"), tiny_depth_config()], ids=["toyworld", "depth"])
def test_graph_matches_what_a_real_forward_runs(config):
    graph = trace_model(config, "decode", kv_len=config.tokens_per_frame + 20, dtype="float32")
    torch.manual_seed(0)
    model = VideoTransformer(config).eval()
    kinds = Counter(a["kind"] for _, a in graph.nodes(data=True))
    for kv_len in (config.tokens_per_frame + 20, config.tokens_per_frame + 700):  # traced and extrapolated
        counts, macs, tas_values = profiled_step(model, kv_len)
        assert kinds["linear"] + kinds["head"] == counts["aten::mm"] + counts["aten::addmm"]
        assert kinds["attention_score"] + kinds["attention_value"] == counts["aten::bmm"]
        assert kinds["softmax"] == counts["aten::_softmax"]
        assert kinds["activation"] == counts["aten::silu"]
        assert kinds["embedding"] == counts["aten::embedding"]
        assert kinds["sampling"] == counts["aten::argmax"]
        assert kinds["norm"] == counts["aten::rsqrt"]
        assert kinds["rope"] == counts["aten::neg"]  # one rotate_half per RoPE application
        assert kinds["tas"] == tas_values == config.num_layers
        matmul_nodes = [n for n, a in graph.nodes(data=True) if a["kind"] != "tas"]
        assert totals(graph, kv_len, matmul_nodes)["macs"] == macs


def test_prefill_is_the_decode_work_times_the_tokens(toy_graph):
    tokens = 8
    prefill = trace_model("toyworld", "prefill", prefill_tokens=tokens, dtype="float32")
    assert prefill.graph["kv_len_ref"] == tokens and prefill.graph["tokens_per_step"] == tokens
    for layer in range(4):
        for block in ("mlp", "attention"):
            decode_linear = totals(toy_graph, 0, layer_nodes(toy_graph, layer, block=block, kind="linear"))
            prefill_linear = totals(prefill, 0, layer_nodes(prefill, layer, block=block, kind="linear"))
            assert prefill_linear["macs"] == tokens * decode_linear["macs"]
            assert prefill_linear["weight_elems"] == decode_linear["weight_elems"]  # weights read once
        score = prefill.nodes[f"layers.{layer}.self_attn.attention_score"]
        assert (score["macs_fixed"], score["macs_per_kv"]) == (0, tokens * 128)  # every token x every entry


def test_non_linear_kv_dependence_fails_loudly():
    assert _solve([10, 30, 50], [1, 3, 5], "x") == (0, 10)
    with pytest.raises(KVScalingError, match="not linear"):
        _solve([1, 4, 10], [1, 2, 3], "macs")


def test_round_trip_is_lossless(toy_graph, tmp_path):
    loaded = load_graph(save_graph(toy_graph, tmp_path / "toy.json"))
    assert loaded.graph == toy_graph.graph
    assert dict(loaded.nodes(data=True)) == dict(toy_graph.nodes(data=True))
    assert sorted(loaded.edges(data=True)) == sorted(toy_graph.edges(data=True))
    assert node_cost(loaded.nodes["layers.0.self_attn.attention_score"], "macs", 1000) == 128 * 1000


def test_cli_traces_writes_and_summarises(tmp_path, capsys):
    path = tmp_path / "toy.json"
    assert main(["trace", "--model", "toyworld", "--kv-len", "400", "-o", str(path)]) == 0
    assert load_graph(path).graph["kv_len_ref"] == 400
    capsys.readouterr()
    assert main(["trace", "--graph", str(path), "--kv-len", "1000"]) == 0
    out = capsys.readouterr().out
    assert "toyworld decode step (1 token), one batch row of 1, KV length 1000" in out
    assert "0-3 " in out and "MLP share of decoder-layer MACs" in out


def graph_file(toy_graph, tmp_path):
    return save_graph(toy_graph, tmp_path / "g.json")


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda text: text[: len(text) // 2], "expected compute-graph JSON, found unreadable JSON"),
        (lambda text: json.dumps({**json.loads(text), "schema_version": 99}), "schema_version: expected 1, found 99"),
    ],
    ids=["truncated", "wrong-version"],
)
def test_cli_rejects_a_damaged_graph_file(toy_graph, tmp_path, capsys, damage, message):
    path = graph_file(toy_graph, tmp_path)
    path.write_text(damage(path.read_text()))
    assert main(["trace", "--graph", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--model", "llama-9000", "--summary"],
            "--model: expected a preset (llama-2-7b, llama-3-8b, toyworld, vila-u-7b-256) "
            "or a library model (chameleon-7b, ",
        ),
        (["--model", "toyworld", "--kv-len", "100", "--summary"], "kv_len: expected an integer >= 257"),
        (["--model", "toyworld", "--phase", "train", "--summary"], "phase: expected one of decode, prefill"),
        (["--model", "toyworld"], "expected -o FILE to write the graph, or --summary"),
        (["--model", "toyworld", "--prefill-tokens", "8", "--summary"], "prefill_tokens: expected no prefill length"),
    ],
)
def test_cli_user_errors(args, message, capsys):
    assert main(["trace", *args]) == 2
    assert message in capsys.readouterr().err
