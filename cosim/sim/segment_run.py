"""The ops of one segment instance running on a machine: each op acquires, loads, computes, releases.

An op waits for its producers, then acquires what it runs on (the policy's admission token,
under DRS its first streamed tile, its engine), loads its DRAM operands, computes (plain,
through its own tile pipeline, or on tiles the weight stream delivers; `tile_pipeline`),
and releases everything; its stores go out after it is done and the segment waits for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

from cosim.sim import tile_pipeline
from cosim.sim.clock import Process, cycle_now
from cosim.sim.dram import Transfer
from cosim.sim.segments import OpWork
from cosim.sim.stream_views import StepLayer
from cosim.sim.tile_pipeline import ACTIVE, COMPUTE_ONLY, DONE, WAIT_PREDS, WAIT_RESOURCE

if TYPE_CHECKING:
    from cosim.sim.machine import Machine
    from cosim.sim.weight_stream import WeightStream

OpStream = tuple[str, int, int]  # DRAM stream of one op: ("op", run id, op index)


@dataclass
class SegmentInfo:
    block: str
    step: int
    layer: int
    element_seq: dict[int, int]  # op index -> stream element seq (ops with streamed weights)
    resolves: StepLayer | int | None = None  # group whose decision this segment's TAS produces


@dataclass
class Held:
    """What an op holds while it runs."""

    token: simpy.resources.resource.Request | None = None
    engine: simpy.resources.resource.Request | None = None
    stream: OpStream = field(default=("op", 0, 0))


class SegmentRun:
    """The ops of one segment instance running on a machine."""

    def __init__(
        self, machine: Machine, ops: list[OpWork], info: SegmentInfo, descendants: list[frozenset[int]], record: bool
    ) -> None:
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
        self.start = cycle_now(self.env)
        self.record = record
        machine.run_id += 1
        self.run_id = machine.run_id
        machine.run = self
        if machine.loader is not None:
            machine.loader.started = {}  # timeline intervals of the stream stay within one segment
        self.intervals: list[tuple[str, str, int, int]] = []

    def run(self) -> Process[None]:
        for i in range(len(self.ops)):
            self.env.process(self._op(i))
        if self.done:
            yield self.env.all_of(self.done)
        while self.stores:
            pending, self.stores = self.stores, []
            yield self.env.all_of(pending)

    # -- one op ------------------------------------------------------------------------
    def _op(self, i: int) -> Process[None]:
        held = yield from self._acquire(i)
        yield from self._load(i, held.stream)
        compute_start = cycle_now(self.env)
        end = yield from self._compute(i, held.stream)
        if self.plans[i].stores_hold_engine:  # the output buffer cannot hold them: the op ends once they are out
            yield self._store(i, held.stream)
        self._release(i, held, compute_start, end)

    def _acquire(self, i: int) -> Process[Held]:
        """Wait for the producers, then the admission token, the first streamed tile and the engine."""
        m, op, plan = self.m, self.ops[i], self.plans[i]
        if op.preds:
            yield self.env.all_of([self.done[p] for p in op.preds])
        self.phase[i] = WAIT_RESOURCE
        self.not_started.discard(i)
        self.running.add(i)
        names = self.ctx.layout.names
        for at, value in self.ctx.static_counts(op, self.info.block, plan):
            m.count(names[at], value)
        held = Held(stream=("op", self.run_id, i))
        if m.token is not None:
            self.waiting_for[i] = "token"
            held.token = m.token.request()
            yield held.token
        loader = self._stream_feeding(i)
        if loader is not None:
            self.waiting_for[i] = "stream"
            yield loader.tile_event(self.info.element_seq[i], 0)
        if plan.engine is not None:
            self.waiting_for[i] = plan.engine
            held.engine = m.resources[plan.engine].request()
            yield held.engine
        self.waiting_for[i] = None
        self.phase[i] = ACTIVE
        return held

    def _load(self, i: int, stream: OpStream) -> Process[None]:
        """DRAM operands needed before the first tile computes."""
        op = self.ops[i]
        if op.loads:
            start = cycle_now(self.env)
            transfer = self.transfer([("read", c, b) for c, b in op.loads], stream)
            yield transfer.event
            self._interval(f"dram.{op.loads[0][0]}", f"{op.name} load", start, cycle_now(self.env))

    def _compute(self, i: int, stream: OpStream) -> Process[int]:
        """Compute the op; returns the cycle its compute ends."""
        op, plan = self.ops[i], self.plans[i]
        loader = self._stream_feeding(i)
        if loader is not None:
            return (yield from tile_pipeline.consume_stream(self, i, loader))
        if plan.pieces:
            return (yield from tile_pipeline.own_tiles(self, i, stream))
        if not op.stores and not (self.m.loader is not None and op.kind == "tas"):
            self.phase[i] = COMPUTE_ONLY
        end = cycle_now(self.env) + plan.compute_cycles
        if plan.compute_cycles:
            yield self.env.timeout(plan.compute_cycles)
        return end

    def _release(self, i: int, held: Held, compute_start: int, end: int) -> None:
        """Free the engine and token, hand a TAS decision to the weight stream, issue the stores (if not out yet)."""
        m, op, plan = self.m, self.ops[i], self.plans[i]
        if plan.engine is not None:
            assert held.engine is not None, "an op with an engine holds it until released"
            m.count(f"busy.{plan.engine}", plan.busy_cycles)
            self._interval(plan.engine, op.name, compute_start, end)
            m.resources[plan.engine].release(held.engine)
        if held.token is not None:
            assert m.token is not None, "a token is held only from the machine's admission token"
            m.token.release(held.token)
        if op.kind == "tas" and m.loader is not None and self.info.resolves is not None:
            m.loader.resolve(self.info.resolves)
        self.phase[i] = DONE
        self.running.discard(i)
        self.done[i].succeed()
        if op.stores and not plan.stores_hold_engine:
            self.stores.append(self._store(i, held.stream))

    def _store(self, i: int, stream: OpStream) -> simpy.Event:
        """Issue op `i`'s DRAM stores as one request; returns its completion event."""
        op = self.ops[i]
        transfer = self.transfer([("write", c, b) for c, b in op.stores], stream)
        if self.record:
            self._interval_when_done(transfer, f"dram.{op.stores[0][0]}", f"{op.name} store")
        return transfer.event

    def transfer(self, parts: list[tuple[str, str, int]], stream: OpStream) -> Transfer:
        """An op's DRAM loads or stores as one request (never empty: the workload drops zero-byte parts)."""
        transfer = self.m.transfer(parts, stream, self.info.block)
        assert transfer is not None, f"an op issued an empty DRAM request: {parts}"
        return transfer

    def _interval_when_done(self, transfer: Transfer, track: str, name: str) -> None:
        """Record `transfer` from now until its event fires as a timeline interval."""
        start = cycle_now(self.env)

        def record(_event: simpy.Event) -> None:
            self._interval(track, name, start, cycle_now(self.env))

        transfer.event.callbacks.append(record)

    def _stream_feeding(self, i: int) -> WeightStream[Any] | None:
        """The weight stream if op `i` computes on tiles it delivers (DRS) instead of loading its own, else None."""
        if self.ops[i].streamed == "weights":
            return self.m.loader
        return None

    def _interval(self, track: str, name: str, start: int, end: int) -> None:
        if self.record and end > start:
            self.intervals.append((track, name, start - self.start, end - start))
