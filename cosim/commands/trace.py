"""`cosim trace`: turn a model's decode step (or prefill) into a ComputeGraph file, and
print where its work is.

    cosim trace --model vila-u-7b-256 --phase decode --kv-len 2048 -o graph.json
    cosim trace --model vila-u-7b-256 --summary
    cosim trace --model llama-3-8b --summary          (any model of the library: cosim models)
    cosim trace --hf-config config.json --phase decode -o g.json   (any transformers decoder)
    cosim trace --hf-id meta-llama/Llama-2-7b-hf --summary         (fetches config.json only)
    cosim trace --graph graph.json --kv-len 1024      (summary of an existing file, no torch)

Tracing imports torch (`models.tracing.graph_trace`) inside `run`; summarising a file does not.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cosim.artifacts.graph import load_graph, save_graph
from cosim.artifacts.graph_summary import render_summary, summarize
from cosim.common.cli_values import MAX_BATCH_ROWS, MAX_KV_LEN, check_int
from cosim.common.errors import UserError
from cosim.common.output_paths import check_output_file

NAME = "trace"
HELP = "trace a model's decode step or prefill into a compute graph (JSON), or summarise a graph"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", help="model preset (vila-u-7b-256, toyworld) or library model (cosim models)")
    source.add_argument("--hf-config", help="a transformers config.json to trace with transformers' modeling code")
    source.add_argument("--hf-id", help="a Hugging Face Hub model id: fetch its config.json (online) and trace it")
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
    parser.add_argument(
        "--tokens-per-frame", type=int, default=256, help="with --hf-config/--hf-id: tokens per video frame (256)"
    )
    parser.add_argument("--frames", type=int, default=8, help="with --hf-config/--hf-id: frames per clip (8)")
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
    if not (args.model or args.hf_config or args.hf_id):
        raise UserError(
            None,
            "--model",
            "a model to trace (--model, --hf-config or --hf-id; or --graph FILE to summarise)",
            "nothing",
            found_is_text=True,
        )
    if not args.output and not args.summary:
        raise UserError(None, "--output", "-o FILE to write the graph, or --summary", "neither", found_is_text=True)
    if args.output:
        check_output_file(args.output, "-o")
    options = dict(
        kv_len=args.kv_len,
        prefill_tokens=args.prefill_tokens,
        batch_rows=args.batch_rows,
        dtype=args.dtype,
        tas=not args.no_tas,
        progress=True,
    )
    graph = _trace(args, options)
    if args.output:
        path = save_graph(graph, args.output)
        print(
            f"wrote {path}: {graph.number_of_nodes()} ops, {graph.number_of_edges()} edges "
            f"({graph.graph['model']} {graph.graph['phase']}, traced at KV length {graph.graph['kv_len_ref']})"
        )
    if args.summary:
        print(render_summary(summarize(graph)), end="")
    return 0


def _trace(args: argparse.Namespace, options: dict) -> Any:
    """The graph of the model the arguments name (imports torch)."""
    if args.hf_config or args.hf_id:
        from models.tracing.hf_trace import fetch_hf_config, load_hf_config, trace_hf_model

        path = args.hf_config or fetch_hf_config(args.hf_id)
        file = Path(path)
        name = args.hf_id or (file.parent.name if file.stem == "config" else file.stem) or "hf-model"
        geometry = {"tokens_per_frame": args.tokens_per_frame, "frames": args.frames}
        return trace_hf_model(load_hf_config(path), name, args.phase, **geometry, **options)
    from models.library import trace_named_model

    return trace_named_model(args.model, args.phase, **options)
