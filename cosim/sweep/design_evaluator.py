"""The real evaluator of a sweep point: validate the design, simulate the workload, report.

A design that does not pass the schema or the pre-synthesis check (over budget, clock
above the DSP Fmax, ...), or that cannot hold the workload (`cosim.hw.workload_fit`: weights,
KV and replay cache vs DRAM), is `InvalidPoint` with the checker's reasons and its resource
use, and is not simulated. Otherwise the workload runs through the cycle-level
simulator and the energy model, and the point's metrics are the headline figures
(`cosim.analysis.metrics`, the same names and formulas as the report's).
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from cosim.analysis.energy import compute_energy
from cosim.analysis.metrics import headline_metrics
from cosim.artifacts.replay_trace import ReplayTrace
from cosim.common.errors import UserError
from cosim.hw import design_from_dict
from cosim.hw.validate import ValidationReport, validate_design
from cosim.hw.workload_fit import check_workload_fit
from cosim.sim.simulator import simulate
from cosim.sweep.evaluate import InvalidPoint, reports
from cosim.sweep.workloads import load_cached_graph, load_cached_trace

# Metric name prefix per resource line of the validation report.
RESOURCES = {"DSP": "dsp", "BRAM36": "bram", "URAM288": "uram", "LUT": "lut"}


@reports(
    "latency_s",
    "energy_j",
    "tokens_per_s",
    "latency_per_token_s",
    "energy_per_token_j",
    "average_power_w",
    "replay_ratio",
    "mlp_share_of_latency",
    "dram_bytes",
    "roofline_ratio",
    "policy",
    "clock_mhz",
    *(f"{prefix}_{kind}" for prefix in RESOURCES.values() for kind in ("used", "util")),
    "fits_device",
    "sim_wall_time_s",
)
def evaluate_design(config: dict[str, Any]) -> dict[str, Any]:
    """Metrics of one point: latency_s, energy_j, tokens_per_s, resource use, fits_device, ..."""
    context = config["context"]
    design_file = Path(context["design_file"])
    try:
        design = design_from_dict(config["design"], f"{design_file.name} ({context['label']})", design_file.parent)
    except UserError as error:
        raise InvalidPoint(str(error)) from None
    report = validate_design(design)
    resources = resource_metrics(report)
    if not report.ok:
        raise InvalidPoint("; ".join(str(error) for error in report.errors), resources)
    graph = load_cached_graph(context["graph"])
    trace = _trace_for(context["trace"], int(graph.graph["num_layers"]))
    fit = check_workload_fit(graph, design, kv_len=int(trace.kv_len.max()), batch_rows=trace.batch_rows)
    if fit.errors:
        raise InvalidPoint("; ".join(str(error) for error in fit.errors), resources)
    result = simulate(graph, trace, design)
    energy = compute_energy(result, design)
    headline = headline_metrics(result)
    roofline = result.roofline.get("bound_cycles") or 0
    return {
        "latency_s": headline.latency_s,
        "energy_j": energy.total_j,
        "tokens_per_s": headline.tokens_per_s,
        "latency_per_token_s": headline.latency_per_token_s,
        "energy_per_token_j": energy.per_token_j,
        "average_power_w": energy.average_power_w,
        "replay_ratio": trace.replay_ratio(),
        "mlp_share_of_latency": headline.mlp_share_of_latency,
        "dram_bytes": result.total_dram_bytes(),
        "roofline_ratio": result.total_cycles / roofline if roofline else math.nan,
        "policy": result.policy,
        "clock_mhz": result.clock_mhz,
        **resources,
        "sim_wall_time_s": result.wall_time_s,
    }


def resource_metrics(report: ValidationReport) -> dict[str, Any]:
    """``<r>_used`` and ``<r>_util`` (fraction of what is available) per resource, and fits_device."""
    metrics: dict[str, Any] = {}
    fits = True
    for key, prefix in RESOURCES.items():
        line = report.resources.lines[key]
        metrics[f"{prefix}_used"] = line.used
        metrics[f"{prefix}_util"] = (
            line.used / line.available if line.available else (0.0 if not line.used else math.inf)
        )
        fits &= line.used <= line.available
    metrics["fits_device"] = fits
    return metrics


@lru_cache(maxsize=8)
def _mapped(path: str, stamp: tuple[int, int], layers: int) -> ReplayTrace:
    return load_cached_trace(path).map_to_layers(layers)


def _trace_for(path: str, layers: int) -> ReplayTrace:
    """The trace, mapped by relative depth when the graph's model has another depth."""
    trace = load_cached_trace(path)
    if trace.num_layers == layers:
        return trace
    status = Path(path).stat()
    return _mapped(path, (status.st_mtime_ns, status.st_size), layers)
