"""The SimPy model of the accelerator and the memoised simulation of a whole video.

Time is counted in design-clock cycles (integers). A step is a chain of segments
(`cosim.sim.workload`) separated by data-dependency barriers; inside a segment, ops start
when their producers finish and hold their engine (a matrix partition or the pool, the
vector unit, the TAS unit) while they run. An op with a large operand streams it as
slot-sized tiles: a tile is loaded from DRAM, computed, and its slot freed; with a
double-buffered buffer the next tile loads while the current one computes. All DRAM
traffic (tile loads, KV and replay-cache traffic, activation spills, stores) shares the
channels through `cosim.sim.dram.Dram`. Under DRS one weight stream (`WeightStream`) loads
weight tiles ahead, across op and segment boundaries.

Memoisation. A segment's timing depends only on its template, its parameter (KV length
or computing rows) and, under DRS, the weight stream's state at the barrier and the
replay decisions / predictions within the stream's reach. Each distinct combination is
simulated once in its own SimPy environment starting at cycle 0; its cycles, counters,
busy cycles and op intervals are reused (offset in time) for every instance. Because
every time is an integer and the DRAM model tracks progress as exact fractions, this is
identical to one continuous simulation (``memoize=False``), which tests check.

Fast path. When an op with streamed tiles is provably alone -- the DRAM has no other
transfer, every other unfinished op of the segment is waiting for it (or is computing
without touching DRAM and wakes nobody), and the weight stream is blocked on a full
buffer -- the rest of its tile pipeline is computed by the same recurrence the SimPy
processes follow, in one step. Tests check it against the step-by-step run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterator

import networkx as nx
import numpy as np
import simpy

from cosim.sim import compute
from cosim.sim.buffers import BufferSet, peak_occupancy, tile_columns
from cosim.sim.dram import Dram, DramCounters, DramSpec, Transfer
from cosim.artifacts.replay_trace import ReplayTrace
from cosim.sim.policies import SchedulingPolicy, make_policy
from cosim.sim.result import BLOCK_CLASSES, DRAM_CATEGORIES, DRAM_DIRECTIONS, SimResult, TimelineEvent
from cosim.sim.workload import SEGMENT_BLOCK, OpWork, Workload, dense_trace

PRECISIONS = ("int4", "int8", "int16", "fp16")
STREAMED_PURPOSE = {"weights": "weights", "kv_cache": "kv_cache"}
LOADER_STREAM = "weight-stream"

# Op phases (for deciding when an op may take the fast path).
WAIT_PREDS, WAIT_RESOURCE, ACTIVE, COMPUTE_ONLY, DONE = range(5)


# --------------------------------------------------------------------------- counters


class CounterLayout:
    """Names of the per-segment counters, in a fixed order (rows of a numpy matrix)."""

    def __init__(self, engines: list[str], purposes: list[str]) -> None:
        names = []
        for direction in DRAM_DIRECTIONS:
            for category in DRAM_CATEGORIES:
                names += [f"dram.{direction}.{category}", f"dram_payload.{direction}.{category}"]
        names.append("dram.busy")
        names += [f"dram_block.{b}.{d}.{c}" for b in BLOCK_CLASSES for d in DRAM_DIRECTIONS for c in DRAM_CATEGORIES]
        names += [f"macs.{b}.{p}" for b in BLOCK_CLASSES for p in PRECISIONS]
        names += [f"vector.{b}" for b in BLOCK_CLASSES]
        names += [f"buffer.{b}.{p}.{rw}" for b in BLOCK_CLASSES for p in purposes for rw in ("read", "write")]
        names += [f"busy.{e}" for e in engines]
        names += ["drs.prefetch_bytes", "drs.wasted_bytes", "drs.predictions_used", "drs.mispredicted"]
        self.names = names
        self.index = {n: i for i, n in enumerate(names)}
        self.engines = engines


# --------------------------------------------------------------------------- context


@dataclass
class TilePlan:
    engine: str | None  # resource name; None for pure transfers
    bytes: list[int]  # streamed bytes per tile (empty: not streamed)
    cycles: list[int]  # compute cycles per tile (one entry when not streamed)
    purpose: str | None  # buffer purpose of the streamed operand
    slots: int


class SimContext:
    """Design-level constants and caches shared by every segment simulation of a run."""

    def __init__(self, design: Any, policy: SchedulingPolicy, workload: Workload,
                 dram_weights: dict[str, int] | None, fast_forward: bool) -> None:
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
        engines = list(self.matrix_engines) + ["vector", "tas"]
        self.layout = CounterLayout(engines, sorted(self.buffers.groups))
        self._plans: dict[tuple[OpWork, str | None], TilePlan] = {}
        self._static: dict[tuple[OpWork, str], dict[str, int]] = {}
        self._element_tiles: dict[tuple[int, int, int], list[int]] = {}
        self._move_cycles: dict[int, int] = {}

    def engine_of(self, op: OpWork) -> str | None:
        if op.engine == "matrix":
            return self.policy.matrix_engine_for(op)
        if op.engine in ("vector", "tas"):
            return op.engine
        return None

    def plan(self, op: OpWork) -> TilePlan:
        engine = self.engine_of(op)
        key = (op, engine)
        if key not in self._plans:
            self._plans[key] = self._make_plan(op, engine)
        return self._plans[key]

    def _make_plan(self, op: OpWork, engine: str | None) -> TilePlan:
        if op.streamed:
            group = self.buffers.group(STREAMED_PURPOSE[op.streamed])
            tb, tk, tn = tile_columns(op.streamed_bytes, op.k, op.n, group.slot_bytes)
            if op.engine == "matrix":
                kind, rows, cols, dataflow = self.matrix
                arrays = self.matrix_engines[engine]
                cycles = [
                    max(compute.matrix_cycles(kind, op.m, int(k), int(n), rows=rows, cols=cols, dataflow=dataflow,
                                              arrays=arrays),
                        compute.buffer_read_cycles(int(b), group.port_bytes_per_cycle))
                    for b, k, n in zip(tb, tk, tn)
                ]
            else:  # vector op streaming its weights: elements split like the bytes
                edges = (op.vector_elements * np.concatenate([[0], np.cumsum(tb)])) // max(int(tb.sum()), 1)
                cycles = [compute.vector_cycles(int(e), self.vector_lanes) for e in np.diff(edges)]
            return TilePlan(engine, [int(b) for b in tb] * op.instances, cycles * op.instances, group.purpose,
                            group.slots)
        if op.engine == "matrix":
            kind, rows, cols, dataflow = self.matrix
            c = compute.matrix_cycles(kind, op.m, op.k, op.n, rows=rows, cols=cols, dataflow=dataflow,
                                      arrays=self.matrix_engines[engine]) * op.instances
        elif op.engine == "vector":
            c = compute.vector_cycles(op.vector_elements, self.vector_lanes)
        elif op.engine == "tas":
            c = compute.tas_cycles(op.m, op.k, self.tas_lanes)
        elif op.onchip_purpose:
            group = self.buffers.group(op.onchip_purpose)
            c = compute.buffer_read_cycles(op.onchip_read_bytes + op.onchip_write_bytes, group.port_bytes_per_cycle)
        else:
            c = 0
        return TilePlan(engine, [], [c], None, 1)

    def static_counts(self, op: OpWork, block: str) -> dict[str, int]:
        """Counters that do not depend on timing: MACs, vector work, on-chip buffer bytes (of `block`)."""
        key = (op, block)
        if key in self._static:
            return self._static[key]
        counts: dict[str, int] = {}

        def add(name: str, value: int) -> None:
            if value:
                counts[name] = counts.get(name, 0) + int(value)

        add(f"macs.{block}.{op.mac_precision}", op.macs)
        add(f"vector.{block}", op.vector_elements)
        plan = self.plan(op)
        act = self.buffers.group(op.act_purpose).purpose
        rereads = len(plan.bytes) if op.engine == "matrix" and plan.bytes else 1
        add(f"buffer.{block}.{act}.read", op.act_read_bytes * rereads)
        add(f"buffer.{block}.{act}.write", op.act_write_bytes)
        if op.streamed:
            purpose = plan.purpose
            add(f"buffer.{block}.{purpose}.write", op.streamed_bytes * op.instances)
            add(f"buffer.{block}.{purpose}.read", op.streamed_bytes * op.instances)
        fill = {"kv_read": "kv_cache", "weights": "weights"}
        for category, nbytes in op.loads:
            purpose = self.buffers.group(fill.get(category, op.act_purpose)).purpose
            add(f"buffer.{block}.{purpose}.write", nbytes)
            add(f"buffer.{block}.{purpose}.read", nbytes)
        out = self.buffers.group("output").purpose
        for _, nbytes in op.stores:
            add(f"buffer.{block}.{out}.read", nbytes)
        if op.onchip_purpose:
            purpose = self.buffers.group(op.onchip_purpose).purpose
            add(f"buffer.{block}.{purpose}.read", op.onchip_read_bytes)
            add(f"buffer.{block}.{purpose}.write", op.onchip_write_bytes)
        self._static[key] = counts
        return counts

    def move_cycles(self, rounded_bytes: int) -> int:
        """`DramSpec.move_cycles`, cached: tiles of a stream mostly share one size (exact fractions are slow)."""
        cycles = self._move_cycles.get(rounded_bytes)
        if cycles is None:
            cycles = self._move_cycles[rounded_bytes] = self.dram_spec.move_cycles(rounded_bytes)
        return cycles

    def element_tiles(self, streamed_bytes: int, k: int, n: int) -> list[int]:
        key = (streamed_bytes, k, n)
        if key not in self._element_tiles:
            group = self.buffers.group("weights")
            self._element_tiles[key] = [int(b) for b in tile_columns(streamed_bytes, k, n, group.slot_bytes)[0]]
        return self._element_tiles[key]


# --------------------------------------------------------------------------- weight stream views


class StreamPlan:
    """The weight elements of one step (ops with streamed weights, in execution order)."""

    def __init__(self, ctx: SimContext) -> None:
        wl = ctx.workload
        self.elements: list[tuple[int, int, list[int], int]] = []  # (segment q, template op, tiles, layer or -1)
        self.blocks: list[str] = []  # per element: the block class of its op (whose DRAM bytes it moves)
        self.first_element: list[int] = []  # per segment q: index of its first element (or next)
        self.element_of: dict[tuple[int, int], int] = {}
        self.own_count: list[int] = []
        for q, template_id in enumerate(wl.segment_template):
            self.first_element.append(len(self.elements))
            template = wl.templates[int(template_id)]
            full = _full_ops(wl, int(template_id))
            count = 0
            for op_index, op in full:
                if op.streamed != "weights":
                    continue
                tiles = ctx.element_tiles(op.streamed_bytes, op.k, op.n)
                layer = wl.segment_layer[q] if template.ops[op_index].replayable else -1
                self.element_of[(q, op_index)] = len(self.elements)
                self.elements.append((q, op_index, tiles, layer))
                self.blocks.append(SEGMENT_BLOCK[wl.segment_kind[q]])
                count += 1
            self.own_count.append(count)
        self.per_step = len(self.elements)
        self.first_conditional: dict[int, int] = {}
        for e, (_, _, _, layer) in enumerate(self.elements):
            if layer >= 0:
                self.first_conditional.setdefault(layer, e)


def _full_ops(wl: Workload, template_id: int) -> list[tuple[int, OpWork]]:
    """(template op index, sized op) of every op of a template with all rows active."""
    from cosim.sim.workload import _size_op

    template = wl.templates[template_id]
    result = []
    for i, op in enumerate(template.ops):
        result.append((i, _size_op(op, (), wl.rows, 0, 1, template.kind, "mlp", wl.sizing)))
    return result


class GlobalView:
    """The whole video's weight stream (continuous simulation); seq = step * per_step + element."""

    def __init__(self, ctx: SimContext, plan: StreamPlan) -> None:
        self.wl = ctx.workload
        self.plan = plan
        self.resolved: set = set()

    def tiles(self, seq: int) -> list[int] | None:
        step, e = divmod(seq, self.plan.per_step)
        return self.plan.elements[e][2] if step < self.wl.steps else None

    def block(self, seq: int) -> str:
        return self.plan.blocks[seq % self.plan.per_step]

    def group(self, seq: int) -> Any:
        step, e = divmod(seq, self.plan.per_step)
        layer = self.plan.elements[e][3]
        return (step, layer) if layer >= 0 else None

    def group_first(self, group: Any) -> int:
        step, layer = group
        return step * self.plan.per_step + self.plan.first_conditional[layer]

    def truth(self, group: Any) -> bool:
        return bool(self.wl.n_compute[group] > 0)

    def prediction(self, group: Any) -> bool:
        return bool(self.wl.predicted_compute[group])

    def known(self, group: Any) -> bool:
        return group in self.resolved or self.wl.tas_flag[group] == 0

    def resolve(self, group: Any) -> None:
        self.resolved.add(group)


