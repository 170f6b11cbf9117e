"""`cosim simulate`: one graph x one replay trace on one design, dense and FastCar under
each scheduling policy (and a sparse-attention baseline when given); writes the report
directory (docs/reports.md) and prints a short summary table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from cosim.common.cli_values import add_lockstep_arguments
from cosim.sim.policies import POLICIES

if TYPE_CHECKING:
    import networkx as nx

    from cosim.artifacts.replay_trace import ReplayTrace
    from cosim.hw.schema import Design

NAME = "simulate"
HELP = "simulate a compute graph with a replay trace on a design: dense vs FastCar per policy, report to OUT/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--graph", required=True, help="ComputeGraph JSON (from the tracer)")
    parser.add_argument(
        "--trace", required=True, help="ReplayTrace .npz (from a decode run or the synthetic generator)"
    )
    parser.add_argument("--design", required=True, help="design YAML file or shipped design name (e.g. kv260-fastcar)")
    parser.add_argument(
        "--policy",
        action="append",
        choices=POLICIES,
        help="scheduling policy for the FastCar runs; repeat for several (default: every registered policy)",
    )
    parser.add_argument(
        "--dense-policy",
        choices=POLICIES,
        default=None,
        help="policy of the dense and sparse-attention baselines (default: the design's own)",
    )
    parser.add_argument(
        "--sparse-trace",
        default=None,
        help="ReplayTrace of a sparse-attention decode without FastCar, simulated as a baseline",
    )
    parser.add_argument(
        "--map-layers",
        action="store_true",
        help="map the trace's decisions onto the graph's layer count by relative depth",
    )
    add_lockstep_arguments(parser)
    parser.add_argument("-o", "--out", required=True, help="output directory for the report")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from cosim.analysis.comparison import check_sparse_baseline, simulate_runs
    from cosim.analysis.report import build_report
    from cosim.artifacts.graph import load_graph
    from cosim.artifacts.lockstep import in_lockstep
    from cosim.artifacts.replay_trace import ReplayTrace
    from cosim.common.cli_values import check_lockstep
    from cosim.common.errors import UserError
    from cosim.common.output_paths import check_output_dir
    from cosim.hw import load_design

    check_output_dir(args.out, "-o")
    graph = load_graph(args.graph)
    trace = ReplayTrace.load(args.trace)
    if trace.num_steps == 0:
        raise UserError(args.trace, "replay", "at least one decode step to simulate", "0 steps", found_is_text=True)
    design = load_design(args.design)
    sparse = ReplayTrace.load(args.sparse_trace) if args.sparse_trace else None
    layers = int(graph.graph["num_layers"])
    model = graph.graph["model"]
    if not args.map_layers and trace.meta["source"] != "synthetic" and trace.meta["model"] != model:
        raise UserError(
            args.trace, "meta.model", f"{model!r} (the graph's model; or pass --map-layers)", trace.meta["model"]
        )
    if args.map_layers:
        trace = trace.map_to_layers(layers)
        sparse = sparse.map_to_layers(layers) if sparse is not None else None
    elif trace.num_layers != layers:
        raise UserError(
            args.trace, "meta.num_layers", f"{layers} (the graph's layers; or pass --map-layers)", trace.num_layers
        )
    check_lockstep(args.videos, args.tokens_per_step, tokens_per_frame=int(trace.meta["tokens_per_frame"]))
    trace = in_lockstep(trace, videos=args.videos, tokens_per_step=args.tokens_per_step)
    if sparse is not None:
        sparse = in_lockstep(sparse, videos=args.videos, tokens_per_step=args.tokens_per_step)
        check_sparse_baseline(sparse, trace, args.sparse_trace)
    runs = simulate_runs(
        graph,
        trace,
        design,
        policies=args.policy,
        dense_policy=args.dense_policy,
        sparse_trace=sparse,
        progress=not args.no_progress,
    )
    inputs = {
        "graph": str(args.graph),
        "trace": str(args.trace),
        "design": str(args.design),
        "sparse_trace": args.sparse_trace,
        "trace_meta": trace.meta,
    }
    report = build_report(runs, design, inputs=inputs)
    _print_kv_budget(graph, trace, design)
    report.write(args.out)
    print(
        f"{graph.graph.get('model')} on {design.name}, {trace.num_steps} decode steps, "
        f"replay ratio {trace.replay_ratio():.3f}"
    )
    print(report.summary_table(), end="")
    print(f"report written to {Path(args.out)}/ (report.json, CSV tables, PNG plots, timeline.json)")
    return 0


def _print_kv_budget(graph: nx.DiGraph, trace: ReplayTrace, design: Design) -> None:
    """With a KV budget in the trace: its bounded KV cache against the design's kv_cache buffers."""
    from cosim.hw.workload_fit import check_workload_fit

    longest = int(trace.kv_len.max())
    if trace.kv_resident_max < longest:
        fit = check_workload_fit(
            graph, design, kv_len=longest, batch_rows=trace.batch_rows, kv_budget=trace.kv_resident_max
        )
        print(fit.kv_residence_text(), end="")
