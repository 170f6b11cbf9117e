"""Hostile graph, trace and sweep-folder files, and output paths that cannot be written: every
command refuses in one line with exit 2, before any work, leaving nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cosim.artifacts.replay_trace import ReplayTrace
from cosim.cli import main
from hostile_support import Refused
from sweep_support import make_sweep

SIM = ["simulate", "--graph", "g.json", "--trace", "t.npz", "--design", "design.yaml", "--no-progress"]


def _edit_graph(workspace: Path, edit) -> None:
    document = json.loads((workspace / "g.json").read_text())
    edit(document["graph"])
    (workspace / "g.json").write_text(json.dumps(document))


def _linear(graph: dict) -> dict:
    return next(n for n in graph["nodes"] if n["kind"] == "linear")


GRAPH_CASES = [
    # (edit of the node-link data, message fragment)
    (lambda g: _linear(g).update(layer=12), "layer: expected an integer in [-1, 1]"),
    (lambda g: _linear(g).update(macs_fixed=10**30), "macs_fixed: expected an integer in [0, "),
    (lambda g: _linear(g).update(macs_fixed=-5), "macs_fixed: expected an integer in [0, "),
    (lambda g: _linear(g).update(weight_elems=-1), "weight_elems: expected an integer in [0, "),
    (lambda g: _linear(g).update(act_read_elems_per_kv=2**70), "act_read_elems_per_kv: expected an integer in [0, "),
    (lambda g: g["graph"].update(num_layers=7), "graph.num_layers: expected 2 (the layers its nodes use)"),
    (lambda g: g["graph"].update(num_layers=0), "graph.num_layers: expected"),
    (lambda g: g["graph"].update(phase="train"), "g.json: graph.phase: expected decode or prefill"),
    (lambda g: g["graph"].update(kv_len_ref=-3), "graph.kv_len_ref: expected an integer in [1, "),
    (lambda g: g["graph"].update(batch_rows=10**16), "graph.batch_rows: expected an integer in [1, "),
]


# Found by the fuzz tests (tests/fuzz): node-link data of the wrong shape reached networkx (AttributeError).
NODE_LINK_CASES = [
    ({"schema_version": 1, "graph": float("nan")}, "g.json: graph: expected networkx node-link data"),
    ({"schema_version": 1, "graph": {"nodes": 3, "edges": []}}, "found malformed data (nodes: 3, not a list"),
    ({"schema_version": 1, "graph": {"nodes": [1.5], "edges": []}}, "g.json: graph.nodes[0]: expected a node"),
    ({"schema_version": 1, "graph": {"nodes": [{"id": "a"}], "edges": [None]}}, "graph.edges[0]: expected an edge"),
    ({"schema_version": 1, "graph": {"nodes": [{"id": "a"}], "edges": [{"source": "a"}]}}, "graph.edges[0]: expected"),
]


@pytest.mark.parametrize(("document", "fragment"), NODE_LINK_CASES, ids=[c[1] for c in NODE_LINK_CASES])
def test_simulate_refuses_malformed_node_link_data(workspace: Path, refused: Refused, document, fragment) -> None:
    (workspace / "g.json").write_text(json.dumps(document))
    refused([*SIM, "-o", "rep"], fragment)


@pytest.mark.parametrize(("edit", "fragment"), GRAPH_CASES, ids=[case[1].split(":")[0] for case in GRAPH_CASES])
def test_simulate_refuses_broken_graph(workspace: Path, refused: Refused, edit, fragment: str) -> None:
    _edit_graph(workspace, edit)
    refused([*SIM, "-o", "rep"], fragment)
    assert not (workspace / "rep").exists()


def test_graph_layer_count_mismatch_is_the_graphs_fault_even_with_map_layers(workspace: Path, refused) -> None:
    _edit_graph(workspace, lambda g: g["graph"].update(num_layers=7))
    refused([*SIM, "--map-layers", "-o", "rep"], "g.json: graph.num_layers")


def test_directory_given_as_graph(workspace: Path, refused: Refused) -> None:
    refused(
        ["simulate", "--graph", ".", *SIM[3:], "-o", "rep"], "expected a compute-graph file (.json), found a directory"
    )


def test_text_file_given_as_trace(workspace: Path, refused: Refused) -> None:
    (workspace / "x.npz").write_text("hello\n")
    err = refused(["simulate", "--graph", "g.json", "--trace", "x.npz", *SIM[5:], "-o", "rep"], "x.npz")
    assert "pickled" not in err


def test_trace_of_another_model_refused(workspace: Path, refused: Refused) -> None:
    trace = ReplayTrace.load(workspace / "t.npz")
    trace.meta["model"] = "vila-u-7b-256"
    trace.meta["source"] = "decoded"
    trace.save(workspace / "other.npz")
    refused([*SIM[:3], "--trace", "other.npz", *SIM[5:], "-o", "rep"], "meta.model: expected 'tiny'")


def test_zero_step_trace_refused_before_any_file(workspace: Path, refused: Refused) -> None:
    trace = ReplayTrace.load(workspace / "t.npz")
    empty = {name: getattr(trace, name)[:0] for name in ("tas", "replay", "frame", "row", "col", "kv_len")}
    ReplayTrace(**empty, kv_attended=trace.kv_attended[:0], meta=trace.meta).save(workspace / "empty.npz")
    (workspace / "rep").mkdir()
    (workspace / "rep" / "report.json").write_text("{}")
    refused([*SIM[:3], "--trace", "empty.npz", *SIM[5:], "-o", "rep"], "at least one decode step")
    assert [p.name for p in (workspace / "rep").iterdir()] == ["report.json"]


# ---- output paths: checked before any work ------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        ([*SIM, "-o", "afile"], "-o: expected a folder to write to, found a file (afile)"),
        ([*SIM, "-o", "afile/sub"], "-o: expected a folder to write to, found a path under the file afile"),
        (["synth-trace", "--layers", "2", "-o", "."], "-o: expected a file to write to, found a directory (.)"),
        (["synth-trace", "--layers", "2", "-o", "afile/t.npz"], "found a path under the file afile"),
        (["trace", "--model", "toyworld", "-o", "."], "-o: expected a file to write to, found a directory (.)"),
        (["decode", "-o", "."], "-o: expected a file to write to, found a directory (.)"),
        (["run", "-o", "afile", "--no-progress"], "-o: expected a folder to write to, found a file (afile)"),
        (["decode", "--frames", "100000000"], "--frames: expected an integer in [2, "),
        (["decode", "--cfg-scale", "nan"], "--cfg-scale: expected a finite number"),
        (["decode", "--threshold", "nan"], "--threshold: expected numbers (inf is allowed, nan is not)"),
        (["decode", "--target-ratio", "1.5"], "--target-ratio: expected a finite number in [0, 1], found 1.5"),
        (["decode", "--temperature", "-1"], "--temperature: expected a finite number >= 0"),
        (["run", "--sparse-window", "0", "--no-progress"], "--sparse-window: expected an integer >= 1, found 0"),
        (
            ["run", "--target-replay-ratio", "nan", "--no-progress"],
            "--target-replay-ratio: expected a fraction in [0, 1], found nan",
        ),
        (["run", "--frames", "100000000", "--no-progress"], "--frames: expected an integer in [2, "),
        (
            ["synth-trace", "--layers", "2", "--frames", "100000000", "-o", "t2.npz"],
            "--frames: expected an integer in [2, 1024]",
        ),
        (
            ["synth-trace", "--layers", "2", "--rates", "nan", "-o", "t2.npz"],
            "--rates: expected numbers in [0, 1], found nan",
        ),
        (
            ["synth-trace", "--layers", "2", "--correlation", "inf", "-o", "t2.npz"],
            "--correlation: expected a finite number in [0, 1]",
        ),
        (["synth-trace", "--layers", "100000", "-o", "t2.npz"], "--layers: expected an integer in [1, 1024]"),
        (["synth-trace", "--layers", "1024", "--frames", "1024", "-o", "t2.npz"], "trace size: expected at most"),
        (["synth-trace", "--layers", "2", "--conditioning-frames", "8", "-o", "t2.npz"], "--conditioning-frames"),
        (
            ["synth-trace", "--layers", "2", "--seed", "-1", "-o", "t2.npz"],
            "--seed: expected an integer >= 0, found -1",
        ),
        (["trace", "--graph", "g.json", "--kv-len", str(10**20)], "--kv-len: expected an integer in [1, 16777216]"),
        (["trace", "--model", "toyworld", "--batch-rows", "0", "--summary"], "--batch-rows: expected an integer in"),
        (["synth-trace", "--layers", "2", "-o", "/proc/t2.npz"], "-o: expected a file to write to, found a path in"),
    ],
)
def test_refused_before_any_work(workspace: Path, refused: Refused, argv: list[str], fragment: str) -> None:
    refused(argv, fragment)
    assert not (workspace / "t2.npz").exists()


@pytest.fixture
def finished_sweep(workspace: Path, capsys) -> Path:
    spec = make_sweep(workspace / "in", {"clock": {"path": "clock_mhz", "values": [200, 300]}})
    assert main(["sweep", str(spec), "-o", "out", "--workers", "1", "--no-progress"]) == 0
    capsys.readouterr()
    return workspace / "out"


def test_sweep_output_paths(finished_sweep: Path, refused: Refused) -> None:
    spec = str(finished_sweep.parent / "in" / "spec.yaml")
    before = sorted(finished_sweep.rglob("*"))
    refused(["sweep", spec, "-o", "afile", "--no-progress"], "-o: expected a folder to write to, found a file (afile)")
    refused(["pareto", "out", "-o", "."], "-o: expected a file to write to, found a directory (.)")
    refused(["pareto", "out", "--plot", "afile/p.png"], "--plot: expected a file to write to, found a path under")
    assert sorted(finished_sweep.rglob("*")) == before  # refused before writing anything into the sweep folder


# Not UTF-8 (0x80 cannot start a character), fixed so that every run (and every xdist worker) collects the same test.
NOT_JSON = bytes(range(0x80, 0xC0))


@pytest.mark.parametrize(("content", "fragment"), [(NOT_JSON, "unreadable JSON"), (b"[]", "a JSON list")])
def test_resume_with_broken_point_file(finished_sweep: Path, refused: Refused, content: bytes, fragment: str) -> None:
    point = next((finished_sweep / "points").glob("*.json"))
    point.write_bytes(content)
    refused(["sweep", "--resume", "out", "--workers", "1", "--no-progress"], fragment)


def test_pareto_objective_not_a_number(finished_sweep: Path, refused: Refused) -> None:
    before = (finished_sweep / "pareto.csv").read_bytes() if (finished_sweep / "pareto.csv").exists() else None
    refused(
        ["pareto", "out", "--objectives", "status,latency"], "--objectives: expected a numeric column, found status"
    )
    after = (finished_sweep / "pareto.csv").read_bytes() if (finished_sweep / "pareto.csv").exists() else None
    assert before == after
    refused(["pareto", "out", "--objectives", "latency,nosuch"], "--objectives")
