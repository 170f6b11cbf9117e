"""DSP arithmetic the engines share: multiplies (two int8 products per DSP48E2) and adder trees.

Two products sharing one operand fit one DSP48E2 (AMD WP487, "Deep Learning with INT8
Optimization on Xilinx Devices"): the 27-bit A port takes ``(b_hi << 18) + b_lo`` and the
18-bit B port the shared ``a``, so ``P = a*b_hi*2^18 + a*b_lo``. The low 18 bits of P are
``a*b_lo`` (an 8x8 product fits 16 bits), the high part is ``a*b_hi`` after adding back the
borrow of a negative low product (``P[17]``). Synthesis never infers this packing from two
separate multiplies, so the generators write it out.
"""

from __future__ import annotations

from collections.abc import Sequence

from amaranth.hdl import Cat, Module, Signal, Value, signed

PACK_SHIFT = 18
"""Bit position of the high product: the width of the DSP48E2's B port."""
PACKED_OPERAND_BITS = 27
"""Width of the DSP48E2's A port (pre-adder output), which carries the packed pair."""
MAX_PACKED_OPERAND_BITS = 8
"""Widest operands two products of which still separate cleanly in 18 bits."""


def pack_pair(m: Module, hi: Value, lo: Value, *, name: str = "packed") -> Signal:
    """The packed operand ``(hi << 18) + lo`` (signed, 27 bits), combinational.

    Written as its two fields, lo sign-extended to 18 bits under ``hi - (lo < 0)``, so
    the addition is 9 bits wide rather than 27.
    """
    low = Signal(signed(PACK_SHIFT), name=f"{name}_lo")
    high = Signal(signed(PACKED_OPERAND_BITS - PACK_SHIFT), name=f"{name}_hi")
    packed = Signal(signed(PACKED_OPERAND_BITS), name=name)
    m.d.comb += [low.eq(lo.as_signed()), high.eq(hi.as_signed() - lo[-1]), packed.eq(Cat(low, high))]
    return packed


def unpack_pair(product: Value) -> tuple[Value, Value]:
    """(a*lo, a*hi) from the DSP output ``a * packed``: the low field and the borrow-corrected high field."""
    low = product[:PACK_SHIFT].as_signed()
    high = product[PACK_SHIFT:].as_signed() + product[PACK_SHIFT - 1]
    return low, high


def products(
    m: Module, a: Value, bs: Sequence[Value], *, packed: bool, registered: bool, name: str = "p"
) -> list[Value]:
    """``a * b`` for every b in `bs`; with `packed`, neighbouring pairs share one multiplier.

    `registered` puts a register on each multiplier's output (the DSP's M/P register);
    the unpacking after it is combinational.
    """
    result: list[Value] = []
    index = 0
    while index < len(bs):
        if packed and index + 1 < len(bs):
            operand = pack_pair(m, bs[index + 1], bs[index], name=f"{name}_pack{index // 2}")
            raw: Value = a.as_signed() * operand
            step = 2
        else:
            raw = a.as_signed() * bs[index].as_signed()
            step = 1
        if registered:
            held = Signal(signed(len(raw)), name=f"{name}_{index}")
            m.d.sync += held.eq(raw)
            raw = held
        result += list(unpack_pair(raw)) if step == 2 else [raw]
        index += step
    return result


def adder_tree(m: Module, values: Sequence[Value], *, name: str = "sum") -> tuple[Value, Value]:
    """Registered pairwise adder tree down to two values, one register level per halving.

    Returns the last two partial sums (combinational from the last registers); the caller
    adds them in its final stage, together with an accumulator, so a tree over `width`
    values takes ceil(log2(width)) - 1 register levels here plus the caller's one.
    """
    level = list(values)
    depth = 0
    while len(level) > 2:
        pairs = [level[i : i + 2] for i in range(0, len(level), 2)]
        next_level: list[Value] = []
        for j, pair in enumerate(pairs):
            total = pair[0] + pair[1] if len(pair) == 2 else pair[0]
            held = Signal(signed(len(total)), name=f"{name}_l{depth}_{j}")
            m.d.sync += held.eq(total)
            next_level.append(held)
        level = next_level
        depth += 1
    return (level[0], level[1]) if len(level) == 2 else (level[0], Signal(signed(1), name=f"{name}_zero"))
