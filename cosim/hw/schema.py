"""The hardware configuration schema: what we build on a chip (`Design`), and the tables it uses.

The pydantic models of the hardware side are read by the simulator, the validator and
the generated config reference (docs/config.md) alike. This module holds the design
itself, its number formats, scheduling and energy table; the chip it names is
`cosim.hw.device_schema.Device`, its engines, buffers and DRAM use are in
`cosim.hw.components`, and the strict base model is `cosim.hw.strict.StrictModel`.
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
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cosim.hw.components import REQUIRED_PURPOSES, Buffer, DramConfig, Engines
from cosim.hw.device_schema import Device, OffChipMemory
from cosim.hw.issues import ConfigIssue, ConfigIssues, nested_issue
from cosim.hw.precisions import MacPrecision, Precision
from cosim.hw.registered import Registered
from cosim.hw.strict import StrictModel, quoted
from cosim.hw.yaml_document import YamlDocument
from cosim.sim.policies import POLICIES
from cosim.sim.policies.base import policy_summaries, split_rules_text

# --------------------------------------------------------------------------- limits

# Physical ranges of the design's real-valued figures: far outside any FPGA built today, yet
# finite, so that a typo (1.0e-300 MHz, 1e30 pJ) is refused instead of simulated. docs/limits.md.
MIN_CLOCK_MHZ = 1
MAX_CLOCK_MHZ = 5000
MAX_PJ_PER_MAC = 1000
MAX_PJ_PER_BIT = 1000
MAX_CONTROLLER_MW = 100_000
MAX_STATIC_W = 1000

# --------------------------------------------------------------------------- tables

BYTES_PER_ELEMENT: dict[str, float] = {"int4": 0.5, "int8": 1.0, "int16": 2.0, "fp16": 2.0, "bf16": 2.0}

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


# --------------------------------------------------------------------------- design


class PrecisionConfig(StrictModel):
    """Number formats of the stored tensors."""

    weights: Precision = Field(description="Weights as stored in DRAM and fed to the matrix engine.")
    activations: Precision = Field(description="Activations, scores and replayed MLP outputs.")
    kv_cache: Precision = Field(description="Keys and values in the KV cache.")

    def bytes_per_element(self, tensor: Literal["weights", "activations", "kv_cache"]) -> float:
        """Bytes one element of `tensor` occupies (int4 is 0.5)."""
        return BYTES_PER_ELEMENT[getattr(self, tensor)]


class StaticSplit(StrictModel):
    """Matrix arrays given to attention and to MLP work (a fixed split, or DRS's starting point)."""

    attention_arrays: int = Field(ge=1, description="Arrays for attention (QKV/O projections, scores, values).")
    mlp_arrays: int = Field(ge=1, description="Arrays for the MLP (gate, up, down projections).")


class Scheduling(StrictModel):
    """How the matrix arrays are shared between attention and MLP work."""

    policy: Annotated[str, Registered(POLICIES)] = Field(description=policy_summaries() + ".")
    static_split: StaticSplit | None = Field(default=None, description=split_rules_text())

    @model_validator(mode="after")
    def _check_split(self) -> Scheduling:
        rule = POLICIES.get(self.policy).static_split
        if rule == "required" and self.static_split is None:
            raise nested_issue(
                "static_split", f"a static_split for policy '{self.policy}'", "nothing", found_is_text=True
            )
        if rule == "forbidden" and self.static_split is not None:
            raise nested_issue(
                "static_split", f"no static_split for policy '{self.policy}'", self.static_split.model_dump()
            )
        return self


class EnergyTable(StrictModel):
    """Per-action energies and static power [est unless noted]; every key overridable."""

    mac_int4_pj: float = Field(
        default=0.45, ge=0, le=MAX_PJ_PER_MAC, description="One int4 x int8 MAC, pJ [est: 0.6 x int8]."
    )
    mac_int8_pj: float = Field(
        default=0.75, ge=0, le=MAX_PJ_PER_MAC, description="One int8 MAC on a DSP, pJ [est, Horowitz ISSCC'14 scaled]."
    )
    mac_int16_pj: float = Field(default=1.5, ge=0, le=MAX_PJ_PER_MAC, description="One int16 MAC, pJ [est].")
    mac_fp16_pj: float = Field(
        default=5.0, ge=0, le=MAX_PJ_PER_MAC, description="One fp16 or bf16 MAC (DSP + LUTs), pJ [est]."
    )
    bram_pj_per_bit: float = Field(
        default=0.1, ge=0, le=MAX_PJ_PER_BIT, description="BRAM36 read or write, pJ per bit [est]."
    )
    uram_pj_per_bit: float = Field(
        default=0.2, ge=0, le=MAX_PJ_PER_BIT, description="URAM288 read or write, pJ per bit [est]."
    )
    dram_pj_per_bit: float | None = Field(
        default=None,
        ge=0,
        le=MAX_PJ_PER_BIT,
        description="Off-chip access, pJ per bit. Default: the memory's access_pj_per_bit.",
    )
    dram_controller_mw_per_channel: float | None = Field(
        default=None,
        ge=0,
        le=MAX_CONTROLLER_MW,
        description="Memory controller + PHY static power per channel used, mW. Default: the memory's figure.",
    )
    static_w: float | None = Field(
        default=None, ge=0, le=MAX_STATIC_W, description="Static power, W. Default: the device's static_power_w."
    )

    def mac_pj(self, precision: MacPrecision) -> float:
        """Energy of one MAC of the given precision class, pJ."""
        return float(getattr(self, f"mac_{precision}_pj"))


class Design(StrictModel):
    """An accelerator built on one device. One file per design in hwconfigs/designs/."""

    name: str = Field(description="Name of the design (used in reports).")
    description: str = Field(default="", description="Free text.")
    device: str = Field(description="Device by file stem (hwconfigs/devices/<device>.yaml).")
    speed_grade: str | None = Field(
        default=None, description="Speed grade of the part. Default: the device's default_speed_grade."
    )
    clock_mhz: float = Field(
        ge=MIN_CLOCK_MHZ, le=MAX_CLOCK_MHZ, description="Design clock, MHz; all cycle counts are in this clock."
    )
    precision: PrecisionConfig = Field(description="Number formats of weights, activations and KV cache.")
    engines: Engines = Field(description="Compute engines.")
    buffers: list[Buffer] = Field(
        min_length=1, description="On-chip buffers; weights, activations and kv_cache are required."
    )
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
    def _resolve_device(self, info: ValidationInfo) -> Design:
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
        issues = self._device_issues(device) + self._buffer_issues() + self._split_issues()
        if issues:
            raise ConfigIssues(issues)

    def _device_issues(self, device: Device) -> list[ConfigIssue]:
        """Speed grade, memory, channels and DSP packing the device really offers."""
        issues: list[ConfigIssue] = []
        if self.speed_grade not in device.speed_grades:
            issues.append(
                ConfigIssue(
                    ("speed_grade",),
                    f"one of {quoted(device.speed_grades)} (speed grades of {device.name})",
                    self.speed_grade,
                )
            )
        memory = device.memories.get(self.dram.memory or "")
        if memory is None:
            issues.append(
                ConfigIssue(
                    ("dram", "memory"),
                    f"one of {quoted(device.memories)} (memories of {device.name})",
                    self.dram.memory,
                )
            )
        elif self.dram.channels > memory.channels:
            issues.append(
                ConfigIssue(
                    ("dram", "channels"),
                    f"at most {memory.channels} ({memory.kind} channels of {device.name})",
                    self.dram.channels,
                )
            )
        kind = device.resources.dsp_kind
        largest = DSP_MACS_PER_CYCLE[(kind, self.mac_precision)][1]
        packing = self.engines.matrix.macs_per_dsp_per_cycle or 0
        if packing > largest:
            issues.append(
                ConfigIssue(
                    ("engines", "matrix", "macs_per_dsp_per_cycle"),
                    f"at most {largest:g} for {self.mac_precision} MACs on {kind}",
                    f"{packing:g}",
                    found_is_text=True,
                )
            )
        return issues

    def _buffer_issues(self) -> list[ConfigIssue]:
        """Unique names, the purposes the simulator needs, and a replay cache where it is said to be."""
        issues: list[ConfigIssue] = []
        seen: dict[str, int] = {}
        for index, buffer in enumerate(self.buffers):
            if buffer.name in seen:
                issues.append(
                    ConfigIssue(
                        ("buffers", index, "name"),
                        f"a unique buffer name (buffers[{seen[buffer.name]}] is also called that)",
                        buffer.name,
                    )
                )
            seen.setdefault(buffer.name, index)
        issues += self._tile_issues()
        purposes = {b.purpose for b in self.buffers}
        for purpose in REQUIRED_PURPOSES:
            if purpose not in purposes:
                issues.append(
                    ConfigIssue(
                        ("buffers",),
                        f"a buffer with purpose '{purpose}'",
                        f"purposes {', '.join(sorted(purposes))}",
                        found_is_text=True,
                    )
                )
        if self.replay_cache == "buffer" and "replay_cache" not in purposes:
            issues.append(
                ConfigIssue(
                    ("replay_cache",),
                    "a buffer with purpose 'replay_cache' when replay_cache is 'buffer'",
                    "none",
                    found_is_text=True,
                )
            )
        if self.replay_cache == "dram" and "replay_cache" in purposes:
            issues.append(
                ConfigIssue(
                    ("replay_cache",),
                    "'buffer' since a buffer with purpose 'replay_cache' is listed",
                    self.replay_cache,
                )
            )
        return issues

    def _split_issues(self) -> list[ConfigIssue]:
        """A static split cannot hand out more arrays than the pool has."""
        issues: list[ConfigIssue] = []
        split = self.scheduling.static_split
        if split is not None and split.attention_arrays + split.mlp_arrays > self.engines.matrix.arrays:
            issues.append(
                ConfigIssue(
                    ("scheduling", "static_split"),
                    f"attention_arrays + mlp_arrays <= engines.matrix.arrays = {self.engines.matrix.arrays}",
                    split.attention_arrays + split.mlp_arrays,
                )
            )
        return issues

    def _tile_issues(self) -> list[ConfigIssue]:
        """Streamed operands (weights, KV cache) are cut into buffer-sized tiles: a buffer smaller
        than one array's tile (rows x cols elements) is useless and makes the simulation crawl."""
        issues = []
        matrix = self.engines.matrix
        for purpose in ("weights", "kv_cache"):
            members = [(i, b) for i, b in enumerate(self.buffers) if b.purpose == purpose]
            tile = math.ceil(matrix.rows * matrix.cols * self.precision.bytes_per_element(purpose))
            if members and sum(b.bytes for _, b in members) < tile:
                issues.append(
                    ConfigIssue(
                        ("buffers", members[0][0], "bytes"),
                        f"at least one tile of the matrix engine for {purpose} "
                        f"(rows x cols = {matrix.rows} x {matrix.cols} {getattr(self.precision, purpose)} "
                        f"= {tile} bytes)",
                        sum(b.bytes for _, b in members),
                    )
                )
        return issues

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
