"""Headline figures of one simulated run, defined once for the report and the sweep.

`cosim.analysis.report` (report.json, summary.csv, the terminal table) and the sweep's
design evaluator (`cosim.sweep.design_evaluator`) both take them from here, so a figure
has one name and one formula wherever it is shown.

At zero simulated time (a run without decode steps) nothing was produced: the rates
(``tokens_per_s``, ``frames_per_s``), the shares and the mean latencies are 0.0, never
infinity or NaN, so report.json stays strict JSON and a sweep objective stays finite;
a speedup of or over a run of zero cycles is None (undefined).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim.sim.result import SimResult


@dataclass(frozen=True)
class HeadlineMetrics:
    """The figures a reader compares runs by (seconds at the design clock)."""

    latency_s: float  # the whole video
    latency_per_token_s: float  # latency_s / decode steps
    latency_per_frame_s: float  # mean over generated frames
    tokens_per_s: float  # decode steps per second
    frames_per_s: float  # generated frames per second
    mlp_share_of_latency: float  # fraction of the cycles spent on MLP work


def headline_metrics(result: SimResult) -> HeadlineMetrics:
    """The headline figures of `result` (0.0 for rates and means at zero time, see above)."""
    latency = result.latency_s
    frames = len(np.unique(result.step_frame))
    return HeadlineMetrics(
        latency_s=latency,
        latency_per_token_s=latency / result.num_steps if result.num_steps else 0.0,
        latency_per_frame_s=latency / frames if frames else 0.0,
        tokens_per_s=result.num_steps / latency if latency else 0.0,
        frames_per_s=frames / latency if latency else 0.0,
        mlp_share_of_latency=block_share_of_latency(result, "mlp"),
    )


def step_latency_s(result: SimResult) -> np.ndarray:
    """Seconds of each decode step (the report's per-token statistics; their mean equals
    `HeadlineMetrics.latency_per_token_s` up to float rounding)."""
    return result.step_cycles * (1.0 / (result.clock_mhz * 1e6))


def block_share_of_latency(result: SimResult, block: str) -> float:
    """Fraction of the run's cycles spent on `block` work (0.0 for a run of zero cycles)."""
    return result.block_cycles.get(block, 0) / max(result.total_cycles, 1)


def speedup(baseline: SimResult | None, result: SimResult | None) -> float | None:
    """Baseline latency / latency of `result` (> 1: faster); None without both or at zero cycles."""
    if baseline is None or result is None or result.total_cycles == 0:
        return None
    return baseline.latency_s / result.latency_s
