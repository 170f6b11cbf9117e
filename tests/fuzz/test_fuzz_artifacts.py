"""Fuzzed graph files and replay traces: `cosim simulate` either runs or refuses (exit 2, one line per mistake)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import networkx as nx
import numpy as np
from hypothesis import event, given
from hypothesis import strategies as st

from cosim.artifacts.graph import load_graph
from cosim.artifacts.replay_trace import ReplayTrace
from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.cli import main
from fuzz_support import HOSTILE_SCALARS, check_refusal, edited
from sweep_support import tiny_graph

GRAPH = {"schema_version": 1, "graph": nx.node_link_data(tiny_graph(), edges="edges")}
TRACE = synthetic_trace(num_layers=2, layer_rates=0.5, frames=3, frame_rows=2, frame_cols=2, seed=1)  # as conftest's
ARRAYS = ("tas", "replay", "frame", "row", "col", "kv_len", "kv_attended")


def _simulate(graph: Path, trace: Path, design: Path, out: Path, capsys) -> int:
    argv = ["simulate", "--graph", str(graph), "--trace", str(trace), "--design", str(design)]
    code = main([*argv, "--policy", "drs", "-o", str(out), "--no-progress"])
    err = capsys.readouterr().err
    if code == 2:
        assert err.startswith("cosim simulate: error: "), err
        check_refusal(err)
    event(f"exit {code}")
    return code


@given(document=edited(GRAPH, max_edits=2))
def test_an_edited_graph_simulates_or_is_refused(base, capsys, document):
    with tempfile.TemporaryDirectory() as folder:
        graph = Path(folder, "g.json")
        graph.write_text(json.dumps(document))
        assert _simulate(graph, base / "t.npz", base / "design.yaml", Path(folder, "out"), capsys) in (0, 2)


@given(cut=st.integers(0, 20000), junk=st.binary(max_size=50))
def test_a_cut_graph_file_is_refused(base, capsys, cut, junk):
    with tempfile.TemporaryDirectory() as folder:
        graph = Path(folder, "g.json")
        graph.write_bytes((base / "g.json").read_bytes()[:cut] + junk)
        assert _simulate(graph, base / "t.npz", base / "design.yaml", Path(folder, "out"), capsys) in (0, 2)


@st.composite
def edited_trace(draw: st.DrawFn, trace: ReplayTrace) -> dict[str, np.ndarray]:
    """The trace's arrays and meta with one or two edits: a value, a dtype, a shape, a missing array, the meta."""
    arrays = {name: getattr(trace, name).copy() for name in ARRAYS}
    meta = (
        draw(edited({**trace.meta, "schema_version": 1}))
        if draw(st.booleans())
        else {**trace.meta, "schema_version": 1}
    )
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(sorted(arrays)))
        action = draw(st.sampled_from(["value", "dtype", "shape", "drop"]))
        array = arrays[name]
        if action == "value" and array.size:
            index = draw(st.integers(0, array.size - 1))
            flat = array.reshape(-1).astype(np.float64)
            flat[index] = draw(st.sampled_from([-1, 0, 2**31 - 1, 1e30, np.nan, np.inf, 5]))
            with np.errstate(invalid="ignore", over="ignore"):
                arrays[name] = flat.astype(array.dtype).reshape(array.shape)
        elif action == "dtype":
            with np.errstate(invalid="ignore", over="ignore"):
                arrays[name] = array.astype(draw(st.sampled_from([np.float64, np.int64, np.uint8, np.bool_])))
        elif action == "shape":
            arrays[name] = array.reshape(-1)[: max(0, array.size - draw(st.integers(0, 3)))]
        elif action == "drop":
            del arrays[name]
    arrays["meta"] = np.array(draw(st.one_of(st.just(json.dumps(meta)), HOSTILE_SCALARS.map(str))))
    return arrays


@given(contents=edited_trace(TRACE))
def test_an_edited_trace_simulates_or_is_refused(base, capsys, contents):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "t.npz")
        np.savez(path, **contents)
        assert _simulate(base / "g.json", path, base / "design.yaml", Path(folder, "out"), capsys) in (0, 2)


@given(cut=st.integers(0, 3000), junk=st.binary(max_size=40))
def test_a_cut_trace_file_is_refused(base, capsys, cut, junk):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "t.npz")
        path.write_bytes((base / "t.npz").read_bytes()[:cut] + junk)
        assert _simulate(base / "g.json", path, base / "design.yaml", Path(folder, "out"), capsys) in (0, 2)


def test_the_unedited_graph_loads():
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "g.json").write_text(json.dumps(GRAPH))
        assert load_graph(Path(folder, "g.json")).graph["num_layers"] == 2
