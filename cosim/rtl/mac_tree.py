"""MAC-tree matrix engine (GEMV): `lanes` adder trees, each summing `width` products per cycle.

Streaming interface (no back-pressure; the feeder sends one beat per cycle it has data):
each beat carries `width` activations ``x`` (shared by all lanes) and ``lanes x width``
weights ``w``, with ``first`` / ``last`` marking the first and last beat of a lane's
output (an output takes ceil(k / width) beats). The lane's result leaves on ``out`` with
``out_valid`` on the cycle its last beat has passed the pipeline.

Pipeline: one multiply register (the DSP's), ceil(log2 width) - 1 adder-tree register
levels, and a final level that adds the last two partial sums and the accumulator:
``1 + ceil(log2 width)`` stages, the simulator's `adder_tree_depth`. With `packed`, lanes
2p and 2p+1 share one DSP48E2 per product (same activation, two weights; see `arith`).
A width-1 tree multiplies and accumulates in one stage.

The TAS unit is this engine with one lane (`tas_unit`).
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module, Signal, signed

from cosim.rtl.arith import adder_tree, products


class MacTreeArray(Elaboratable):
    """One array of the MAC-tree engine; ports are flat buses, element i at bits [i*bits, (i+1)*bits)."""

    def __init__(self, lanes: int, width: int, *, in_bits: int = 8, acc_bits: int = 32, packed: bool = False) -> None:
        self.lanes, self.width, self.in_bits, self.acc_bits, self.packed = lanes, width, in_bits, acc_bits, packed
        self.x = Signal(width * in_bits)
        self.w = Signal(lanes * width * in_bits)
        self.in_valid = Signal()
        self.in_first = Signal()
        self.in_last = Signal()
        self.out = Signal(lanes * acc_bits)
        self.out_valid = Signal()

    def ports(self) -> list[Signal]:
        """Top-level ports for Verilog generation."""
        return [self.x, self.w, self.in_valid, self.in_first, self.in_last, self.out, self.out_valid]

    def elaborate(self, platform: object) -> Module:
        m = Module()
        bits = self.in_bits
        xs = [self.x[i * bits : (i + 1) * bits].as_signed() for i in range(self.width)]
        weight = [
            [
                self.w[(lane * self.width + i) * bits : (lane * self.width + i + 1) * bits].as_signed()
                for i in range(self.width)
            ]
            for lane in range(self.lanes)
        ]
        # products[i] lists element i's product for every lane (lanes pair up on one DSP when packed)
        per_element = [
            products(
                m,
                xs[i],
                [weight[lane][i] for lane in range(self.lanes)],
                packed=self.packed,
                registered=self.width > 1,
                name=f"p{i}",
            )
            for i in range(self.width)
        ]
        # register stages before the final (accumulating) one: the multiply and the tree levels
        before_final = 0 if self.width == 1 else (self.width - 1).bit_length()
        # control travels beside the data: (valid, first, last) delayed to the final stage
        valid, first, last = self.in_valid, self.in_first, self.in_last
        for stage in range(before_final):
            delayed = [Signal(name=f"{n}_d{stage}") for n in ("valid", "first", "last")]
            m.d.sync += [delayed[0].eq(valid), delayed[1].eq(first), delayed[2].eq(last)]
            valid, first, last = delayed
        m.d.sync += self.out_valid.eq(valid & last)
        for lane in range(self.lanes):
            terms = [per_element[i][lane] for i in range(self.width)]
            left, right = adder_tree(m, terms, name=f"lane{lane}") if len(terms) > 1 else (terms[0], 0)
            acc = Signal(signed(self.acc_bits), name=f"acc{lane}")
            with m.If(valid):
                with m.If(first):
                    m.d.sync += acc.eq(left + right)
                with m.Else():
                    m.d.sync += acc.eq(acc + left + right)
            m.d.comb += self.out[lane * self.acc_bits : (lane + 1) * self.acc_bits].eq(acc)
        return m
