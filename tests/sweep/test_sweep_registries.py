"""Strategies and evaluators are plug-ins: what lists them reads the registry, and one
registration is all a new one needs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cosim.common.errors import UserError
from cosim.sweep import load_spec, run_sweep
from cosim.sweep.evaluate import EVALUATORS, resolve_evaluator
from cosim.sweep.strategies import STRATEGIES, Candidate, SearchStrategy, StrategySettings, make_strategy
from sweep_support import make_sweep

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sweeps.md"
PARAMETERS = {"arrays": {"path": "engines.matrix.arrays", "values": [1, 2, 4]}}
# The smallest settings of each built-in strategy; a strategy missing here fails the check below.
MINIMAL_SETTINGS = {"grid": {}, "random": {"n": 2}, "nsga2": {"n_trials": 2, "population": 2}}


def test_every_strategy_has_minimal_settings_here():
    assert set(MINIMAL_SETTINGS) == set(STRATEGIES)


@pytest.mark.parametrize("kind", STRATEGIES.names())
def test_every_strategy_is_documented(kind):
    strategies = DOCS.read_text().split("## Strategies", 1)[1].split("\n## ", 1)[0]
    assert re.search(rf"^- `{kind}`:", strategies, re.MULTILINE)


@pytest.mark.parametrize("kind", STRATEGIES.names())
def test_every_strategy_proposes_points_of_the_domain(tmp_path, kind):
    spec = load_spec(make_sweep(tmp_path, PARAMETERS, strategy={"kind": kind, **MINIMAL_SETTINGS.get(kind, {})}))
    candidate = make_strategy(spec).ask()
    assert candidate is not None and candidate.params["arrays"] in (1, 2, 4)


def test_an_unknown_strategy_lists_the_registered_ones(tmp_path):
    spec = make_sweep(tmp_path, PARAMETERS, strategy={"kind": "annealing"})
    names = ", ".join(repr(name) for name in STRATEGIES)
    with pytest.raises(UserError, match=re.escape(f"strategy.kind: expected one of {names}, found 'annealing'")):
        load_spec(spec)


class _LastSettings(StrategySettings):
    count: int


class _Last(SearchStrategy):
    """A toy strategy: the last `count` values of the first parameter."""

    Settings = _LastSettings

    def __init__(self, loaded, settings: _LastSettings) -> None:
        name = next(iter(loaded.spec.parameters))
        self.points = [{name: value} for value in loaded.choices(name)[-settings.count :]]
        self.total = len(self.points)

    def ask(self) -> Candidate | None:
        return Candidate(self.points.pop(0)) if self.points else None

    def prime(self, records: list[dict]) -> int:
        return len(records)


def test_a_strategy_added_by_one_registration_runs_a_sweep(tmp_path):
    STRATEGIES.add("last", _Last)
    try:
        spec = make_sweep(tmp_path / "in", PARAMETERS, strategy={"kind": "last", "count": 2})
        with pytest.raises(UserError, match=r"strategy\.count: expected"):
            load_spec(make_sweep(tmp_path / "bad", PARAMETERS, strategy={"kind": "last", "count": "2"}))
        summary = run_sweep(load_spec(spec), tmp_path / "out", workers=1, progress=False)
    finally:
        STRATEGIES.remove("last")
    assert summary.total == 2 and summary.counts["ok"] == 2


def test_builtin_and_user_evaluators_resolve_through_one_lookup():
    from cosim.sweep.design_evaluator import evaluate_design
    from sweep_evaluators import analytic

    assert resolve_evaluator("design") is evaluate_design
    assert resolve_evaluator("sweep_evaluators:analytic") is analytic
    EVALUATORS.add("analytic", "sweep_evaluators:analytic")
    try:
        assert resolve_evaluator("analytic") is analytic
    finally:
        EVALUATORS.remove("analytic")


def test_an_unknown_evaluator_lists_the_registered_ones():
    with pytest.raises(
        UserError,
        match=rf"evaluator: expected one of {', '.join(EVALUATORS)} or "
        r"package\.module:function, found 'simulate'",
    ):
        resolve_evaluator("simulate")
