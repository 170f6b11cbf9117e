"""Hostile sweep specs: refused before the first point (or, for metric names a custom evaluator
alone knows, at the first finished point), in one line naming the spec file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostile_support import Refused
from sweep_support import make_sweep

CLOCK = {"clock": {"path": "clock_mhz", "values": [200, 300]}}


def _sweep(workspace: Path, **changes) -> list[str]:
    parameters = changes.pop("parameters", CLOCK)
    spec = make_sweep(workspace / "in", parameters, **changes)
    return ["sweep", str(spec), "-o", "out", "--workers", "1", "--no-progress"]


SPEC_CASES = [
    (
        {"parameters": {"a": {"path": "clock_mhz", "values": [200]}, "b": {"path": "clock_mhz", "values": [300]}}},
        "parameters.b.path: expected a path no other parameter sweeps (parameter 'a' does)",
    ),
    (
        {"parameters": {"clock": {"path": "clock_mhz", "values": {"low": 200, "high": 1e9, "step": 1}}}},
        "parameters.clock.values.step: expected at most 100000 values in the range",
    ),
    ({"parameters": {"clock": {"path": "clock_mhz", "values": [200, float("nan")]}}}, "values[1]: expected a finite"),
    (
        {"parameters": {"clock": {"path": "clock_mhz", "values": {"low": 200, "high": float("inf")}}}},
        "values.high: expected a finite number",
    ),
    ({"evaluator": "nosuchpkg.mod:fn"}, "evaluator: expected an importable module, found nosuchpkg.mod"),
    ({"evaluator": "sweep_evaluators:nosuch"}, "evaluator: expected a function nosuch in sweep_evaluators"),
    ({"evaluator": "nocolon"}, "evaluator: expected one of design or package.module:function"),
    (
        {"workload": {"model": "gpt-9", "synthetic": {"layer_rates": 0.5}}},
        "workload.model: expected a preset (llama-2-7b, llama-3-8b, toyworld",
    ),
    ({"objectives": {"latency_s": "fastest"}}, "objectives.latency_s: expected"),
    ({"constraints": {"dsp_util": "<= lots"}}, "constraints.dsp_util: expected a value, or a comparison"),
]


@pytest.mark.parametrize(("changes", "fragment"), SPEC_CASES, ids=[case[1].split(":")[0] for case in SPEC_CASES])
def test_spec_refused_before_any_point(workspace: Path, refused: Refused, changes: dict, fragment: str) -> None:
    err = refused(_sweep(workspace, **changes), fragment)
    assert "spec.yaml:" in err
    assert not (workspace / "out" / "points").exists() or not any((workspace / "out" / "points").iterdir())


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"constraints": {"no_such_metric": "<= 1"}}, "constraints.no_such_metric: expected a metric the evaluator"),
        ({"objectives": {"latency_s": "min", "speed": "max"}}, "objectives.speed: expected a metric the evaluator"),
    ],
)
def test_unknown_metric_stops_at_the_first_point(workspace: Path, refused: Refused, changes, fragment) -> None:
    refused(
        _sweep(workspace, parameters={"clock": {"path": "clock_mhz", "values": [200, 300, 400, 500]}}, **changes),
        fragment,
    )
    assert len(list((workspace / "out" / "points").iterdir())) < 4


def test_yaml_exponent_in_a_spec_is_a_number(workspace: Path) -> None:
    from cosim.sweep.spec import load_spec

    argv = _sweep(workspace)
    spec = Path(argv[1])
    spec.write_text(spec.read_text().replace("- 300", "- 1.0e300"))
    assert load_spec(spec).choices("clock") == [200, 1e300]


def test_union_value_error_is_one_line_without_pydantic_wording(workspace: Path, refused: Refused) -> None:
    parameters = {"clock": {"path": "clock_mhz", "values": {"low": 200, "high": "lots", "step": 1}}}
    err = refused(_sweep(workspace, parameters=parameters), "parameters.clock.values.high: expected an integer or")
    assert ".int" not in err and ".float" not in err and "input should" not in err


def test_spec_holding_only_parameters_is_one_line(workspace: Path, refused: Refused) -> None:
    (workspace / "only.yaml").write_text("parameters:\n  clock: {path: clock_mhz, values: [200]}\n")
    refused(["sweep", "only.yaml", "-o", "out"], "only.yaml")


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"objectives": {"latency": "min"}}, "objectives.latency: expected a metric the evaluator reports ("),
        ({"constraints": {"dsp": "<= 1"}}, "constraints.dsp: expected a metric the evaluator reports ("),
        (
            {
                "objectives": {"psnr_vs_dense_db": "max"},
                "workload": {"graph": "graph.json", "synthetic": {"layer_rates": 0.5}},
            },
            "objectives.psnr_vs_dense_db: expected a metric",  # a decode metric; this workload is synthetic
        ),
    ],
)
def test_unknown_metric_of_the_design_evaluator_refused_before_any_point(
    workspace: Path, refused: Refused, changes, fragment
) -> None:
    err = refused(_sweep(workspace, evaluator="design", **changes), fragment)
    assert "spec.yaml:" in err
    assert not (workspace / "out").exists()


def test_a_spec_refused_while_binding_its_files_leaves_no_folder(workspace: Path, refused: Refused) -> None:
    err = refused(
        _sweep(workspace, workload={"graph": "nosuch.json", "trace": "trace.npz"}), "workload.graph: expected"
    )
    assert "spec.yaml:" in err
    assert not (workspace / "out").exists()


@pytest.mark.parametrize("kind", [[], {"a": 1}, 3, None])
def test_strategy_kind_of_the_wrong_type(workspace: Path, refused: Refused, kind) -> None:
    # Found by the fuzz tests: a list as the kind was a TypeError (unhashable) in the registry lookup.
    refused(_sweep(workspace, strategy={"kind": kind}), "strategy.kind: expected one of 'grid'")