@dataclass(frozen=True)
class Window:
    """The part of the weight stream a segment can reach, relative to its first element.

    ``elements``: (tile bytes, local group id or -1, block class); ``groups``: (truth, prediction,
    known at start); ``resolved_here``: the group this segment's TAS resolves (or -1);
    ``ends``: True when the stream (the video) ends after the last element.
    """

    elements: tuple[tuple[tuple[int, ...], int, str], ...]
    groups: tuple[tuple[bool, bool, bool], ...]
    resolved_here: int
    ends: bool


class WindowView:
    """A `Window` seen through the interface of `GlobalView` (memoised segments)."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.resolved: set = set()
        self._first = {}
        for seq, (_, g, _) in enumerate(window.elements):
            if g >= 0:
                self._first.setdefault(g, seq)

    def tiles(self, seq: int) -> list[int] | None:
        if seq < 0:
            raise RuntimeError("weight stream behind its segment's first element (simulator bug)")
        if seq < len(self.window.elements):
            return list(self.window.elements[seq][0])
        if self.window.ends:
            return None
        raise RuntimeError("weight stream went past its reach window (simulator bug)")

    def block(self, seq: int) -> str:
        return self.window.elements[seq][2]

    def group(self, seq: int) -> Any:
        g = self.window.elements[seq][1]
        return g if g >= 0 else None

    def group_first(self, group: Any) -> int:
        return self._first[group]

    def truth(self, group: Any) -> bool:
        return self.window.groups[group][0]

    def prediction(self, group: Any) -> bool:
        return self.window.groups[group][1]

    def known(self, group: Any) -> bool:
        return group in self.resolved or self.window.groups[group][2]

    def resolve(self, group: Any) -> None:
        self.resolved.add(group)


@dataclass(frozen=True)
class LoaderState:
    """The weight stream at a barrier, with element numbers relative to the next segment's first element."""

    resident: tuple[tuple[int, int, int], ...] = ()  # (seq, tile, bytes)
    inflight: tuple | None = None  # (seq, tile, bytes, parts, rounded, remaining, latency_left)
    position: tuple[int, int] = (0, 0)
    taken: tuple[tuple[int, bool], ...] = ()  # (group first seq, loaded or skipped)
    continues: bool = False

    def shifted(self, delta: int) -> "LoaderState":
        inflight = None
        if self.inflight is not None:
            inflight = (self.inflight[0] - delta,) + tuple(self.inflight[1:])
        return LoaderState(
            tuple((s - delta, t, b) for s, t, b in self.resident), inflight,
            (self.position[0] - delta, self.position[1]),
            tuple((s - delta, v) for s, v in self.taken if s - delta >= 0), self.continues)


