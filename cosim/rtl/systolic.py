"""Systolic matrix engine: a rows x cols grid of MAC PEs, in the three dataflows.

Both arrays take plain (unskewed) vectors; delay lines inside skew row r by r cycles and
column group q by q cycles, so PE (r, q) sees a vector that entered at cycle t on cycle
t + r + q. A PE multiplies and adds in one cycle (one register, on its output) as the
simulator's formulas assume; a DSP48E2 at full clock would want its M register too, one
more cycle per PE hop.

With `packed` (two int8 MACs per DSP48E2, AMD WP487), neighbouring columns 2q and 2q+1
form one column group: one DSP serves both with the operand they share (the value
travelling along the row), so the grid behaves as rows x ceil(cols/2) for timing.

- `OutputStationaryArray`: PE (r, c) accumulates C[r][c]; A's rows enter from the left,
  B's columns from the top, ``k`` beats per fold; when the bottom PE of a column group has
  its last product, the column shifts its sums down and out, bottom row first.
- `StationaryArray` (weight and input stationary): ``rows`` load beats shift the stationary
  operand in from the top (the last loaded vector ends in row 0); then each streamed
  vector's element r enters row r, partial sums flow down, and column group q's sums
  leave the bottom row. Weight stationary keeps B[k][n] and streams A's rows; input
  stationary keeps A transposed and streams B's columns (`cosim.rtl.drivers` does the mapping).
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module, Signal, Value, signed

from cosim.rtl.arith import pack_pair, unpack_pair


def column_groups(cols: int, packed: bool) -> list[list[int]]:
    """Columns served together by one PE group: pairs when packed, else single columns."""
    step = 2 if packed else 1
    return [list(range(c, min(c + step, cols))) for c in range(0, cols, step)]


def _delayed(m: Module, value: Value, cycles: int, name: str) -> Value:
    """`value` through `cycles` registers (a skew delay line)."""
    for stage in range(cycles):
        held = Signal(value.shape(), name=f"{name}_d{stage}")
        m.d.sync += held.eq(value)
        value = held
    return value


class _ArrayPorts:
    """Ports both arrays share: a vector along the rows, a vector along the columns, one output bus per column."""

    def _init_ports(self, rows: int, cols: int, in_bits: int, acc_bits: int, packed: bool) -> None:
        self.rows, self.cols, self.in_bits, self.acc_bits, self.packed = rows, cols, in_bits, acc_bits, packed
        self.groups = column_groups(cols, packed)
        self.row_in = Signal(rows * in_bits)
        self.col_in = Signal(cols * in_bits)
        self.in_valid = Signal()
        self.out = Signal(cols * acc_bits)
        self.out_valid = Signal(len(self.groups))

    def _row_value(self, r: int) -> Value:
        return self.row_in[r * self.in_bits : (r + 1) * self.in_bits].as_signed()

    def _col_value(self, c: int) -> Value:
        return self.col_in[c * self.in_bits : (c + 1) * self.in_bits].as_signed()

    def _out_slice(self, c: int) -> Value:
        return self.out[c * self.acc_bits : (c + 1) * self.acc_bits]

    def _column_operand(self, m: Module, group: list[int]) -> Signal:
        """The column group's operand as one signal: a packed pair (27 bits) or the single column's value."""
        if len(group) == 2:
            return pack_pair(m, self._col_value(group[1]), self._col_value(group[0]), name=f"pack{group[0] // 2}")
        single = Signal(signed(self.in_bits), name=f"col{group[0]}")
        m.d.comb += single.eq(self._col_value(group[0]))
        return single


def _group_products(a: Value, operand: Value, columns: int) -> list[Value]:
    """Products of the row operand with a column group's operand: unpacked pair or single product."""
    return list(unpack_pair(a * operand)) if columns == 2 else [a * operand]


