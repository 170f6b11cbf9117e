"""Pre-synthesis resource estimate of a design: DSP, BRAM36, URAM288 exactly, LUT by a simple model.

DSP and block RAM counts follow from the design's definition (engine DSP formulas,
whole-block buffer mapping). LUTs are an ESTIMATE from a per-component model whose
constants are order-of-magnitude figures, not measurements [est]:

- matrix engine: LUT_PER_PE per processing element (operand packing correction, pipeline
  control; of the order Vitis AI's DPU B4096 reports, about 52k LUT for 2048 int8 MACs
  per cycle including its control, PG338) plus LUT_PER_ARRAY per array (sequencer,
  address generation);
- vector unit: LUT_PER_VECTOR_LANE per lane (exp / reciprocal / rsqrt approximations,
  comparators, format conversion); TAS unit: LUT_PER_TAS_LANE per lane (adder tree);
- BRAM buffers deeper than one block row: a read multiplexer of width_bits x ports x
  ceil((blocks_deep - 1) / 3) LUTs (a LUT6 is a 4:1 multiplexer); URAM cascades in the
  hard block and needs none;
- LUT_PER_DRAM_CHANNEL per DRAM channel used (AXI master, DMA, width conversion);
- LUT_FIXED for control, instruction fetch and interconnect.

The keys (DSP, BRAM36, URAM288, LUT) are the ones post-synthesis numbers can sit beside.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from cosim.hw.blocks import BlockMapping, map_buffer
from cosim.hw.schema import Buffer, Design, ResourceName

LUT_PER_PE: dict[str, int] = {"systolic": 20, "mac_tree": 25}  # [est] mac_tree adds adder-tree stages
LUT_PER_ARRAY = 1000  # [est]
LUT_PER_VECTOR_LANE = 250  # [est]
LUT_PER_TAS_LANE = 40  # [est]
LUT_PER_DRAM_CHANNEL = 2500  # [est] of the order of an AXI DataMover
LUT_FIXED = 8000  # [est]

# Report key -> device resource field
RESOURCE_KEYS: dict[str, ResourceName] = {"DSP": "dsp", "BRAM36": "bram36", "URAM288": "uram288", "LUT": "lut"}


@dataclass
class ResourceLine:
    """Used / available of one resource (available is after the shell reservation)."""

    used: int
    available: int
    total: int
    reserved: int
    estimate: bool
    breakdown: dict[str, int] = field(default_factory=dict)

    @property
    def percent(self) -> float:
        """used / available x 100 (infinite when nothing is available but something is used)."""
        if self.available == 0:
            return 0.0 if self.used == 0 else math.inf
        return 100.0 * self.used / self.available

    def as_dict(self) -> dict[str, Any]:
        percent = self.percent
        return {
            "used": self.used,
            "available": self.available,
            "total": self.total,
            "reserved": self.reserved,
            "percent": round(percent, 2) if math.isfinite(percent) else None,
            "estimate": self.estimate,
            "breakdown": dict(self.breakdown),
        }


@dataclass
class ResourceEstimate:
    """The four resource lines plus each buffer's block mapping (in design order)."""

    lines: dict[str, ResourceLine]
    buffer_blocks: list[BlockMapping]


def estimate_resources(design: Design) -> ResourceEstimate:
    """DSP, BRAM36, URAM288 (exact for the design as written) and LUT (estimate)."""
    device = design.device_spec
    mappings = [map_buffer(b) for b in design.buffers]
    used = {
        "DSP": design.engine_dsps(),
        "BRAM36": {b.name: m.blocks for b, m in zip(design.buffers, mappings) if b.memory == "bram"},
        "URAM288": {b.name: m.blocks for b, m in zip(design.buffers, mappings) if b.memory == "uram"},
        "LUT": lut_breakdown(design, mappings),
    }
    lines = {
        key: ResourceLine(
            used=sum(used[key].values()),
            available=device.available(name),
            total=device.total(name),
            reserved=device.reserved(name),
            estimate=key == "LUT",
            breakdown=used[key],
        )
        for key, name in RESOURCE_KEYS.items()
    }
    return ResourceEstimate(lines, mappings)


def buffer_mux_luts(buffer: Buffer, mapping: BlockMapping) -> int:
    """Estimated read-multiplexer LUTs of one buffer (see the module docstring)."""
    if buffer.memory == "bram" and mapping.blocks_deep > 1:
        return buffer.width_bits * buffer.ports * math.ceil((mapping.blocks_deep - 1) / 3)
    return 0


def lut_breakdown(design: Design, mappings: list[BlockMapping]) -> dict[str, int]:
    """Estimated LUTs per component (see the module docstring for the model)."""
    matrix = design.engines.matrix
    mux = sum(buffer_mux_luts(buffer, mapping) for buffer, mapping in zip(design.buffers, mappings))
    return {
        "matrix": matrix.pes * LUT_PER_PE[matrix.type] + matrix.arrays * LUT_PER_ARRAY,
        "vector": design.engines.vector.lanes * LUT_PER_VECTOR_LANE,
        "tas": design.engines.tas.lanes * LUT_PER_TAS_LANE,
        "buffer_muxes": mux,
        "dram": design.dram.channels * LUT_PER_DRAM_CHANNEL,
        "control": LUT_FIXED,
    }
