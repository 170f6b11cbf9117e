"""`cosim simulate` and `cosim run` from the command line: clear one-line errors for bad
inputs, the report directory, and an end-to-end smoke run on a small setting."""

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from cosim.artifacts.graph import add_op, save_graph
from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.cli import main
from cosim.sim.policies import POLICIES


def hand_graph() -> nx.DiGraph:
    """One decoder layer of hidden 8 with attention and a replayable MLP, then an LM head."""
    g: nx.DiGraph[str] = nx.DiGraph(
        model="hand",
        phase="decode",
        batch_rows=2,
        tokens_per_frame=4,
        frames=3,
        num_layers=1,
        hidden=8,
        kv_len_ref=6,
        precision_bytes={"weights": 1, "activations": 1, "kv_cache": 1},
    )
    add_op(
        g,
        "qkv",
        "linear",
        "attention",
        layer=0,
        macs_fixed=192,
        weight_elems=192,
        act_read_elems_fixed=8,
        act_write_elems_fixed=24,
        kv_write_elems=16,
    )
    add_op(
        g,
        "score",
        "attention_score",
        "attention",
        layer=0,
        after=["qkv"],
        macs_per_kv=8,
        kv_read_elems_per_kv=8,
        act_read_elems_fixed=8,
        act_write_elems_per_kv=1,
    )
    add_op(
        g,
        "softmax",
        "softmax",
        "attention",
        layer=0,
        after=["score"],
        flops_per_kv=3,
        act_read_elems_per_kv=1,
        act_write_elems_per_kv=1,
    )
    add_op(
        g,
        "value",
        "attention_value",
        "attention",
        layer=0,
        after=["softmax"],
        macs_per_kv=8,
        kv_read_elems_per_kv=8,
        act_read_elems_per_kv=1,
        act_write_elems_fixed=8,
    )
    add_op(
        g,
        "o",
        "linear",
        "attention",
        layer=0,
        after=["value"],
        macs_fixed=64,
        weight_elems=64,
        act_read_elems_fixed=8,
        act_write_elems_fixed=8,
    )
    add_op(
        g,
        "up",
        "linear",
        "mlp",
        layer=0,
        after=["o"],
        macs_fixed=256,
        weight_elems=256,
        act_read_elems_fixed=8,
        act_write_elems_fixed=32,
        replayable=True,
    )
    add_op(
        g,
        "down",
        "linear",
        "mlp",
        layer=0,
        after=["up"],
        macs_fixed=256,
        weight_elems=256,
        act_read_elems_fixed=32,
        act_write_elems_fixed=8,
        replayable=True,
    )
    add_op(
        g,
        "head",
        "head",
        "head",
        after=["down"],
        macs_fixed=800,
        weight_elems=800,
        act_read_elems_fixed=8,
        act_write_elems_fixed=100,
    )
    return g


def small_trace(layers: int = 1, rate: float = 0.5):
    return synthetic_trace(
        num_layers=layers, layer_rates=[rate] * layers, frames=3, frame_rows=2, frame_cols=2, batch_rows=2, seed=3
    )


@pytest.fixture()
def inputs(tmp_path):
    graph = save_graph(hand_graph(), tmp_path / "graph.json")
    trace = small_trace().save(tmp_path / "trace.npz")
    return graph, trace


