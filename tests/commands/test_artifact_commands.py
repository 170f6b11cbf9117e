"""`cosim synth-trace`, `cosim trace` and `cosim validate` with their documented options, checked on
what they write (files and values), not only their exit status."""

import json

import numpy as np

from cosim.artifacts.graph import load_graph
from cosim.artifacts.replay_trace import ReplayTrace
from cosim.cli import main


def test_synth_trace_options(tmp_path):
    out = tmp_path / "s.npz"
    argv = ["synth-trace", "--layers", "2", "--rates", "0.5", "--frames", "4", "--conditioning-frames", "2"]
    argv += ["--batch-rows", "3", "--correlation", "1.0", "--rows-differ", "--seed", "5", "--model", "mine"]
    assert main([*argv, "-o", str(out)]) == 0
    trace = ReplayTrace.load(out)
    # 2 generated frames (2 and 3) of 256 positions, 3 rows, 2 layers
    assert trace.replay.shape == (512, 2, 3) and trace.frame.min() == 2
    assert trace.meta["model"] == "mine" and trace.meta["seed"] == 5 and trace.meta["row_policy"] == "each"
    assert trace.meta["synthetic"]["correlation"] == 1.0 and trace.meta["prompt_len"] == 1 + 2 * 256
    frame2, frame3 = trace.replay[:256], trace.replay[256:]
    np.testing.assert_array_equal(frame3, frame2)  # correlation 1: every position repeats its previous frame
    assert (frame2 != frame2[:, :, :1]).any()  # --rows-differ: rows draw their own decisions


def test_synth_trace_rows_agree_by_default(tmp_path):
    out = tmp_path / "s.npz"
    assert main(["synth-trace", "--layers", "1", "--rates", "0.5", "--frames", "2", "-o", str(out)]) == 0
    replay = ReplayTrace.load(out).replay
    assert replay.any() and (replay == replay[:, :, :1]).all()


def trace_graph(tmp_path, *options):
    out = tmp_path / "g.json"
    assert main(["trace", "--model", "toyworld", *options, "-o", str(out)]) == 0
    return load_graph(out)


def test_trace_decode_with_and_without_tas(tmp_path, capsys):
    with_tas = trace_graph(tmp_path, "--kv-len", "300")
    without = trace_graph(tmp_path, "--kv-len", "300", "--no-tas")
    kinds = [a["kind"] for _, a in with_tas.nodes(data=True)]
    assert kinds.count("tas") == with_tas.graph["num_layers"]  # one TAS op per layer
    assert "tas" not in [a["kind"] for _, a in without.nodes(data=True)]
    assert with_tas.number_of_nodes() - without.number_of_nodes() == with_tas.graph["num_layers"]
    assert with_tas.graph["phase"] == "decode" and with_tas.graph["kv_len_ref"] == 300


def test_trace_prefill_and_summary(tmp_path, capsys):
    prefill = trace_graph(tmp_path, "--phase", "prefill", "--prefill-tokens", "17", "--batch-rows", "1")
    decode = trace_graph(tmp_path, "--batch-rows", "1")
    assert prefill.graph["phase"] == "prefill" and prefill.graph["batch_rows"] == 1
    # a 17-token prefill does 17 times the projection MACs of one decode token
    q_proj = next(n for n in decode.nodes if n.endswith("layers.0.self_attn.q_proj"))
    assert prefill.nodes[q_proj]["macs_fixed"] == 17 * decode.nodes[q_proj]["macs_fixed"]
    capsys.readouterr()
    assert main(["trace", "--graph", str(tmp_path / "g.json")]) == 0  # summarise a file instead of tracing
    printed = capsys.readouterr().out
    assert "MLP share of decoder-layer MACs" in printed and "replayable" in printed


def test_validate_json_reports_the_design(capsys):
    assert main(["validate", "--json", "hwconfigs/designs/kv260-fastcar.yaml"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["design"] == "kv260-fastcar" and report["device"] == "kv260"
    dsp = report["estimate"]["DSP"]
    assert dsp["used"] == sum(dsp["breakdown"].values()) and dsp["available"] == 1248


def test_synth_trace_videos_and_tokens_per_step(tmp_path, capsys):
    out = tmp_path / "s.npz"
    argv = ["synth-trace", "--layers", "1", "--frames", "2", "--videos", "3", "--tokens-per-step", "16"]
    assert main([*argv, "-o", str(out)]) == 0
    trace = ReplayTrace.load(out)
    # 256 positions, 16 per step; 3 videos x 16 tokens x 2 CFG rows
    assert trace.replay.shape == (16, 1, 96) and trace.videos == 3 and trace.tokens_per_step == 16
    assert "16 steps x 1 layers x 96 rows" in capsys.readouterr().out
    bad = ["synth-trace", "--layers", "1", "--tokens-per-step", "5", "-o", str(tmp_path / "b.npz")]
    assert main(bad) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == "cosim synth-trace: error: --tokens-per-step: expected a divisor of the 256 tokens of a frame, found 5"
    )
    assert main(["synth-trace", "--layers", "1", "--videos", "0", "-o", str(tmp_path / "b.npz")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
