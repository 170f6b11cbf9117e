"""The hardware blocks of a design: compute engines, on-chip buffers and its use of DRAM.

Parts of the design schema (`cosim.hw.schema.Design` holds them); the sizes here are what
`cosim validate` maps onto DSP slices and block RAMs.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from cosim.hw.issues import nested_issue
from cosim.hw.strict import StrictModel

# Sizes far beyond any FPGA design, so that a typo is refused before it reaches the simulator
# (docs/limits.md). Buffers too small to be useful are checked against the engine in `Design`.
MAX_ARRAYS = 4096
MAX_ARRAY_SIDE = 65536
MAX_DSPS = 1_000_000
MAX_BUFFER_BYTES = 2**34
MAX_WIDTH_BITS = 65536
MAX_CHANNELS = 64
MAX_BURST_BYTES = 2**24
MAX_ACCESS_LATENCY_NS = 1_000_000


class MatrixEngine(StrictModel):
    """A pool of identical PE arrays for the linear layers and attention; the scheduler assigns arrays to ops.

    Each PE performs one MAC per cycle. DSPs used = ceil(arrays x rows x cols / macs_per_dsp_per_cycle):
    with int8 on DSP48E2 one DSP slice serves two PEs (two multiplications sharing an operand).
    """

    type: Literal["systolic", "mac_tree"] = Field(
        description="systolic: a rows x cols PE grid with a dataflow; "
        "mac_tree: rows lanes, each an adder tree over cols products (GEMV)."
    )
    arrays: int = Field(ge=1, le=MAX_ARRAYS, description="Identical arrays in the pool.")
    rows: int = Field(
        ge=1, le=MAX_ARRAY_SIDE, description="systolic: PE rows; mac_tree: lanes (output elements per cycle)."
    )
    cols: int = Field(
        ge=1,
        le=MAX_ARRAY_SIDE,
        description="systolic: PE columns; mac_tree: tree width (products summed per lane per cycle).",
    )
    dataflow: Literal["weight_stationary", "output_stationary", "input_stationary"] | None = Field(
        default=None, description="systolic only (required there): which operand stays in the PEs."
    )
    macs_per_dsp_per_cycle: float | None = Field(
        default=None,
        gt=0,
        description="MACs one DSP slice performs per cycle (packing). "
        "Default: by DSP kind and precision (table below).",
    )

    @model_validator(mode="after")
    def _check_dataflow(self) -> MatrixEngine:
        if self.type == "systolic" and self.dataflow is None:
            raise nested_issue(
                "dataflow",
                "a dataflow for a systolic engine ('weight_stationary', 'output_stationary' or 'input_stationary')",
                "nothing",
                found_is_text=True,
            )
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

    lanes: int = Field(ge=1, le=MAX_ARRAY_SIDE, description="Elements processed per cycle (tas: products per cycle).")
    dsps: int = Field(ge=0, le=MAX_DSPS, description="DSP slices the unit uses.")


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
    bytes: int = Field(ge=1, le=MAX_BUFFER_BYTES, description="Capacity of one copy, bytes.")
    memory: Literal["bram", "uram"] = Field(description="Block type it maps to.")
    width_bits: int = Field(
        ge=1, le=MAX_WIDTH_BITS, description="Width of one port, bits (the word the engine reads per cycle per port)."
    )
    ports: Literal[1, 2] = Field(
        default=1,
        description="Read ports: 1 = simple dual-port (one read and one write per cycle); 2 = true dual-port "
        "(BRAM then maps at most 36 bits per block per port).",
    )
    double_buffered: bool = Field(
        default=False, description="Two copies: one fills from DRAM while the engine reads the other."
    )

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

    memory: str | None = Field(
        default=None, description="Which of the device's memories (by name). Default: the device's first."
    )
    channels: int = Field(
        ge=1, le=MAX_CHANNELS, description="Channels the design drives; at most the memory's channels."
    )
    efficiency: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Fraction of peak bandwidth achieved. Default: the memory's typical_efficiency.",
    )
    burst_bytes: int = Field(
        default=4096, ge=1, le=MAX_BURST_BYTES, description="Bytes per DMA burst request (>= 4 KB keeps HBM efficient)."
    )
    access_latency_ns: float | None = Field(
        default=None,
        ge=0,
        le=MAX_ACCESS_LATENCY_NS,
        description="Request-to-first-data latency, ns. Default: the memory's access_latency_ns.",
    )
