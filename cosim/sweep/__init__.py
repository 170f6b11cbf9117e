"""Design-space exploration: sweep specs, search strategies, executors, results, Pareto fronts.

Public API (notebooks and scripts)::

    load_spec(path) -> LoadedSpec
    run_sweep(loaded, out_dir, workers=None, scheduler=None, client=None) -> SweepSummary
    load_results(out_dir) -> pandas.DataFrame
    pareto_front(table, {"latency_s": "min", "energy_j": "min"}) -> pandas.DataFrame
    plot_pareto(table, x, y, color=...), plot_heatmap(table, x, y, value), save_figure(fig, path)

Importing this package does not import matplotlib; `cosim.sweep.plots` does.
"""

from cosim.sweep.evaluate import InvalidPoint
from cosim.sweep.pareto import non_dominated, pareto_front
from cosim.sweep.results import load_results
from cosim.sweep.runner import SweepSummary, run_sweep
from cosim.sweep.spec import LoadedSpec, load_spec

__all__ = [
    "InvalidPoint",
    "LoadedSpec",
    "SweepSummary",
    "load_results",
    "load_spec",
    "non_dominated",
    "pareto_front",
    "run_sweep",
]
