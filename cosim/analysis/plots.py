"""Figures of simulated runs, shared by the CLI reports and the notebooks.

Every function returns a matplotlib `Figure` built without pyplot (so no global backend
or interactive state is touched; a notebook displays the returned figure as is) and
`save_figure` writes one as PNG atomically. Units are in every axis label; times and
energies are scaled to a readable unit (s/ms/us, J/mJ/uJ) chosen from the data.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cosim.analysis.energy import COMPONENTS, EnergyBreakdown
from cosim.common.atomic import atomic_write_bytes
from cosim.sim.result import BLOCK_CLASSES, SimResult

Labelled = Sequence[tuple[str, SimResult]]

COMPONENT_COLOURS = {
    "compute": "#4c72b0",
    "on_chip_memory": "#55a868",
    "dram": "#c44e52",
    "dram_controller": "#8172b2",
    "static": "#937860",
}
BLOCK_COLOURS = {"attention": "#dd8452", "mlp": "#4c72b0", "other": "#8c8c8c"}
TRACK_COLOURS = {"dram": "#c44e52", "vector": "#55a868", "tas": "#8172b2"}


def time_unit(seconds: float) -> tuple[str, float]:
    """(unit, seconds per unit) that shows `seconds` as a number >= 1 where possible."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return unit, scale
    return "ns", 1e-9


def energy_unit(joules: float) -> tuple[str, float]:
    """(unit, joules per unit) that shows `joules` as a number >= 1 where possible."""
    for unit, scale in (("J", 1.0), ("mJ", 1e-3), ("uJ", 1e-6)):
        if joules >= scale:
            return unit, scale
    return "nJ", 1e-9


def new_figure(width: float, height: float) -> Figure:
    """A constrained-layout Figure on an Agg canvas, independent of pyplot's backend."""
    figure = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Write `figure` as PNG to `path` atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def _track_colour(track: str, index: int) -> str:
    if track.startswith("matrix"):
        return {"matrix": "#4c72b0", "matrix.attention": "#dd8452", "matrix.mlp": "#4c72b0"}.get(track, f"C{index}")
    return TRACK_COLOURS.get(track, f"C{index}")


def utilisation_figure(runs: Labelled, window_steps: int = 32) -> Figure:
    """Busy fraction of each engine and of DRAM over the video, one panel per run.

    Per-step fractions are averaged over a moving window of `window_steps` steps
    (weighted by step cycles, so the curve is the busy fraction of that stretch of time).
    """
    figure = new_figure(9.0, 1.2 + 1.9 * len(runs))
    axes = figure.subplots(len(runs), 1, squeeze=False)[:, 0]
    longest = max(r.latency_s for _, r in runs) or 1.0
    unit, scale = time_unit(longest)
    for ax, (label, result) in zip(axes, runs, strict=True):
        cycles = result.step_cycles.astype(float)
        ends_s = np.cumsum(cycles) / (result.clock_mhz * 1e6)
        kernel = np.ones(max(1, min(window_steps, len(cycles))))
        cycle_sum = np.convolve(cycles, kernel, mode="same")
        for index, track in enumerate(sorted(result.step_busy_cycles)):
            busy = np.convolve(result.step_busy_cycles[track].astype(float), kernel, mode="same")
            fraction = np.divide(busy, cycle_sum, out=np.zeros_like(busy), where=cycle_sum > 0)
            ax.plot(ends_s / scale, fraction, label=track, color=_track_colour(track, index), linewidth=1.2)
        ax.set_title(f"{label} ({result.policy})", fontsize=10, loc="left")
        ax.set_ylim(0, 1.05)
        ax.set_xlim(0, longest / scale)
        ax.set_ylabel("busy fraction")
        ax.grid(alpha=0.3)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    axes[-1].set_xlabel(f"time ({unit})")
    figure.suptitle(f"Engine and DRAM utilisation over the video (moving mean over {window_steps} steps)", fontsize=11)
    return figure


