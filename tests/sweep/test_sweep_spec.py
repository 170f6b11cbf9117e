"""Sweep specs: value ranges, clear errors, dotted overrides, and what a point's key depends on."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
import yaml

from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.common.errors import UserError
from cosim.hw import hwconfigs_dir
from cosim.hw.overrides import OverrideError, apply_overrides
from cosim.sweep import load_spec
from cosim.sweep.plan import SweepPlan
from cosim.sweep.spec import ValueRange
from cosim.sweep.strategies import make_strategy
from sweep_support import make_sweep


def test_value_ranges():
    assert ValueRange(low=1, high=8, step=3).choices() == [1, 4, 7]
    assert ValueRange(low=0.0, high=0.3, step=0.1).choices() == [0.0, 0.1, 0.2, 0.3]
    assert ValueRange(low=65536, high=1048576, log=2).choices() == [65536, 131072, 262144, 524288, 1048576]
    assert ValueRange(low=-4, high=0).choices() is None  # continuous


def test_overrides_walk_mappings_selectors_and_indices():
    design: dict[str, Any] = {
        "engines": {"matrix": {"arrays": 8}},
        "buffers": [{"name": "weights", "bytes": 1}, {"name": "kv", "bytes": 2}],
    }
    changed = apply_overrides(
        design, {"engines.matrix.arrays": 4, "buffers[name=kv].bytes": 64, "buffers[0].bytes": 9, "clock_mhz": 300}
    )
    assert changed == {
        "engines": {"matrix": {"arrays": 4}},
        "clock_mhz": 300,
        "buffers": [{"name": "weights", "bytes": 9}, {"name": "kv", "bytes": 64}],
    }
    assert design["engines"]["matrix"]["arrays"] == 8  # the base is not modified
    with pytest.raises(OverrideError, match=r"buffers has no item with name=act \(name values: weights, kv\)"):
        apply_overrides(design, {"buffers[name=act].bytes": 1})
    # a section the file leaves to its defaults is created; the schema judges its keys
    assert apply_overrides(design, {"engines.vector.lanes": 1})["engines"]["vector"] == {"lanes": 1}
    with pytest.raises(OverrideError, match=r"buffers has no key 'bytes'|buffers is a list"):
        apply_overrides(design, {"buffers.bytes": 1})


def _write(tmp_path, text: str):
    make_sweep(tmp_path, {"arrays": {"path": "engines.matrix.arrays", "values": [1]}})
    (tmp_path / "spec.yaml").write_text(text)
    return tmp_path / "spec.yaml"


BASE = """base_design: design.yaml
workload: {graph: graph.json, trace: trace.npz}
strategy: {kind: grid}
"""


@pytest.mark.parametrize(
    "text, message",
    [
        (
            BASE + "parameters:\n  a: {path: clock_mhz, values: [1]}\n  a: {path: clock_mhz, values: [2]}\n",
            r"spec\.yaml:6: parameters: expected each key once, found 'a' again \(first at line 5\)",
        ),
        (
            BASE + "parameters:\n  a: {path: clock_mhz, valeus: [1]}\n",
            r"spec\.yaml:5: parameters\.a\.valeus: expected one of the keys path, values, found unknown key 'valeus' "
            r"\(did you mean 'values'\?\)",
        ),
        (
            BASE + "parameters:\n  a: {path: clock_mhz, values: {low: 100, high: 300}}\n",
            r"parameters\.a\.values: expected a list, or a range with step or log, for the grid strategy, "
            r"found a continuous",
        ),
        (
            BASE + "parameters:\n  a: {path: engines.matrix.arrayz, values: [1]}\n",
            r"spec\.yaml:5: parameters\.a\.path: expected a key path of the design schema "
            r".*found 'engines\.matrix\.arrayz'",
        ),
        (
            BASE + "parameters:\n  a: {path: 'buffers[name=nope].bytes', values: [1]}\n",
            r"parameters\.a\.path: expected a path that fits design\.yaml, "
            r"found 'buffers\[name=nope\]\.bytes' \(buffers has "
            r"no item with name=nope",
        ),
        (
            BASE + "parameters:\n  a: {path: workload.synthetic.correlation, values: [0.5]}\n",
            r"parameters\.a\.path: expected no workload path \(files have no knobs\)",
        ),
        (
            BASE.replace("grid", "nsga2, n_trials: 5") + "parameters:\n  a: {path: clock_mhz, values: [1]}\n",
            r"objectives: expected at least one objective for the nsga2 strategy",
        ),
        (
            BASE + "parameters:\n  a: {path: clock_mhz, values: [1]}\nconstraints: {dsp_util: '=< 0.9'}\n",
            r"constraints\.dsp_util: expected a value, or a comparison like \"<= 0\.9\", found '=< 0\.9'",
        ),
    ],
)
def test_spec_mistakes_name_file_line_key_expected_found(tmp_path, text, message):
    with pytest.raises(UserError, match=message):
        SweepPlan(load_spec(_write(tmp_path, text)))


def test_workload_recipe_values_are_checked(tmp_path):
    spec = make_sweep(
        tmp_path,
        {"rate": {"path": "workload.synthetic.layer_rates", "values": [0.2, 1.5]}},
        workload={"graph": "graph.json", "synthetic": {"layer_rates": 0.5}},
    )
    with pytest.raises(UserError, match=r"parameters\.rate\.values\.layer_rates: expected"):
        SweepPlan(load_spec(spec))


def test_key_follows_contents_not_paths(tmp_path):
    parameters = {"weights": {"path": "buffers[name=weights].bytes", "values": [65536, 131072]}}
    plan = SweepPlan(load_spec(make_sweep(tmp_path / "a", parameters)))
    first, second = plan.resolve({"weights": 65536}), plan.resolve({"weights": 131072})
    assert first.key != second.key
    assert [b["bytes"] for b in second.config["design"]["buffers"] if b["name"] == "weights"] == [131072]
    assert plan.resolve({"weights": 65536}).key == first.key
    # The same inputs in another folder: the same keys.
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert SweepPlan(load_spec(tmp_path / "b" / "spec.yaml")).resolve({"weights": 65536}).key == first.key
    # Another trace under the same name: other keys.
    synthetic_trace(num_layers=2, layer_rates=0.9, frames=3, frame_rows=2, frame_cols=2).save(
        tmp_path / "b" / "trace.npz"
    )
    assert SweepPlan(load_spec(tmp_path / "b" / "spec.yaml")).resolve({"weights": 65536}).key != first.key
    # Another evaluator: other keys.
    spec = yaml.safe_load((tmp_path / "a" / "spec.yaml").read_text())
    spec["evaluator"] = "design"
    (tmp_path / "a" / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert SweepPlan(load_spec(tmp_path / "a" / "spec.yaml")).resolve({"weights": 65536}).key != first.key


@pytest.mark.parametrize("name", ["kv260-dsp-split", "toy-tas-threshold", "u280-hbm-clock"])
def test_shipped_example_specs_resolve(name):
    loaded = load_spec(hwconfigs_dir() / "sweeps" / f"{name}.yaml")
    plan, strategy = SweepPlan(loaded), make_strategy(loaded)
    candidate = strategy.ask()
    assert candidate is not None and plan.resolve(candidate.params).key


def test_the_design_evaluator_reports_exactly_the_metrics_it_declares(tmp_path):
    from cosim.sweep.design_evaluator import evaluate_design
    from cosim.sweep.evaluate import reported_metrics
    from cosim.sweep.plan import SweepPlan

    spec = make_sweep(tmp_path, {"clock": {"path": "clock_mhz", "values": [200]}}, evaluator="design")
    plan = SweepPlan(load_spec(spec))
    point = plan.resolve({"clock": 200})
    metrics = evaluate_design({**point.config, "context": plan.context(point)})
    assert frozenset(metrics) == reported_metrics(evaluate_design)
