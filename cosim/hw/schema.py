"""The hardware configuration schema: what a chip has (`Device`) and what we build on it (`Design`).

All pydantic models of the hardware side live here, in one place, so the simulator, the
validator and the generated config reference (docs/config.md) read the same definitions.
Every model rejects unknown keys and takes no implicit type conversions (a quoted number
is an error, not silently a number), and every field name carries its unit.

A `Design` names its device by file stem and never repeats device figures. Validating a
design resolves the device (from the validation context, or from the device library) and
fills every "default: from the device" field, so a loaded design is fully explicit:
dumping it gives all the values the simulator used.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cosim.hw.issues import ConfigIssue, ConfigIssues, nested_issue
from cosim.hw.precisions import MacPrecision, Precision
from cosim.hw.registered import Registered
from cosim.sim.policies import POLICIES
from cosim.sim.policies.base import policy_summaries, split_rules_text
from cosim.hw.yaml_document import YamlDocument

# --------------------------------------------------------------------------- tables

BYTES_PER_ELEMENT: dict[str, float] = {"int4": 0.5, "int8": 1.0, "int16": 2.0, "fp16": 2.0, "bf16": 2.0}

DspKind = Literal["DSP48E2", "DSP58"]

# MACs one DSP slice performs per cycle: (default, largest plausible); sources in DSP_PACKING_SOURCES.
DSP_MACS_PER_CYCLE: dict[tuple[str, str], tuple[float, float]] = {
    ("DSP48E2", "int4"): (2.0, 4.0),
    ("DSP48E2", "int8"): (2.0, 2.0),
    ("DSP48E2", "int16"): (1.0, 1.0),
    ("DSP48E2", "fp16"): (0.5, 1.0),
    ("DSP58", "int4"): (3.0, 3.0),
    ("DSP58", "int8"): (3.0, 3.0),
    ("DSP58", "int16"): (1.0, 1.0),
    ("DSP58", "fp16"): (1.0, 1.0),
}

DSP_PACKING_SOURCES: dict[tuple[str, str], str] = {
    ("DSP48E2", "int4"): "up to 4 with LUT correction [paper]",
    ("DSP48E2", "int8"): "two multiplications sharing one operand (AMD WP487); 1.75 average without LUT help",
    ("DSP48E2", "int16"): "one 27x18 multiplier [ds]",
    ("DSP48E2", "fp16"): "DSP for the mantissa, LUTs for the rest [est]",
    ("DSP58", "int4"): "assumed like int8 [est]",
    ("DSP58", "int8"): "dot-product mode [ds]",
    ("DSP58", "int16"): "[ds]",
    ("DSP58", "fp16"): "hard floating-point mode [ds]",
}

MemoryKind = Literal["ddr4", "lpddr4", "hbm2"]

# Defaults per off-chip memory kind; a device file may override each.
DRAM_PJ_PER_BIT: dict[str, float] = {
    "ddr4": 15.0,  # [est] 10-25 pJ/bit
    "lpddr4": 8.0,  # Accelergy CACTI plug-in [code]
    "hbm2": 3.9,  # O'Connor et al. MICRO'17 via Accelergy [code]
}
DRAM_CONTROLLER_MW_PER_CHANNEL: dict[str, float] = {
    "ddr4": 500.0,  # [est] soft controller + PHY of one 64-bit channel
    "lpddr4": 300.0,  # [est]
    "hbm2": 100.0,  # [est] per pseudo-channel, hardened controller
}
DRAM_TYPICAL_EFFICIENCY: dict[str, float] = {
    "ddr4": 0.8,  # [est] sequential bursts with refresh and turnarounds
    "lpddr4": 0.75,  # [est]
    "hbm2": 0.92,  # about 425 of 460 GB/s measured on U280 (Shuhai HBM benchmark, FCCM 2020)
}
DRAM_DEFAULT_SOURCES: dict[str, str] = {
    "ddr4": "all [est]",
    "lpddr4": "energy: Accelergy CACTI plug-in; others [est]",
    "hbm2": "energy: O'Connor et al. MICRO'17 via Accelergy; efficiency: U280 measurement (Shuhai, FCCM 2020); others [est]",
}
DRAM_ACCESS_LATENCY_NS: dict[str, float] = {
    "ddr4": 100.0,  # [est] first data of a read burst, idle controller
    "lpddr4": 120.0,  # [est]
    "hbm2": 120.0,  # [est]
}


def mac_precision(weights: str, activations: str) -> MacPrecision:
    """The precision class of a weight x activation multiply: the wider operand wins.

    int4 x int8 and int4 x int4 count as "int4" (the DSP packing figures are for int4 x int8).
    """
    pair = {weights, activations}
    if pair & {"fp16", "bf16"}:
        return "fp16"
    if "int16" in pair:
        return "int16"
    if "int4" in pair:
        return "int4"
    return "int8"


# --------------------------------------------------------------------------- base


class StrictModel(BaseModel):
    """Rejects unknown keys and implicit conversions ("16" is not 16)."""

    model_config = ConfigDict(extra="forbid", strict=True)


# --------------------------------------------------------------------------- device


class DeviceResources(StrictModel):
    """Programmable-logic resources of the whole chip (before any shell)."""

    dsp_kind: DspKind = Field(description="DSP slice type: DSP48E2 (UltraScale+) or DSP58 (Versal).")
    dsp: int = Field(ge=0, description="DSP slices on the chip.")
    bram36: int = Field(ge=0, description="36 Kbit block RAMs (512 x 72 in simple dual-port mode).")
    uram288: int = Field(ge=0, description="288 Kbit UltraRAMs (4096 x 72).")
    lut: int = Field(ge=0, description="6-input look-up tables.")
    ff: int = Field(ge=0, description="Flip-flops (CLB registers).")
    ai_engine_tiles: int = Field(
        0, ge=0, description="AI Engine tiles (Versal). Listed for reference; the simulator models programmable logic only."
    )


class SpeedGrade(StrictModel):
    """Limits that depend on the speed grade of the part."""

    dsp_fmax_mhz: float = Field(gt=0, description="DSP Fmax with all pipeline registers used, MHz (data sheet).")


class OffChipMemory(StrictModel):
    """One kind of off-chip memory attached to the device (e.g. HBM2 stacks, a DDR4 bank)."""

    kind: MemoryKind = Field(description="Memory technology; selects default energy, efficiency and latency.")
    channels: int = Field(ge=1, description="Independent channels (HBM2: pseudo-channels / AXI ports).")
    data_width_bits: int = Field(ge=1, description="Data width of one channel, bits.")
    peak_gb_per_s_per_channel: float = Field(gt=0, description="Peak bandwidth of one channel, GB/s (10^9 bytes/s).")
    peak_gb_per_s: float = Field(
        gt=0, description="Peak bandwidth of all channels, GB/s; must equal channels x per-channel peak within 1 %."
    )
    capacity_gib: float = Field(gt=0, description="Capacity of all channels together, GiB.")
    typical_efficiency: float | None = Field(
        None, gt=0, le=1, description="Achievable fraction of peak for long sequential bursts. Default: by kind."
    )
    access_latency_ns: float | None = Field(
        None, ge=0, description="Latency from request to first data of an idle channel, ns. Default: by kind."
    )
    access_pj_per_bit: float | None = Field(
        None, ge=0, description="Energy per bit read or written, pJ. Default: by kind (table below)."
    )
    controller_mw_per_channel: float | None = Field(
        None, ge=0, description="Static power of the FPGA-side controller and PHY per channel in use, mW. Default: by kind."
    )
    timing_friendly_channels: int | None = Field(
        None, ge=1, description="Channels a full design can use and still close timing well; more gives a warning."
    )

    @model_validator(mode="after")
    def _fill_kind_defaults(self) -> "OffChipMemory":
        total = self.channels * self.peak_gb_per_s_per_channel
        if abs(total - self.peak_gb_per_s) > 0.01 * self.peak_gb_per_s:
            raise nested_issue("peak_gb_per_s", f"channels x peak_gb_per_s_per_channel = {total:g} (within 1 %)",
                               self.peak_gb_per_s)
        if self.typical_efficiency is None:
            self.typical_efficiency = DRAM_TYPICAL_EFFICIENCY[self.kind]
        if self.access_latency_ns is None:
            self.access_latency_ns = DRAM_ACCESS_LATENCY_NS[self.kind]
        if self.access_pj_per_bit is None:
            self.access_pj_per_bit = DRAM_PJ_PER_BIT[self.kind]
        if self.controller_mw_per_channel is None:
            self.controller_mw_per_channel = DRAM_CONTROLLER_MW_PER_CHANNEL[self.kind]
        return self


class ShellReservation(StrictModel):
    """Resources a platform shell (Alveo XDMA/QDMA static region) takes before the user's design."""

    name: str = Field(description="Which shell the figures describe.")
    dsp: int = Field(0, ge=0, description="DSP slices reserved.")
    bram36: int = Field(0, ge=0, description="BRAM36 reserved.")
    uram288: int = Field(0, ge=0, description="URAM288 reserved.")
    lut: int = Field(0, ge=0, description="LUTs reserved.")
    ff: int = Field(0, ge=0, description="Flip-flops reserved.")


