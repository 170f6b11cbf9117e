"""Pre-synthesis check of a design against its device: resources, clock, bandwidth.

Errors are things that cannot be built (over budget, clock above the DSP Fmax);
warnings are things that can be built but will likely disappoint (timing closure above
the typical range, buffer ports slower than their engine, optimistic DRAM efficiency,
utilisation high enough to congest routing). Both name file, line, key path, expected
and found, like every user error of the project.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cosim.common.errors import UserError
from cosim.hw.bandwidth import Demand, engine_demands, port_bytes_per_cycle
from cosim.hw.issues import KeyPath
from cosim.hw.resources import ResourceEstimate, estimate_resources, synthesis_check_note
from cosim.hw.schema import Design

UTILISATION_WARNING_PERCENT = 85.0  # [est] above this, routing congestion usually costs clock


@dataclass
class ValidationReport:
    """Everything `cosim validate` prints, as data."""

    design: Design
    resources: ResourceEstimate
    demands: list[Demand]
    errors: list[UserError]
    warnings: list[UserError]

    @property
    def ok(self) -> bool:
        """True when nothing prevents building the design."""
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        """Machine-readable report; the resource keys match the text table (DSP, BRAM36, URAM288, LUT)."""
        d = self.design
        device = d.device_spec
        buffers = []
        for buffer, mapping in zip(d.buffers, self.resources.buffer_blocks, strict=True):
            entry = {
                "name": buffer.name,
                "purpose": buffer.purpose,
                "bytes": buffer.bytes,
                "ports": buffer.ports,
                "read_bytes_per_cycle": buffer.port_bytes_per_cycle,
            }
            entry.update(mapping.as_dict())
            buffers.append(entry)
        return {
            "design": d.name,
            "file": d.source.path,
            "device": device.name,
            "part": device.part,
            "speed_grade": d.speed_grade,
            "estimate": {key: line.as_dict() for key, line in self.resources.lines.items()},
            "buffers": buffers,
            "clock": {
                "clock_mhz": d.clock_mhz,
                "dsp_fmax_mhz": d.dsp_fmax_mhz,
                "typical_max_clock_mhz": device.typical_max_clock_mhz,
            },
            "dram": {
                "memory": d.dram.memory,
                "kind": d.memory_spec.kind,
                "channels": d.dram.channels,
                "device_channels": d.memory_spec.channels,
                "peak_gb_per_s": d.dram_peak_gb_per_s,
                "device_peak_gb_per_s": d.memory_spec.peak_gb_per_s,
                "efficiency": d.dram.efficiency,
                "effective_gb_per_s": d.dram_peak_gb_per_s * (d.dram.efficiency or 1.0),
                "peak_bytes_per_cycle": d.dram_peak_bytes_per_cycle,
                "effective_bytes_per_cycle": d.dram_effective_bytes_per_cycle,
            },
            "bandwidth": [
                dict(demand.as_dict(), available_bytes_per_cycle=port_bytes_per_cycle(d, demand.purpose))
                for demand in self.demands
            ],
            "errors": [str(e) for e in self.errors],
            "warnings": [str(w) for w in self.warnings],
            "ok": self.ok,
        }

    def render_text(self) -> str:
        """The human-readable report (tables, then warnings)."""
        d = self.design
        device = d.device_spec
        out = [
            f"design {d.name} ({d.source.path}) on {device.name} ({device.part}, speed grade {d.speed_grade})",
            "pre-synthesis estimate: DSP and block counts follow from the design; LUT is a model estimate",
            synthesis_check_note(),
            "",
            f"{'resource':<11}{'used':>10}{'available':>11}{'percent':>9}",
        ]
        for key, line in self.resources.lines.items():
            label = "LUT (est.)" if line.estimate else key
            percent = f"{line.percent:.1f} %" if math.isfinite(line.percent) else "n/a"
            out.append(f"{label:<11}{line.used:>10,}{line.available:>11,}{percent:>9}")
            parts = ", ".join(f"{k} {v:,}" for k, v in line.breakdown.items() if v)
            if parts:
                out.append(f"{'':<11}  {parts}")
        if device.shell:
            s = device.shell
            out.append(
                f"available = device minus shell '{s.name}' (DSP {s.dsp}, BRAM36 {s.bram36}, "
                f"URAM288 {s.uram288}, LUT {s.lut:,})"
            )
        out += [
            "",
            f"{'buffer':<10}{'purpose':<13}{'mem':<5}{'width x depth':>15}{'copies':>7}"
            f"{'blocks (w x d)':>16}{'lost to rounding':>18}{'read B/cycle':>13}",
        ]
        for buffer, m in zip(d.buffers, self.resources.buffer_blocks, strict=True):
            shape = f"{m.width_bits} x {m.depth_words}"
            blocks = f"{m.blocks} ({m.blocks_wide} x {m.blocks_deep})"
            lost = f"{m.lost_bits // 8:,} B ({100 * m.lost_fraction:.1f} %)"
            out.append(
                f"{buffer.name:<10}{buffer.purpose:<13}{buffer.memory:<5}{shape:>15}{m.copies:>7}"
                f"{blocks:>16}{lost:>18}{buffer.port_bytes_per_cycle:>13g}"
            )
        out += ["", f"{'needs':<28}{'B/cycle':>9}{'has':>8}  rule"]
        for demand in self.demands:
            has = port_bytes_per_cycle(d, demand.purpose)
            out.append(
                f"{demand.reader + ' <- ' + demand.purpose:<28}{demand.bytes_per_cycle:>9g}{has:>8g}  {demand.rule}"
            )
        mem = d.memory_spec
        out += [
            "",
            f"clock {d.clock_mhz:g} MHz; DSP Fmax {d.dsp_fmax_mhz:g} MHz at speed grade {d.speed_grade}; "
            f"full designs typically close <= {device.typical_max_clock_mhz:g} MHz",
            f"dram '{d.dram.memory}' ({mem.kind}): {d.dram.channels} of {mem.channels} channels, "
            f"peak {d.dram_peak_gb_per_s:g} of {mem.peak_gb_per_s:g} GB/s, "
            f"x efficiency {d.dram.efficiency:g} = {d.dram_peak_gb_per_s * (d.dram.efficiency or 1):g} GB/s "
            f"= {d.dram_effective_bytes_per_cycle:.1f} B/cycle",
        ]
        if self.warnings:
            out += ["", "warnings:"] + [f"  {w}" for w in self.warnings]
        out += ["", f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"]
        return "\n".join(out) + "\n"


def validate_design(design: Design) -> ValidationReport:
    """Check `design` against its device; never raises for a bad design (see `report.errors`)."""
    checker = _Checker(design)
    resources = estimate_resources(design)
    demands = engine_demands(design)
    checker.resources(resources)
    checker.clock()
    checker.dram()
    checker.bandwidth(demands)
    checker.scheduling()
    return ValidationReport(design, resources, demands, checker.errors, checker.warnings)


class _Checker:
    def __init__(self, design: Design) -> None:
        self.d = design
        self.errors: list[UserError] = []
        self.warnings: list[UserError] = []

    def _add(self, into: list[UserError], key: KeyPath, expected: str, found: Any, text: bool = True) -> None:
        into.append(self.d.source.error(key, expected, found, found_is_text=text))

    def error(self, key: KeyPath, expected: str, found: Any, text: bool = True) -> None:
        self._add(self.errors, key, expected, found, text)

    def warn(self, key: KeyPath, expected: str, found: Any, text: bool = True) -> None:
        self._add(self.warnings, key, expected, found, text)

    def resources(self, estimate: ResourceEstimate) -> None:
        d, device = self.d, self.d.device_spec
        after_shell = " after the shell" if device.shell else ""
        dsp = estimate.lines["DSP"]
        if dsp.used > dsp.available:
            parts = ", ".join(f"{k} {v}" for k, v in dsp.breakdown.items())
            self.error(
                ("engines",),
                f"at most {dsp.available} DSP slices ({device.name}{after_shell})",
                f"{dsp.used} ({parts})",
            )
        for key, memory, block in (("BRAM36", "bram", "BRAM36"), ("URAM288", "uram", "URAM288")):
            line = estimate.lines[key]
            if line.used <= line.available:
                continue
            alone = [
                (i, m)
                for i, (b, m) in enumerate(zip(d.buffers, estimate.buffer_blocks, strict=True))
                if b.memory == memory and m.blocks > line.available
            ]
            if line.available == 0:
                i = alone[0][0]
                self.error(("buffers", i, "memory"), f"'bram' ({device.name} has no {block})", memory, text=False)
            elif alone:
                i, m = alone[0]
                self.error(
                    ("buffers", i, "bytes"),
                    f"a buffer that fits the {line.available} {block} blocks of {device.name}{after_shell}",
                    f"{d.buffers[i].bytes} bytes needing {m.blocks} {block} "
                    f"({m.blocks_wide} wide x {m.blocks_deep} deep)",
                )
            else:
                parts = ", ".join(f"{k} {v}" for k, v in line.breakdown.items())
                self.error(
                    ("buffers",),
                    f"at most {line.available} {block} blocks in all buffers ({device.name}{after_shell})",
                    f"{line.used} ({parts})",
                )
        lut = estimate.lines["LUT"]
        if lut.used > lut.available:
            self.error(
                ("engines",),
                f"at most {lut.available:,} LUTs ({device.name}{after_shell})",
                f"an estimated {lut.used:,}",
            )
        for key, line in estimate.lines.items():
            if line.used <= line.available and line.percent > UTILISATION_WARNING_PERCENT:
                where: KeyPath = ("buffers",) if key in ("BRAM36", "URAM288") else ("engines",)
                self.warn(
                    where,
                    f"{key} utilisation <= {UTILISATION_WARNING_PERCENT:g} % "
                    "(higher utilisation congests routing and lowers the clock)",
                    f"{line.percent:.1f} %",
                )

    def clock(self) -> None:
        d, device = self.d, self.d.device_spec
        kind = device.resources.dsp_kind
        if d.clock_mhz > d.dsp_fmax_mhz:
            self.error(
                ("clock_mhz",),
                f"at most {d.dsp_fmax_mhz:g} MHz ({kind} Fmax at speed grade {d.speed_grade} of {device.name})",
                f"{d.clock_mhz:g}",
            )
        elif d.clock_mhz > device.typical_max_clock_mhz:
            self.warn(
                ("clock_mhz",),
                f"at most about {device.typical_max_clock_mhz:g} MHz (what full "
                f"{device.family} designs typically close timing at)",
                f"{d.clock_mhz:g}",
            )

    def dram(self) -> None:
        d = self.d
        memory = d.memory_spec
        if d.dram.efficiency is not None and d.dram.efficiency > (memory.typical_efficiency or 1.0):
            self.warn(
                ("dram", "efficiency"),
                f"at most {memory.typical_efficiency:g} (typical for {memory.kind}); higher is optimistic",
                d.dram.efficiency,
                text=False,
            )
        friendly = memory.timing_friendly_channels
        if friendly is not None and d.dram.channels > friendly:
            self.warn(
                ("dram", "channels"),
                f"at most about {friendly} {memory.kind} channels (more rarely close timing in a full design)",
                d.dram.channels,
                text=False,
            )
        weights = d.buffer_bytes("weights")
        needed = d.dram.channels * d.dram.burst_bytes
        if weights < needed:
            index = next(i for i, b in enumerate(d.buffers) if b.purpose == "weights")
            self.warn(
                ("buffers", index, "bytes"),
                f"weight buffer copy >= channels x burst_bytes = {needed} bytes (one burst per channel in flight)",
                weights,
                text=False,
            )

    def bandwidth(self, demands: list[Demand]) -> None:
        d = self.d
        for demand in demands:
            has = port_bytes_per_cycle(d, demand.purpose)
            if has < demand.bytes_per_cycle:
                index = next(i for i, b in enumerate(d.buffers) if b.purpose == demand.purpose)
                self.warn(
                    ("buffers", index, "width_bits"),
                    f">= {demand.bytes_per_cycle:g} B/cycle of {demand.purpose} read ports to feed the "
                    f"{demand.reader} engine ({demand.rule})",
                    f"{has:g} B/cycle",
                )

    def scheduling(self) -> None:
        split = self.d.scheduling.static_split
        arrays = self.d.engines.matrix.arrays
        if split is not None and split.attention_arrays + split.mlp_arrays < arrays:
            self.warn(
                ("scheduling", "static_split"),
                f"attention_arrays + mlp_arrays = {arrays} (engines.matrix.arrays; the rest stay idle)",
                split.attention_arrays + split.mlp_arrays,
                text=False,
            )
