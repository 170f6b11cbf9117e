"""Design-level constants of one simulation run: engines, buffers, DRAM, tile plans, static counts.

`SimContext` is shared by every segment simulation of a run; it caches what does not
depend on timing (how an op's operand is tiled and how long each tile computes, the
MACs / vector work / on-chip buffer bytes an op counts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from cosim.hw.precisions import MAC_PRECISIONS
from cosim.sim import compute
from cosim.sim.buffers import BufferGroup, BufferSet, column_tile_pieces, tile_columns
from cosim.sim.counters import CounterLayout
from cosim.sim.dram import DramSpec
from cosim.sim.policies import SchedulingPolicy
from cosim.sim.segments import OpWork
from cosim.sim.tile_plan import Piece, TilePlan, TileValue, pieces_of_stretches, repeated
from cosim.sim.workload import Workload

if TYPE_CHECKING:
    from cosim.hw.schema import Design

STREAMED_PURPOSE = {"weights": "weights", "kv_cache": "kv_cache"}
MAX_CACHED_PLAN_TILES = 200_000  # tiles of the tile plans kept for reuse (their per-tile lists: a few MB)
MAX_CACHED_OPS = 4_000  # static counts (and tile cycles by shape) kept for reuse
MAX_RUNS_BY_LENGTH = 64  # `_per_distinct` evaluates per run up to this many runs, else per distinct row


LOAD_FILLS = {"kv_read": "kv_cache", "weights": "weights"}  # the buffer a load of a DRAM category fills


class _BlockCounters(NamedTuple):
    """Layout indices of one block's static counters: MACs by precision, vector work, buffer bytes by purpose."""

    macs: dict[str, int]
    vector: int
    read: dict[str, int]
    write: dict[str, int]


def _run_starts(*columns: np.ndarray) -> np.ndarray:
    """Indices where a run of equal rows of `columns` starts."""
    change = np.zeros(len(columns[0]), dtype=bool)
    if len(change):
        change[0] = True
        for column in columns:
            change[1:] |= column[1:] != column[:-1]
    return np.flatnonzero(change)


def _joined(values: list[TileValue], lengths: list[int]) -> list[tuple[TileValue, int]]:
    """Stretches (value, count) of tiles given as values with counts, equal neighbours joined."""
    out: list[tuple[TileValue, int]] = []
    for value, count in zip(values, lengths, strict=True):
        if out and out[-1][0] == value:
            out[-1] = (value, out[-1][1] + count)
        else:
            out.append((value, count))
    return out


def _per_distinct(formula: Callable[..., int], *columns: np.ndarray) -> np.ndarray:
    """`formula` of every row of the non-negative integer `columns`, evaluated once per distinct row.

    Tile columns are mostly a few long runs of one shape (a KV stream: full tiles, then the
    last one): those are found by run length in a few numpy calls; many short runs
    (alternating shapes) go through `np.unique`.
    """
    count = len(columns[0])
    starts = _run_starts(*columns)
    if len(starts) <= MAX_RUNS_BY_LENGTH:
        memo: dict[tuple[int, ...], int] = {}
        per_run = []
        for i in starts.tolist():
            row = tuple(int(c[i]) for c in columns)
            if row not in memo:
                memo[row] = formula(*row)
            per_run.append(memo[row])
        return np.repeat(np.array(per_run, dtype=np.int64), np.diff(np.append(starts, count)))
    key, radix = np.zeros(len(columns[0]), dtype=np.int64), 1
    for column in columns:  # rows packed into one integer (mixed radix) when it fits 62 bits
        size = int(column.max()) + 1 if len(column) else 1
        radix *= size
        key = key * size + column
    if radix < 2**62:
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(np.stack(columns, axis=1), axis=0, return_index=True, return_inverse=True)
    values = np.array([formula(*(int(c[i]) for c in columns)) for i in first.tolist()], dtype=np.int64)
    return values[inverse.ravel()]