ResourceName = Literal["dsp", "bram36", "uram288", "lut", "ff"]


class Device(StrictModel):
    """What a chip (and its board or card) offers. One file per device in hwconfigs/devices/."""

    name: str = Field(description="Short name; must equal the file stem (designs refer to it by this name).")
    description: str = Field(description="Board or card and the chip on it.")
    part: str = Field(description="Part number of the programmable device.")
    family: Literal["zynq_ultrascale_plus", "virtex_ultrascale_plus", "versal"] = Field(
        description="Device family; decides typical timing closure and DSP kind."
    )
    resources: DeviceResources = Field(description="Programmable-logic resources of the chip.")
    speed_grades: dict[str, SpeedGrade] = Field(
        min_length=1, description='Speed grades the part is sold in, keyed by name ("-1", "-2", ...).'
    )
    default_speed_grade: str = Field(description="Speed grade of the board as shipped; must be a key of speed_grades.")
    typical_max_clock_mhz: float = Field(
        gt=0, description="Clock a full design usually closes timing at; a design above it gets a warning."
    )
    memories: dict[str, OffChipMemory] = Field(
        min_length=1, description="Off-chip memories by name; the first one is the default for designs."
    )
    shell: ShellReservation | None = Field(None, description="Platform shell reservation (Alveo); none on bare boards.")
    static_power_w: float = Field(ge=0, description="Static power of the device or card while the design runs, W [est].")

    @model_validator(mode="after")
    def _check_default_grade(self) -> "Device":
        if self.default_speed_grade not in self.speed_grades:
            raise ConfigIssues(
                [ConfigIssue(("default_speed_grade",), f"one of {_quoted(self.speed_grades)}", self.default_speed_grade)]
            )
        return self

    def total(self, resource: ResourceName) -> int:
        """Count of `resource` on the whole chip."""
        return int(getattr(self.resources, resource))

    def reserved(self, resource: ResourceName) -> int:
        """Count of `resource` taken by the shell (0 without one)."""
        return int(getattr(self.shell, resource)) if self.shell else 0

    def available(self, resource: ResourceName) -> int:
        """Count of `resource` left for the user's design after the shell."""
        return self.total(resource) - self.reserved(resource)

    @property
    def default_memory(self) -> str:
        """Name of the memory designs use unless they pick another one."""
        return next(iter(self.memories))