class WeightStream:
    """DRS: one DMA stream loading weight tiles ahead of the ops, in execution order.

    At a conditional element (an MLP whose need depends on a replay decision) it uses the
    decision if TAS has produced it, else the previous frame's decision (prediction). When
    TAS later contradicts a prediction the stream is redirected: tiles loaded beyond the
    decision point are discarded (counted as wasted) and loading resumes there.
    """

    def __init__(self, machine: "Machine", view: Any, state: LoaderState) -> None:
        self.m = machine
        self.env = machine.env
        self.view = view
        group = machine.ctx.buffers.group("weights")
        self.slots = group.slots
        self.resident: dict[tuple[int, int], int] = {}
        self.events: dict[tuple[int, int], simpy.Event] = {}
        for seq, tile, nbytes in state.resident:
            self.resident[(seq, tile)] = nbytes
            self._event((seq, tile)).succeed()
        self.position = state.position
        self.taken: dict[int, bool] = dict(state.taken)
        self.inflight: tuple[tuple[int, int], int, Transfer] | None = None
        if state.inflight is not None:
            seq, tile, nbytes, parts, rounded, remaining, latency_left = state.inflight
            transfer = machine.dram.restore(parts, rounded, remaining, latency_left, LOADER_STREAM)
            self.inflight = ((seq, tile), nbytes, transfer)
        if state.continues:
            machine.dram.mark_stream_done(LOADER_STREAM, self.env.now)
        self.used = len(self.resident) + (1 if self.inflight else 0)
        self.occupied_bytes = sum(self.resident.values()) + (self.inflight[1] if self.inflight else 0)
        self.waiting = False
        self.started: dict[int, int] = {}  # element -> cycle its first tile was requested (for the timeline)
        self._wakeup = self.env.event()
        self.process = self.env.process(self._run())

    # -- interface for ops -------------------------------------------------------------
    def tile_event(self, seq: int, tile: int) -> simpy.Event:
        return self._event((seq, tile))

    def free(self, seq: int, tile: int) -> None:
        nbytes = self.resident.pop((seq, tile))
        self.events.pop((seq, tile), None)
        self.used -= 1
        self.occupied_bytes -= nbytes
        self.m.occupancy_change("weights", -nbytes)
        self._wake()

    def resolve(self, group: Any) -> None:
        """TAS produced the decision of `group`: redirect the stream if it guessed wrong."""
        self.view.resolve(group)
        first = self.view.group_first(group)
        if first not in self.taken:
            return
        truth = self.view.truth(group)
        if self.taken[first] == truth:
            return
        self.m.count("drs.mispredicted", 1)
        for key in [k for k in self.resident if k[0] >= first]:
            nbytes = self.resident.pop(key)
            self.events.pop(key, None)
            self.used -= 1
            self.occupied_bytes -= nbytes
            self.m.occupancy_change("weights", -nbytes)
            rounded = self.m.ctx.dram_spec.rounded(nbytes)
            self.m.reclassify_wasted(self.view.block(key[0]), nbytes, rounded, rounded)
        if self.inflight is not None and self.inflight[0][0] >= first:
            key, nbytes, transfer = self.inflight
            delivered = self.m.dram.cancel(transfer)
            self.events.pop(key, None)
            self.inflight = None
            self.used -= 1
            self.occupied_bytes -= nbytes
            self.m.occupancy_change("weights", -nbytes)
            self.m.reclassify_wasted(self.view.block(key[0]), nbytes, transfer.rounded, delivered)
        for seq in [s for s in self.taken if s >= first]:
            del self.taken[seq]
        self.position = (first, 0)
        self._wake()

    @property
    def blocked(self) -> bool:
        """Waiting for a free slot (or at the end of the stream) with nothing in flight."""
        return self.waiting and self.inflight is None

    # -- the loader process ------------------------------------------------------------
    def _event(self, key: tuple[int, int]) -> simpy.Event:
        if key not in self.events:
            self.events[key] = self.env.event()
        return self.events[key]

    def _wake(self) -> None:
        if self.waiting and not self._wakeup.triggered:
            self.waiting = False  # no longer blocked, even before the process resumes
            self._wakeup.succeed()

    def _wait(self) -> simpy.Event:
        self._wakeup = self.env.event()
        self.waiting = True
        return self._wakeup

    def _next_tile(self) -> tuple[tuple[int, int], int] | None:
        """The next tile to load, deciding conditional elements on the way; None at the end.

        The position moves past every element walked over, also when the stream ends, so
        that it never stays behind elements already done with (a captured state is
        renumbered from the next segment's first element and must not go negative).
        """
        seq, tile = self.position
        while True:
            tiles = self.view.tiles(seq)
            if tiles is None:
                self.position = (seq, 0)
                return None
            group = self.view.group(seq)
            if group is not None and tile == 0:
                first = self.view.group_first(group)
                if first not in self.taken:
                    if self.view.known(group):
                        self.taken[first] = self.view.truth(group)
                    else:
                        self.taken[first] = self.view.prediction(group)
                        self.m.count("drs.predictions_used", 1)
                if not self.taken[first]:
                    seq, tile = seq + 1, 0
                    continue
            if tile >= len(tiles):
                seq, tile = seq + 1, 0
                continue
            self.position = (seq, tile)
            return (seq, tile), tiles[tile]

    def _run(self) -> Iterator[simpy.Event]:
        while True:
            if self.inflight is not None:
                key, nbytes, transfer = self.inflight
                ok = yield transfer.event
                if not ok:  # cancelled by a redirect, which already fixed the accounting
                    continue
                self.inflight = None
                self.resident[key] = nbytes
                self._event(key).succeed()
                if key[1] + 1 < len(self.view.tiles(key[0])):
                    self.position = (key[0], key[1] + 1)
                else:  # element loaded: the position is the next element's start (one form per state)
                    self.position = (key[0] + 1, 0)
                    if self.m.run is not None:
                        start = self.started.pop(key[0], self.m.run.start)  # requested before this segment
                        self.m.run._interval("dram.weights", "weight stream", start, self.env.now)
                continue
            nxt = self._next_tile() if self.used < self.slots else None
            if nxt is None:
                yield self._wait()
                continue
            key, nbytes = nxt
            self.started.setdefault(key[0], self.env.now)
            self.used += 1
            self.occupied_bytes += nbytes
            self.m.occupancy_change("weights", nbytes)
            self.m.count("drs.prefetch_bytes", nbytes)
            transfer = self.m.transfer([("read", "weights", nbytes)], LOADER_STREAM, self.view.block(key[0]))
            self.inflight = (key, nbytes, transfer)

    def capture(self, delta: int) -> LoaderState:
        """The stream's state now, renumbered so that element `delta` becomes 0."""
        inflight = None
        if self.inflight is not None:
            (seq, tile), nbytes, transfer = self.inflight
            remaining, latency_left = self.m.dram.snapshot(transfer)
            inflight = (seq, tile, nbytes, transfer.parts, transfer.rounded, remaining, latency_left)
        state = LoaderState(
            tuple((s, t, b) for (s, t), b in sorted(self.resident.items())), inflight, self.position,
            tuple(sorted(self.taken.items())), self.m.dram.continues(LOADER_STREAM))
        return state.shifted(delta)


