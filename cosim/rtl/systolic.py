"""Systolic matrix engine: a rows x cols grid of MAC PEs, in the three dataflows.

Timing is that of the simulator's formulas (`cosim.sim.compute.systolic_fold_cycles`,
which are SCALE-Sim v3's counts): PE (r, c) sees the operands of stream step t on cycle
t + r + c after the fold's first streamed beat, and its result leaves on column c's
output on the cycle of its last multiply-add (the adder's output drives the port; the
consumer, the output or accumulation buffer, registers it on that cycle's clock edge,
as SCALE-Sim writes the output on that cycle). A PE multiplies and adds in one cycle (one
register, its accumulator or partial sum), as the formulas assume; a DSP48E2 at full
clock would want its M register too, one more cycle per PE hop.

Both arrays take plain (unskewed) vectors; delay lines inside skew row r by r cycles and
column c by c cycles. With `packed` (two int8 MACs per DSP48E2, AMD WP487), columns 2q
and 2q+1 form one group: one DSP serves both with the operand they share (the value
travelling along the row), the row operand passes two registers per group (one per
column it serves) and the odd column's result leaves one register later, so the packed
array keeps the unpacked array's cycle timing exactly.

- `OutputStationaryArray`: PE (r, c) accumulates C[r][c]; A's rows enter from the left,
  B's columns from the top, ``k`` beats per fold. When a PE adds its last product the sum
  goes out on its column's output bus (one PE of a column finishes per cycle, top row
  first), so nothing is drained afterwards and the next fold can follow at once.
- `StationaryArray` (weight and input stationary): ``rows`` load beats shift the stationary
  operand in from the top (the last loaded vector ends in row 0); then each streamed
  vector's element r enters row r, partial sums flow down, and column c's sums leave the
  bottom row. Weight stationary keeps B[k][n] and streams A's rows; input stationary
  keeps A transposed and streams B's columns (`cosim.rtl.drivers` does the mapping).
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module, Mux, Signal, Value, signed

from cosim.rtl.arith import pack_pair, unpack_pair


def column_groups(cols: int, packed: bool) -> list[list[int]]:
    """Columns served together by one PE group: pairs when packed, else single columns."""
    step = 2 if packed else 1
    return [list(range(c, min(c + step, cols))) for c in range(0, cols, step)]


def _delayed(m: Module, value: Value, cycles: int, name: str) -> Value:
    """`value` through `cycles` registers (a skew delay line, or a row operand's hop past a column group)."""
    for stage in range(cycles):
        held = Signal(value.shape(), name=f"{name}_d{stage}")
        m.d.sync += held.eq(value)
        value = held
    return value


class _ArrayPorts:
    """Ports both arrays share: a vector along the rows, a vector along the columns, one output per column."""

    def _init_ports(self, rows: int, cols: int, in_bits: int, acc_bits: int, packed: bool) -> None:
        self.rows, self.cols, self.in_bits, self.acc_bits, self.packed = rows, cols, in_bits, acc_bits, packed
        self.groups = column_groups(cols, packed)
        self.row_in = Signal(rows * in_bits)
        self.col_in = Signal(cols * in_bits)
        self.in_valid = Signal()
        self.out = Signal(cols * acc_bits)
        self.out_valid = Signal(cols)

    def _row_value(self, r: int) -> Value:
        return self.row_in[r * self.in_bits : (r + 1) * self.in_bits].as_signed()

    def _col_value(self, c: int) -> Value:
        return self.col_in[c * self.in_bits : (c + 1) * self.in_bits].as_signed()

    def _column_operand(self, m: Module, group: list[int]) -> Signal:
        """The column group's operand as one signal: a packed pair (27 bits) or the single column's value."""
        if len(group) == 2:
            return pack_pair(m, self._col_value(group[1]), self._col_value(group[0]), name=f"pack{group[0] // 2}")
        single = Signal(signed(self.in_bits), name=f"col{group[0]}")
        m.d.comb += single.eq(self._col_value(group[0]))
        return single

    def _drive_column(self, m: Module, c: int, valid: Value, value: Value, *, late: bool) -> None:
        """Column c's output: `value` while `valid`; `late` (a packed pair's odd column) one register later."""
        if late:
            held_valid, held = Signal(name=f"out_valid{c}"), Signal(signed(self.acc_bits), name=f"out{c}")
            m.d.sync += [held_valid.eq(valid), held.eq(value)]
            valid, value = held_valid, held
        m.d.comb += [
            self.out_valid[c].eq(valid),
            self.out[c * self.acc_bits : (c + 1) * self.acc_bits].eq(value),
        ]


def _group_products(a: Value, operand: Value, columns: int) -> list[Value]:
    """Products of the row operand with a column group's operand: unpacked pair or single product."""
    return list(unpack_pair(a * operand)) if columns == 2 else [a * operand]


def _row_along_groups(m: Module, value: Value, groups: list[list[int]], name: str) -> list[Value]:
    """A row's operand as each column group sees it: one register per column passed (two past a packed pair)."""
    seen = [value]
    for q, group in enumerate(groups[:-1]):
        seen.append(_delayed(m, seen[-1], len(group), f"{name}_{q}"))
    return seen


def _bitwise_or(values: list[Value]) -> Value:
    """OR of `values`: a column's output bus, which at most one PE of the column drives at a time."""
    total = values[0]
    for value in values[1:]:
        total = total | value
    return total


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
        # (a, valid, first, last) arriving at each PE group: skewed by the row, then one register per column passed
        a_at = [
            _row_along_groups(m, _delayed(m, self._row_value(r), r, f"a_skew{r}"), groups, f"a{r}") for r in range(rows)
        ]
        ctrl_at = [
            [
                _row_along_groups(m, _delayed(m, s, r, f"{n}_skew{r}"), groups, f"{n}{r}")
                for s, n in ((self.in_valid, "v"), (self.in_first, "f"), (self.in_last, "l"))
            ]
            for r in range(rows)
        ]
        # a packed column pair is packed once, at the top, and travels down as one 27-bit word
        b_here = [_delayed(m, self._column_operand(m, group), group[0], f"b_skew{q}") for q, group in enumerate(groups)]
        # per column: (this PE finishes now, its final sum) for every row; a column's bus takes the one that finishes
        finishing: list[list[tuple[Value, Value]]] = [[] for _ in range(self.cols)]
        for r in range(rows):
            for q, group in enumerate(groups):
                valid, first, last = (ctrl_at[r][kind][q] for kind in range(3))
                prods = _group_products(a_at[r][q], b_here[q], len(group))
                for j, c in enumerate(group):
                    acc = Signal(signed(self.acc_bits), name=f"acc_{r}_{c}")
                    total = Signal(signed(self.acc_bits), name=f"sum_{r}_{c}")
                    m.d.comb += total.eq(prods[j] + Mux(first, 0, acc))
                    with m.If(valid):
                        m.d.sync += acc.eq(total)
                    finishing[c].append((valid & last, total))
                b_below = Signal.like(b_here[q], name=f"b_{r}_{q}")
                m.d.sync += b_below.eq(b_here[q])
                b_here[q] = b_below
        for group in groups:
            for j, c in enumerate(group):
                done = Signal(name=f"done{c}")
                result = Signal(signed(self.acc_bits), name=f"result{c}")
                m.d.comb += done.eq(_bitwise_or([d for d, _ in finishing[c]]))
                m.d.comb += result.eq(_bitwise_or([Mux(d, t, 0) for d, t in finishing[c]]))
                self._drive_column(m, c, done, result, late=j == 1)
        return m


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
        psum_above: list[list[Value]] = [[0] * len(group) for group in groups]
        for r in range(rows):
            a_at = _row_along_groups(m, _delayed(m, self._row_value(r), r, f"a_skew{r}"), groups, f"a{r}")
            valid_at = _row_along_groups(m, _delayed(m, self.in_valid, r, f"v_skew{r}"), groups, f"v{r}")
            for q, group in enumerate(groups):
                prods = _group_products(a_at[q], stationary[r][q], len(group))
                sums = [Signal(signed(self.acc_bits), name=f"sum_{r}_{c}") for c in group]
                m.d.comb += [s.eq(above + p) for s, above, p in zip(sums, psum_above[q], prods, strict=True)]
                if r < rows - 1:  # the partial sum moves down one row per cycle, like the row operand's skew
                    below = [Signal(signed(self.acc_bits), name=f"psum_{r}_{c}") for c in group]
                    m.d.sync += [b.eq(s) for b, s in zip(below, sums, strict=True)]
                    psum_above[q] = below
                else:
                    for j, (c, s) in enumerate(zip(group, sums, strict=True)):
                        self._drive_column(m, c, valid_at[q], s, late=j == 1)
        return m