class SimContext:
    """Design-level constants and caches shared by every segment simulation of a run."""

    def __init__(
        self,
        design: Design,
        policy: SchedulingPolicy,
        workload: Workload,
        dram_weights: dict[str, int] | None,
        fast_forward: bool,
    ) -> None:
        self.design = design
        self.policy = policy
        self.workload = workload
        self.dram_spec = DramSpec.from_design(design, dram_weights)
        self.buffers = BufferSet.from_design(design)
        self.fast_forward = fast_forward
        m = design.engines.matrix
        self.matrix = (m.type, m.rows, m.cols, m.dataflow)
        self.vector_lanes = design.engines.vector.lanes
        self.tas_lanes = design.engines.tas.lanes
        self.matrix_engines = policy.matrix_engines()
        engines = [*self.matrix_engines, "vector", "tas"]
        self.layout = CounterLayout(engines, sorted(self.buffers.groups))
        # Ops sized at a KV length are met once per step of a long video: the caches are emptied
        # when they grow past these bounds, so that memory stays flat however long the video.
        self._plans: dict[tuple[OpWork, str | None], TilePlan] = {}
        self._plan_tiles = 0  # tiles of the cached plans
        self._static: dict[tuple[OpWork, str], tuple[tuple[int, int], ...]] = {}
        self._block_indices: dict[str, _BlockCounters] = {}  # block -> its static counters' indices
        self._element_tiles: dict[tuple[int, int, int, str], list[int]] = {}
        self._move_cycles: dict[int, int] = {}
        self.tile_moves: dict[int, tuple[int, int]] = {}  # tile bytes -> (bytes in whole bursts, move cycles)
        self._tile_cycles: dict[tuple[object, ...], int] = {}  # compute cycles of a streamed tile, by its shape
        self._purposes: dict[str, str] = {}  # data purpose -> purpose of the group holding it
        self.counter_indices: dict[tuple[str, str, str], tuple[int, int, int]] = {}  # of a DRAM transfer's counters

    def engine_of(self, op: OpWork) -> str | None:
        if op.engine == "matrix":
            return self.policy.matrix_engine_for(op)
        if op.engine in ("vector", "tas"):
            return op.engine
        return None

    def plan(self, op: OpWork) -> TilePlan:
        engine = self.engine_of(op)
        key = (op, engine)
        plan = self._plans.get(key)
        if plan is None:
            # stores leave through the output buffer; what it cannot hold stalls the op until written
            overflow = sum(b for _, b in op.stores) > self.buffers.group("output").capacity_bytes
            plan = self._make_plan(op, engine)
            plan.stores_hold_engine = overflow
            if self._plan_tiles > MAX_CACHED_PLAN_TILES:
                self._plans, self._plan_tiles = {}, 0
            self._plans[key] = plan
            self._plan_tiles += plan.tiles
        return plan

    def tiles(self, op: OpWork, engine: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(bytes, k, n) per tile of one instance of `op`'s streamed operand (`tile_columns`).

        A weight stream is tiled for all batch rows, whatever rows compute: DRS loads the
        tiles before it knows (`element_tiles`).
        """
        group = self.buffers.group(STREAMED_PURPOSE[op.streamed or ""])
        return tile_columns(op.streamed_bytes, op.k, op.n, group.slot_bytes, self._min_columns(op, engine))

    def _min_columns(self, op: OpWork, engine: str | None) -> int:
        """Output columns a tile of `op` needs so that every array of its engine has a fold."""
        if op.engine != "matrix" or engine is None:
            return 1
        kind, rows, cols, dataflow = self.matrix
        m = self.workload.rows if op.streamed == "weights" else op.m
        arrays = self.matrix_engines[engine]
        return compute.min_tile_columns(kind, m, rows=rows, cols=cols, dataflow=dataflow, arrays=arrays)

    def _make_plan(self, op: OpWork, engine: str | None) -> TilePlan:
        if op.streamed:
            group = self.buffers.group(STREAMED_PURPOSE[op.streamed])
            one = self._matrix_pieces(op, engine, group) if op.engine == "matrix" else self._vector_pieces(op, group)
            return TilePlan(engine, repeated(one, op.instances), group.purpose, group.slots)
        return TilePlan(engine, (), None, 1, compute_cycles=self._unstreamed_cycles(op, engine))

    def _matrix_pieces(self, op: OpWork, engine: str | None, group: BufferGroup) -> list[Piece]:
        """One instance's tiles of a matrix op, as pieces of (bytes, cycles): in closed form where tiles take whole
        columns (`column_tile_pieces`), else cut tile by tile with each formula once per stretch or distinct tile."""
        assert engine is not None, "a matrix op runs on a matrix engine"
        kind, rows, cols, dataflow = self.matrix
        arrays = self.matrix_engines[engine]

        def tile_cycles(k: int, n: int, cont: int) -> int:
            return compute.matrix_tile_cycles(
                kind, op.m, k, n, rows=rows, cols=cols, dataflow=dataflow, arrays=arrays, continues=bool(cont)
            )

        def cycles_of(nbytes: int, k: int, n: int, cont: int) -> int:
            key = (engine, op.m, nbytes, k, n, cont, group.purpose)  # the next KV length has the same tiles
            cycles = self._tile_cycles.get(key)
            if cycles is None:
                if len(self._tile_cycles) > MAX_CACHED_OPS:
                    self._tile_cycles = {}
                read = compute.buffer_read_cycles(nbytes, group.port_bytes_per_cycle)
                cycles = self._tile_cycles[key] = max(tile_cycles(k, n, cont), read)
            return cycles

        min_columns = self._min_columns(op, engine)
        closed = column_tile_pieces(op.streamed_bytes, op.k, op.n, group.slot_bytes, min_columns)
        if closed is not None:  # whole columns: no tile continues a reduction
            return [(tuple((b, cycles_of(b, k, n, 0)) for b, k, n in pattern), count) for pattern, count in closed]
        tb, tk, tn = tile_columns(op.streamed_bytes, op.k, op.n, group.slot_bytes, min_columns)
        reduced = np.cumsum(tk) % max(op.k, 1)  # reduction done after each tile: 0 ends an output group
        continues = np.concatenate([[False], reduced[:-1] != 0])
        # thousands of tiles share a few shapes: each formula once per stretch of equal tiles
        starts = _run_starts(tb, tk, tn, continues)
        if len(starts) <= MAX_RUNS_BY_LENGTH:
            lengths = np.diff(np.append(starts, len(tb))).tolist()
            firsts = zip(*(c[starts].tolist() for c in (tb, tk, tn, continues)), strict=True)
            values = [(b, cycles_of(b, k, n, c)) for b, k, n, c in firsts]
        else:
            cycles = np.maximum(
                _per_distinct(tile_cycles, tk, tn, continues.astype(np.int64)),
                _per_distinct(lambda b: compute.buffer_read_cycles(b, group.port_bytes_per_cycle), tb),
            )
            starts = _run_starts(tb, cycles)
            lengths = np.diff(np.append(starts, len(tb))).tolist()
            values = list(zip(tb[starts].tolist(), cycles[starts].tolist(), strict=True))
        return pieces_of_stretches(_joined(values, lengths))

    def _vector_pieces(self, op: OpWork, group: BufferGroup) -> list[Piece]:
        """One instance's tiles of a vector op streaming its weights: elements split like the bytes."""
        tb = tile_columns(op.streamed_bytes, op.k, op.n, group.slot_bytes)[0]
        edges = (op.vector_elements * np.concatenate([[0], np.cumsum(tb)])) // max(int(tb.sum()), 1)
        cycles = [compute.vector_cycles(int(e), self.vector_lanes) for e in np.diff(edges)]
        return pieces_of_stretches(_joined(list(zip(tb.tolist(), cycles, strict=True)), [1] * len(cycles)))

    def _unstreamed_cycles(self, op: OpWork, engine: str | None) -> int:
        """Cycles of an op that streams nothing: one GEMM per instance, vector or TAS work, or on-chip moves."""
        if op.engine == "matrix":
            assert engine is not None, "a matrix op runs on a matrix engine"
            kind, rows, cols, dataflow = self.matrix
            c = (
                compute.matrix_cycles(
                    kind, op.m, op.k, op.n, rows=rows, cols=cols, dataflow=dataflow, arrays=self.matrix_engines[engine]
                )
                * op.instances
            )
        elif op.engine == "vector":
            c = compute.vector_cycles(op.vector_elements, self.vector_lanes)
        elif op.engine == "tas":
            c = compute.tas_cycles(op.m, op.k, self.tas_lanes)
        elif op.onchip_purpose:
            group = self.buffers.group(op.onchip_purpose)
            c = compute.buffer_read_cycles(op.onchip_read_bytes + op.onchip_write_bytes, group.port_bytes_per_cycle)
        else:
            c = 0
        return c

    def static_counts(self, op: OpWork, block: str, plan: TilePlan) -> tuple[tuple[int, int], ...]:
        """Counters that do not depend on timing -- MACs, vector work, on-chip buffer bytes (of `block`) -- as
        (index in the layout, value) pairs to add (an index may come more than once): a long video counts a new
        core at every step, by index. `plan`: the op's (`plan`)."""
        key = (op, block)
        cached = self._static.get(key)
        if cached is not None:
            return cached
        at = self._block_counters(block)
        read, write, held_in = at.read, at.write, self._held_in
        act = held_in(op.act_purpose)
        # the inputs are read again for every tile of one instance (`act_read_bytes` covers all instances)
        rereads = plan.tiles // op.instances if op.engine == "matrix" and plan.pieces else 1
        pairs = [
            (at.macs[op.mac_precision], op.macs),
            (at.vector, op.vector_elements),
            (read[act], op.act_read_bytes * rereads),
            (write[act], op.act_write_bytes),
        ]
        if op.streamed:
            purpose = plan.purpose or ""
            pairs += [
                (write[purpose], op.streamed_bytes * op.instances),
                (read[purpose], op.streamed_bytes * op.instances),
            ]
        for category, nbytes in op.loads:
            purpose = held_in(LOAD_FILLS.get(category, op.act_purpose))
            pairs += [(write[purpose], nbytes), (read[purpose], nbytes)]
        out = read[held_in("output")]
        pairs += [(out, nbytes) for _, nbytes in op.stores]
        if op.onchip_purpose:
            purpose = held_in(op.onchip_purpose)
            pairs += [(read[purpose], op.onchip_read_bytes), (write[purpose], op.onchip_write_bytes)]
        if len(self._static) > MAX_CACHED_OPS:
            self._static = {}
        result = self._static[key] = tuple((index, int(value)) for index, value in pairs if value)
        return result

    def _block_counters(self, block: str) -> _BlockCounters:
        """Layout indices of `block`'s static counters (cached)."""
        counters = self._block_indices.get(block)
        if counters is None:
            index, purposes = self.layout.index, sorted(self.buffers.groups)
            counters = self._block_indices[block] = _BlockCounters(
                macs={p: index[f"macs.{block}.{p}"] for p in MAC_PRECISIONS},
                vector=index[f"vector.{block}"],
                read={p: index[f"buffer.{block}.{p}.read"] for p in purposes},
                write={p: index[f"buffer.{block}.{p}.write"] for p in purposes},
            )
        return counters

    def _held_in(self, purpose: str) -> str:
        """The purpose of the buffer group that holds data of `purpose` (`BufferSet.group`), cached."""
        held = self._purposes.get(purpose)
        if held is None:
            held = self._purposes[purpose] = self.buffers.group(purpose).purpose
        return held

    def move_cycles(self, rounded_bytes: int) -> int:
        """`DramSpec.move_cycles`, cached: tiles of a stream mostly share one size (exact fractions are slow)."""
        cycles = self._move_cycles.get(rounded_bytes)
        if cycles is None:
            cycles = self._move_cycles[rounded_bytes] = self.dram_spec.move_cycles(rounded_bytes)
        return cycles

    def tile_move(self, nbytes: int) -> tuple[int, int]:
        """A tile load of `nbytes` alone in the DRAM: (bytes in whole bursts, cycles to move them); cached."""
        rounded = self.dram_spec.rounded(nbytes)
        sized = self.tile_moves[nbytes] = (rounded, self.move_cycles(rounded))
        return sized

    def element_tiles(self, op: OpWork) -> list[int]:
        """Tile bytes of `op`'s streamed weights, as its plan cuts them (the DRS stream's element)."""
        key = (op.streamed_bytes, op.k, op.n, op.engine)
        if key not in self._element_tiles:
            self._element_tiles[key] = [int(b) for b in self.tiles(op, self.engine_of(op))[0]]
        return self._element_tiles[key]
