"""What a chip offers: the schema of device files (hwconfigs/devices/<name>.yaml).

The programmable-logic resources, speed grades, off-chip memories (with defaults per
memory kind, the tables below) and platform shell of one device. Designs name a device
by file stem and never repeat its figures (`cosim.hw.schema.Design`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cosim.hw.issues import ConfigIssue, ConfigIssues, nested_issue
from cosim.hw.strict import StrictModel, quoted

DspKind = Literal["DSP48E2", "DSP58"]

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
    "ddr4": "all [est]; background: Micron TN-40-07 method",
    "lpddr4": "energy: Accelergy CACTI plug-in; others [est]",
    "hbm2": "energy: O'Connor et al. MICRO'17 via Accelergy; "
    "efficiency: U280 measurement (Shuhai, FCCM 2020); others [est]",
}
# Background power of the DRAM devices of one channel (active standby + refresh), drawn whether or
# not data moves. [est] by the method of Micron TN-40-07 (DDR4 power calculation): IDD3N about
# 50 mA x VDD 1.2 V = 60 mW per x16 device, four devices per 64-bit channel, plus about 25 %
# for refresh (IDD5B averaged over tREFI) and VPP: about 0.3 W. LPDDR4: lower standby [est];
# HBM2: per pseudo-channel, a 16th of a stack's about 1 W standby [est].
DRAM_BACKGROUND_MW_PER_CHANNEL: dict[str, float] = {
    "ddr4": 300.0,
    "lpddr4": 100.0,
    "hbm2": 60.0,
}
DRAM_ACCESS_LATENCY_NS: dict[str, float] = {
    "ddr4": 100.0,  # [est] first data of a read burst, idle controller
    "lpddr4": 120.0,  # [est]
    "hbm2": 120.0,  # [est]
}


class DeviceResources(StrictModel):
    """Programmable-logic resources of the whole chip (before any shell)."""

    dsp_kind: DspKind = Field(description="DSP slice type: DSP48E2 (UltraScale+) or DSP58 (Versal).")
    dsp: int = Field(ge=0, description="DSP slices on the chip.")
    bram36: int = Field(ge=0, description="36 Kbit block RAMs (512 x 72 in simple dual-port mode).")
    uram288: int = Field(ge=0, description="288 Kbit UltraRAMs (4096 x 72).")
    lut: int = Field(ge=0, description="6-input look-up tables.")
    ff: int = Field(ge=0, description="Flip-flops (CLB registers).")
    ai_engine_tiles: int = Field(
        default=0,
        ge=0,
        description="AI Engine tiles (Versal). Listed for reference; the simulator models programmable logic only.",
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
        default=None,
        gt=0,
        le=1,
        description="Achievable fraction of peak for long sequential bursts. Default: by kind.",
    )
    access_latency_ns: float | None = Field(
        default=None, ge=0, description="Latency from request to first data of an idle channel, ns. Default: by kind."
    )
    access_pj_per_bit: float | None = Field(
        default=None, ge=0, description="Energy per bit read or written, pJ. Default: by kind (table below)."
    )
    controller_mw_per_channel: float | None = Field(
        default=None,
        ge=0,
        description="Static power of the FPGA-side controller and PHY per channel in use, mW. Default: by kind.",
    )
    background_mw_per_channel: float | None = Field(
        default=None,
        ge=0,
        description="Power of the memory devices of one channel in use while idle (standby + refresh), mW. "
        "Board power only. Default: by kind.",
    )
    timing_friendly_channels: int | None = Field(
        default=None,
        ge=1,
        description="Channels a full design can use and still close timing well; more gives a warning.",
    )

    @model_validator(mode="after")
    def _fill_kind_defaults(self) -> OffChipMemory:
        total = self.channels * self.peak_gb_per_s_per_channel
        if abs(total - self.peak_gb_per_s) > 0.01 * self.peak_gb_per_s:
            raise nested_issue(
                "peak_gb_per_s", f"channels x peak_gb_per_s_per_channel = {total:g} (within 1 %)", self.peak_gb_per_s
            )
        if self.typical_efficiency is None:
            self.typical_efficiency = DRAM_TYPICAL_EFFICIENCY[self.kind]
        if self.access_latency_ns is None:
            self.access_latency_ns = DRAM_ACCESS_LATENCY_NS[self.kind]
        if self.access_pj_per_bit is None:
            self.access_pj_per_bit = DRAM_PJ_PER_BIT[self.kind]
        if self.controller_mw_per_channel is None:
            self.controller_mw_per_channel = DRAM_CONTROLLER_MW_PER_CHANNEL[self.kind]
        if self.background_mw_per_channel is None:
            self.background_mw_per_channel = DRAM_BACKGROUND_MW_PER_CHANNEL[self.kind]
        return self


class ShellReservation(StrictModel):
    """Resources a platform shell (Alveo XDMA/QDMA static region) takes before the user's design."""

    name: str = Field(description="Which shell the figures describe.")
    dsp: int = Field(default=0, ge=0, description="DSP slices reserved.")
    bram36: int = Field(default=0, ge=0, description="BRAM36 reserved.")
    uram288: int = Field(default=0, ge=0, description="URAM288 reserved.")
    lut: int = Field(default=0, ge=0, description="LUTs reserved.")
    ff: int = Field(default=0, ge=0, description="Flip-flops reserved.")


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
    shell: ShellReservation | None = Field(
        default=None, description="Platform shell reservation (Alveo); none on bare boards."
    )
    static_power_w: float = Field(
        ge=0, description="Static power of the device or card while the design runs, W [est]."
    )
    processing_system_w: float = Field(
        default=0.0,
        ge=0,
        description="Power of the processing system (Zynq PS: CPU cores, interconnect, PS DDR controller) "
        "while it drives the accelerator, W. Board power only; 0 where there is none or it is not modelled.",
    )
    board_overhead_w: float = Field(
        default=0.0,
        ge=0,
        description="Everything else on the board or card (regulator losses, clocks, fan, peripherals), W. "
        "Board power only; 0 where not modelled.",
    )

    @model_validator(mode="after")
    def _check_default_grade(self) -> Device:
        if self.default_speed_grade not in self.speed_grades:
            raise ConfigIssues(
                [ConfigIssue(("default_speed_grade",), f"one of {quoted(self.speed_grades)}", self.default_speed_grade)]
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
