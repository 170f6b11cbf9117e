"""Building small sweeps for the sweep tests: a design copy, a tiny graph and trace, a spec."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import networkx as nx
import yaml

from cosim.artifacts.graph import save_graph
from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.hw import hwconfigs_dir
from simulator_graphs import llama_graph

SUPPORT = Path(__file__).resolve().parent
VOLATILE = ["elapsed_s", "host", "finished"]  # columns that differ between equal runs


def tiny_graph() -> nx.DiGraph:
    """Two LLaMA-style layers of hidden 64, 2 rows, 2x2 frames: simulates in well under a second."""
    return llama_graph(num_layers=2, hidden=64, heads=4, mlp_hidden=128, model="tiny", tokens_per_frame=4, frames=3)


def make_sweep(
    folder: Path,
    parameters: dict[str, Any],
    *,
    strategy: dict | None = None,
    evaluator: str = "sweep_evaluators:analytic",
    objectives: dict | None = None,
    constraints: dict | None = None,
    delay_s: float = 0.0,
    markers: Path | None = None,
    workload: dict | None = None,
    hang_arrays: int | None = None,
    gate: Path | None = None,
) -> Path:
    """Write design, graph, trace, test settings and spec into `folder`; returns the spec path."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(hwconfigs_dir() / "designs" / "kv260-systolic.yaml", folder / "design.yaml")
    save_graph(tiny_graph(), folder / "graph.json")
    synthetic_trace(num_layers=2, layer_rates=0.5, frames=3, frame_rows=2, frame_cols=2, seed=1).save(
        folder / "trace.npz"
    )
    settings = {
        "delay_s": delay_s,
        "markers": str(markers) if markers else None,
        "hang_arrays": hang_arrays,
        "gate": str(gate) if gate else None,
    }
    (folder / "sweep_test.json").write_text(json.dumps(settings))
    spec = {
        "base_design": "design.yaml",
        "evaluator": evaluator,
        "workload": workload or {"graph": "graph.json", "trace": "trace.npz"},
        "parameters": parameters,
        "strategy": strategy or {"kind": "grid"},
        "objectives": objectives if objectives is not None else {"latency_s": "min", "energy_j": "min"},
        "constraints": constraints or {},
    }
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def subprocess_env() -> dict[str, str]:
    """Environment for a `cosim` subprocess that can import the test evaluators."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SUPPORT), env.get("PYTHONPATH")]))
    return env


def marker_keys(folder: Path) -> Counter:
    """Evaluations per point key, from the marker files."""
    return Counter(path.name.split(".")[0] for path in folder.iterdir())


def stable(table):
    """The table without the columns that legitimately differ between equal runs."""
    return table.drop(columns=VOLATILE).reset_index(drop=True)
