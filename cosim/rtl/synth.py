"""Yosys synthesis of generated engines for Xilinx UltraScale+ and the cell counts that come out.

`synth_xilinx -family xcup` maps onto LUT1..LUT6, CARRY, FDRE, DSP48E2, RAMB36E2/RAMB18E2
and URAM288; `-noiopad` leaves out I/O buffers (an engine is not a chip top). Large engines
are synthesized as a representative slice (fewer lanes, a smaller grid, a narrower memory)
and the counts scaled by the ratio of what the slice leaves out (`synthesis_plan`).
Results are cached by the hash of the Verilog text and the script, so a design that
shares an engine with another synthesizes it once.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cosim.common.errors import UserError
from cosim.rtl.engines import EngineSpec
from cosim.rtl.verilog import engine_verilog, run_yosys

YOSYS_FAMILY = {"zynq_ultrascale_plus": "xcup", "virtex_ultrascale_plus": "xcup"}
SLICE_MAX_PES = 256
SLICE_VECTOR_LANES = 32
SLICE_MEMORY_BITS = 576
DISTRIBUTED_RAM_LUTS = {
    "RAM32M": 4,
    "RAM32M16": 8,
    "RAM64M": 4,
    "RAM64M8": 8,
    "RAM32X1D": 2,
    "RAM64X1D": 2,
    "RAM128X1D": 4,
    "RAM256X1S": 4,
    "RAM64X1S": 1,
    "RAM32X1S": 1,
}


@dataclass(frozen=True)
class CellCounts:
    """Resources of one synthesized module (scaled when it was a slice)."""

    lut: float
    ff: float
    dsp: float
    bram36: float
    uram288: float
    carry: float = 0.0

    def scaled(self, factor: float) -> CellCounts:
        """Counts times `factor` (a slice standing for the whole)."""
        return CellCounts(*(value * factor for value in asdict(self).values()))

    def plus(self, other: CellCounts) -> CellCounts:
        """Element-wise sum."""
        return CellCounts(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values(), strict=True)))


ZERO = CellCounts(0, 0, 0, 0, 0, 0)


@dataclass(frozen=True)
class SynthesisPlan:
    """What is synthesized for an engine: the (possibly sliced) module, and the factor to the whole engine."""

    spec: EngineSpec
    scale: float
    note: str = ""


def yosys_family(device_family: str, source: str) -> str:
    """The synth_xilinx family of a device family (Versal has no Yosys mapping)."""
    if device_family not in YOSYS_FAMILY:
        raise UserError(
            source, "device", "a device of an UltraScale+ family (Yosys has no Versal mapping)", device_family
        )
    return YOSYS_FAMILY[device_family]


def synthesis_plan(spec: EngineSpec) -> SynthesisPlan:
    """Full engine when small; otherwise a slice and the scale factor (all instances included)."""
    p, instances = spec.params, spec.instances
    if spec.kind == "mac_tree" and p["lanes"] * p["width"] > SLICE_MAX_PES:
        lanes = max(2, SLICE_MAX_PES // p["width"] // 2 * 2)
        return SynthesisPlan(
            spec.with_params(lanes=lanes), instances * p["lanes"] / lanes, f"slice of {lanes} of {p['lanes']} lanes"
        )
    if spec.kind.startswith("systolic") and p["rows"] * p["cols"] > SLICE_MAX_PES:
        rows, cols = min(p["rows"], 16), min(p["cols"], 16)
        return SynthesisPlan(
            spec.with_params(rows=rows, cols=cols),
            instances * p["rows"] * p["cols"] / (rows * cols),
            f"slice {rows} x {cols} of {p['rows']} x {p['cols']}",
        )
    if spec.kind == "vector" and p["lanes"] > SLICE_VECTOR_LANES:
        return SynthesisPlan(
            spec.with_params(lanes=SLICE_VECTOR_LANES),
            p["lanes"] / SLICE_VECTOR_LANES,
            f"slice of {SLICE_VECTOR_LANES} of {p['lanes']} lanes",
        )
    if spec.kind == "memory" and p["width"] > 4 * SLICE_MEMORY_BITS:
        return SynthesisPlan(
            spec.with_params(width=SLICE_MEMORY_BITS),
            p["width"] / SLICE_MEMORY_BITS,
            f"slice {SLICE_MEMORY_BITS} of {p['width']} bits wide",
        )
    note = f"{instances} instances" if instances > 1 else ""
    return SynthesisPlan(spec, instances, note)


def counts_from_stat(stat: dict) -> CellCounts:
    """CellCounts from Yosys `stat -json` of a flattened design."""
    module = next(iter(stat["modules"].values()))
    cells: dict[str, int] = module.get("num_cells_by_type", {})
    lut = sum(n for name, n in cells.items() if name.startswith(("LUT", "SRL")))
    lut += sum(DISTRIBUTED_RAM_LUTS.get(name, 0) * n for name, n in cells.items())
    ff = sum(n for name, n in cells.items() if name in ("FDRE", "FDSE", "FDCE", "FDPE"))
    return CellCounts(
        lut=lut,
        ff=ff,
        dsp=cells.get("DSP48E2", 0),
        bram36=cells.get("RAMB36E2", 0) + cells.get("RAMB18E2", 0) / 2,
        uram288=cells.get("URAM288", 0),
        carry=sum(n for name, n in cells.items() if name.startswith("CARRY")),
    )


def synthesize_module(spec: EngineSpec, *, family: str = "xcup", cache_dir: Path | None = None) -> CellCounts:
    """Synthesize one module (no scaling); cached in `cache_dir` by the hash of its Verilog and script."""
    text = engine_verilog(spec)
    top = spec.module_name
    script = (
        f"read_verilog {top}.v; synth_xilinx -family {family} -flatten -noiopad -top {top}; "
        f"tee -q -o {top}.stat.json stat -json"
    )
    key = hashlib.sha256((text + script).encode()).hexdigest()[:20]
    cached = cache_dir / f"{top}-{key}.json" if cache_dir else None
    if cached and cached.exists():
        return CellCounts(**json.loads(cached.read_text())["counts"])
    with tempfile.TemporaryDirectory(prefix="cosim-synth-") as work:
        folder = Path(work)
        (folder / f"{top}.v").write_text(text)
        started = time.monotonic()
        run_yosys(script, cwd=folder)
        counts = counts_from_stat(json.loads((folder / f"{top}.stat.json").read_text()))
        seconds = time.monotonic() - started
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(
            json.dumps(
                {
                    "module": top,
                    "kind": spec.kind,
                    "params": spec.params,
                    "family": family,
                    "seconds": round(seconds, 1),
                    "counts": asdict(counts),
                },
                indent=1,
            )
            + "\n"
        )
    return counts


def synthesize_engine(
    spec: EngineSpec, *, family: str = "xcup", cache_dir: Path | None = None
) -> tuple[CellCounts, SynthesisPlan]:
    """Counts of the whole engine (all instances; scaled from a slice when large) and the plan used."""
    plan = synthesis_plan(spec)
    counts = synthesize_module(plan.spec, family=family, cache_dir=cache_dir)
    return counts.scaled(plan.scale), plan