# --------------------------------------------------------------------------- machine


class Machine:
    """Engines, DRAM and (DRS) weight stream of one SimPy environment."""

    def __init__(self, env: simpy.Environment, ctx: SimContext) -> None:
        self.env = env
        self.ctx = ctx
        self.dram = Dram(env, ctx.dram_spec, DramCounters())
        self.resources = {name: simpy.Resource(env, 1) for name in (*ctx.matrix_engines, "vector", "tas")}
        self.token = simpy.Resource(env, 1) if ctx.policy.serial else None
        self.counts: dict[str, int] = {}
        self.occupancy: dict[str, list[tuple[int, int]]] = {}
        self.level: dict[str, int] = {}
        self.loader: WeightStream | None = None
        self.run: SegmentRun | None = None  # the segment running now
        self.run_id = 0

    def count(self, name: str, value: int) -> None:
        self.counts[name] = self.counts.get(name, 0) + value

    def occupancy_change(self, purpose: str, delta: int, when: int | None = None) -> None:
        self.occupancy.setdefault(purpose, []).append((self.env.now if when is None else when, delta))

    def transfer(self, parts: list[tuple[str, str, int]], stream: Any, block: str) -> Transfer | None:
        """A DRAM request (`Dram.transfer`) whose bytes are also counted for `block`, the class they serve."""
        transfer = self.dram.transfer(parts, stream)
        if transfer is not None:
            for direction, category, _, rounded in transfer.parts:
                self.count(f"dram_block.{block}.{direction}.{category}", rounded)
        return transfer

    def reclassify_wasted(self, block: str, payload: int, rounded: int, delivered: int) -> None:
        """Move a discarded weight transfer of `block` from ``weights`` to ``weights_prefetch_wasted``.

        Wasted bytes belong to the MLP decision whose prediction caused them (class mlp),
        whichever element they were loaded for.
        """
        c = self.dram.counters
        for table, full, kept in ((c.rounded, rounded, delivered), (c.payload, payload, min(payload, delivered))):
            table[("read", "weights")] = table.get(("read", "weights"), 0) - full
            key = ("read", "weights_prefetch_wasted")
            table[key] = table.get(key, 0) + kept
        self.count(f"dram_block.{block}.read.weights", -rounded)
        self.count("dram_block.mlp.read.weights_prefetch_wasted", delivered)
        self.count("drs.wasted_bytes", min(payload, delivered))

    def snapshot(self) -> dict[str, int]:
        """All cumulative counters now (DRAM busy brought up to date)."""
        self.dram._advance()
        counts = dict(self.counts)
        for (direction, category), value in self.dram.counters.rounded.items():
            counts[f"dram.{direction}.{category}"] = value
        for (direction, category), value in self.dram.counters.payload.items():
            counts[f"dram_payload.{direction}.{category}"] = value
        counts["dram.busy"] = self.dram.counters.busy_cycles
        return counts


@dataclass
class SegmentInfo:
    block: str
    step: int
    layer: int
    element_seq: dict[int, int]  # op index -> stream element seq (ops with streamed weights)
    resolves: Any = None  # group whose decision this segment's TAS produces


