"""`cosim sweep SPEC -o DIR`: run a design-space sweep; `cosim sweep --resume DIR` continues one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cosim.common.cli_values import check_float
from cosim.common.errors import UserError
from cosim.common.output_paths import check_output_dir

if TYPE_CHECKING:
    from cosim.sweep.spec import LoadedSpec

NAME = "sweep"
SHOWN_FRONT = 20  # rows of the front printed at the end
HELP = "Run (or resume) a design-space sweep: points in parallel, results stored as they finish."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", nargs="?", help="sweep spec (YAML, see docs/sweeps.md)")
    parser.add_argument("-o", "--out", metavar="DIR", help="sweep folder for results (required with SPEC)")
    parser.add_argument("--resume", metavar="DIR", help="continue the sweep stored in DIR (skips finished points)")
    parser.add_argument("--workers", type=int, metavar="N", help="local worker processes (default: one per core)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://host:8786")
    parser.add_argument("--retry-failed", action="store_true", help="evaluate points recorded as failed again")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--lock-wait",
        type=float,
        metavar="SECONDS",
        help="how long to wait for another run of the same sweep folder (default: until it ends; 0: refuse at once)",
    )


def run(args: argparse.Namespace) -> int:
    from cosim.sweep.runner import run_sweep
    from cosim.sweep.spec import load_spec
    from cosim.sweep.store import ResultStore

    if (args.spec is None) == (args.resume is None):
        raise UserError(
            None,
            "arguments",
            "either SPEC with -o DIR, or --resume DIR",
            "both" if args.spec else "neither",
            found_is_text=True,
        )
    if args.spec is not None and args.out is None:
        raise UserError(None, "-o", "an output folder for the sweep", "nothing", found_is_text=True)
    if args.resume is not None and args.out is not None:
        raise UserError(None, "-o", "no -o with --resume (results go back into the resumed folder)", args.out)
    if args.workers is not None and args.workers < 1:
        raise UserError(None, "--workers", "an integer >= 1", args.workers)
    if args.workers is not None and args.scheduler is not None:
        raise UserError(None, "--workers", "no --workers with --scheduler (the cluster has its own)", args.workers)
    check_float("--lock-wait", args.lock_wait, low=0)
    if args.out is not None:
        check_output_dir(args.out, "-o")
    out = args.out or args.resume
    loaded = load_spec(args.spec) if args.spec else ResultStore(out).load_spec()
    summary = run_sweep(
        loaded,
        out,
        workers=args.workers,
        scheduler=args.scheduler,
        retry_failed=args.retry_failed,
        progress=not args.no_progress,
        lock_wait_s=args.lock_wait,
    )
    counts = ", ".join(f"{count} {status}" for status, count in summary.counts.items())
    print(
        f"{sum(summary.counts.values())} of {summary.total} points stored in {out} "
        f"({counts}); {summary.recorded} new on {summary.executor}, {summary.reused} reused"
    )
    if summary.interrupted:
        print(
            f"cosim sweep: interrupted; finished points are kept. Resume with: cosim sweep --resume {out}",
            file=sys.stderr,
        )
        return 130
    _report_front(loaded, out)
    print(f"table: {', '.join(str(p) for p in summary.tables)}")
    return 0


def _report_front(loaded: LoadedSpec, out: str) -> None:
    """Print the Pareto front of the spec's objectives and plot the first two."""
    from cosim.sweep.pareto import pareto_front
    from cosim.sweep.results import load_results

    objectives = dict(loaded.spec.objectives)
    if not objectives:
        return
    table = load_results(out)
    front = pareto_front(table, objectives)
    columns = [*loaded.spec.parameters, *objectives]
    print(f"Pareto front of {', '.join(f'{k} ({v})' for k, v in objectives.items())}: {len(front)} points")
    if not front.empty:
        print(front[columns].head(SHOWN_FRONT).to_string(index=False))
    if len(front) > SHOWN_FRONT:
        print(f"... {len(front) - SHOWN_FRONT} more: cosim pareto {out}")
    if len(objectives) >= 2 and not front.empty:
        from cosim.sweep.plots import plot_pareto, resource_colour, save_figure

        x, y = list(objectives)[:2]
        color = resource_colour(table, (x, y))
        path = save_figure(plot_pareto(table, x, y, color=color, goals=objectives), Path(out) / "pareto.png")
        print(f"plot: {path}")
