"""Random sampling, NSGA-II through the same store, and workload recipes prepared once."""

from __future__ import annotations

import json

from cosim.sweep import load_results, load_spec, pareto_front, run_sweep
from cosim.sweep.store import ResultStore
from cosim.sweep.strategies import make_strategy
from sweep_support import make_sweep

GRID = {
    "arrays": {"path": "engines.matrix.arrays", "values": [1, 2, 4, 5]},
    "clock": {"path": "clock_mhz", "values": {"low": 100, "high": 300, "step": 50}},
}


def _asked(strategy) -> list[dict]:
    points = []
    while (candidate := strategy.ask()) is not None:
        points.append(candidate.params)
    return points


def test_random_sampling_is_seeded_distinct_and_bounded_by_the_domain(tmp_path):
    spec = load_spec(make_sweep(tmp_path / "a", GRID, strategy={"kind": "random", "n": 7, "seed": 3}))
    first, second = _asked(make_strategy(spec)), _asked(make_strategy(spec))
    assert first == second and len(first) == 7
    assert len({(p["arrays"], p["clock"]) for p in first}) == 7
    assert all(p["arrays"] in (1, 2, 4, 5) and p["clock"] in (100, 150, 200, 250, 300) for p in first)
    everything = load_spec(make_sweep(tmp_path / "b", GRID, strategy={"kind": "random", "n": 100, "seed": 3}))
    assert len(_asked(make_strategy(everything))) == 20  # the whole 4 x 5 domain, once each


def test_random_sampling_of_a_continuous_interval(tmp_path):
    parameters = {"clock": {"path": "clock_mhz", "values": {"low": 150.0, "high": 250.0}}}
    spec = load_spec(make_sweep(tmp_path, parameters, strategy={"kind": "random", "n": 5, "seed": 0}))
    clocks = [p["clock"] for p in _asked(make_strategy(spec))]
    assert len(set(clocks)) == 5 and all(150.0 <= c <= 250.0 for c in clocks)


def test_nsga2_exhausting_a_small_domain_stops(tmp_path):
    parameters = {"arrays": {"path": "engines.matrix.arrays", "values": [1, 2, 4]}}
    spec = make_sweep(tmp_path / "in", parameters, strategy={"kind": "nsga2", "n_trials": 10, "population": 2})
    summary = run_sweep(load_spec(spec), tmp_path / "out", workers=1, progress=False)
    assert summary.recorded == 3  # all there is; then repeated proposals end the search


def test_nsga2_runs_through_the_store_and_resumes_without_reevaluating(tmp_path):
    strategy = {"kind": "nsga2", "n_trials": 12, "population": 4, "seed": 1}
    spec = make_sweep(tmp_path / "in", GRID, strategy=strategy, constraints={"fits_device": True})
    summary = run_sweep(load_spec(spec), tmp_path / "out", workers=2, progress=False)
    assert summary.total == 12
    stored = ResultStore(tmp_path / "out").keys()
    # n_trials counts distinct points; a proposal that repeats one is answered from the store.
    assert summary.recorded == len(stored) == 12
    table = load_results(tmp_path / "out")
    assert set(table["arrays"]) <= {1, 2, 4, 5} and set(table["clock"]) <= {100, 150, 200, 250, 300}
    front = pareto_front(table, {"latency_s": "min", "energy_j": "min"})
    assert not front.empty
    again = run_sweep(load_spec(spec), tmp_path / "out", workers=2, progress=False)
    assert again.recorded == 0 and ResultStore(tmp_path / "out").keys() == stored


def test_synthetic_recipe_prepared_once_per_distinct_recipe(tmp_path):
    parameters = {
        "arrays": {"path": "engines.matrix.arrays", "values": [1, 2, 4]},
        "rate": {"path": "workload.synthetic.layer_rates", "values": [0.0, 1.0]},
    }
    spec = make_sweep(
        tmp_path / "in", parameters, workload={"graph": "graph.json", "synthetic": {"layer_rates": 0.5, "seed": 2}}
    )
    summary = run_sweep(load_spec(spec), tmp_path / "out", workers=2, progress=False)
    assert summary.counts["ok"] == 6
    prepared = sorted((tmp_path / "out" / "workloads").iterdir())
    assert len(prepared) == 2  # two rates, two traces, shared by the three hardware points each
    ratios = sorted(json.loads((p / "info.json").read_text())["metrics"]["workload_replay_ratio"] for p in prepared)
    assert ratios == [0.0, 1.0]
    table = load_results(tmp_path / "out")
    assert sorted(table["workload_replay_ratio"]) == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