def test_bad_trace_file_exits_2_with_one_line(inputs, tmp_path, capsys):
    graph, _ = inputs
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip archive")
    status = main(
        [
            "simulate",
            "--graph",
            str(graph),
            "--trace",
            str(bad),
            "--design",
            "kv260-fastcar",
            "-o",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1
    assert "bad.npz" in err and "expected a replay-trace .npz archive" in err
    assert not (tmp_path / "out").exists()


def test_trace_with_other_layer_count_is_a_user_error(inputs, tmp_path, capsys):
    graph, _ = inputs
    trace = small_trace(layers=4).save(tmp_path / "four.npz")
    status = main(
        [
            "simulate",
            "--graph",
            str(graph),
            "--trace",
            str(trace),
            "--design",
            "kv260-fastcar",
            "-o",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "meta.num_layers: expected 1 (the graph's layers; or pass --map-layers), found 4" in err


def test_unknown_design_is_a_user_error(inputs, tmp_path, capsys):
    graph, trace = inputs
    status = main(
        [
            "simulate",
            "--graph",
            str(graph),
            "--trace",
            str(trace),
            "--design",
            "no-such-design",
            "-o",
            str(tmp_path / "out"),
        ]
    )
    assert status == 2 and "no-such-design" in capsys.readouterr().err


def test_sparse_baseline_with_replays_is_refused(inputs, tmp_path, capsys):
    graph, trace = inputs
    sparse = small_trace(rate=0.5).save(tmp_path / "sparse.npz")
    status = main(
        [
            "simulate",
            "--graph",
            str(graph),
            "--trace",
            str(trace),
            "--design",
            "kv260-fastcar",
            "--sparse-trace",
            str(sparse),
            "-o",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err
    assert status == 2 and "sparse.npz: replay: expected no replay" in err


def test_dense_baseline_trace_reads_everything_and_replays_nothing():
    trace = small_trace()
    trace.kv_attended[:] = 2
    dense = trace.dense_baseline(full_attention=True)
    assert not dense.replay.any()
    assert (dense.kv_attended == trace.kv_len[:, None]).all()
    assert dense.meta["attention"] == {"policy": "dense"} and dense.meta["thresholds"] is None


def test_simulate_writes_the_report(inputs, tmp_path, capsys):
    graph, trace = inputs
    out = tmp_path / "out"
    status = main(
        [
            "simulate",
            "--graph",
            str(graph),
            "--trace",
            str(trace),
            "--design",
            "kv260-fastcar",
            "-o",
            str(out),
            "--no-progress",
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    for label in ("dense", *(f"fastcar-{policy}" for policy in POLICIES)):
        assert label in printed
    report = json.loads((out / "report.json").read_text())
    assert set(report["runs"]) == {"dense", *(f"fastcar-{policy}" for policy in POLICIES)}
    dense = report["runs"]["dense"]
    assert dense["replay_ratio"] == 0.0 and dense["speedup_over_dense"] == 1.0
    for run in report["runs"].values():
        assert run["roofline"]["percent_of_bound"] <= 100.0 + 1e-9
    timeline = json.loads((out / "timeline.json").read_text())
    assert {e["pid"] for e in timeline["traceEvents"]} == {1, 2, 3, 4}


def test_sparse_attention_baseline(inputs, tmp_path, capsys):
    graph, trace = inputs
    sparse = small_trace().dense_baseline(full_attention=True)
    sparse.kv_attended[:] = np.minimum(sparse.kv_attended, 3)  # a 3-entry window
    sparse_path = sparse.save(tmp_path / "sparse.npz")
    out = tmp_path / "out"
    assert (
        main(
            [
                "simulate",
                "--graph",
                str(graph),
                "--trace",
                str(trace),
                "--design",
                "kv260-fastcar",
                "--policy",
                "drs",
                "--sparse-trace",
                str(sparse_path),
                "-o",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    report = json.loads((out / "report.json").read_text())
    runs = report["runs"]
    assert set(runs) == {"dense", "sparse-attention", "fastcar-drs"}
    assert runs["sparse-attention"]["kind"] == "sparse_attention"
    # fewer KV entries attended than dense, so fewer attention MACs (of every precision class the design uses)
    assert sum(runs["sparse-attention"]["macs"]["by_block"]["attention"].values()) < sum(
        runs["dense"]["macs"]["by_block"]["attention"].values()
    )
    expected = runs["sparse-attention"]["latency"]["per_video_s"] / runs["fastcar-drs"]["latency"]["per_video_s"]
    assert report["comparisons"]["drs_speedup_over_sparse_attention"] == pytest.approx(expected)


def test_simulate_one_policy(inputs, tmp_path, capsys):
    graph, trace = inputs
    out = tmp_path / "out"
    assert (
        main(
            [
                "simulate",
                "--graph",
                str(graph),
                "--trace",
                str(trace),
                "--design",
                "kv260-fastcar",
                "--policy",
                "drs",
                "-o",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    assert set(json.loads((out / "report.json").read_text())["runs"]) == {"dense", "fastcar-drs"}


def test_run_end_to_end_smoke(tmp_path, capsys, monkeypatch):
    """The whole job on a small setting: 3 frames, one calibration video, the toy model and a
    library model (LlamaGen-B: traced as a library entry, the toy decisions mapped onto its 12 layers)."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # the repository, as `make demo` runs it
    out = tmp_path / "run"
    status = main(
        [
            "run",
            "-o",
            str(out),
            "--frames",
            "3",
            "--models",
            "toyworld,llamagen-b",
            "--calibration-videos",
            "1",
            "--calibration-rounds",
            "0",
            "--no-progress",
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "toyworld fastcar-drs" in printed and "PSNR" in printed
    # The checkpoint is named relative to the working directory: no machine's absolute path.
    assert "Decode: toyworld (models/toyworld/checkpoints/toyworld.pt)," in printed
    summary = json.loads((out / "summary.json").read_text())
    decode = summary["decode"]
    assert decode["frames"] == 3 and decode["steps"] == 2 * 256 - 1
    assert 0.0 < decode["runs"]["fastcar"]["replay_ratio"] < 1.0
    assert decode["runs"]["dense"]["replay_ratio"] == 0.0
    # Adaptive by default: frame 2 decodes on the calibrated thresholds, frame 3 on its own.
    assert decode["adaptive_ratio"] == 0.7 and sorted(decode["frame_thresholds"]) == ["1", "2"]
    assert decode["frame_thresholds"]["1"] == pytest.approx(decode["thresholds"])
    assert 0.0 <= decode["runs"]["fastcar"]["token_agreement_vs_dense"] <= 1.0
    comparisons = summary["models"]["toyworld"]["comparisons"]
    assert comparisons["drs_speedup_over_dense"] > 0
    for name in (
        "trace.npz",
        "trace_sparse_attention.npz",
        "decode.json",
        "graphs/toyworld.json",
        "toyworld/report.json",
        "toyworld/timeline.json",
        "toyworld/roofline.png",
    ):
        assert (out / name).is_file(), name
    assert np.isfinite(summary["models"]["toyworld"]["runs"]["dense"]["energy_per_video_j"])
    # The library model ran end to end: its graph, its report, its figures.
    assert "llamagen-b fastcar-drs" in printed
    for name in ("graphs/llamagen-b.json", "llamagen-b/report.json", "llamagen-b/timeline.json"):
        assert (out / name).is_file(), name
    llamagen = json.loads((out / "llamagen-b" / "report.json").read_text())
    assert llamagen["inputs"]["graph"] == "graphs/llamagen-b.json"
    assert summary["models"]["llamagen-b"]["comparisons"]["drs_speedup_over_dense"] > 0


def test_run_unknown_model_is_a_user_error_before_decoding(capsys, tmp_path):
    status = main(["run", "-o", str(tmp_path / "run"), "--models", "toyworld,no-such-model", "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2 and "no-such-model" in err and "llamagen-b" in err


def test_run_fixed_thresholds_flag_turns_adaptive_thresholds_off(monkeypatch, tmp_path):
    import types

    import cosim.pipeline

    seen = []

    def record(settings):
        seen.append(settings)
        return types.SimpleNamespace(summary_text=lambda: "", files=[])

    monkeypatch.setattr(cosim.pipeline, "run_pipeline", record)
    for flag, adaptive in ((["--fixed-thresholds"], False), ([], True)):
        assert main(["run", "-o", str(tmp_path), "--no-progress", *flag]) == 0
        assert seen[-1].adaptive_thresholds is adaptive