# --------------------------------------------------------------------------- design


class PrecisionConfig(StrictModel):
    """Number formats of the stored tensors."""

    weights: Precision = Field(description="Weights as stored in DRAM and fed to the matrix engine.")
    activations: Precision = Field(description="Activations, scores and replayed MLP outputs.")
    kv_cache: Precision = Field(description="Keys and values in the KV cache.")

    def bytes_per_element(self, tensor: Literal["weights", "activations", "kv_cache"]) -> float:
        """Bytes one element of `tensor` occupies (int4 is 0.5)."""
        return BYTES_PER_ELEMENT[getattr(self, tensor)]


class MatrixEngine(StrictModel):
    """A pool of identical PE arrays for the linear layers and attention; the scheduler assigns arrays to ops.

    Each PE performs one MAC per cycle. DSPs used = ceil(arrays x rows x cols / macs_per_dsp_per_cycle):
    with int8 on DSP48E2 one DSP slice serves two PEs (two multiplications sharing an operand).
    """

    type: Literal["systolic", "mac_tree"] = Field(
        description="systolic: a rows x cols PE grid with a dataflow; mac_tree: rows lanes, each an adder tree over cols products (GEMV)."
    )
    arrays: int = Field(ge=1, description="Identical arrays in the pool.")
    rows: int = Field(ge=1, description="systolic: PE rows; mac_tree: lanes (output elements per cycle).")
    cols: int = Field(ge=1, description="systolic: PE columns; mac_tree: tree width (products summed per lane per cycle).")
    dataflow: Literal["weight_stationary", "output_stationary", "input_stationary"] | None = Field(
        None, description="systolic only (required there): which operand stays in the PEs."
    )
    macs_per_dsp_per_cycle: float | None = Field(
        None,
        gt=0,
        description="MACs one DSP slice performs per cycle (packing). Default: by DSP kind and precision (table below).",
    )

    @model_validator(mode="after")
    def _check_dataflow(self) -> "MatrixEngine":
        if self.type == "systolic" and self.dataflow is None:
            raise nested_issue("dataflow", "a dataflow for a systolic engine "
                               "('weight_stationary', 'output_stationary' or 'input_stationary')", "nothing",
                               found_is_text=True)
        if self.type == "mac_tree" and self.dataflow is not None:
            raise nested_issue("dataflow", "no dataflow for a mac_tree engine (systolic only)", self.dataflow)
        return self

    @property
    def pes(self) -> int:
        """Processing elements (multipliers) in all arrays: the peak MACs per cycle."""
        return self.arrays * self.rows * self.cols

    @property
    def dsps(self) -> int:
        """DSP slices the engine uses: ceil(PEs / macs_per_dsp_per_cycle)."""
        if self.macs_per_dsp_per_cycle is None:
            raise RuntimeError("macs_per_dsp_per_cycle is resolved when the design is validated against its device")
        return math.ceil(self.pes / self.macs_per_dsp_per_cycle)


