"""The report of one workload simulated several ways: dense, FastCar under each
scheduling policy and, when given, a sparse-attention baseline.

All runs must simulate the same decode steps (same steps and frames of the same graph
model), so that latencies, energies and speedups compare like with like. Figures come
from the SimResults alone plus the design's energy table; `Report.write` puts
``report.json``, CSV tables, PNG plots and a Perfetto timeline into one directory
(docs/reports.md describes every field and file).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cosim.analysis import plots
from cosim.analysis.energy import COMPONENTS, EnergyBreakdown, compute_energy
from cosim.analysis.metrics import block_share_of_latency, headline_metrics, speedup, step_latency_s
from cosim.analysis.timeline import write_timeline
from cosim.common.atomic import atomic_write_text
from cosim.common.jsonable import to_jsonable
from cosim.hw.schema import Design
from cosim.sim.result import BLOCK_CLASSES, SimResult

SCHEMA_VERSION = 1
RUN_KINDS = ("dense", "fastcar", "sparse_attention")


@dataclass(frozen=True)
class Run:
    """One simulated run of the workload.

    kind: ``dense`` (no replay, full attention: the baseline), ``fastcar`` (replay
    decisions of the trace) or ``sparse_attention`` (no replay, sparse KV reads).
    """

    label: str
    kind: str
    result: SimResult

    def __post_init__(self) -> None:
        if self.kind not in RUN_KINDS:
            raise ValueError(f"run kind must be one of {RUN_KINDS}, got {self.kind!r}")


@dataclass
class Report:
    """Figures of several runs of one workload on one design (see `build_report`)."""

    design: Design
    runs: list[Run]
    energies: dict[str, EnergyBreakdown]
    inputs: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] | None = None
    _figures: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    # -- run lookup ------------------------------------------------------------------------
    def run(self, label: str) -> Run:
        for run in self.runs:
            if run.label == label:
                return run
        raise KeyError(label)

    def _first(self, kind: str, policy: str | None = None) -> Run | None:
        for run in self.runs:
            if run.kind == kind and (policy is None or run.result.policy == policy):
                return run
        return None

    @property
    def dense(self) -> Run | None:
        return self._first("dense")

    @property
    def sparse(self) -> Run | None:
        return self._first("sparse_attention")

    @property
    def drs(self) -> Run | None:
        return self._first("fastcar", "drs")

    def _energy_ratio(self, baseline: Run | None, run: Run | None) -> float | None:
        """Baseline energy / run energy (> 1: the run saves energy); None without both runs."""
        if baseline is None or run is None or not self.energies[run.label].total_j:
            return None
        return self.energies[baseline.label].total_j / self.energies[run.label].total_j

    # -- figures ---------------------------------------------------------------------------
    def run_figures(self, run: Run) -> dict[str, Any]:
        """Every figure of one run (the ``runs.<label>`` object of report.json)."""
        if run.label not in self._figures:
            self._figures[run.label] = self._compute_figures(run)
        return self._figures[run.label]

    def _compute_figures(self, run: Run) -> dict[str, Any]:
        result = run.result
        energy = self.energies[run.label]
        figures: dict[str, Any] = {
            "kind": run.kind,
            "policy": result.policy,
            "replay_ratio": result.workload.get("replay_ratio"),
            "weights_skipped_ratio": result.workload.get("weights_skipped_ratio"),
            "latency": latency_figures(result),
            "energy": {"per_video_j": energy.total_j, **energy.to_dict()},
            "block_share_of_latency": {b: block_share_of_latency(result, b) for b in BLOCK_CLASSES},
            "mlp_share_of_latency": block_share_of_latency(result, "mlp"),
            "utilisation": utilisation_summary(result),
            "roofline": roofline_position(result),
            "dram_bytes": dram_figures(result),
            "macs": {"total": result.total_macs(), "by_block": result.macs},
            "drs": result.drs,
            "simulation": simulation_figures(result),
        }
        figures["speedup_over_dense"] = _speedup(self.dense, run)
        figures["speedup_over_sparse_attention"] = _speedup(self.sparse, run)
        figures["energy_ratio_vs_dense"] = self._energy_ratio(self.dense, run)
        return figures

    def comparisons(self) -> dict[str, Any]:
        """Headline speedups: FastCar and DRS over the baselines, DRS over the other policies."""
        fastcar_other = [r for r in self.runs if r.kind == "fastcar" and r.result.policy != "drs"]
        best = min(fastcar_other, key=lambda r: r.result.total_cycles, default=None)
        drs = self.drs
        return {
            "dense_baseline": self.dense.label if self.dense else None,
            "sparse_attention_baseline": self.sparse.label if self.sparse else None,
            "fastcar_best_non_drs": best.label if best else None,
            "fastcar_speedup_over_dense": _speedup(self.dense, best),
            "fastcar_speedup_over_sparse_attention": _speedup(self.sparse, best),
            "drs_run": drs.label if drs else None,
            "drs_speedup_over_dense": _speedup(self.dense, drs),
            "drs_speedup_over_sparse_attention": _speedup(self.sparse, drs),
            "drs_speedup_over_policies": {r.label: _speedup(r, drs) for r in fastcar_other},
            "drs_energy_ratio_vs_dense": self._energy_ratio(self.dense, drs),
            "drs_predictor_accuracy": (drs.result.drs or {}).get("predictor_accuracy") if drs else None,
            "dense_mlp_share_of_latency": block_share_of_latency(self.dense.result, "mlp") if self.dense else None,
        }

    def to_dict(self) -> dict[str, Any]:
        """The content of report.json."""
        first = self.runs[0].result
        design = self.design
        return to_jsonable(
            {
                "schema_version": SCHEMA_VERSION,
                "design": {
                    "name": design.name,
                    "device": design.device,
                    "clock_mhz": design.clock_mhz,
                    "matrix_pes": design.engines.matrix.pes,
                    "dram_memory": design.dram.memory,
                    "dram_channels": design.dram.channels,
                    "dram_peak_gb_per_s": design.dram_peak_gb_per_s,
                    "dram_efficiency": design.dram.efficiency,
                    "precision": design.precision.model_dump(),
                },
                "workload": {
                    "steps": first.num_steps,
                    "frames": len(np.unique(first.step_frame)),
                    **{k: v for k, v in first.workload.items() if k not in ("replay_ratio", "weights_skipped_ratio")},
                },
                "inputs": self.inputs,
                "quality": self.quality,
                "runs": {run.label: self.run_figures(run) for run in self.runs},
                "comparisons": self.comparisons(),
            }
        )

    # -- tables ----------------------------------------------------------------------------
    def tables(self) -> dict[str, str]:
        """CSV tables by file name."""
        return {
            "summary.csv": _csv(*self._summary_rows()),
            "step_latency.csv": _csv(*self._step_rows()),
            "frame_latency.csv": _csv(*self._frame_rows()),
            "energy_breakdown.csv": _csv(*self._energy_rows()),
            "utilisation.csv": _csv(*self._utilisation_rows()),
        }

    def _summary_rows(self) -> tuple[list[str], list[list[Any]]]:
        header = [
            "run",
            "kind",
            "policy",
            "replay_ratio",
            "latency_per_video_s",
            "latency_per_token_ms",
            "tokens_per_s",
            "frames_per_s",
            "energy_per_video_j",
            "energy_per_token_mj",
            "mlp_share_of_latency",
            "percent_of_roofline_bound",
            "speedup_over_dense",
            "speedup_over_sparse_attention",
            "energy_ratio_vs_dense",
        ]
        rows = []
        for run in self.runs:
            f = self.run_figures(run)
            rows.append(
                [
                    run.label,
                    run.kind,
                    f["policy"],
                    f["replay_ratio"],
                    f["latency"]["per_video_s"],
                    f["latency"]["per_token_mean_s"] * 1e3,
                    f["latency"]["tokens_per_s"],
                    f["latency"]["frames_per_s"],
                    f["energy"]["total_j"],
                    f["energy"]["per_token_j"] * 1e3,
                    f["mlp_share_of_latency"],
                    f["roofline"]["percent_of_bound"],
                    f["speedup_over_dense"],
                    f["speedup_over_sparse_attention"],
                    f["energy_ratio_vs_dense"],
                ]
            )
        return header, rows

    def _step_rows(self) -> tuple[list[str], list[list[Any]]]:
        rows = []
        for run in self.runs:
            r = run.result
            for step, (cycles, frame) in enumerate(zip(r.step_cycles.tolist(), r.step_frame.tolist(), strict=True)):
                rows.append([run.label, step, frame, cycles, cycles / r.clock_mhz])
        return ["run", "step", "frame", "cycles", "latency_us"], rows

    def _frame_rows(self) -> tuple[list[str], list[list[Any]]]:
        rows = []
        for run in self.runs:
            r = run.result
            for frame, cycles in r.frame_cycles().items():
                steps = int(np.count_nonzero(r.step_frame == frame))
                rows.append([run.label, frame, steps, cycles, cycles / r.clock_mhz / 1e3])
        return ["run", "frame", "steps", "cycles", "latency_ms"], rows

    def _energy_rows(self) -> tuple[list[str], list[list[Any]]]:
        rows = []
        for run in self.runs:
            matrix = self.energies[run.label].by_component_block_j
            for component in COMPONENTS:
                values = [matrix[component][b] for b in BLOCK_CLASSES]
                rows.append([run.label, component, *values, sum(values)])
        return ["run", "component", *(f"{b}_j" for b in BLOCK_CLASSES), "total_j"], rows

    def _utilisation_rows(self) -> tuple[list[str], list[list[Any]]]:
        rows = []
        for run in self.runs:
            r = run.result
            starts_us = np.concatenate(([0], np.cumsum(r.step_cycles)[:-1])) / r.clock_mhz
            busy = r.utilisation()
            tracks = sorted(busy)
            for step in range(r.num_steps):
                for track in tracks:
                    rows.append([run.label, step, float(starts_us[step]), track, float(busy[track][step])])
        return ["run", "step", "start_us", "track", "busy_fraction"], rows

    # -- output ----------------------------------------------------------------------------
    def write(self, out_dir: str | Path) -> list[Path]:
        """Write report.json, the CSV tables, the PNG plots and timeline.json; return the paths.

        Into a folder holding an earlier report, its report.json goes first (a write that
        fails half-way must not leave it describing new tables) and the files it listed that
        this report does not write go last, so the folder holds one report, never a mix.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        earlier = _listed_files(out / "report.json")
        (out / "report.json").unlink(missing_ok=True)
        written: list[Path] = []
        for name, text in self.tables().items():
            atomic_write_text(out / name, text)
            written.append(out / name)
        labelled = [(run.label, run.result) for run in self.runs]
        figures = {
            "utilisation.png": plots.utilisation_figure(labelled),
            "energy_breakdown.png": plots.energy_figure([(r.label, self.energies[r.label]) for r in self.runs]),
            "frame_latency.png": plots.frame_latency_figure(labelled),
            "roofline.png": plots.roofline_figure(labelled),
        }
        for name, figure in figures.items():
            plots.save_figure(figure, out / name)
            written.append(out / name)
        written.append(write_timeline(out / "timeline.json", labelled))
        document = self.to_dict()
        document["files"] = [*sorted(p.name for p in written), "report.json"]
        atomic_write_text(out / "report.json", json.dumps(document, indent=2, allow_nan=False))
        written.append(out / "report.json")
        for name in earlier - set(document["files"]):
            (out / name).unlink(missing_ok=True)
        return written

    SUMMARY_HEADER = (
        "run",
        "replay",
        "latency/video",
        "latency/token",
        "tokens/s",
        "energy/video",
        "MLP share",
        "vs dense",
        "vs sparse",
    )

    def summary_rows(self, prefix: str = "") -> list[list[str]]:
        """Rows of the terminal summary (columns `SUMMARY_HEADER`), run labels after `prefix`."""
        rows = []
        for run in self.runs:
            f = self.run_figures(run)
            rows.append(
                [
                    prefix + run.label,
                    format_percent(f["replay_ratio"]),
                    format_seconds(f["latency"]["per_video_s"]),
                    format_seconds(f["latency"]["per_token_mean_s"]),
                    f"{f['latency']['tokens_per_s']:.4g}",
                    format_joules(f["energy"]["total_j"]),
                    format_percent(f["mlp_share_of_latency"]),
                    format_speedup(f["speedup_over_dense"]),
                    format_speedup(f["speedup_over_sparse_attention"]),
                ]
            )
        return rows

    def summary_table(self) -> str:
        """A short fixed-width table of the runs for the terminal."""
        return format_table(self.SUMMARY_HEADER, self.summary_rows())


