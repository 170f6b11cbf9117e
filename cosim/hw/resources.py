"""Pre-synthesis resource estimate of a design: DSP, BRAM36, URAM288 exactly, LUT by a simple model.

DSP and block RAM counts follow from the design's definition (engine DSP formulas,
whole-block buffer mapping). LUTs are an ESTIMATE from a per-component model. The figures
of the parts `cosim rtl` generates are fitted to Yosys synthesis of those engines
(`cosim synth`; data in cosim/rtl/data/lut_calibration.json, fit in `cosim.rtl.calibration`,
int8 designs with two MACs per DSP); the rest are order-of-magnitude figures [est]:

- matrix engine: LUT_PER_PE per processing element [synth], by engine type and, for
  systolic arrays, dataflow (output stationary keeps an accumulator in every PE and a
  read-out bus per column; the stationary dataflows pass partial sums down); plus LUT_PER_ARRAY per
  array for the sequencer and address generation [est, not generated];
- vector unit: LUT_PER_VECTOR_LANE per lane [synth] (16-bit lane: add, mul, max,
  piecewise-linear exp, saturation); TAS unit: LUT_PER_TAS_LANE per lane [synth] (adder tree);
- block RAM buffers need read multiplexers only deeper than the deepest block aspect ratio
  (1 x 32768 words): width_bits x ports x ceil((rows - 1) / 3) LUTs for `rows` such rows
  (a LUT6 is a 4:1 multiplexer); shallower buffers take narrower, deeper blocks at the same
  block count [synth]; URAM cascades in the hard block and needs none (Vivado; Yosys builds
  LUT multiplexers instead, docs/rtl.md);
- LUT_PER_DRAM_CHANNEL per DRAM channel used (AXI master, DMA, width conversion) [est];
- LUT_FIXED for control, instruction fetch and interconnect [est].

The keys (DSP, BRAM36, URAM288, LUT) are the ones post-synthesis numbers can sit beside.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from cosim.hw.blocks import BlockMapping, map_buffer
from cosim.hw.components import Buffer, MatrixEngine
from cosim.hw.device_schema import ResourceName
from cosim.hw.schema import Design

# [synth] per PE, keyed by `pe_kind` (the engine type, or a systolic array's dataflow)
LUT_PER_PE: dict[str, int] = {"mac_tree": 27, "weight_stationary": 25, "input_stationary": 25, "output_stationary": 50}
LUT_PER_ARRAY = 1000  # [est]
LUT_PER_VECTOR_LANE = 216  # [synth]
LUT_PER_TAS_LANE = 20  # [synth]
BRAM_DEEPEST_WORDS = 32768  # RAMB36E2 as 1 x 32768 (UG573)
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
        "BRAM36": {b.name: m.blocks for b, m in zip(design.buffers, mappings, strict=True) if b.memory == "bram"},
        "URAM288": {b.name: m.blocks for b, m in zip(design.buffers, mappings, strict=True) if b.memory == "uram"},
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
    if buffer.memory != "bram":
        return 0
    rows = math.ceil(mapping.depth_words * mapping.copies / BRAM_DEEPEST_WORDS)
    return buffer.width_bits * buffer.ports * math.ceil((rows - 1) / 3)


def pe_kind(matrix: MatrixEngine) -> str:
    """Key of LUT_PER_PE for a matrix engine: "mac_tree", or the systolic array's dataflow."""
    return matrix.dataflow if matrix.type == "systolic" and matrix.dataflow else matrix.type


def matrix_datapath_luts(matrix: MatrixEngine) -> int:
    """Estimated LUTs of the matrix engine's PEs (all arrays), without the per-array sequencers."""
    return matrix.pes * LUT_PER_PE[pe_kind(matrix)]


def synthesis_check_note() -> str:
    """One line for `cosim validate`: which LUT figures were checked against synthesis, and when."""
    from cosim.rtl.calibration import calibration_note

    return calibration_note()


def lut_breakdown(design: Design, mappings: list[BlockMapping]) -> dict[str, int]:
    """Estimated LUTs per component (see the module docstring for the model)."""
    matrix = design.engines.matrix
    mux = sum(buffer_mux_luts(buffer, mapping) for buffer, mapping in zip(design.buffers, mappings, strict=True))
    return {
        "matrix": matrix_datapath_luts(matrix) + matrix.arrays * LUT_PER_ARRAY,
        "vector": design.engines.vector.lanes * LUT_PER_VECTOR_LANE,
        "tas": design.engines.tas.lanes * LUT_PER_TAS_LANE,
        "buffer_muxes": mux,
        "dram": design.dram.channels * LUT_PER_DRAM_CHANNEL,
        "control": LUT_FIXED,
    }
