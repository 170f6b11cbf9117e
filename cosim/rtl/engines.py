"""Which hardware a design asks for: one `EngineSpec` per generated module.

The matrix engine is `arrays` instances of one array module (the pool the scheduler
shares; the interconnect that shares it is not generated), the vector and TAS units one
instance each, and every buffer one memory. Precisions come from the design: the matrix
engine's operands are as wide as the wider of weights and activations, the TAS unit's as
the wider of activations and KV cache; two int8 (or int4) products share a DSP48E2 when
the design packs two MACs per DSP (`macs_per_dsp_per_cycle` >= 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from cosim.common.errors import UserError
from cosim.hw.schema import Design

INTEGER_BITS = {"int4": 4, "int8": 8, "int16": 16}
PACKABLE_BITS = 8


@dataclass(frozen=True)
class EngineSpec:
    """One module to generate: `kind` selects the generator, `params` its sizes, `instances` how many the design has."""

    name: str
    kind: str  # mac_tree | systolic_os | systolic_stationary | vector | tas | memory
    params: dict[str, Any] = field(default_factory=dict)
    instances: int = 1
    description: str = ""

    @property
    def module_name(self) -> str:
        """Verilog module name."""
        return f"{self.name}_array" if self.kind in ("mac_tree", "systolic_os", "systolic_stationary") else self.name

    def with_params(self, **changes: Any) -> EngineSpec:
        """The same engine with some sizes changed (a slice for synthesis)."""
        return replace(self, params={**self.params, **changes})

    def build(self) -> Any:
        """The Amaranth elaboratable (imports Amaranth); memories are Verilog templates (`cosim.rtl.memory`)."""
        p = self.params
        if self.kind == "mac_tree" or self.kind == "tas":
            from cosim.rtl.mac_tree import MacTreeArray

            return MacTreeArray(
                p["lanes"], p["width"], in_bits=p["in_bits"], acc_bits=p["acc_bits"], packed=p["packed"]
            )
        if self.kind in ("systolic_os", "systolic_stationary"):
            from cosim.rtl.systolic import OutputStationaryArray, StationaryArray

            cls = OutputStationaryArray if self.kind == "systolic_os" else StationaryArray
            return cls(p["rows"], p["cols"], in_bits=p["in_bits"], acc_bits=p["acc_bits"], packed=p["packed"])
        if self.kind == "vector":
            from cosim.rtl.vector import vector_unit

            return vector_unit(p["lanes"])
        raise ValueError(f"unknown engine kind {self.kind!r}")


def operand_bits(design: Design, *tensors: str) -> int:
    """Integer width of the widest of `tensors`' precisions; floating point is not generated."""
    names = [getattr(design.precision, t) for t in tensors]
    for tensor, name in zip(tensors, names, strict=True):
        if name not in INTEGER_BITS:
            raise UserError(
                design.source.path,
                f"precision.{tensor}",
                "an integer precision (int4, int8, int16) for RTL generation",
                name,
            )
    return max(INTEGER_BITS[n] for n in names)


def accumulator_bits(in_bits: int) -> int:
    """Accumulator width: 32 bits for int8 and narrower operands, 48 (a DSP48E2's P) for int16."""
    return 32 if in_bits <= PACKABLE_BITS else 48


def engine_specs(design: Design) -> list[EngineSpec]:
    """Every module the design needs, matrix engine first, buffers last."""
    matrix = design.engines.matrix
    bits = operand_bits(design, "weights", "activations")
    packed = (matrix.macs_per_dsp_per_cycle or 1) >= 2 and bits <= PACKABLE_BITS
    common = {"in_bits": bits, "acc_bits": accumulator_bits(bits), "packed": packed}
    if matrix.type == "mac_tree":
        first = EngineSpec(
            "matrix",
            "mac_tree",
            {"lanes": matrix.rows, "width": matrix.cols, **common},
            matrix.arrays,
            f"MAC tree, {matrix.rows} lanes x {matrix.cols} wide, int{bits}",
        )
    else:
        kind = "systolic_os" if matrix.dataflow == "output_stationary" else "systolic_stationary"
        first = EngineSpec(
            "matrix",
            kind,
            {"rows": matrix.rows, "cols": matrix.cols, **common},
            matrix.arrays,
            f"systolic {matrix.rows} x {matrix.cols}, {matrix.dataflow}, int{bits}",
        )
    tas_bits = operand_bits(design, "activations", "kv_cache")
    specs = [
        first,
        EngineSpec(
            "vector",
            "vector",
            {"lanes": design.engines.vector.lanes},
            1,
            f"vector unit, {design.engines.vector.lanes} lanes, Q7.8",
        ),
        EngineSpec(
            "tas",
            "tas",
            {
                "lanes": 1,
                "width": design.engines.tas.lanes,
                "in_bits": tas_bits,
                "acc_bits": accumulator_bits(tas_bits),
                "packed": False,
            },
            1,
            f"TAS unit, one MAC tree {design.engines.tas.lanes} wide, int{tas_bits}",
        ),
    ]
    for buffer in design.buffers:
        depth = buffer.depth_words * buffer.copies
        specs.append(
            EngineSpec(
                f"buffer_{buffer.name}",
                "memory",
                {"width": buffer.width_bits, "depth": depth, "read_ports": buffer.ports, "memory": buffer.memory},
                1,
                f"{buffer.memory} buffer {buffer.width_bits} x {depth}",
            )
        )
    return specs