class VectorEngine(StrictModel):
    """Elementwise unit: softmax, RMSNorm, RoPE, SiLU, residual adds (vector) or TAS dot products (tas)."""

    lanes: int = Field(ge=1, description="Elements processed per cycle (tas: products per cycle).")
    dsps: int = Field(ge=0, description="DSP slices the unit uses.")


class Engines(StrictModel):
    """Compute engines of the design."""

    matrix: MatrixEngine = Field(description="Linear layers and attention (scores, values).")
    vector: VectorEngine = Field(description="Softmax, norms, RoPE, activations, elementwise.")
    tas: VectorEngine = Field(description="Temporal attention score dot products (FastCar).")


BufferPurpose = Literal["weights", "activations", "kv_cache", "replay_cache", "scores", "output"]
REQUIRED_PURPOSES: tuple[str, ...] = ("weights", "activations", "kv_cache")


class Buffer(StrictModel):
    """An on-chip buffer, mapped to whole BRAM36 or URAM288 blocks.

    Depth in words = ceil(bytes x 8 / width_bits). A double-buffered buffer holds two
    copies stacked in depth (ping-pong halves of one memory), so it maps 2 x depth words.
    """

    name: str = Field(description="Unique name of the buffer.")
    purpose: BufferPurpose = Field(description="What it holds; decides which engine reads it.")
    bytes: int = Field(ge=1, description="Capacity of one copy, bytes.")
    memory: Literal["bram", "uram"] = Field(description="Block type it maps to.")
    width_bits: int = Field(ge=1, description="Width of one port, bits (the word the engine reads per cycle per port).")
    ports: Literal[1, 2] = Field(
        1,
        description="Read ports: 1 = simple dual-port (one read and one write per cycle); 2 = true dual-port "
        "(BRAM then maps at most 36 bits per block per port).",
    )
    double_buffered: bool = Field(False, description="Two copies: one fills from DRAM while the engine reads the other.")

    @property
    def depth_words(self) -> int:
        """Words of width_bits in one copy: ceil(bytes x 8 / width_bits)."""
        return math.ceil(self.bytes * 8 / self.width_bits)

    @property
    def copies(self) -> int:
        """2 when double-buffered, else 1."""
        return 2 if self.double_buffered else 1

    @property
    def port_bytes_per_cycle(self) -> float:
        """Read bandwidth: width_bits / 8 x ports bytes per cycle."""
        return self.width_bits / 8 * self.ports


