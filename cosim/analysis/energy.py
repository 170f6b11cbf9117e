"""Energy of one simulated video: the simulator's counters times the design's per-action
energies, plus power drawn for as long as the video takes.

Components (all in joules):

- ``compute``: matrix-engine and TAS MACs x ``energy.mac_<precision>_pj``, plus vector-unit
  element operations x the MAC energy of the activation precision (the energy table has
  no vector entry; a softmax/norm/RoPE element costs about one multiply-add [est]).
- ``on_chip_memory``: BRAM and URAM bits read and written x ``bram_pj_per_bit`` /
  ``uram_pj_per_bit``.
- ``dram``: bytes moved (after burst rounding: what the channel really transfers) x 8 x
  ``dram_pj_per_bit`` (the device memory's figure for its kind, FACTS.md section 6).
- ``dram_controller``: ``dram_controller_mw_per_channel`` x channels used x latency (the
  FPGA-side controller and PHY draw power whether or not data moves).
- ``static``: ``static_w`` x latency.

These add up to `total_j`, the energy of the chip and its DRAM traffic. Board power adds what
the board draws besides (`BOARD_COMPONENTS`, device file figures, x latency): the
processing system, the DRAM devices' background and refresh power, and the rest of the board.
`on_chip_power_w` is the programmable logic alone (compute, buffers, static, memory
controller); `board_power_w` is everything.

Attribution to op classes (attention, mlp, other) is exact for every action the
simulator counts per class: MACs and vector operations, DRAM bytes
(``dram_bytes_by_block``: a DRS prefetch counts for the op whose weights it loads, a
prefetch wasted by a mispredicted MLP decision for mlp) and buffer bits
(``buffer_bits_by_block``). Only power drawn over time -- the DRAM controller and static
power -- is split by time share, in proportion to ``block_cycles`` (the wall-clock cycles
of each class): it has no per-action owner; the breakdown's ``time_shared`` names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cosim.hw.precisions import MAC_PRECISIONS, MacPrecision
from cosim.hw.schema import Design, mac_precision
from cosim.sim.result import BLOCK_CLASSES, DRAM_CATEGORIES, SimResult

PJ = 1e-12  # joules per picojoule

COMPONENTS = ("compute", "on_chip_memory", "dram", "dram_controller", "static")
ON_CHIP_COMPONENTS = ("compute", "on_chip_memory", "dram_controller", "static")
BOARD_COMPONENTS = ("processing_system", "dram_background", "board_overhead")

# What is split among op classes by time share (power drawn over time, no per-action owner).
TIME_SHARED = ("DRAM controller", "static")


@dataclass(frozen=True)
class EnergyBreakdown:
    """Energy of one video, by component x op class (joules).

    ``by_component_block_j[component][block]`` is the full matrix; its row sums are
    `by_component_j`, its column sums `by_block_j`, and everything adds up to `total_j`.
    ``time_shared`` names what was split among classes by time share.
    """

    by_component_block_j: dict[str, dict[str, float]]
    compute_by_precision_j: dict[str, float]
    vector_j: float
    on_chip_by_memory_j: dict[str, float]
    dram_by_category_j: dict[str, float]
    latency_s: float
    num_steps: int
    table: dict[str, float]
    board_j: dict[str, float]
    time_shared: tuple[str, ...] = TIME_SHARED

    @property
    def by_component_j(self) -> dict[str, float]:
        return {c: sum(self.by_component_block_j[c].values()) for c in COMPONENTS}

    @property
    def by_block_j(self) -> dict[str, float]:
        return {b: sum(self.by_component_block_j[c][b] for c in COMPONENTS) for b in BLOCK_CLASSES}

    @property
    def total_j(self) -> float:
        return sum(self.by_component_j.values())

    @property
    def per_token_j(self) -> float:
        """Energy per decode step (one generated token of every batch row)."""
        return self.total_j / self.num_steps if self.num_steps else 0.0

    @property
    def average_power_w(self) -> float:
        return self.total_j / self.latency_s if self.latency_s else 0.0

    @property
    def on_chip_power_w(self) -> float:
        """Average power of the programmable logic alone (no DRAM access energy, nothing off the chip)."""
        on_chip = sum(self.by_component_j[c] for c in ON_CHIP_COMPONENTS)
        return on_chip / self.latency_s if self.latency_s else 0.0

    @property
    def board_total_j(self) -> float:
        """Energy at the board: `total_j` plus the processing system, DRAM background and board overhead."""
        return self.total_j + sum(self.board_j.values())

    @property
    def board_power_w(self) -> float:
        return self.board_total_j / self.latency_s if self.latency_s else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_j": self.total_j,
            "per_token_j": self.per_token_j,
            "average_power_w": self.average_power_w,
            "on_chip_power_w": self.on_chip_power_w,
            "board_power_w": self.board_power_w,
            "board_total_j": self.board_total_j,
            "board_j": self.board_j,
            "by_component_j": self.by_component_j,
            "by_block_j": self.by_block_j,
            "by_component_block_j": self.by_component_block_j,
            "compute_by_precision_j": self.compute_by_precision_j,
            "vector_j": self.vector_j,
            "on_chip_by_memory_j": self.on_chip_by_memory_j,
            "dram_by_category_j": self.dram_by_category_j,
            "table": self.table,
            "time_shared": list(self.time_shared),
        }


def energy_table(design: Design) -> dict[str, float]:
    """The per-action energies used for `design`, defaults resolved (pJ, pJ/bit, mW, W)."""
    table = design.energy
    return {
        **{f"mac_{p}_pj": table.mac_pj(p) for p in MAC_PRECISIONS},
        "vector_op_pj": table.mac_pj(vector_precision(design)),
        "bram_pj_per_bit": table.bram_pj_per_bit,
        "uram_pj_per_bit": table.uram_pj_per_bit,
        "dram_pj_per_bit": float(table.dram_pj_per_bit or 0.0),
        "dram_controller_mw_per_channel": float(table.dram_controller_mw_per_channel or 0.0),
        "dram_channels": design.dram.channels,
        "static_w": float(table.static_w or 0.0),
        "processing_system_w": design.device_spec.processing_system_w,
        "dram_background_mw_per_channel": float(design.memory_spec.background_mw_per_channel or 0.0),
        "board_overhead_w": design.device_spec.board_overhead_w,
    }


def vector_precision(design: Design) -> MacPrecision:
    """Precision class of a vector-unit element operation: that of the activations."""
    return mac_precision(design.precision.activations, design.precision.activations)


def compute_energy(result: SimResult, design: Design) -> EnergyBreakdown:
    """Energy of the video simulated in `result` on `design` (see the module docstring)."""
    if result.design_name != design.name or result.clock_mhz != design.clock_mhz:
        raise ValueError(
            f"result of design {result.design_name!r} at {result.clock_mhz} MHz does not match "
            f"design {design.name!r} at {design.clock_mhz} MHz"
        )
    table = energy_table(design)
    share = time_share(result)
    matrix = {c: dict.fromkeys(BLOCK_CLASSES, 0.0) for c in COMPONENTS}

    by_precision: dict[str, float] = {}
    for block, counts in result.macs.items():
        for precision, macs in counts.items():
            joules = macs * table[f"mac_{precision}_pj"] * PJ
            matrix["compute"][block] += joules
            by_precision[precision] = by_precision.get(precision, 0.0) + joules
    vector_j = 0.0
    for block, elements in result.vector_elements.items():
        joules = elements * table["vector_op_pj"] * PJ
        matrix["compute"][block] += joules
        vector_j += joules

    def bits_j(name: str, counts: dict[str, int]) -> float:
        memory = result.buffer_bits[name]["memory"]
        return (counts["read_bits"] + counts["write_bits"]) * table[f"{memory}_pj_per_bit"] * PJ

    by_memory = {"bram": 0.0, "uram": 0.0}
    for name, bits in result.buffer_bits.items():
        by_memory[bits["memory"]] += bits_j(name, bits)
    for block, buffers in result.buffer_bits_by_block.items():
        matrix["on_chip_memory"][block] += sum(bits_j(name, counts) for name, counts in buffers.items())

    def bytes_j(nbytes: int) -> float:
        return nbytes * 8 * table["dram_pj_per_bit"] * PJ

    by_category = dict.fromkeys(DRAM_CATEGORIES, 0.0)
    for per_category in result.dram_bytes.values():
        for category, nbytes in per_category.items():
            by_category[category] += bytes_j(nbytes)
    for block, by_direction in result.dram_bytes_by_block.items():
        matrix["dram"][block] += sum(bytes_j(n) for by in by_direction.values() for n in by.values())

    latency = result.latency_s
    controller_w = table["dram_controller_mw_per_channel"] * 1e-3 * table["dram_channels"]
    _spread(matrix["dram_controller"], controller_w * latency, share)
    _spread(matrix["static"], table["static_w"] * latency, share)

    return EnergyBreakdown(
        by_component_block_j=matrix,
        compute_by_precision_j=by_precision,
        vector_j=vector_j,
        on_chip_by_memory_j=by_memory,
        dram_by_category_j=by_category,
        latency_s=latency,
        num_steps=result.num_steps,
        table=table,
        board_j={
            "processing_system": table["processing_system_w"] * latency,
            "dram_background": table["dram_background_mw_per_channel"] * 1e-3 * table["dram_channels"] * latency,
            "board_overhead": table["board_overhead_w"] * latency,
        },
    )


def time_share(result: SimResult) -> dict[str, float]:
    """Fraction of the video's cycles spent in each op class (sums to 1)."""
    total = sum(result.block_cycles.get(b, 0) for b in BLOCK_CLASSES)
    if total == 0:
        return dict.fromkeys(BLOCK_CLASSES, 1.0 / len(BLOCK_CLASSES))
    return {b: result.block_cycles.get(b, 0) / total for b in BLOCK_CLASSES}


def _spread(row: dict[str, float], joules: float, share: dict[str, float]) -> None:
    for block, fraction in share.items():
        row[block] += joules * fraction