def _listed_files(index: Path) -> set[str]:
    """Plain file names an earlier report.json lists (nothing if it is missing or unreadable)."""
    try:
        files = json.loads(index.read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return set()
    return {name for name in files if isinstance(name, str) and name == Path(name).name and name != "report.json"}


def build_report(
    runs: Sequence[Run], design: Design, *, inputs: dict[str, Any] | None = None, quality: dict[str, Any] | None = None
) -> Report:
    """Check that `runs` simulate the same workload on `design` and compute their energies.

    At most one run may be ``dense`` and one ``sparse_attention``; labels must be unique.
    """
    if not runs:
        raise ValueError("a report needs at least one run")
    labels = [run.label for run in runs]
    if len(set(labels)) != len(labels):
        raise ValueError(f"run labels must be unique, got {labels}")
    for kind in ("dense", "sparse_attention"):
        if sum(run.kind == kind for run in runs) > 1:
            raise ValueError(f"at most one {kind} run per report")
    reference = runs[0].result
    for run in runs[1:]:
        result = run.result
        same = (
            result.num_steps == reference.num_steps
            and np.array_equal(result.step_frame, reference.step_frame)
            and result.workload.get("graph_model") == reference.workload.get("graph_model")
        )
        if not same:
            raise ValueError(
                f"run {run.label!r} does not simulate the same workload as {runs[0].label!r} "
                f"(steps, frames or graph model differ)"
            )
    energies = {run.label: compute_energy(run.result, design) for run in runs}
    return Report(design=design, runs=list(runs), energies=energies, inputs=dict(inputs or {}), quality=quality)


# -- figures of one result --------------------------------------------------------------------


def latency_figures(result: SimResult) -> dict[str, Any]:
    """Whole-video, per-token (distribution over steps) and per-frame latencies, and the rates."""
    headline = headline_metrics(result)
    seconds_per_cycle = 1.0 / (result.clock_mhz * 1e6)
    step_s = step_latency_s(result)
    steps = result.num_steps
    return {
        "total_cycles": result.total_cycles,
        "per_video_s": headline.latency_s,
        "per_token_mean_s": float(step_s.mean()) if steps else 0.0,
        "per_token_p50_s": float(np.median(step_s)) if steps else 0.0,
        "per_token_p95_s": float(np.percentile(step_s, 95)) if steps else 0.0,
        "per_token_max_s": float(step_s.max()) if steps else 0.0,
        "per_frame_s": {str(f): c * seconds_per_cycle for f, c in result.frame_cycles().items()},
        "per_frame_mean_s": headline.latency_per_frame_s,
        "tokens_per_s": headline.tokens_per_s,
        "frames_per_s": headline.frames_per_s,
    }


def dram_figures(result: SimResult) -> dict[str, Any]:
    """Off-chip bytes: total, by direction, by category, and before burst rounding."""
    return {
        "total": result.total_dram_bytes(),
        "read": result.total_dram_bytes("read"),
        "write": result.total_dram_bytes("write"),
        "by_category": {d: dict(c) for d, c in result.dram_bytes.items()},
        "unrounded_total": int(sum(sum(c.values()) for c in result.dram_bytes_unrounded.values())),
    }


def simulation_figures(result: SimResult) -> dict[str, Any]:
    """How the simulation ran: memoised segments, events, wall time, timeline coverage."""
    return {
        "segments_simulated": result.segments_simulated,
        "segments_total": result.segments_total,
        "events_simulated": result.events_simulated,
        "wall_time_s": result.wall_time_s,
        "timeline_steps": list(result.timeline_steps),
        "timeline_truncated": result.timeline_truncated,
    }


def utilisation_summary(result: SimResult) -> dict[str, Any]:
    """Busy fraction of each engine (partition) and of DRAM over the whole video."""
    total = max(result.total_cycles, 1)
    busy = {engine: cycles / total for engine, cycles in result.engine_busy_cycles.items()}
    if "dram" in result.step_busy_cycles:
        busy["dram"] = float(result.step_busy_cycles["dram"].sum()) / total
    return {"busy_fraction": busy, "matrix_arrays": dict(result.matrix_arrays)}


def roofline_position(result: SimResult) -> dict[str, Any]:
    """Attained vs peak MACs/cycle and DRAM bytes/cycle, and the latency against the bound.

    ``percent_of_bound`` = bound cycles / simulated cycles x 100: 100 % means the
    simulation runs at the roofline; it can never exceed 100.
    """
    roof = result.roofline
    cycles = max(result.total_cycles, 1)
    macs, nbytes = float(roof["macs"]), float(roof["dram_bytes"])
    peak_macs, peak_bytes = float(roof["peak_macs_per_cycle"]), float(roof["peak_dram_bytes_per_cycle"])
    return {
        "macs": macs,
        "dram_bytes": nbytes,
        "attained_macs_per_cycle": macs / cycles,
        "peak_macs_per_cycle": peak_macs,
        "attained_dram_bytes_per_cycle": nbytes / cycles,
        "peak_dram_bytes_per_cycle": peak_bytes,
        "compute_utilisation": macs / cycles / peak_macs if peak_macs else None,
        "bandwidth_utilisation": nbytes / cycles / peak_bytes if peak_bytes else None,
        "arithmetic_intensity_macs_per_byte": macs / nbytes if nbytes else None,
        "ridge_macs_per_byte": peak_macs / peak_bytes if peak_bytes else None,
        "bound": "dram" if roof["dram_bound_cycles"] >= roof["compute_bound_cycles"] else "compute",
        "dram_bound_cycles": float(roof["dram_bound_cycles"]),
        "compute_bound_cycles": float(roof["compute_bound_cycles"]),
        "bound_cycles": float(roof["bound_cycles"]),
        "percent_of_bound": 100.0 * float(roof["bound_cycles"]) / cycles,
    }


def _speedup(baseline: Run | None, run: Run | None) -> float | None:
    """Baseline latency / run latency; None without both runs."""
    return speedup(baseline.result if baseline else None, run.result if run else None)


# -- formatting -------------------------------------------------------------------------------


def format_seconds(seconds: float) -> str:
    """A duration with a readable unit (s, ms, us, ns)."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(seconds) >= scale:
            return f"{seconds / scale:.4g} {unit}"
    return f"{seconds / 1e-9:.4g} ns"


def format_joules(joules: float) -> str:
    """An energy with a readable unit (J, mJ, uJ, nJ)."""
    for unit, scale in (("J", 1.0), ("mJ", 1e-3), ("uJ", 1e-6)):
        if abs(joules) >= scale:
            return f"{joules / scale:.4g} {unit}"
    return f"{joules / 1e-9:.4g} nJ"


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned first column, right-aligned others, two spaces between columns."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]) + "\n"


def format_speedup(value: float | None) -> str:
    """A speedup as "2.13x", or "-" when there is no baseline."""
    return "-" if value is None else f"{value:.2f}x"


def format_percent(value: float | None) -> str:
    """A fraction as a percentage with one decimal, or "-"."""
    return "-" if value is None else f"{100 * value:.1f} %"


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else (f"{v:.9g}" if isinstance(v, float) else v) for v in row])
    return buffer.getvalue()
