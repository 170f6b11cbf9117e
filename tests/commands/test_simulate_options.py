"""`cosim simulate` with the options of the README's task table: --map-layers and --dense-policy."""

import json

from cosim.artifacts.graph import save_graph
from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.cli import main
from cosim.hw.library import load_design
from cosim.sim.simulator import simulate_dense
from simulator_graphs import llama_graph


def one_layer_graph():
    return llama_graph(num_layers=1, hidden=16, heads=2, mlp_hidden=32, vocab=8, tokens_per_frame=4, frames=3)


def test_map_layers_and_dense_policy(tmp_path):
    dense_policy = "static"  # the design's own policy is drs
    graph = save_graph(one_layer_graph(), tmp_path / "graph.json")  # one decoder layer
    four = synthetic_trace(num_layers=4, layer_rates=0.5, frames=3, frame_rows=2, frame_cols=2, seed=3)
    four.replay[:, 2] = four.frame[:, None] == 2  # source layer 2: frame 2 replays, frame 1 computes
    trace = four.save(tmp_path / "trace.npz")
    out = tmp_path / "out"
    argv = ["simulate", "--graph", str(graph), "--trace", str(trace), "--design", "kv260-fastcar"]
    assert main([*argv, "--policy", "drs", "--dense-policy", dense_policy, "--map-layers", "-o", str(out)]) == 0
    runs = json.loads((out / "report.json").read_text())["runs"]
    assert set(runs) == {"dense", "fastcar-drs"}
    # one target layer takes source layer floor(0.5 * 4 / 1) = 2: half the steps (frame 2) replay
    assert runs["fastcar-drs"]["replay_ratio"] == 0.5 and runs["fastcar-drs"]["policy"] == "drs"
    assert runs["dense"]["policy"] == dense_policy
    expected = simulate_dense(
        one_layer_graph(), four.map_to_layers(1), load_design("kv260-fastcar"), policy=dense_policy
    )
    assert runs["dense"]["latency"]["total_cycles"] == expected.total_cycles
    assert {p.name for p in out.iterdir()} >= {"report.json", "summary.csv", "timeline.json", "step_latency.csv"}


def test_videos_and_tokens_per_step(tmp_path, capsys):
    graph = save_graph(one_layer_graph(), tmp_path / "graph.json")
    one = synthetic_trace(num_layers=1, layer_rates=0.5, frames=3, frame_rows=2, frame_cols=2, seed=3)
    trace = one.save(tmp_path / "trace.npz")
    argv = ["simulate", "--graph", str(graph), "--trace", str(trace), "--design", "kv260-fastcar", "--policy", "drs"]
    assert main([*argv, "--videos", "2", "--tokens-per-step", "2", "-o", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    workload = report["workload"]
    assert (workload["steps"], workload["batch_rows"], workload["videos"], workload["tokens_per_step"]) == (4, 8, 2, 2)
    capsys.readouterr()
    assert main([*argv, "--tokens-per-step", "3", "-o", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "cosim simulate: error: --tokens-per-step: expected a divisor of the 4 tokens of a frame, found 3"