def energy_figure(runs: Sequence[tuple[str, EnergyBreakdown]]) -> Figure:
    """Energy per video of each run, stacked by component (left) and by op class (right)."""
    figure = new_figure(11.0, 4.2)
    left, right = figure.subplots(1, 2, sharey=True)
    labels = [label for label, _ in runs]
    unit, scale = energy_unit(max(e.total_j for _, e in runs) or 1.0)
    x = np.arange(len(runs))
    for ax, keys, colours, attribute, title in (
        (left, COMPONENTS, COMPONENT_COLOURS, "by_component_j", "by component"),
        (right, BLOCK_CLASSES, BLOCK_COLOURS, "by_block_j", "by op class"),
    ):
        bottom = np.zeros(len(runs))
        for key in keys:
            values = np.array([getattr(e, attribute)[key] for _, e in runs]) / scale
            ax.bar(x, values, bottom=bottom, color=colours[key], label=key.replace("_", " "), width=0.65)
            bottom += values
        for xi, total in zip(x, bottom, strict=True):
            text = f"{total:,.0f}" if total >= 1000 else f"{total:.3g}"
            ax.annotate(
                text, (xi, total), ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points"
            )
        ax.set_xticks(x, labels, rotation=20, ha="right")
        ax.legend(
            fontsize=8,
            title=title,
            title_fontsize=9,
            loc="lower center",
            bbox_to_anchor=(0.5, 1.0),
            ncols=3,
            frameon=False,
        )
        ax.grid(axis="y", alpha=0.3)
        ax.margins(y=0.12)
    left.set_ylabel(f"energy per video ({unit})")
    figure.suptitle("Energy per video", fontsize=11)
    return figure


def frame_latency_figure(runs: Labelled) -> Figure:
    """Latency of each generated frame, grouped bars per run."""
    figure = new_figure(9.0, 4.0)
    ax = figure.subplots()
    frames = sorted({f for _, r in runs for f in r.frame_cycles()})
    seconds = {label: {f: c / (r.clock_mhz * 1e6) for f, c in r.frame_cycles().items()} for label, r in runs}
    unit, scale = time_unit(max(max(v.values(), default=0.0) for v in seconds.values()) or 1.0)
    width = 0.8 / len(runs)
    x = np.arange(len(frames))
    for index, (label, _) in enumerate(runs):
        values = [seconds[label].get(f, 0.0) / scale for f in frames]
        ax.bar(x + (index - (len(runs) - 1) / 2) * width, values, width=width, label=label, color=f"C{index}")
    ax.set_xticks(x, [str(f + 1) for f in frames])
    ax.set_xlabel("generated frame (1 = first frame of the video)")
    ax.set_ylabel(f"decode latency per frame ({unit})")
    ax.set_title("Decode latency per generated frame", fontsize=10)
    ax.legend(fontsize=8, frameon=False, ncols=min(len(runs), 5), loc="upper center", bbox_to_anchor=(0.5, -0.15))
    ax.grid(axis="y", alpha=0.3)
    return figure


def roofline_figure(runs: Labelled) -> Figure:
    """Roofline of the design (MACs/cycle vs MACs per DRAM byte) with each run's operating point."""
    figure = new_figure(7.5, 5.0)
    ax = figure.subplots()
    roof = runs[0][1].roofline
    peak_macs, peak_bytes = float(roof["peak_macs_per_cycle"]), float(roof["peak_dram_bytes_per_cycle"])
    ridge = peak_macs / peak_bytes
    points = []
    for label, result in runs:
        macs, nbytes = float(result.roofline["macs"]), float(result.roofline["dram_bytes"])
        cycles = max(result.total_cycles, 1)
        if nbytes > 0 and macs > 0:
            points.append((label, macs / nbytes, macs / cycles))
    intensities = [p[1] for p in points] + [ridge]
    low, high = min(intensities) / 4, max(intensities) * 4
    x = np.geomspace(low, high, 200)
    ax.loglog(
        x,
        np.minimum(peak_macs, x * peak_bytes),
        color="black",
        linewidth=1.5,
        label=f"roof: {peak_macs:.4g} MACs/cycle, {peak_bytes:.4g} B/cycle",
    )
    ax.axvline(ridge, color="grey", linestyle=":", linewidth=1, label=f"ridge {ridge:.3g} MACs/B")
    markers = "osD^v<>ph"
    for index, (label, intensity, attained) in enumerate(points):
        # Hollow markers of different shapes stay visible when runs sit on the same point.
        ax.loglog(
            [intensity],
            [attained],
            marker=markers[index % len(markers)],
            linestyle="none",
            markersize=9,
            markerfacecolor="none",
            markeredgewidth=1.8,
            color=f"C{index}",
            label=f"{label}: {attained:.3g} MACs/cycle",
        )
    ax.set_xlabel("arithmetic intensity (MACs per DRAM byte)")
    ax.set_ylabel("attained MACs per cycle")
    ax.set_title("Roofline of the design with the runs' operating points", fontsize=10)
    ax.grid(which="both", alpha=0.25)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return figure