class SegmentRun:
    """The ops of one segment instance running on a machine."""

    def __init__(self, machine: Machine, ops: list[OpWork], info: SegmentInfo, descendants: list[frozenset],
                 record: bool) -> None:
        self.m = machine
        self.env = machine.env
        self.ctx = machine.ctx
        self.ops = ops
        self.info = info
        self.plans = [self.ctx.plan(op) for op in ops]
        self.descendants = descendants
        self.phase = [WAIT_PREDS] * len(ops)
        self.not_started = set(range(len(ops)))
        self.running: set[int] = set()
        self.waiting_for: list[str | None] = [None] * len(ops)
        self.done = [self.env.event() for _ in ops]
        self.stores: list[simpy.Event] = []
        self.start = self.env.now
        self.record = record
        machine.run_id += 1
        self.run_id = machine.run_id
        machine.run = self
        if machine.loader is not None:
            machine.loader.started = {}  # timeline intervals of the stream stay within one segment
        self.intervals: list[tuple[str, str, int, int]] = []

    def run(self) -> Iterator[simpy.Event]:
        for i in range(len(self.ops)):
            self.env.process(self._op(i))
        if self.done:
            yield self.env.all_of(self.done)
        while self.stores:
            pending, self.stores = self.stores, []
            yield self.env.all_of(pending)

    # -- one op ------------------------------------------------------------------------
    def _op(self, i: int) -> Iterator[simpy.Event]:
        env, m, op, plan = self.env, self.m, self.ops[i], self.plans[i]
        if op.preds:
            yield env.all_of([self.done[p] for p in op.preds])
        self.phase[i] = WAIT_RESOURCE
        self.not_started.discard(i)
        self.running.add(i)
        for name, value in self.ctx.static_counts(op, self.info.block).items():
            m.count(name, value)
        token = None
        if m.token is not None:
            self.waiting_for[i] = "token"
            token = m.token.request()
            yield token
        consumer = m.loader is not None and op.streamed == "weights"
        if consumer:
            self.waiting_for[i] = "stream"
            yield m.loader.tile_event(self.info.element_seq[i], 0)
        request = None
        if plan.engine is not None:
            self.waiting_for[i] = plan.engine
            request = m.resources[plan.engine].request()
            yield request
        self.waiting_for[i] = None
        self.phase[i] = ACTIVE
        start = env.now
        stream = ("op", self.run_id, i)
        if op.loads:
            transfer = m.transfer([("read", c, b) for c, b in op.loads], stream, self.info.block)
            yield transfer.event
            self._interval(f"dram.{op.loads[0][0]}", f"{op.name} load", start, env.now)
        compute_start = env.now
        if consumer:
            end = yield from self._consume(i)
        elif plan.bytes:
            end = yield from self._pipeline(i, stream)
        else:
            if not op.stores and not (m.loader is not None and op.kind == "tas"):
                self.phase[i] = COMPUTE_ONLY
            end = env.now + plan.cycles[0]
            if plan.cycles[0]:
                yield env.timeout(plan.cycles[0])
        if plan.engine is not None:
            m.count(f"busy.{plan.engine}", sum(plan.cycles))
            self._interval(plan.engine, op.name, compute_start, end)
            m.resources[plan.engine].release(request)
        if token is not None:
            m.token.release(token)
        if op.kind == "tas" and m.loader is not None and self.info.resolves is not None:
            m.loader.resolve(self.info.resolves)
        self.phase[i] = DONE
        self.running.discard(i)
        self.done[i].succeed()
        if op.stores:
            transfer = m.transfer([("write", c, b) for c, b in op.stores], stream, self.info.block)
            self.stores.append(transfer.event)
            if self.record:
                transfer.event.callbacks.append(
                    lambda _e, t0=env.now, name=f"{op.name} store", track=f"dram.{op.stores[0][0]}":
                    self._interval(track, name, t0, self.env.now))

    def _consume(self, i: int) -> Iterator[simpy.Event]:
        """DRS: compute tiles as the weight stream delivers them; free each slot after its compute."""
        env, loader, plan = self.env, self.m.loader, self.plans[i]
        seq = self.info.element_seq[i]
        end = env.now
        for tile, cycles in enumerate(plan.cycles):
            event = loader.tile_event(seq, tile)
            if not event.processed:
                yield event
            end = max(env.now, end) + cycles
            env.timeout(end - env.now).callbacks.append(lambda _e, t=tile: loader.free(seq, t))
        if end > env.now:
            yield env.timeout(end - env.now)
        return end

    def _pipeline(self, i: int, stream: Any) -> Iterator[simpy.Event]:
        """Own tile loader: load tile j into a free slot, compute it once loaded and the engine is done."""
        env, m, plan = self.env, self.m, self.plans[i]
        spec = self.ctx.dram_spec
        n, slots, start = len(plan.bytes), plan.slots, env.now
        purpose = plan.purpose
        category = "weights" if purpose == "weights" else "kv_read"
        c_end: list[int] = []
        prev_done: int | None = None
        j = 0
        first_issue = None
        while j < n:
            issue = max(prev_done if prev_done is not None else start, c_end[j - slots] if j >= slots else start)
            if issue > env.now:
                yield env.timeout(issue - env.now)
            if first_issue is None:
                first_issue = env.now
            if self.ctx.fast_forward and self._alone(i):
                # the rest follows the same recurrence with the DRAM to ourselves
                continuing = m.dram.continues(stream)
                moved = []
                for t in range(j, n):
                    if t > j:
                        issue = max(prev_done, c_end[t - slots] if t >= slots else start)
                        continuing = issue == prev_done
                    rounded = spec.rounded(plan.bytes[t])
                    m.dram.counters.add("read", category, plan.bytes[t], rounded)
                    moved.append(rounded)
                    prev_done = issue + (0 if continuing else spec.latency_cycles) + self.ctx.move_cycles(rounded)
                    m.occupancy_change(purpose, plan.bytes[t], issue)
                    c_end.append(max(prev_done, c_end[-1] if c_end else start) + plan.cycles[t])
                    m.occupancy_change(purpose, -plan.bytes[t], c_end[-1])
                m.count(f"dram_block.{self.info.block}.read.{category}", sum(moved))
                m.dram.add_alone(moved)
                m.dram.mark_stream_done(stream, prev_done)
                j = n
                break
            m.occupancy_change(purpose, plan.bytes[j])
            transfer = m.transfer([("read", category, plan.bytes[j])], stream, self.info.block)
            yield transfer.event
            prev_done = env.now
            c_end.append(max(prev_done, c_end[-1] if c_end else start) + plan.cycles[j])
            m.occupancy_change(purpose, -plan.bytes[j], c_end[-1])
            j += 1
        self._interval(f"dram.{category}", f"{self.ops[i].name} load", first_issue, prev_done)
        end = c_end[-1]
        self.phase[i] = COMPUTE_ONLY if not self.ops[i].stores else ACTIVE
        if end > env.now:
            yield env.timeout(end - env.now)
        return end

    def _alone(self, i: int) -> bool:
        """True when nothing else can touch the DRAM or wake anyone before op `i` ends."""
        m = self.m
        if not m.dram.idle:
            return False
        if m.loader is not None and not m.loader.blocked:
            return False
        mine = self.plans[i].engine
        if not self.not_started <= self.descendants[i]:
            return False
        for j in self.running:
            if j == i:
                continue
            phase = self.phase[j]
            if phase == WAIT_RESOURCE:
                if self.waiting_for[j] not in (mine, "token"):
                    return False
            elif phase == COMPUTE_ONLY:
                engine = self.plans[j].engine
                if engine is not None and m.resources[engine].queue:
                    return False
            else:
                return False
        return True

    def _interval(self, track: str, name: str, start: int, end: int) -> None:
        if self.record and end > start:
            self.intervals.append((track, name, start - self.start, end - start))


# --------------------------------------------------------------------------- segment results


@dataclass
class SegmentResult:
    """What one segment instance produced; shared by all instances with the same key."""

    duration: int
    counters: np.ndarray
    peaks: dict[str, int]
    intervals: list[tuple[str, str, int, int]]
    end_state: LoaderState | None = None
    events: int = 0


def _descendants(ops: list[OpWork]) -> list[frozenset]:
    g = nx.DiGraph()
    g.add_nodes_from(range(len(ops)))
    for i, op in enumerate(ops):
        for p in op.preds:
            g.add_edge(p, i)
    return [frozenset(nx.descendants(g, i)) for i in range(len(ops))]


def _static_peaks(ctx: SimContext, ops: list[OpWork]) -> dict[str, int]:
    """Activation-buffer peak: the largest on-chip working set of any op of the segment."""
    peaks: dict[str, int] = {}
    for op in ops:
        purpose = ctx.buffers.group(op.act_purpose).purpose
        peaks[purpose] = max(peaks.get(purpose, 0), min(op.act_read_bytes + op.act_write_bytes,
                                                        ctx.buffers.group(purpose).capacity_bytes))
    return peaks


