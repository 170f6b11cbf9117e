"""Sweep throughput on this machine, and how many simulations NSGA-II needs to find a grid's front.

1. Runs hwconfigs/sweeps/kv260-dsp-split.yaml (200 points: policy, attention/MLP array
   split and weight-buffer depth of the systolic KV260 design, the VILA-U 7B geometry
   with a synthetic 50 % replay trace over 4-frame videos) into a fresh folder with one
   worker per core, and prints
   points per minute, over all points and over the simulated (valid) ones.
2. Replays NSGA-II (the sweep's own strategy, ask/tell, one point at a time) against the
   grid's results for several seeds: each proposal is answered with the grid's record of
   that point, so the distinct points proposed are the simulations NSGA-II would have
   run. It has reached the grid's front when every objective vector on the front is
   among the points it evaluated (points with equal objectives count once). Prints the
   simulations needed per seed and their median as a fraction of the grid.

    python benchmarks/sweep_throughput.py [--workers N] [--seeds 5] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cosim.hw.yaml_document import YamlDocument
from cosim.sweep import load_results, load_spec, pareto_front, run_sweep
from cosim.sweep.plan import canonical_json
from cosim.sweep.spec import check_spec
from cosim.sweep.store import ResultStore
from cosim.sweep.strategies import make_strategy

SPEC = Path(__file__).resolve().parents[1] / "hwconfigs" / "sweeps" / "kv260-dsp-split.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seeds", type=int, default=5, help="NSGA-II seeds to replay")
    parser.add_argument("--population", type=int, default=10, help="NSGA-II population")
    parser.add_argument("--out", type=Path, help="sweep folder (default: a new temporary folder)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="sweep-throughput-"))
    loaded = load_spec(SPEC)

    started = time.perf_counter()
    summary = run_sweep(loaded, out, workers=args.workers, progress=True)
    elapsed = time.perf_counter() - started
    table = load_results(out)
    simulated = int((table["status"] == "ok").sum())
    print(
        f"grid: {len(table)} points ({simulated} simulated, {summary.counts['invalid']} invalid, "
        f"{summary.counts['failed']} failed) in {elapsed:.1f} s on {summary.executor}; "
        f"{summary.recorded} evaluated in this run"
    )
    if summary.recorded:
        print(
            f"throughput: {60 * summary.recorded / elapsed:.1f} points/min, "
            f"{60 * simulated / elapsed:.1f} simulated points/min "
            f"(mean simulation {table['sim_wall_time_s'].mean():.2f} s per point, one core each)"
        )

    objectives = dict(loaded.spec.objectives)
    front = pareto_front(table, objectives)
    targets = {tuple(row) for row in front[list(objectives)].itertuples(index=False)}
    print(f"grid front: {len(front)} points, {len(targets)} distinct objective vectors")
    needed = [_nsga2_simulations(loaded, out, objectives, targets, seed, args.population) for seed in range(args.seeds)]
    shown = ", ".join("not reached" if n is None else str(n) for n in needed)
    print(
        f"NSGA-II (population {args.population}) simulations to reach the grid front, seeds 0-{args.seeds - 1}: {shown}"
    )
    reached = [n for n in needed if n is not None]
    if reached:
        median = statistics.median(reached)
        print(
            f"median {median:g} of {len(table)} grid points = {100 * median / len(table):.0f} % "
            f"(goal: under 25 %); reached for {len(reached)} of {len(needed)} seeds"
        )
    print(f"results: {out}")
    return 0


def _nsga2_simulations(loaded, out: Path, objectives: dict, targets: set, seed: int, population: int) -> int | None:
    """Distinct points NSGA-II evaluates until it has covered every objective vector of `targets`."""
    data = dict(loaded.data, strategy={"kind": "nsga2", "n_trials": 10_000, "population": population, "seed": seed})
    strategy = make_strategy(check_spec(YamlDocument(loaded.file, data)))
    records = {canonical_json(r["params"]): r for r in ResultStore(out).records()}
    evaluated: set[str] = set()
    covered: set[tuple] = set()
    while (candidate := strategy.ask()) is not None:
        record = records[canonical_json(candidate.params)]
        if record["key"] in evaluated:
            strategy.repeated(candidate)
        else:
            evaluated.add(record["key"])
            if record["status"] == "ok":
                covered.add(tuple(record["metrics"][name] for name in objectives))
        strategy.tell(candidate, record)
        if targets <= covered:
            return len(evaluated)
    return None


if __name__ == "__main__":
    sys.exit(main())
