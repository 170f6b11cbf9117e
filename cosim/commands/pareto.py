"""`cosim pareto DIR --objectives latency,energy`: the Pareto front of a finished sweep."""

from __future__ import annotations

import argparse
from pathlib import Path

from cosim.common.errors import UserError
from cosim.common.output_paths import check_output_file

NAME = "pareto"
HELP = "Print (and save) the Pareto front of a sweep folder for chosen objectives."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", metavar="DIR", help="a sweep folder (cosim sweep -o DIR)")
    parser.add_argument(
        "--objectives",
        metavar="LIST",
        help="comma-separated columns, each optionally :min or :max (e.g. latency,energy or "
        "tokens_per_s:max); a unit suffix may be left out. Default: the spec's objectives",
    )
    parser.add_argument("--all", action="store_true", help="include points that violate the spec's constraints")
    parser.add_argument("-o", "--out", metavar="CSV", help="where to write the front (default: DIR/pareto.csv)")
    parser.add_argument(
        "--plot", metavar="PNG", help="also plot the first two objectives, coloured by a resource use that varies"
    )


def run(args: argparse.Namespace) -> int:
    from cosim.common.atomic import atomic_write_text
    from cosim.sweep.pareto import pareto_front
    from cosim.sweep.results import load_results
    from cosim.sweep.store import ResultStore

    out = check_output_file(args.out or Path(args.folder) / "pareto.csv", "-o")
    if args.plot:
        check_output_file(args.plot, "--plot")
    table = load_results(args.folder)
    spec = ResultStore(args.folder).read_spec_data()
    objectives = _objectives(args.objectives, table.columns, spec.get("objectives") or {})
    for column in objectives:
        if table[column].dtype.kind not in "iuf":  # policy, status, fits_device: nothing to minimise
            raise UserError(
                None, "--objectives", "a numeric column", f"{column} ({table[column].dtype})", found_is_text=True
            )
    if args.plot and len(objectives) < 2:
        raise UserError(None, "--plot", "two objectives to plot", len(objectives))
    front = pareto_front(table, objectives, feasible_only=not args.all)
    columns = list(table.columns)
    knobs = columns[columns.index("key") + 1 : columns.index("status")]  # the parameters, in spec order
    shown = [*knobs, *objectives]
    print(
        f"{len(front)} of {int((table['status'] == 'ok').sum())} finished points on the front of "
        + ", ".join(f"{name} ({goal})" for name, goal in objectives.items())
    )
    if not front.empty:
        print(front[shown].to_string(index=False))
    atomic_write_text(out, front.to_csv(index=False))
    print(f"front: {out}")
    if args.plot:
        from cosim.sweep.plots import plot_pareto, resource_colour, save_figure

        x, y = list(objectives)[:2]
        color = resource_colour(table, (x, y))
        print(f"plot: {save_figure(plot_pareto(table, x, y, color=color, goals=objectives), args.plot)}")
    return 0


def _objectives(text: str | None, columns, defaults: dict[str, str]) -> dict[str, str]:
    """Parse "latency,energy:min,tokens_per_s:max" into {column: goal}, matching unit suffixes."""
    if not text:
        if not defaults:
            raise UserError(None, "--objectives", "objectives (the spec names none)", "nothing", found_is_text=True)
        return dict(defaults)
    objectives = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, goal = item.partition(":")
        column = _column(name, list(columns))
        goal = goal or defaults.get(column, "min")
        if goal not in ("min", "max"):
            raise UserError(None, "--objectives", f"min or max after {name}:", goal)
        objectives[column] = goal
    if not objectives:
        raise UserError(None, "--objectives", "at least one column name", text)
    return objectives


def _column(name: str, columns: list[str]) -> str:
    if name in columns:
        return name
    # "latency" -> latency_s: the name plus one unit suffix (not latency_per_token_s)
    matches = [c for c in columns if c.startswith(f"{name}_") and "_" not in c[len(name) + 1 :]]
    if len(matches) == 1:
        return matches[0]
    expected = f"one of {', '.join(matches)}" if matches else f"a column of the table ({', '.join(columns)})"
    raise UserError(None, "--objectives", expected, name)
