"""Estimate vs synthesis, per engine and buffer and in total, for `cosim synth` and the benchmark.

Only what `cosim rtl` generates is compared: the matrix engine (all arrays), the vector
and TAS units and the buffers. The estimate's per-array sequencer, DRAM-interface and
control LUTs have no generated counterpart and are left out of both sides. The deviation of a figure is
(estimate - synthesis) / synthesis; the headline is the largest magnitude over DSP and
LUT of the engine rows and the total (buffer rows are shown, and counted in the total:
Yosys builds UltraRAM cascades from LUTs where Vivado uses the hard cascade, docs/rtl.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cosim.hw.blocks import map_buffer
from cosim.hw.resources import buffer_mux_luts, lut_breakdown, matrix_datapath_luts
from cosim.hw.schema import Design
from cosim.rtl.engines import engine_specs
from cosim.rtl.synth import ZERO, CellCounts, synthesize_engine, yosys_family

HEADLINE_KEYS = ("dsp", "lut")


@dataclass
class ComparisonRow:
    """One engine or buffer (or a sum of them): estimated and synthesized counts, and how it was synthesized."""

    name: str
    estimate: dict[str, float]
    synthesized: CellCounts
    note: str = ""
    in_headline: bool = True

    def deviation(self, key: str) -> float:
        """(estimate - synthesis) / synthesis in percent; 0 when both are 0, inf when only synthesis is 0."""
        est, syn = self.estimate.get(key, 0.0), getattr(self.synthesized, key)
        if syn == 0:
            return 0.0 if est == 0 else math.inf
        return 100.0 * (est - syn) / syn


@dataclass
class SynthReport:
    """All rows of one design and the headline figure."""

    design: str
    family: str
    rows: list[ComparisonRow] = field(default_factory=list)

    @property
    def max_deviation(self) -> float:
        """Largest |deviation| over DSP and LUT of the headline rows, percent."""
        return max(abs(row.deviation(key)) for row in self.rows if row.in_headline for key in HEADLINE_KEYS)

    def render_text(self) -> str:
        """The table `cosim synth` prints; the last line is the headline."""
        title = (
            f"design {self.design}: estimate vs Yosys synth_xilinx -family {self.family} "
            "(engines and buffers as `cosim rtl` writes them; sequencers, DRAM interface and control not generated)"
        )
        header = (
            f"{'part':<16}{'DSP est/syn':>14}{'dev':>8}{'LUT est/syn':>18}{'dev':>8}{'FF syn':>9}"
            f"{'BRAM36 est/syn':>16}{'URAM est/syn':>14}  how"
        )
        out = [title, "", header]
        for row in self.rows:
            est, syn = row.estimate, row.synthesized
            out.append(
                f"{row.name:<16}{_pair(est['dsp'], syn.dsp):>14}{_dev(row.deviation('dsp')):>8}"
                f"{_pair(est['lut'], syn.lut):>18}{_dev(row.deviation('lut')):>8}{syn.ff:>9,.0f}"
                f"{_pair(est['bram36'], syn.bram36):>16}{_pair(est['uram288'], syn.uram288):>14}  {row.note}"
            )
        out += ["", f"max deviation estimate vs synthesis: {self.max_deviation:.1f} %"]
        return "\n".join(out) + "\n"

    def as_dict(self) -> dict[str, Any]:
        """Rows as plain data (for the calibration data and JSON output)."""
        return {
            "design": self.design,
            "family": self.family,
            "max_deviation_percent": round(self.max_deviation, 2),
            "rows": [
                {"name": r.name, "estimate": r.estimate, "synthesized": r.synthesized.__dict__, "note": r.note}
                for r in self.rows
            ],
        }


def _pair(est: float, syn: float) -> str:
    return f"{est:,.0f}/{syn:,.0f}"


def _dev(value: float) -> str:
    return "-" if math.isinf(value) else f"{value:+.1f}%"


def compare_design(design: Design, *, cache_dir: Path | None = None, progress: Any = None) -> SynthReport:
    """Synthesize every generated module of `design` and set it beside the pre-synthesis estimate."""
    family = yosys_family(design.device_spec.family, design.source.path)
    mappings = [map_buffer(b) for b in design.buffers]
    luts = lut_breakdown(design, mappings)
    dsps = design.engine_dsps()
    report = SynthReport(design.name, family)
    buffers_total = ZERO
    buffers_estimate = {"dsp": 0.0, "lut": 0.0, "bram36": 0.0, "uram288": 0.0}
    by_name = {f"buffer_{b.name}": (b, m) for b, m in zip(design.buffers, mappings, strict=True)}
    for spec in engine_specs(design):
        if progress:
            progress(spec)
        counts, plan = synthesize_engine(spec, family=family, cache_dir=cache_dir)
        if spec.kind == "memory":
            buffer, mapping = by_name[spec.name]
            estimate = {
                "dsp": 0.0,
                "lut": float(buffer_mux_luts(buffer, mapping)),
                "bram36": float(mapping.blocks if buffer.memory == "bram" else 0),
                "uram288": float(mapping.blocks if buffer.memory == "uram" else 0),
            }
            buffers_total = buffers_total.plus(counts)
            buffers_estimate = {k: buffers_estimate[k] + v for k, v in estimate.items()}
            report.rows.append(ComparisonRow(spec.name, estimate, counts, plan.note, in_headline=False))
        else:
            lut = matrix_datapath_luts(design.engines.matrix) if spec.name == "matrix" else luts[spec.name]
            estimate = {"dsp": float(dsps[spec.name]), "lut": float(lut), "bram36": 0.0, "uram288": 0.0}
            report.rows.append(ComparisonRow(spec.name, estimate, counts, plan.note))
    report.rows.append(ComparisonRow("buffers", buffers_estimate, buffers_total, "all buffers", in_headline=False))
    engines = [row for row in report.rows if row.in_headline]
    total_estimate = {k: sum(r.estimate[k] for r in engines) + buffers_estimate[k] for k in buffers_estimate}
    total = buffers_total
    for row in engines:
        total = total.plus(row.synthesized)
    report.rows.append(ComparisonRow("total", total_estimate, total, "generated parts"))
    return report