class DramConfig(StrictModel):
    """How the design uses the device's off-chip memory."""

    memory: str | None = Field(None, description="Which of the device's memories (by name). Default: the device's first.")
    channels: int = Field(ge=1, description="Channels the design drives; at most the memory's channels.")
    efficiency: float | None = Field(
        None, gt=0, le=1, description="Fraction of peak bandwidth achieved. Default: the memory's typical_efficiency."
    )
    burst_bytes: int = Field(4096, ge=1, description="Bytes per DMA burst request (>= 4 KB keeps HBM efficient).")
    access_latency_ns: float | None = Field(
        None, ge=0, description="Request-to-first-data latency, ns. Default: the memory's access_latency_ns."
    )


class StaticSplit(StrictModel):
    """Matrix arrays given to attention and to MLP work (a fixed split, or DRS's starting point)."""

    attention_arrays: int = Field(ge=1, description="Arrays for attention (QKV/O projections, scores, values).")
    mlp_arrays: int = Field(ge=1, description="Arrays for the MLP (gate, up, down projections).")


class Scheduling(StrictModel):
    """How the matrix arrays are shared between attention and MLP work."""

    policy: Annotated[str, Registered(POLICIES)] = Field(description=policy_summaries() + ".")
    static_split: StaticSplit | None = Field(None, description=split_rules_text())

    @model_validator(mode="after")
    def _check_split(self) -> "Scheduling":
        rule = POLICIES.get(self.policy).static_split
        if rule == "required" and self.static_split is None:
            raise nested_issue("static_split", f"a static_split for policy '{self.policy}'", "nothing",
                               found_is_text=True)
        if rule == "forbidden" and self.static_split is not None:
            raise nested_issue("static_split", f"no static_split for policy '{self.policy}'",
                               self.static_split.model_dump())
        return self


class EnergyTable(StrictModel):
    """Per-action energies and static power [est unless noted]; every key overridable."""

    mac_int4_pj: float = Field(0.45, ge=0, description="One int4 x int8 MAC, pJ [est: 0.6 x int8].")
    mac_int8_pj: float = Field(0.75, ge=0, description="One int8 MAC on a DSP, pJ [est, Horowitz ISSCC'14 scaled].")
    mac_int16_pj: float = Field(1.5, ge=0, description="One int16 MAC, pJ [est].")
    mac_fp16_pj: float = Field(5.0, ge=0, description="One fp16 or bf16 MAC (DSP + LUTs), pJ [est].")
    bram_pj_per_bit: float = Field(0.1, ge=0, description="BRAM36 read or write, pJ per bit [est].")
    uram_pj_per_bit: float = Field(0.2, ge=0, description="URAM288 read or write, pJ per bit [est].")
    dram_pj_per_bit: float | None = Field(
        None, ge=0, description="Off-chip access, pJ per bit. Default: the memory's access_pj_per_bit."
    )
    dram_controller_mw_per_channel: float | None = Field(
        None, ge=0, description="Memory controller + PHY static power per channel used, mW. Default: the memory's figure."
    )
    static_w: float | None = Field(None, ge=0, description="Static power, W. Default: the device's static_power_w.")

    def mac_pj(self, precision: MacPrecision) -> float:
        """Energy of one MAC of the given precision class, pJ."""
        return float(getattr(self, f"mac_{precision}_pj"))


