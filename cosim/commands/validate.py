"""`cosim validate DESIGN.yaml [--model PRESET]`: pre-synthesis report of a design against its device.

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
    parser.add_argument("--model", help="model preset whose decode must fit the design (e.g. vila-u-7b-256)")
    parser.add_argument("--frames", type=int, help="video length in frames (default: the preset's)")
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
        print(json.dumps(document, indent=2))
    else:
        print(text, end="")
    if errors:
        raise ConfigErrors(errors)
    return 0


def _workload_fit(args: argparse.Namespace, design: Design) -> WorkloadFit:
    """Trace the preset's decode step (torch, on the meta device) and check its footprint on `design`."""
    from models.config import get_preset
    from models.tracing.graph_trace import trace_model  # torch, only for --model

    config = get_preset(args.model)
    frames = config.frames if args.frames is None else args.frames
    if frames < 1:
        raise UserError(None, "--frames", "an integer >= 1", frames)
    if args.batch_rows < 1:
        raise UserError(None, "--batch-rows", "an integer >= 1", args.batch_rows)
    if args.kv_budget is not None and args.kv_budget < 1:
        raise UserError(None, "--kv-budget", "an integer >= 1", args.kv_budget)
    graph = trace_model(config, phase="decode", batch_rows=args.batch_rows)
    return check_workload_fit(
        graph,
        design,
        kv_len=frames * config.tokens_per_frame,
        batch_rows=args.batch_rows,
        kv_budget=args.kv_budget,
    )
