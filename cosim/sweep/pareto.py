"""Pareto fronts: the points no other point beats on every chosen objective.

A point dominates another when it is at least as good on every objective and strictly
better on one ("good" is smaller for min, larger for max). Points with equal objective
vectors do not dominate each other, so ties on the front are all kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cosim.common.errors import UserError


def non_dominated(values: np.ndarray, goals: Sequence[str]) -> np.ndarray:
    """Boolean mask of the non-dominated rows of `values` [points, objectives]."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[1] != len(goals):
        raise ValueError(f"values of shape {values.shape} do not match {len(goals)} goals")
    signs = np.array([1.0 if goal == "min" else -1.0 for goal in goals])
    costs = values * signs  # smaller is better in every column
    keep = np.ones(len(costs), dtype=bool)
    # Visit points best-first on the sum of costs: a point can only be dominated by one
    # visited earlier or by an equal-sum one, so each check looks at the current front.
    for index in np.argsort(costs.sum(axis=1), kind="stable"):
        if not keep[index]:
            continue
        dominated = np.all(costs[index] <= costs, axis=1) & np.any(costs[index] < costs, axis=1)
        keep &= ~dominated
    return keep


def pareto_front(table: pd.DataFrame, objectives: Mapping[str, str], *, feasible_only: bool = True) -> pd.DataFrame:
    """Rows of `table` on the Pareto front of `objectives` (column -> "min" | "max").

    Only points that finished (status ok) with a number in every objective take part, and
    with `feasible_only` only those meeting the spec's constraints. The front is sorted by
    the first objective.
    """
    missing = [name for name in objectives if name not in table.columns]
    if missing:
        numeric = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])]
        raise UserError(None, "objectives", f"columns of the results table ({', '.join(numeric)})", missing[0])
    for name, goal in objectives.items():
        if goal not in ("min", "max"):
            raise UserError(None, f"objectives.{name}", "min or max", goal)
    candidates = table
    if "status" in table.columns:
        candidates = candidates[candidates["status"] == "ok"]
    if feasible_only and "feasible" in table.columns:
        candidates = candidates[candidates["feasible"].fillna(False).astype(bool)]
    values = candidates[list(objectives)].apply(pd.to_numeric, errors="coerce")
    candidates = candidates[values.notna().all(axis=1).to_numpy()]
    values = values.loc[candidates.index]
    if candidates.empty:
        return candidates.copy()
    mask = non_dominated(values.to_numpy(), list(objectives.values()))
    first = next(iter(objectives))
    front = candidates[mask]
    return front.sort_values(first, ascending=objectives[first] == "min", kind="stable")