class Design(StrictModel):
    """An accelerator built on one device. One file per design in hwconfigs/designs/."""

    name: str = Field(description="Name of the design (used in reports).")
    description: str = Field("", description="Free text.")
    device: str = Field(description="Device by file stem (hwconfigs/devices/<device>.yaml).")
    speed_grade: str | None = Field(None, description="Speed grade of the part. Default: the device's default_speed_grade.")
    clock_mhz: float = Field(gt=0, description="Design clock, MHz; all cycle counts are in this clock.")
    precision: PrecisionConfig = Field(description="Number formats of weights, activations and KV cache.")
    engines: Engines = Field(description="Compute engines.")
    buffers: list[Buffer] = Field(min_length=1, description="On-chip buffers; weights, activations and kv_cache are required.")
    dram: DramConfig = Field(description="Off-chip memory use.")
    replay_cache: Literal["dram", "buffer"] = Field(
        description="Where FastCar keeps the replayed MLP outputs: in DRAM, or in a buffer with purpose replay_cache."
    )
    scheduling: Scheduling = Field(description="Sharing of the matrix arrays between attention and MLP.")
    energy: EnergyTable = Field(default_factory=EnergyTable, description="Per-action energy table.")

    _device: Device | None = PrivateAttr(default=None)
    _source: YamlDocument | None = PrivateAttr(default=None)
    _base_dir: Path | None = PrivateAttr(default=None)

    @field_validator("speed_grade", mode="before")
    @classmethod
    def _grade_as_text(cls, value: Any) -> Any:
        # YAML reads `speed_grade: -2` as the integer -2; the grade's name is "-2".
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _resolve_device(self, info: ValidationInfo) -> "Design":
        device = (info.context or {}).get("device")
        if device is None:
            from cosim.hw.library import load_device  # the library imports this module

            device = load_device(self.device)
        self._device = device
        self._fill_defaults(device)
        self._cross_check(device)
        return self

    def _fill_defaults(self, device: Device) -> None:
        if self.speed_grade is None:
            self.speed_grade = device.default_speed_grade
        if self.dram.memory is None:
            self.dram.memory = device.default_memory
        memory = device.memories.get(self.dram.memory)
        if memory is not None:
            if self.dram.efficiency is None:
                self.dram.efficiency = memory.typical_efficiency
            if self.dram.access_latency_ns is None:
                self.dram.access_latency_ns = memory.access_latency_ns
            if self.energy.dram_pj_per_bit is None:
                self.energy.dram_pj_per_bit = memory.access_pj_per_bit
            if self.energy.dram_controller_mw_per_channel is None:
                self.energy.dram_controller_mw_per_channel = memory.controller_mw_per_channel
        if self.energy.static_w is None:
            self.energy.static_w = device.static_power_w
        if self.engines.matrix.macs_per_dsp_per_cycle is None:
            default_packing, _ = DSP_MACS_PER_CYCLE[(device.resources.dsp_kind, self.mac_precision)]
            self.engines.matrix.macs_per_dsp_per_cycle = default_packing

    def _cross_check(self, device: Device) -> None:
        """Checks that need the device or several fields; budgets are left to `cosim validate`."""
        issues: list[ConfigIssue] = []
        if self.speed_grade not in device.speed_grades:
            issues.append(ConfigIssue(("speed_grade",), f"one of {_quoted(device.speed_grades)} "
                                      f"(speed grades of {device.name})", self.speed_grade))
        memory = device.memories.get(self.dram.memory or "")
        if memory is None:
            issues.append(ConfigIssue(("dram", "memory"), f"one of {_quoted(device.memories)} "
                                      f"(memories of {device.name})", self.dram.memory))
        elif self.dram.channels > memory.channels:
            issues.append(ConfigIssue(("dram", "channels"), f"at most {memory.channels} "
                                      f"({memory.kind} channels of {device.name})", self.dram.channels))
        kind = device.resources.dsp_kind
        largest = DSP_MACS_PER_CYCLE[(kind, self.mac_precision)][1]
        packing = self.engines.matrix.macs_per_dsp_per_cycle or 0
        if packing > largest:
            issues.append(ConfigIssue(("engines", "matrix", "macs_per_dsp_per_cycle"),
                                      f"at most {largest:g} for {self.mac_precision} MACs on {kind}", f"{packing:g}",
                                      found_is_text=True))
        seen: dict[str, int] = {}
        for index, buffer in enumerate(self.buffers):
            if buffer.name in seen:
                issues.append(ConfigIssue(("buffers", index, "name"),
                                          f"a unique buffer name (buffers[{seen[buffer.name]}] is also called that)",
                                          buffer.name))
            seen.setdefault(buffer.name, index)
        purposes = {b.purpose for b in self.buffers}
        for purpose in REQUIRED_PURPOSES:
            if purpose not in purposes:
                issues.append(ConfigIssue(("buffers",), f"a buffer with purpose '{purpose}'",
                                          f"purposes {', '.join(sorted(purposes))}", found_is_text=True))
        if self.replay_cache == "buffer" and "replay_cache" not in purposes:
            issues.append(ConfigIssue(("replay_cache",), "a buffer with purpose 'replay_cache' when replay_cache is 'buffer'",
                                      "none", found_is_text=True))
        if self.replay_cache == "dram" and "replay_cache" in purposes:
            issues.append(ConfigIssue(("replay_cache",), "'buffer' since a buffer with purpose 'replay_cache' is listed",
                                      self.replay_cache))
        split = self.scheduling.static_split
        if split is not None and split.attention_arrays + split.mlp_arrays > self.engines.matrix.arrays:
            issues.append(ConfigIssue(("scheduling", "static_split"),
                                      f"attention_arrays + mlp_arrays <= engines.matrix.arrays = {self.engines.matrix.arrays}",
                                      split.attention_arrays + split.mlp_arrays))
        if issues:
            raise ConfigIssues(issues)

    # ---- helpers for the simulator and the validator ---------------------------------

    @property
    def device_spec(self) -> Device:
        """The loaded `Device` this design is built on."""
        if self._device is None:
            raise RuntimeError("design was built without validation; use cosim.hw.load_design or design_from_dict")
        return self._device

    @property
    def source(self) -> YamlDocument:
        """The file (and its key lines) this design came from, for messages about it."""
        return self._source if self._source is not None else YamlDocument(f"<design {self.name}>", None)

    @property
    def memory_spec(self) -> OffChipMemory:
        """The device memory this design's DRAM traffic goes to."""
        return self.device_spec.memories[self.dram.memory or self.device_spec.default_memory]

    @property
    def dsp_fmax_mhz(self) -> float:
        """DSP Fmax of the chosen speed grade, MHz."""
        return self.device_spec.speed_grades[self.speed_grade or self.device_spec.default_speed_grade].dsp_fmax_mhz

    @property
    def clock_hz(self) -> float:
        """Design clock in Hz."""
        return self.clock_mhz * 1e6

    @property
    def clock_period_ns(self) -> float:
        """One cycle in ns."""
        return 1e3 / self.clock_mhz

    @property
    def mac_precision(self) -> MacPrecision:
        """Precision class of the matrix engine's weight x activation MACs."""
        return mac_precision(self.precision.weights, self.precision.activations)

    def bytes_per_element(self, tensor: Literal["weights", "activations", "kv_cache"]) -> float:
        """Bytes per element of `tensor` in this design's precision."""
        return self.precision.bytes_per_element(tensor)

    @property
    def dram_peak_gb_per_s(self) -> float:
        """Peak bandwidth of the channels this design uses, GB/s."""
        return self.dram.channels * self.memory_spec.peak_gb_per_s_per_channel

    @property
    def dram_channel_peak_bytes_per_cycle(self) -> float:
        """Peak bytes one channel delivers per design cycle."""
        return self.memory_spec.peak_gb_per_s_per_channel * 1e9 / self.clock_hz

    @property
    def dram_peak_bytes_per_cycle(self) -> float:
        """Peak bytes all used channels deliver per design cycle."""
        return self.dram.channels * self.dram_channel_peak_bytes_per_cycle

    @property
    def dram_effective_bytes_per_cycle(self) -> float:
        """Peak bytes per cycle x efficiency: what sustained bursts achieve."""
        return self.dram_peak_bytes_per_cycle * (self.dram.efficiency or 1.0)

    @property
    def dram_access_latency_cycles(self) -> int:
        """Access latency rounded up to whole design cycles."""
        return math.ceil((self.dram.access_latency_ns or 0.0) / self.clock_period_ns)

    def engine_dsps(self) -> dict[str, int]:
        """DSP slices used by each engine: {"matrix": ..., "vector": ..., "tas": ...}."""
        return {
            "matrix": self.engines.matrix.dsps,
            "vector": self.engines.vector.dsps,
            "tas": self.engines.tas.dsps,
        }

    def buffers_for(self, purpose: str) -> list[Buffer]:
        """Buffers that hold `purpose` (several are allowed; their capacities add up)."""
        return [b for b in self.buffers if b.purpose == purpose]

    def buffer_bytes(self, purpose: str) -> int:
        """Capacity in bytes of one copy of all buffers of `purpose`."""
        return sum(b.bytes for b in self.buffers_for(purpose))

    @property
    def mac_pj(self) -> float:
        """Energy of one matrix-engine MAC at this design's precision, pJ."""
        return self.energy.mac_pj(self.mac_precision)


def _quoted(names: Any) -> str:
    return ", ".join(f"'{n}'" for n in names)
