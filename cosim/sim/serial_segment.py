"""A segment whose ops run one after another with the DRAM to themselves, evaluated without SimPy.

Every decode step has a new KV length, so its attention core is a new segment; simulating
it in SimPy (~45 events) is most of what a step of a long video costs. Its ops (scores,
softmax, values) form a chain, and the TAS op beside them computes without touching DRAM
(or, one op at a time under time multiplexing, runs between the first two). When no two
DRAM transfers of the segment overlap in time, each op is exactly: the access latency and
the move of its loads, the tile recurrence of the fast path over the plan's repeated
patterns (`tile_pipeline.walk_pieces`, which skips a piece's repeats once they shift and
gives the op's buffer peak; the first tile continues the load's stream), its compute, and its
stores (before it ends if they overflow the output buffer, else after). That is what the
SimPy processes do with nothing else in flight, so the segment's cycles, counters and
buffer peaks are computed directly; where a transfer would overlap another (a store that
drains while the next op loads, a TAS key read beside the first load), or a weight stream
runs (DRS), `evaluate` returns None and the segment is simulated in SimPy. Results that the
timeline may use (op intervals, occupancy) are always simulated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cosim.sim.policies.base import SchedulingPolicy
from cosim.sim.tile_pipeline import walk_pieces

if TYPE_CHECKING:
    from cosim.sim.context import SimContext
    from cosim.sim.segments import OpWork
    from cosim.sim.tile_plan import TilePlan


def uses_admission_token(policy: SchedulingPolicy) -> bool | None:
    """Whether ops take the base class's one-at-a-time token (True / False), or None if the policy makes its own
    (then this module does not know the order and leaves the segment to SimPy)."""
    if type(policy).admission_token is not SchedulingPolicy.admission_token:
        return None
    return policy.serial


def run_order(plans: list[TilePlan], ops: list[OpWork], token: bool) -> tuple[list[int], frozenset[int]] | None:
    """The order in which the ops run one after another and the side ops among them, or None if they may overlap
    in DRAM or on an engine.

    The ops must be a chain (each one's only producer is the one before) plus *side ops*
    with no producers and no consumers. Without a token a side op runs from cycle 0 on an
    engine no other op uses, or none (its DRAM transfers, if any, checked against the chain's
    like any other; one streaming tiles is left to SimPy: its buffer level would add to the
    chain's); with one, ops take the token in the order they ask: those without producers at
    cycle 0 (by index), then the chain.
    """
    consumed = {p for op in ops for p in op.preds}
    side = [i for i, op in enumerate(ops) if not op.preds and i not in consumed]
    chain = [i for i in range(len(ops)) if i not in side]
    if any(ops[c].preds != ((chain[k - 1],) if k else ()) for k, c in enumerate(chain)):
        return None
    if token:
        return sorted([*chain[:1], *side]) + chain[1:], frozenset(side)
    if any(plans[i].pieces for i in side):  # its tiles would sit in a buffer beside the chain's: peaks would add
        return None
    engines = [plans[i].engine for i in side if plans[i].engine is not None]  # a pure transfer holds no engine
    chain_engines = {plans[i].engine for i in chain}
    if len(set(engines)) < len(engines) or chain_engines & set(engines):
        return None
    return side + chain, frozenset(side)


class _Dram:
    """Counters of the segment (by their index in the layout), and the cycle at which its last DRAM transfer ends
    (each must start after)."""

    def __init__(self, ctx: SimContext, block: str) -> None:
        self.ctx, self.block = ctx, block
        self.index = ctx.layout.index
        self.counts = [0] * len(ctx.layout.names)
        self.free_at = 0

    def add(self, name: str, value: int) -> None:
        self.counts[self.index[name]] += value

    def transfer(self, direction: str, parts: tuple[tuple[str, int], ...], issue: int, continuing: bool) -> int | None:
        """One request alone in the DRAM (as `Dram.transfer`); its end, or None if it would overlap another."""
        if issue < self.free_at:
            return None
        spec, rounded_total = self.ctx.dram_spec, 0
        for category, payload in parts:
            if payload > 0:
                rounded = spec.rounded(payload)
                rounded_total += rounded
                self.counted(direction, category, payload, rounded)
        move = self.ctx.move_cycles(rounded_total)
        self.add("dram.busy", move)
        self.free_at = issue + (0 if continuing else spec.latency_cycles) + move
        return self.free_at

    def counted(self, direction: str, category: str, payload: int, rounded: int) -> None:
        counts = self.counts
        rounded_at, payload_at, block_at = _dram_counter_indices(self.ctx, direction, category, self.block)
        counts[rounded_at] += rounded
        counts[payload_at] += payload
        counts[block_at] += rounded


def _dram_counter_indices(ctx: SimContext, direction: str, category: str, block: str) -> tuple[int, int, int]:
    """Indices of the counters a DRAM transfer adds to: bytes in bursts, payload, bytes of its block (cached)."""
    key = (direction, category, block)
    indices = ctx.counter_indices.get(key)
    if indices is None:
        index = ctx.layout.index
        indices = ctx.counter_indices[key] = (
            index[f"dram.{direction}.{category}"],
            index[f"dram_payload.{direction}.{category}"],
            index[f"dram_block.{block}.{direction}.{category}"],
        )
    return indices


class SerialSegment:
    """The closed-form evaluation of one segment instance (`evaluate`)."""

    def __init__(self, ctx: SimContext, ops: list[OpWork], plans: list[TilePlan], block: str) -> None:
        self.ctx, self.ops, self.plans, self.block = ctx, ops, plans, block
        self.dram = _Dram(ctx, block)
        self.peaks: dict[str, int] = {}  # buffer purpose -> the most bytes an op's tiles held in it

    def run(self, order: list[int], side: frozenset[int], token: bool) -> int | None:
        """The segment's duration (counts in `dram.counts`, tile peaks in `peaks`), or None if transfers overlap.

        Each op starts when the one before it in `order` releases its engine (and token), except side ops
        without a token, which start at cycle 0 beside the chain."""
        end = now = 0
        for i in order:
            beside = i in side and not token
            ends = self._op(i, 0 if beside else now)
            if ends is None:
                return None
            release, finished = ends
            end = max(end, finished)
            if not beside:
                now = release
        return end

    def _op(self, i: int, start: int) -> tuple[int, int] | None:
        """Op `i` from `start`: (cycle it releases its engine, cycle its last transfer ends), or None on overlap."""
        ctx, op, plan, dram = self.ctx, self.ops[i], self.plans[i], self.dram
        counts = dram.counts
        for at, value in ctx.static_counts(op, self.block, plan):
            counts[at] += value
        last_transfer = -1  # cycle the op's last transfer ended (its stream continues if the next starts then)
        if op.loads:
            load_end = dram.transfer("read", op.loads, start, False)
            if load_end is None:
                return None
            start = last_transfer = load_end
        if plan.pieces:
            compute_end = self._tiles(plan, start, last_transfer == start)
            if compute_end is None:
                return None
            last_transfer = dram.free_at
        else:
            compute_end = start + plan.compute_cycles
        release = finished = compute_end
        if op.stores:
            store_end = dram.transfer("write", op.stores, compute_end, last_transfer == compute_end)
            if store_end is None:
                return None
            finished = store_end
            if plan.stores_hold_engine:
                release = store_end
        if plan.engine is not None:
            dram.add(f"busy.{plan.engine}", plan.busy_cycles)
        return release, finished

    def _tiles(self, plan: TilePlan, start: int, continuing: bool) -> int | None:
        """The op's own tile pipeline from `start` (`walk_pieces`); its compute end, or None on overlap."""
        if start < self.dram.free_at:
            return None
        assert plan.purpose is not None, "an op with its own tiles has a buffer purpose for them"
        category = "weights" if plan.purpose == "weights" else "kv_read"
        walk = walk_pieces(self.ctx, plan, start, continuing)
        self.peaks[plan.purpose] = max(self.peaks.get(plan.purpose, 0), walk.peak)
        self.dram.counted("read", category, walk.payload, walk.rounded)
        self.dram.add("dram.busy", walk.busy)
        self.dram.free_at = walk.load_end
        return walk.compute_end


def evaluate(
    ctx: SimContext, ops: list[OpWork], block: str, static_peaks: dict[str, int]
) -> tuple[int, np.ndarray, dict[str, int]] | None:
    """(duration, counter vector, buffer peaks) of a segment run on a fresh machine without a weight stream, or
    None where its ops may overlap in DRAM (then SimPy simulates it). `static_peaks`: the working-set peaks."""
    token = uses_admission_token(ctx.policy)
    if token is None:
        return None
    plans = [ctx.plan(op) for op in ops]
    shape = run_order(plans, ops, token)
    if shape is None:
        return None
    segment = SerialSegment(ctx, ops, plans, block)
    duration = segment.run(*shape, token)
    if duration is None:
        return None
    counters = np.array(segment.dram.counts, dtype=np.int64)
    peaks = dict(static_peaks)
    for purpose, peak in segment.peaks.items():
        peaks[purpose] = max(peaks.get(purpose, 0), peak)
    return duration, counters, peaks
