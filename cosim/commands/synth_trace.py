"""`cosim synth-trace`: a synthetic replay trace for sweeps where no decoding run exists."""

from __future__ import annotations

import argparse

from cosim.artifacts.synthetic_trace import FRAME_SIDE, synthetic_trace
from cosim.common.cli_values import (
    MAX_BATCH_ROWS,
    MAX_FRAMES,
    MAX_LAYERS,
    add_lockstep_arguments,
    check_float,
    check_int,
    check_lockstep,
)
from cosim.common.output_paths import check_output_file
from cosim.common.per_layer import per_layer

NAME = "synth-trace"
HELP = "write a synthetic replay trace (decisions at given per-layer rates), marked synthetic"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--layers", type=int, required=True, help="decoder layers of the target model (e.g. 32)")
    parser.add_argument(
        "--rates",
        default="0.5",
        help="replay rate: one value for every layer or a comma list, one per layer (default: 0.5)",
    )
    parser.add_argument(
        "--correlation",
        type=float,
        default=0.0,
        help="probability a position repeats its previous-frame decision (default: 0)",
    )
    parser.add_argument("--frames", type=int, default=8, help="frames per video (default: 8)")
    parser.add_argument(
        "--conditioning-frames", type=int, default=1, help="frames given in the prompt, not decoded (default: 1)"
    )
    parser.add_argument("--batch-rows", type=int, default=2, help="batch rows, 2 with CFG (default: 2)")
    parser.add_argument(
        "--rows-differ", action="store_true", help="draw each batch row's decisions separately (default: rows agree)"
    )
    add_lockstep_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--model", default="synthetic", help="model name recorded in the metadata")
    parser.add_argument("-o", "--out", required=True, help="trace file to write (.npz)")


def run(args: argparse.Namespace) -> int:
    check_int("--layers", args.layers, 1, MAX_LAYERS)
    check_int("--frames", args.frames, 2, MAX_FRAMES)
    check_int("--batch-rows", args.batch_rows, 1, MAX_BATCH_ROWS)
    check_int("--conditioning-frames", args.conditioning_frames, 0, args.frames - 1)
    check_float("--correlation", args.correlation, 0, 1)
    check_int("--seed", args.seed, 0)
    check_lockstep(args.videos, args.tokens_per_step, tokens_per_frame=FRAME_SIDE * FRAME_SIDE)
    rates = per_layer(args.rates, args.layers, "--rates", within=(0, 1))
    check_output_file(args.out, "-o")
    trace = synthetic_trace(
        num_layers=args.layers,
        layer_rates=rates,
        frames=args.frames,
        batch_rows=args.batch_rows,
        conditioning_frames=args.conditioning_frames,
        correlation=args.correlation,
        rows_agree=not args.rows_differ,
        seed=args.seed,
        model=args.model,
        videos=args.videos,
        tokens_per_step=args.tokens_per_step,
    )
    path = trace.save(args.out)
    print(
        f"wrote {path}: {trace.num_steps} steps x {trace.num_layers} layers x {trace.batch_rows} rows, "
        f"replay ratio {trace.replay_ratio():.3f} (synthetic)"
    )
    return 0
