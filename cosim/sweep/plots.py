"""Plots of a sweep's results table, as functions notebooks can call (figures built
without pyplot, so importing this never changes a notebook's matplotlib backend).

`plot_pareto` scatters two objectives for every finished point, coloured by a third
column (typically a resource use), with the Pareto front drawn over them;
`plot_heatmap` shows one metric over a grid of two knobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cosim.analysis.plots import new_figure, save_figure
from cosim.common.errors import UserError
from cosim.sweep.pareto import pareto_front

__all__ = ["plot_heatmap", "plot_pareto", "resource_colour", "save_figure"]

Reduce = Literal["min", "max", "mean"]  # how `plot_heatmap` folds the knobs it does not show


def plot_pareto(
    table: pd.DataFrame,
    x: str = "latency_s",
    y: str = "energy_j",
    *,
    color: str | None = "dsp_util",
    goals: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Figure:
    """Scatter of `y` against `x` for the finished points; the front of (x, y) as a step line.

    `goals` gives min/max per axis (default: both min). Infeasible points are hollow.
    """
    _require(table, [x, y] + ([color] if color else []))
    goals = dict(goals or {})
    objectives = {x: goals.get(x, "min"), y: goals.get(y, "min")}
    finished = table[table["status"] == "ok"] if "status" in table.columns else table
    figure = new_figure(6.4, 4.8)
    axes = figure.subplots()
    feasible = (
        finished["feasible"].fillna(False).astype(bool)
        if "feasible" in finished.columns
        else pd.Series(True, index=finished.index)
    )
    good, bad = finished[feasible], finished[~feasible]
    if not bad.empty:
        axes.scatter(bad[x], bad[y], facecolors="none", edgecolors="grey", s=28, label="infeasible")
    if not good.empty and color:
        points = axes.scatter(
            good[x], good[y], c=pd.to_numeric(good[color], errors="coerce"), cmap="viridis", s=28, label="feasible"
        )
        figure.colorbar(points, ax=axes, label=color)
    elif not good.empty:
        axes.scatter(good[x], good[y], s=28, label="feasible")
    front = pareto_front(table, objectives)
    if not front.empty:
        axes.step(front[x], front[y], where="post", color="tab:red", linewidth=1.2, label="Pareto front")
        axes.scatter(front[x], front[y], marker="x", color="tab:red", s=40, zorder=3)
    axes.set_xlabel(x)
    axes.set_ylabel(y)
    axes.set_title(title or f"{y} vs {x}: {len(finished)} points, {len(front)} on the front")
    if not finished.empty:
        axes.legend(loc="best", fontsize="small")
    return figure


def plot_heatmap(
    table: pd.DataFrame, x: str, y: str, value: str, *, reduce: Reduce = "min", title: str | None = None
) -> Figure:
    """`value` over the grid of knobs `x` and `y` (other knobs reduced by `reduce`: min, max, mean)."""
    _require(table, [x, y, value])
    if reduce not in ("min", "max", "mean"):
        raise UserError(None, "reduce", "min, max or mean", reduce)
    finished = table[table["status"] == "ok"] if "status" in table.columns else table
    grid = finished.assign(**{value: pd.to_numeric(finished[value], errors="coerce")}).pivot_table(
        index=y, columns=x, values=value, aggfunc=reduce
    )
    figure = new_figure(6.4, 4.8)
    axes = figure.subplots()
    cells = grid.to_numpy(dtype=float)
    image = axes.imshow(cells, origin="lower", aspect="auto", cmap="viridis")
    brightness = np.asarray(image.norm(cells))  # viridis is light at the top: dark text there
    axes.set_xticks(range(len(grid.columns)), [_tick(v) for v in grid.columns], rotation=45, ha="right")
    axes.set_yticks(range(len(grid.index)), [_tick(v) for v in grid.index])
    for row in range(grid.shape[0]):
        for col in range(grid.shape[1]):
            cell = cells[row, col]
            if not np.isnan(cell):
                bright = brightness[row, col] > 0.6
                axes.text(
                    col,
                    row,
                    f"{cell:.3g}",
                    ha="center",
                    va="center",
                    fontsize="x-small",
                    color="black" if bright else "white",
                )
    figure.colorbar(image, ax=axes, label=f"{value} ({reduce} over other knobs)")
    axes.set_xlabel(x)
    axes.set_ylabel(y)
    axes.set_title(title or f"{value} by {x} and {y}")
    return figure


RESOURCE_COLOURS = ("dsp_util", "uram_util", "bram_util", "lut_util")


def resource_colour(table: pd.DataFrame, axes: tuple[str, ...] = ()) -> str | None:
    """The first resource use that varies among the finished points and is not plotted already."""
    finished = table[table["status"] == "ok"] if "status" in table.columns else table
    for column in RESOURCE_COLOURS:
        prefix = column.split("_")[0]
        if (
            column in finished.columns
            and finished[column].nunique() > 1
            and not any(a.startswith(prefix) for a in axes)
        ):
            return column
    return None


def _require(table: pd.DataFrame, columns: list[str]) -> None:
    for column in columns:
        if column not in table.columns:
            raise UserError(None, "column", f"one of {', '.join(map(str, table.columns))}", column)


def _tick(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
