"""A sweep's workload may name any model of the library (`cosim models`), not only a preset."""

from __future__ import annotations

from cosim.artifacts.graph import load_graph
from cosim.sweep import load_spec
from cosim.sweep.spec import SyntheticRecipe
from cosim.sweep.workloads import prepare_workload
from sweep_support import make_sweep

CLOCK = {"clock": {"path": "clock_mhz", "values": [200, 300]}}


def test_spec_accepts_a_library_model(tmp_path):
    workload = {"model": "llamagen-b", "synthetic": {"layer_rates": 0.5, "frames": 2}}
    assert load_spec(make_sweep(tmp_path, CLOCK, workload=workload)).spec.workload.model == "llamagen-b"


def test_library_model_workload_is_traced_from_the_library(tmp_path):
    recipe = SyntheticRecipe(layer_rates=0.5, frames=2).model_dump(mode="json")
    prepared = prepare_workload({"kind": "synthetic", "model": "llamagen-b", "synthetic": recipe}, {}, str(tmp_path))
    assert "error" not in prepared, prepared
    graph = load_graph(prepared["files"]["graph"])
    assert (graph.graph["model"], graph.graph["num_layers"], graph.graph["hidden"]) == ("llamagen-b", 12, 768)
    assert 0 < prepared["metrics"]["workload_replay_ratio"] < 1
