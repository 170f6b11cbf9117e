"""`cosim validate DESIGN.yaml [--model NAME]`: pre-synthesis report of a design against its device.

Prints the utilisation table, the block mapping of every buffer, the bandwidth checks,
clock and DRAM figures and warnings; with ``--model``, also whether the model's weights,
KV cache and replay cache fit the device's DRAM at the design's precisions
(`cosim.hw.workload_fit`). Exits 2 when the design cannot be built or the workload does
not fit (each error on one line naming file, key path, expected and found).
"""

from __future__ import annotations

import argparse
import json

from cosim.common.errors import UserError
from cosim.common.jsonable import first_non_finite
from cosim.hw import load_design
from cosim.hw.issues import ConfigErrors
from cosim.hw.schema import Design
from cosim.hw.validate import validate_design
from cosim.hw.workload_fit import WorkloadFit, check_workload_fit

NAME = "validate"
HELP = "check a hardware design against its device (resources, clock, bandwidth, and a model's footprint)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("design", help="design YAML file (e.g. hwconfigs/designs/kv260-fastcar.yaml)")
    parser.add_argument("--json", action="store_true", help="print a machine-readable report instead of tables")
    parser.add_argument("--model", help="preset or library model (cosim models) whose decode must fit the design")
    parser.add_argument("--frames", type=int, help="video length in frames (default: the model's)")
    parser.add_argument("--batch-rows", type=int, default=2, help="rows decoded together (default 2: CFG)")
    parser.add_argument(
        "--kv-budget", type=int, default=None, help="KV entries kept per layer and kv head (default: every entry)"
    )


def run(args: argparse.Namespace) -> int:
    design = load_design(args.design)
    report = validate_design(design)
    errors = list(report.errors)
    document = report.as_dict()
    text = report.render_text()
    if args.model:
        fit = _workload_fit(args, design)
        errors += fit.errors
        document["workload"] = {
            "model": fit.model,
            "batch_rows": fit.batch_rows,
            "kv_len": fit.kv_len,
            "weight_bytes": fit.weight_bytes,
            "kv_cache_bytes": fit.kv_cache_bytes,
            "kv_budget": fit.kv_budget,
            "kv_buffer_bytes": fit.kv_buffer_bytes,
            "replay_cache_bytes": fit.replay_cache_bytes,
            "dram_capacity_bytes": fit.dram_capacity_bytes,
            "errors": [str(e) for e in fit.errors],
            "warnings": [str(w) for w in fit.warnings],
        }
        text += fit.render_text() + "".join(f"  warning: {w}\n" for w in fit.warnings)
    if args.json:
        print(_strict_json(document, design))
    else:
        print(text, end="")
    if errors:
        raise ConfigErrors(errors)
    return 0


def _strict_json(document: dict, design: Design) -> str:
    """The report as JSON without NaN or Infinity (not JSON); a figure that is one is named instead."""
    found = first_non_finite(document)
    if found is not None:
        where, value = found
        raise UserError(
            design.source.path,
            f"(--json report) {where}",
            "a finite figure (JSON has no NaN or Infinity; the text report shows it)",
            value,
        )
    return json.dumps(document, indent=2, allow_nan=False)


def _workload_fit(args: argparse.Namespace, design: Design) -> WorkloadFit:
    """Trace the model's decode step (a preset or library model; torch, on the meta device) and check its
    footprint on `design`."""
    from models.library import trace_named_model  # torch, only for --model

    if args.frames is not None and args.frames < 1:
        raise UserError(None, "--frames", "an integer >= 1", args.frames)
    if args.batch_rows < 1:
        raise UserError(None, "--batch-rows", "an integer >= 1", args.batch_rows)
    if args.kv_budget is not None and args.kv_budget < 1:
        raise UserError(None, "--kv-budget", "an integer >= 1", args.kv_budget)
    graph = trace_named_model(args.model, phase="decode", batch_rows=args.batch_rows)
    frames = int(graph.graph["frames"]) if args.frames is None else args.frames
    kv_len = frames * int(graph.graph["tokens_per_frame"])
    return check_workload_fit(graph, design, kv_len=kv_len, batch_rows=args.batch_rows, kv_budget=args.kv_budget)
