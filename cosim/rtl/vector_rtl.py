"""The vector unit in Amaranth; the arithmetic is specified (and mirrored in numpy) in `cosim.rtl.vector`."""

from __future__ import annotations

from amaranth.hdl import Array, Const, Elaboratable, Module, Mux, Signal, signed

from cosim.rtl.vector import (
    DATA_BITS,
    EXP_SEGMENT_SHIFT,
    EXP_SEGMENTS,
    FRAC_BITS,
    PIPELINE_STAGES,
    VectorOp,
    exp_table,
)


class VectorUnit(Elaboratable):
    """``a``, ``b``: lanes x 16-bit buses; ``op`` a `VectorOp`; ``out`` valid PIPELINE_STAGES cycles after the beat."""

    def __init__(self, lanes: int) -> None:
        self.lanes = lanes
        self.a = Signal(lanes * DATA_BITS)
        self.b = Signal(lanes * DATA_BITS)
        self.op = Signal(3)
        self.in_valid = Signal()
        self.out = Signal(lanes * DATA_BITS)
        self.out_valid = Signal()

    def ports(self) -> list[Signal]:
        return [self.a, self.b, self.op, self.in_valid, self.out, self.out_valid]

    def elaborate(self, platform: object) -> Module:
        m = Module()
        # control: op and valid travel with the data through all stages
        ops = [Signal(3, name=f"op_s{s}") for s in range(PIPELINE_STAGES)]
        valids = [Signal(name=f"valid_s{s}") for s in range(PIPELINE_STAGES)]
        m.d.sync += [ops[0].eq(self.op), valids[0].eq(self.in_valid)]
        for s in range(1, PIPELINE_STAGES):
            m.d.sync += [ops[s].eq(ops[s - 1]), valids[s].eq(valids[s - 1])]
        m.d.comb += self.out_valid.eq(valids[-1])
        starts, slopes = exp_table()
        start_rom = Array(Const(v, signed(DATA_BITS + 1)) for v in starts)
        slope_rom = Array(Const(v, signed(DATA_BITS + 1)) for v in slopes)
        for lane in range(self.lanes):
            self._lane(m, lane, ops, start_rom, slope_rom)
        return m

    def _lane(self, m: Module, lane: int, ops: list[Signal], start_rom: Array, slope_rom: Array) -> None:
        span = slice(lane * DATA_BITS, (lane + 1) * DATA_BITS)
        wide = signed(2 * DATA_BITS + 2)
        a1, b1 = Signal(signed(DATA_BITS), name=f"a1_{lane}"), Signal(signed(DATA_BITS), name=f"b1_{lane}")
        m.d.sync += [a1.eq(self.a[span].as_signed()), b1.eq(self.b[span].as_signed())]
        # stage 2: exp segment and table look-up; the multiplier's operands
        magnitude = Mux(a1 < 0, -a1, 0)
        segment = Mux(
            magnitude >= (EXP_SEGMENTS - 1) << EXP_SEGMENT_SHIFT, EXP_SEGMENTS - 1, magnitude >> EXP_SEGMENT_SHIFT
        )
        offset = magnitude - (segment << EXP_SEGMENT_SHIFT)
        mul_a, mul_b = (
            Signal(signed(DATA_BITS + 2), name=f"ma_{lane}"),
            Signal(signed(DATA_BITS + 2), name=f"mb_{lane}"),
        )
        base2, a2, b2 = (
            Signal(signed(DATA_BITS + 1), name=f"base2_{lane}"),
            Signal.like(a1, name=f"a2_{lane}"),
            Signal.like(b1, name=f"b2_{lane}"),
        )
        is_exp = ops[0] == VectorOp.EXP
        m.d.sync += [
            mul_a.eq(Mux(is_exp, slope_rom[segment], a1)),
            mul_b.eq(Mux(is_exp, offset, b1)),
            base2.eq(start_rom[segment]),
            a2.eq(a1),
            b2.eq(b1),
        ]
        # stages 3 and 4: the DSP's M and P registers; the other operands wait beside them
        product3, product4 = Signal(wide, name=f"m_{lane}"), Signal(wide, name=f"p_{lane}")
        m.d.sync += [product3.eq(mul_a * mul_b), product4.eq(product3)]
        side = [(base2, a2, b2)]
        for stage in (3, 4, 5):
            held = tuple(Signal.like(v, name=f"side{stage}_{i}_{lane}") for i, v in enumerate(side[-1]))
            m.d.sync += [h.eq(v) for h, v in zip(held, side[-1], strict=True)]
            side.append(held)
        # stage 5: shift; stage 6: combine
        shifted = Signal(wide, name=f"shift_{lane}")
        m.d.sync += shifted.eq(product4 >> FRAC_BITS)
        base5, a5, b5 = side[3]
        op5 = ops[4]
        combined = Signal(signed(DATA_BITS + 2), name=f"comb_{lane}")
        with m.Switch(op5):
            with m.Case(VectorOp.ADD):
                m.d.sync += combined.eq(a5 + b5)
            with m.Case(VectorOp.SUB):
                m.d.sync += combined.eq(a5 - b5)
            with m.Case(VectorOp.MUL):
                m.d.sync += combined.eq(_clamp(shifted, DATA_BITS + 2))
            with m.Case(VectorOp.MAX):
                m.d.sync += combined.eq(Mux(a5 > b5, a5, b5))
            with m.Default():
                m.d.sync += combined.eq(Mux(base5 - shifted < 0, 0, base5 - shifted))
        # stage 7: saturate to 16 bits; stage 8: output register
        limit = 1 << (DATA_BITS - 1)
        saturated = Signal(signed(DATA_BITS), name=f"sat_{lane}")
        m.d.sync += saturated.eq(Mux(combined > limit - 1, limit - 1, Mux(combined < -limit, -limit, combined)))
        result = Signal(signed(DATA_BITS), name=f"out_{lane}")
        m.d.sync += result.eq(saturated)
        m.d.comb += self.out[span].eq(result)


def _clamp(value, bits: int):
    """Saturate a signed value to `bits` bits (keeps the later 16-bit saturation exact)."""
    limit = 1 << (bits - 1)
    return Mux(value > limit - 1, limit - 1, Mux(value < -limit, -limit, value))
