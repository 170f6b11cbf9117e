"""Fuzzed sweep specs: refused before the first point, or every point is evaluated (ok or invalid).

What `cosim sweep` does before its first point (load and check the spec, bind it to its
files, start the strategy) either refuses in one line or accepts; an accepted spec's first
point then evaluates in this process with the built-in design evaluator, and the spec's
objectives and constraints name metrics it reports (no refusal after the work began).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import event, given

from cosim.sweep.evaluate import run_point
from cosim.sweep.plan import SweepPlan
from cosim.sweep.runner import check_metric_names
from cosim.sweep.spec import load_spec
from cosim.sweep.strategies import make_strategy
from fuzz_support import edited, outcome

SPEC = {
    "base_design": "design.yaml",
    "evaluator": "design",
    "workload": {"graph": "g.json", "trace": "t.npz"},
    "parameters": {
        "arrays": {"path": "engines.matrix.arrays", "values": [1, 2]},
        "clock": {"path": "clock_mhz", "values": {"low": 200, "high": 300, "step": 100}},
        "weights": {"path": "buffers[name=weights].bytes", "values": [147456]},
    },
    "strategy": {"kind": "grid"},
    "objectives": {"latency_s": "min", "energy_j": "min"},
    "constraints": {"dsp_util": "<= 1.0"},
}


@given(spec=edited(SPEC))
def test_an_edited_spec_is_refused_before_the_first_point_or_evaluates(base, spec):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "spec.yaml")
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        for name in ("design.yaml", "g.json", "t.npz"):
            Path(folder, name).symlink_to(base / name)
        checked: dict = {}

        def prepare() -> None:
            loaded = load_spec(path)
            plan = SweepPlan(loaded)
            candidate = make_strategy(loaded).ask()
            assert candidate is not None, "an accepted spec has a point"
            checked.update(loaded=loaded, plan=plan, point=plan.resolve(candidate.params))

        result = outcome(prepare)
        event(result)
        if result == "refused":
            return
        point = checked["point"]
        record = {**run_point(point.config, checked["plan"].context(point)), "key": point.key}
        assert record["status"] in ("ok", "invalid"), record["error"]
        check_metric_names(checked["loaded"], record)