class OutputStationaryArray(_ArrayPorts, Elaboratable):
    """Output stationary: ``row_in`` = A[:, t], ``col_in`` = B[t, :]; ``first``/``last`` mark t = 0 and t = k-1."""

    def __init__(self, rows: int, cols: int, *, in_bits: int = 8, acc_bits: int = 32, packed: bool = False) -> None:
        self._init_ports(rows, cols, in_bits, acc_bits, packed)
        self.in_first = Signal()
        self.in_last = Signal()

    def ports(self) -> list[Signal]:
        return [self.row_in, self.col_in, self.in_valid, self.in_first, self.in_last, self.out, self.out_valid]

    def elaborate(self, platform: object) -> Module:
        m = Module()
        rows, groups = self.rows, self.groups
        # operands and control arriving at each PE group, left to right and top to bottom
        a_left = [[_delayed(m, self._row_value(r), r, f"a_skew{r}")] for r in range(rows)]
        ctrl_left = [
            [
                tuple(
                    _delayed(m, s, r, f"{n}_skew{r}")
                    for s, n in ((self.in_valid, "v"), (self.in_first, "f"), (self.in_last, "l"))
                )
            ]
            for r in range(rows)
        ]
        # a packed column pair is packed once, here, and travels down as one 27-bit word
        b_top = [[_delayed(m, self._column_operand(m, group), q, f"b_skew{q}")] for q, group in enumerate(groups)]
        acc = [
            [[Signal(signed(self.acc_bits), name=f"acc_{r}_{c}") for c in group] for group in groups]
            for r in range(rows)
        ]
        b_here = b_top
        for r in range(rows):
            b_below = []
            for q, group in enumerate(groups):
                a, (valid, first, last) = a_left[r][q], ctrl_left[r][q]
                prods = _group_products(a, b_here[q][0], len(group))
                with m.If(valid & first):
                    m.d.sync += [acc[r][q][j].eq(prods[j]) for j in range(len(group))]
                with m.Elif(valid):
                    m.d.sync += [acc[r][q][j].eq(acc[r][q][j] + prods[j]) for j in range(len(group))]
                a_next, b_next = (
                    Signal.like(a, name=f"a_{r}_{q}"),
                    [Signal.like(b, name=f"b_{r}_{q}_{j}") for j, b in enumerate(b_here[q])],
                )
                ctrl_next = tuple(Signal(name=f"{n}_{r}_{q}") for n in "vfl")
                m.d.sync += [a_next.eq(a)] + [bn.eq(b) for bn, b in zip(b_next, b_here[q], strict=True)]
                m.d.sync += [cn.eq(c) for cn, c in zip(ctrl_next, (valid, first, last), strict=True)]
                a_left[r].append(a_next)
                ctrl_left[r].append(ctrl_next)
                b_below.append(b_next)
            b_here = b_below
        for q, group in enumerate(groups):
            self._drain(m, q, group, acc, ctrl_left[rows - 1][q])
        return m

    def _drain(self, m: Module, q: int, group: list[int], acc: list, bottom_ctrl: tuple) -> None:
        """After the bottom PE's last product, shift the column group's sums down and out, one row per cycle."""
        valid, _, last = bottom_ctrl
        remaining = Signal(range(self.rows + 1), name=f"drain{q}")
        with m.If(remaining != 0):
            m.d.sync += remaining.eq(remaining - 1)
            for r in range(1, self.rows):
                for j in range(len(group)):
                    m.d.sync += acc[r][q][j].eq(acc[r - 1][q][j])
        with m.If(valid & last):
            m.d.sync += remaining.eq(self.rows)
        m.d.comb += self.out_valid[q].eq(remaining != 0)
        for j, c in enumerate(group):
            m.d.comb += self._out_slice(c).eq(acc[self.rows - 1][q][j])


class StationaryArray(_ArrayPorts, Elaboratable):
    """Weight / input stationary: ``load`` beats put ``col_in`` into the grid; ``in_valid`` beats stream ``row_in``."""

    def __init__(self, rows: int, cols: int, *, in_bits: int = 8, acc_bits: int = 32, packed: bool = False) -> None:
        self._init_ports(rows, cols, in_bits, acc_bits, packed)
        self.load = Signal()

    def ports(self) -> list[Signal]:
        return [self.row_in, self.col_in, self.in_valid, self.load, self.out, self.out_valid]

    def elaborate(self, platform: object) -> Module:
        m = Module()
        rows, groups = self.rows, self.groups
        # the stationary operand, one register per PE group (packed pairs stored pre-packed: the pre-add is done once)
        held_top = [self._column_operand(m, group) for group in groups]
        stationary = [[Signal.like(held_top[q], name=f"s_{r}_{q}") for q in range(len(groups))] for r in range(rows)]
        with m.If(self.load):
            for q in range(len(groups)):
                m.d.sync += stationary[0][q].eq(held_top[q])
                for r in range(1, rows):
                    m.d.sync += stationary[r][q].eq(stationary[r - 1][q])
        psum_above = [[0] * len(group) for group in groups]
        for r in range(rows):
            a = _delayed(m, self._row_value(r), r, f"a_skew{r}")
            valid = _delayed(m, self.in_valid, r, f"v_skew{r}")
            psum_here = []
            for q, group in enumerate(groups):
                prods = _group_products(a, stationary[r][q], len(group))
                sums = [Signal(signed(self.acc_bits), name=f"psum_{r}_{c}") for c in group]
                m.d.sync += [s.eq(above + p) for s, above, p in zip(sums, psum_above[q], prods, strict=True)]
                a_next, valid_next = Signal.like(a, name=f"a_{r}_{q}"), Signal(name=f"v_{r}_{q}")
                m.d.sync += [a_next.eq(a), valid_next.eq(valid)]
                a, valid = a_next, valid_next
                psum_here.append(sums)
                if r == rows - 1:
                    m.d.comb += self.out_valid[q].eq(valid_next)
                    for s, c in zip(sums, group, strict=True):
                        m.d.comb += self._out_slice(c).eq(s)
            psum_above = psum_here
        return m