class Simulation:
    """Runs the segment instances of a workload, memoised or continuously."""

    def __init__(self, ctx: SimContext, record_steps: tuple[int, int]) -> None:
        self.ctx = ctx
        self.wl = ctx.workload
        self.record_steps = record_steps
        self.stream = StreamPlan(ctx) if ctx.policy.stream_weights else None
        self._descendants: dict[int, list[frozenset]] = {}
        self.events = 0
        self._group_codes: list[int] | None = None
        self._reach_shape: list[tuple[int, int]] = []
        self._window_cache: dict[tuple, int] = {}
        self._window_ids: dict[Window, int] = {}
        self._windows: list[Window] = []

    def _segment_inputs(self, step: int, q: int) -> tuple[list[OpWork], SegmentInfo]:
        wl = self.wl
        template_id = int(wl.segment_template[q])
        ops = wl.ops(template_id, int(wl.params[step, q]))
        layer = wl.segment_layer[q]
        element_seq = {}
        if self.stream is not None:
            for i, op in enumerate(ops):
                if op.streamed == "weights":
                    element_seq[i] = step * self.stream.per_step + self.stream.element_of[(q, op.template_index)]
        return ops, SegmentInfo(SEGMENT_BLOCK[wl.segment_kind[q]], step, layer, element_seq)

    def _descendants_of(self, ops: list[OpWork]) -> list[frozenset]:
        key = id(ops)
        if key not in self._descendants:
            self._descendants[key] = _descendants(ops)
        return self._descendants[key]

    def _finish(self, machine: Machine, run: SegmentRun, before: dict[str, int], levels: dict[str, int],
                duration: int) -> tuple[np.ndarray, dict[str, int]]:
        after = machine.snapshot()
        layout = self.ctx.layout
        counters = np.zeros(len(layout.names), dtype=np.int64)
        for name, value in after.items():
            delta = value - before.get(name, 0)
            if delta:
                counters[layout.index[name]] = delta
        peaks = _static_peaks(self.ctx, run.ops)
        for purpose, changes in machine.occupancy.items():
            start_level = levels.get(purpose, 0)
            peaks[purpose] = max(peaks.get(purpose, 0), peak_occupancy(changes, start_level))
            machine.level[purpose] = start_level + sum(d for _, d in changes)
        machine.occupancy = {}
        return counters, peaks

    # -- memoised: each distinct segment in its own environment ------------------------
    def simulate_one(self, step: int, q: int, ops: list[OpWork], info: SegmentInfo, state: LoaderState | None,
                     window: Window | None, record: bool) -> SegmentResult:
        env = simpy.Environment()
        machine = Machine(env, self.ctx)
        if self.stream is not None:
            machine.loader = WeightStream(machine, WindowView(window), state)
            machine.level["weights"] = machine.loader.occupied_bytes
            origin = self._origin(step, q)
            info.element_seq = {i: seq - origin for i, seq in info.element_seq.items()}
        run = SegmentRun(machine, ops, info, self._descendants_of(ops), record)
        levels = dict(machine.level)
        before = machine.snapshot()
        finished = env.process(run.run())
        env.run(until=finished)
        duration = int(env.now)
        counters, peaks = self._finish(machine, run, before, levels, duration)
        end_state = None
        if machine.loader is not None:
            end_state = machine.loader.capture(self.stream.own_count[q])
        machine.dram.closed = True
        events = next(env._eid)
        self.events += events
        return SegmentResult(duration, counters, peaks, run.intervals, end_state, events)

    def _origin(self, step: int, q: int) -> int:
        return step * self.stream.per_step + self.stream.first_element[q]

    def window(self, step: int, q: int) -> Window:
        """The weight-stream window segment (step, q) can reach, with its decisions and predictions."""
        wl, plan = self.wl, self.stream
        origin = self._origin(step, q)
        elements, groups, group_ids = [], [], {}
        seg_kind, seg_layer = wl.segment_kind[q], wl.segment_layer[q]
        resolved_here = -1
        ends = False
        for seq in self._reach(origin, q, lambda s, layer: bool(wl.n_compute[s, layer] > 0) and (
                wl.tas_flag[s, layer] == 0 or self._after_core(step, seg_kind, seg_layer, s, layer))):
            s, e = divmod(seq, plan.per_step)
            if s >= wl.steps:
                ends = True
                break
            tiles, layer = plan.elements[e][2], plan.elements[e][3]
            g = -1
            if layer >= 0:
                key = (s, layer)
                if key not in group_ids:
                    group_ids[key] = len(groups)
                    known = bool(wl.tas_flag[s, layer] == 0) or self._after_core(step, seg_kind, seg_layer, s, layer)
                    groups.append((bool(wl.n_compute[s, layer] > 0), bool(wl.predicted_compute[s, layer]), known))
                    if s == step and layer == seg_layer and seg_kind == "core" and wl.tas_flag[s, layer] != 0:
                        resolved_here = group_ids[key]
                g = group_ids[key]
            elements.append((tuple(tiles), g, plan.blocks[e]))
        return Window(tuple(elements), tuple(groups), resolved_here, ends)

    @staticmethod
    def _after_core(step: int, kind: str, layer: int, s: int, group_layer: int) -> bool:
        """Whether the TAS of group (s, group_layer) has run before segment (step, kind, layer) starts."""
        return (s, group_layer) < (step, layer) or (s == step and group_layer == layer and kind in ("post", "mlp"))

    def _reach(self, origin: int, q: int, surely_loaded) -> Iterator[int]:
        """Element numbers from `origin` until the stream cannot have gone further within segment q.

        The stream loads at most (tiles this segment consumes) + (buffer slots) tiles
        beyond the segment's first element; conditional elements count only when
        `surely_loaded(step, layer)` (they might be skipped), so the bound stays safe.
        """
        plan = self.stream
        own_tiles = sum(len(plan.elements[plan.first_element[q] + k][2]) for k in range(plan.own_count[q]))
        reach = own_tiles + self.ctx.buffers.group("weights").slots + 1
        seq, seen = origin, 0
        while seen < reach:
            yield seq
            s, e = divmod(seq, plan.per_step)
            layer = plan.elements[e][3]
            if layer < 0 or surely_loaded(s, layer):
                seen += len(plan.elements[e][2])
            seq += 1

    def _window_id(self, step: int, q: int) -> int:
        """Interned id of `window(step, q)`, cached by the decisions of the groups it can reach."""
        wl, plan = self.wl, self.stream
        if self._group_codes is None:
            codes = (wl.n_compute > 0) * 4 + wl.predicted_compute * 2 + (wl.tas_flag == 0)
            self._group_codes = codes.ravel().tolist()
            self._reach_shape = []
            for qq in range(len(wl.segment_kind)):
                seqs = list(self._reach(plan.first_element[qq], qq, lambda s, layer: False))
                layers = {(seq // plan.per_step, plan.elements[seq % plan.per_step][3]) for seq in seqs}
                groups = sum(1 for _, layer in layers if layer >= 0)
                steps_spanned = seqs[-1] // plan.per_step if seqs else 0
                self._reach_shape.append((groups, steps_spanned))
        groups, spanned = self._reach_shape[q]
        if step + spanned >= wl.steps - 1:
            window = self.window(step, q)
        else:
            layer = wl.segment_layer[q]
            first = step * wl.num_layers + (layer if layer >= 0 else 0) if wl.segment_kind[q] != "epilogue" \
                else (step + 1) * wl.num_layers
            key = (q, tuple(self._group_codes[first:first + groups]))
            cached = self._window_cache.get(key)
            if cached is not None:
                return cached
            window = self.window(step, q)
        index = self._window_ids.setdefault(window, len(self._windows))
        if index == len(self._windows):
            self._windows.append(window)
        if step + spanned < wl.steps - 1:
            self._window_cache[key] = index
        return index

    # -- continuous: one environment, one machine, segments back to back ---------------
    def run_continuous(self) -> tuple[list[SegmentResult], np.ndarray]:
        wl = self.wl
        env = simpy.Environment()
        machine = Machine(env, self.ctx)
        results: list[SegmentResult] = []

        def driver() -> Iterator[simpy.Event]:
            if self.stream is not None:  # started like a memoised segment's stream: after the snapshot below
                machine.loader = WeightStream(machine, GlobalView(self.ctx, self.stream), LoaderState())
            for step in range(wl.steps):
                for q in range(len(wl.segment_kind)):
                    ops, info = self._segment_inputs(step, q)
                    if self.stream is not None and wl.segment_kind[q] == "core":
                        layer = wl.segment_layer[q]
                        info.resolves = (step, layer) if wl.tas_flag[step, layer] != 0 else None
                    record = self.record_steps[0] <= step < self.record_steps[1]
                    run = SegmentRun(machine, ops, info, self._descendants_of(ops), record)
                    levels = dict(machine.level)
                    before = machine.snapshot()
                    start = env.now
                    yield env.process(run.run())
                    duration = int(env.now - start)
                    counters, peaks = self._finish(machine, run, before, levels, duration)
                    results.append(SegmentResult(duration, counters, peaks, run.intervals))

        env.run(until=env.process(driver()))
        self.events += next(env._eid)
        return results, np.arange(len(results), dtype=np.int64)

    # -- memoised runs -------------------------------------------------------------------
    def run_memoised(self, progress: bool = False) -> tuple[list[SegmentResult], np.ndarray]:
        wl = self.wl
        Q = len(wl.segment_kind)
        results: list[SegmentResult] = []
        memo: dict[Any, int] = {}
        ids = np.zeros(wl.steps * Q, dtype=np.int64)
        if self.stream is None:
            templates = np.broadcast_to(wl.segment_template, wl.params.shape)
            keys = np.stack([templates.ravel(), wl.params.ravel()], axis=1)
            unique, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
            bar = _progress(len(first), progress, "simulating distinct segments", "segment")
            for flat in first:
                step, q = divmod(int(flat), Q)
                ops, info = self._segment_inputs(step, q)
                results.append(self.simulate_one(step, q, ops, info, None, None, True))
                bar.update(1)
            bar.close()
            ids[:] = inverse.ravel()
            return results, ids
        states: list[LoaderState] = [LoaderState()]
        state_ids: dict[LoaderState, int] = {states[0]: 0}
        end_state: list[int] = []
        state_id = 0
        templates = wl.segment_template.tolist()
        params = wl.params.tolist()
        bar = _progress(wl.steps, progress, "simulating steps", "step")
        for step in range(wl.steps):
            step_params = params[step]
            for q in range(Q):
                window_id = self._window_id(step, q)
                key = (templates[q], step_params[q], state_id, window_id)
                index = memo.get(key)
                if index is None:
                    ops, info = self._segment_inputs(step, q)
                    window = self._windows[window_id]
                    if wl.segment_kind[q] == "core" and window.resolved_here >= 0:
                        info.resolves = window.resolved_here
                    index = len(results)
                    result = self.simulate_one(step, q, ops, info, states[state_id], window, record=True)
                    results.append(result)
                    end = state_ids.setdefault(result.end_state, len(states))
                    if end == len(states):
                        states.append(result.end_state)
                    end_state.append(end)
                    memo[key] = index
                ids[step * Q + q] = index
                state_id = end_state[index]
            bar.update(1)
        bar.close()
        return results, ids


def _progress(total: int, enabled: bool, desc: str, unit: str):
    if enabled:
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, leave=False)

    class _Null:
        def update(self, _n: int) -> None:
            pass

        def close(self) -> None:
            pass

    return _Null()


# --------------------------------------------------------------------------- public entry


def default_timeline_steps(trace: ReplayTrace) -> tuple[int, int]:
    """The first 2 steps of the second generated frame (of the first frame if only one)."""
    if trace.num_steps == 0:
        return (0, 0)
    frames = np.unique(trace.frame)
    target = frames[1] if len(frames) > 1 else frames[0]
    first = int(np.argmax(trace.frame == target))
    return (first, min(first + 2, trace.num_steps))


def simulate(graph: nx.DiGraph, trace: ReplayTrace, design: Any, *, policy: str | None = None,
             memoize: bool = True, timeline_steps: tuple[int, int] | None = None,
             dram_weights: dict[str, int] | None = None, fast_forward: bool = True,
             max_timeline_events: int = 20_000, progress: bool = False) -> SimResult:
    """Simulate every decode step of `trace` on `design`; see `SimResult` for what comes back.

    `policy` overrides the design's scheduling policy; `memoize=False` runs one continuous
    simulation (slow; for checking); `timeline_steps` = [first, last) steps whose op
    intervals go into the timeline; `dram_weights` sets arbitration weights per requester
    class (``weights``, ``kv``, ``activations``, ``replay``); `fast_forward=False` turns
    off the closed-form continuation of lone tile pipelines (for checking).
    """
    started = time.perf_counter()
    workload = Workload(graph, trace, design)
    scheduling = make_policy(policy, design)
    ctx = SimContext(design, scheduling, workload, dram_weights, fast_forward)
    window = default_timeline_steps(trace) if timeline_steps is None else tuple(int(s) for s in timeline_steps)
    simulation = Simulation(ctx, window)
    results, ids = simulation.run_memoised(progress) if memoize else simulation.run_continuous()
    result = _assemble(ctx, results, ids, window, max_timeline_events)
    result.segments_simulated = len(results) if memoize else len(ids)
    result.segments_total = int(ids.size)
    result.events_simulated = simulation.events
    result.wall_time_s = time.perf_counter() - started
    return result


def simulate_dense(graph: nx.DiGraph, trace: ReplayTrace, design: Any, **kwargs: Any) -> SimResult:
    """The dense baseline of the same video: every replay decision false, same KV lengths."""
    return simulate(graph, dense_trace(trace), design, **kwargs)


def _assemble(ctx: SimContext, results: list[SegmentResult], ids: np.ndarray, window: tuple[int, int],
              max_events: int) -> SimResult:
    wl, layout, design = ctx.workload, ctx.layout, ctx.design
    steps, per_step = wl.steps, len(wl.segment_kind)
    durations = np.array([r.duration for r in results], dtype=np.int64)
    matrix = np.stack([r.counters for r in results]) if results else np.zeros((0, len(layout.names)), np.int64)
    instance_cycles = durations[ids].reshape(steps, per_step)
    step_cycles = instance_cycles.sum(axis=1)
    counts = np.bincount(ids, minlength=len(results)).astype(np.int64)
    totals = counts @ matrix if len(results) else np.zeros(len(layout.names), np.int64)

    def total(name: str) -> int:
        return int(totals[layout.index[name]])

    block_cycles = {b: 0 for b in BLOCK_CLASSES}
    for q, kind in enumerate(wl.segment_kind):
        block_cycles[SEGMENT_BLOCK[kind]] += int(instance_cycles[:, q].sum())
    tracks = [f"busy.{e}" for e in layout.engines] + ["dram.busy"]
    columns = [layout.index[t] for t in tracks]
    per_instance = matrix[:, columns][ids].reshape(steps, per_step, len(columns)).sum(axis=1)
    step_busy = {t.split(".", 1)[1] if t.startswith("busy.") else "dram": per_instance[:, k]
                 for k, t in enumerate(tracks)}

    purposes = sorted(ctx.buffers.groups)
    peaks = np.array([[r.peaks.get(p, 0) for p in purposes] for r in results],
                     dtype=np.int64).reshape(-1, len(purposes))
    step_peak_by_purpose = peaks[ids].reshape(steps, per_step, len(purposes)).max(axis=1) if steps else \
        np.zeros((0, len(purposes)), np.int64)
    step_buffer_peak: dict[str, np.ndarray] = {}
    capacity: dict[str, int] = {}
    for name, purpose, _, nbytes in ctx.buffers.buffers:
        group = ctx.buffers.groups[purpose]
        share = nbytes / group.capacity_bytes
        step_buffer_peak[name] = np.floor(step_peak_by_purpose[:, purposes.index(purpose)] * share).astype(np.int64)
        capacity[name] = nbytes

    macs = {b: {p: total(f"macs.{b}.{p}") for p in PRECISIONS} for b in BLOCK_CLASSES}
    dram_bytes = {d: {c: total(f"dram.{d}.{c}") for c in DRAM_CATEGORIES} for d in DRAM_DIRECTIONS}
    dram_payload = {d: {c: total(f"dram_payload.{d}.{c}") for c in DRAM_CATEGORIES} for d in DRAM_DIRECTIONS}
    dram_by_block = {b: {d: {c: total(f"dram_block.{b}.{d}.{c}") for c in DRAM_CATEGORIES} for d in DRAM_DIRECTIONS}
                     for b in BLOCK_CLASSES}
    # each class's bits are split among the buffers of a purpose on their own, and a buffer's
    # figure is the sum over classes, so that the per-class figures add up exactly
    split = {b: ctx.buffers.split_bits({p: (total(f"buffer.{b}.{p}.read") * 8, total(f"buffer.{b}.{p}.write") * 8)
                                        for p in purposes}) for b in BLOCK_CLASSES}
    bits_by_block = {b: {name: {k: counts[k] for k in ("read_bits", "write_bits")} for name, counts in split[b].items()}
                     for b in BLOCK_CLASSES}
    buffer_bits = {name: dict(counts, **{k: sum(bits_by_block[b][name][k] for b in BLOCK_CLASSES)
                                         for k in ("read_bits", "write_bits")})
                   for name, counts in split[BLOCK_CLASSES[0]].items()}

    all_bytes = sum(sum(v.values()) for v in dram_bytes.values())
    all_macs = sum(sum(v.values()) for v in macs.values())
    peak_bw = float(ctx.dram_spec.bytes_per_cycle)
    peak_macs = design.engines.matrix.pes + design.engines.tas.lanes
    dram_bound = all_bytes / peak_bw
    compute_bound = all_macs / peak_macs
    roofline = {"dram_bytes": all_bytes, "macs": all_macs, "peak_dram_bytes_per_cycle": peak_bw,
                "peak_macs_per_cycle": peak_macs, "dram_bound_cycles": dram_bound,
                "compute_bound_cycles": compute_bound, "bound_cycles": max(dram_bound, compute_bound)}

    drs = None
    if ctx.policy.stream_weights:
        mask = wl.has_prediction
        truth = wl.n_compute > 0
        drs = {
            "predictor_accuracy": float((wl.predicted_compute[mask] == truth[mask]).mean()) if mask.any() else None,
            "predictions": int(mask.sum()),
            "prefetch_predictions_used": total("drs.predictions_used"),
            "prefetch_mispredicted": total("drs.mispredicted"),
            "prefetch_bytes": total("drs.prefetch_bytes"),
            "prefetch_wasted_bytes": total("drs.wasted_bytes"),
        }

    timeline, truncated = _timeline(wl, results, ids, instance_cycles, window, max_events)
    return SimResult(
        design_name=design.name,
        policy=ctx.policy.name,
        clock_mhz=float(design.clock_mhz),
        total_cycles=int(step_cycles.sum()),
        step_cycles=step_cycles.astype(np.int64),
        step_frame=wl.trace.frame.astype(np.int32),
        block_cycles=block_cycles,
        macs=macs,
        vector_elements={b: total(f"vector.{b}") for b in BLOCK_CLASSES},
        dram_bytes=dram_bytes,
        dram_bytes_unrounded=dram_payload,
        buffer_bits=buffer_bits,
        engine_busy_cycles={e: total(f"busy.{e}") for e in layout.engines},
        matrix_arrays=dict(ctx.matrix_engines),
        step_busy_cycles=step_busy,
        step_buffer_peak_bytes=step_buffer_peak,
        buffer_capacity_bytes=capacity,
        roofline=roofline,
        drs=drs,
        dram_bytes_by_block=dram_by_block,
        buffer_bits_by_block=bits_by_block,
        timeline=timeline,
        timeline_steps=window,
        timeline_truncated=truncated,
        workload=wl.summary(),
    )


def _timeline(wl: Workload, results: list[SegmentResult], ids: np.ndarray, instance_cycles: np.ndarray,
              window: tuple[int, int], max_events: int) -> tuple[list[TimelineEvent], bool]:
    first, last = max(window[0], 0), min(window[1], wl.steps)
    if first >= last:
        return [], False
    per_step = instance_cycles.shape[1]
    starts = np.concatenate([[0], np.cumsum(instance_cycles.ravel())[:-1]])
    events: list[TimelineEvent] = []
    for flat in range(first * per_step, last * per_step):
        step, q = divmod(flat, per_step)
        for start, track, name, duration in sorted((i[2], i[0], i[1], i[3]) for i in results[int(ids[flat])].intervals):
            if len(events) >= max_events:
                return events, True
            events.append(TimelineEvent(track, name, int(starts[flat] + start), int(duration), step,
                                        int(wl.segment_layer[q])))
    return events, False
