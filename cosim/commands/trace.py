"""`cosim trace`: turn a model's decode step (or prefill) into a ComputeGraph file, and
print where its work is.

    cosim trace --model vila-u-7b-256 --phase decode --kv-len 2048 -o graph.json
    cosim trace --model vila-u-7b-256 --summary
    cosim trace --graph graph.json --kv-len 1024      (summary of an existing file, no torch)

Tracing imports torch (`models.tracing.graph_trace`) inside `run`; summarising a file does not.
"""

from __future__ import annotations

import argparse

from cosim.artifacts.graph import load_graph, save_graph
from cosim.artifacts.graph_summary import render_summary, summarize
from cosim.common.cli_values import MAX_BATCH_ROWS, MAX_KV_LEN, check_int
from cosim.common.errors import UserError
from cosim.common.output_paths import check_output_file

NAME = "trace"
HELP = "trace a model's decode step or prefill into a compute graph (JSON), or summarise a graph"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", help="model preset to trace (vila-u-7b-256, toyworld)")
    source.add_argument("--graph", help="summarise this compute-graph file instead of tracing")
    parser.add_argument("--phase", default="decode", help="decode (one token) or prefill (default: decode)")
    parser.add_argument(
        "--kv-len",
        type=int,
        help="KV entries the step attends to, its own token included (default: a whole "
        "video for decode, the prefilled tokens for prefill; with --graph: the "
        "length to evaluate the graph at, default the traced one)",
    )
    parser.add_argument("--prefill-tokens", type=int, help="tokens of a prefill (default: one frame + 1)")
    parser.add_argument(
        "--batch-rows",
        type=int,
        default=1,
        help="batch rows the step runs for, 2 with CFG (recorded; the graph describes one row)",
    )
    parser.add_argument("--dtype", default="float16", help="traced precision: float16, bfloat16 or float32")
    parser.add_argument("--no-tas", action="store_true", help="trace decode without FastCar's TAS op")
    parser.add_argument("-o", "--output", help="write the graph to this JSON file")
    parser.add_argument("--summary", action="store_true", help="print ops, MACs and bytes per block and per layer")


def run(args: argparse.Namespace) -> int:
    check_int("--kv-len", args.kv_len, 1, MAX_KV_LEN)
    check_int("--prefill-tokens", args.prefill_tokens, 1, MAX_KV_LEN)
    check_int("--batch-rows", args.batch_rows, 1, MAX_BATCH_ROWS)
    if args.graph:
        if args.output:
            raise UserError(None, "--output", "no output file with --graph (it only summarises)", args.output)
        print(render_summary(summarize(load_graph(args.graph), args.kv_len)), end="")
        return 0
    if not args.model:
        raise UserError(
            None, "--model", "a model preset to trace (or --graph FILE to summarise)", "nothing", found_is_text=True
        )
    if not args.output and not args.summary:
        raise UserError(None, "--output", "-o FILE to write the graph, or --summary", "neither", found_is_text=True)
    if args.output:
        check_output_file(args.output, "-o")
    from models.tracing.graph_trace import trace_model

    graph = trace_model(
        args.model,
        args.phase,
        kv_len=args.kv_len,
        prefill_tokens=args.prefill_tokens,
        batch_rows=args.batch_rows,
        dtype=args.dtype,
        tas=not args.no_tas,
        progress=True,
    )
    if args.output:
        path = save_graph(graph, args.output)
        print(
            f"wrote {path}: {graph.number_of_nodes()} ops, {graph.number_of_edges()} edges "
            f"({graph.graph['model']} {graph.graph['phase']}, traced at KV length {graph.graph['kv_len_ref']})"
        )
    if args.summary:
        print(render_summary(summarize(graph)), end="")
    return 0
