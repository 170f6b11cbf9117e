"""DRS's weight stream: one DMA stream loading weight tiles ahead of the ops, across barriers.

`WeightStream` is the SimPy process; `LoaderState` is its state at a segment barrier
(what memoisation keys a segment by and hands on to the next one).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Generic, NamedTuple

import simpy

from cosim.sim.clock import Process, cycle_now
from cosim.sim.dram import Transfer
from cosim.sim.stream_views import G, StreamView

if TYPE_CHECKING:
    from cosim.sim.machine import Machine

LOADER_STREAM = "weight-stream"
TileKey = tuple[int, int]  # (element seq, tile)


class InflightTile(NamedTuple):
    """The tile the stream is loading now."""

    key: TileKey
    nbytes: int
    transfer: Transfer


class InflightState(NamedTuple):
    """An in-flight tile at a barrier: enough to restore its DRAM transfer (`Dram.restore`)."""

    seq: int
    tile: int
    nbytes: int
    parts: tuple[tuple[str, str, int, int], ...]
    rounded: int
    remaining: Fraction  # bytes of the transfer still to move
    latency_left: int


@dataclass(frozen=True)
class LoaderState:
    """The weight stream at a barrier, with element numbers relative to the next segment's first element."""

    resident: tuple[tuple[int, int, int], ...] = ()  # (seq, tile, bytes)
    inflight: InflightState | None = None
    position: tuple[int, int] = (0, 0)
    taken: tuple[tuple[int, bool], ...] = ()  # (group first seq, loaded or skipped)
    continues: bool = False

    def shifted(self, delta: int) -> LoaderState:
        inflight = None
        if self.inflight is not None:
            inflight = self.inflight._replace(seq=self.inflight.seq - delta)
        return LoaderState(
            tuple((s - delta, t, b) for s, t, b in self.resident),
            inflight,
            (self.position[0] - delta, self.position[1]),
            tuple((s - delta, v) for s, v in self.taken if s - delta >= 0),
            self.continues,
        )


class WeightStream(Generic[G]):
    """DRS: one DMA stream loading weight tiles ahead of the ops, in execution order.

    At a conditional element (an MLP whose need depends on a replay decision) it uses the
    decision if TAS has produced it, else the previous frame's decision (prediction). When
    TAS later contradicts a prediction the stream is redirected: tiles loaded beyond the
    decision point are discarded (counted as wasted) and loading resumes there.
    """

    def __init__(self, machine: Machine, view: StreamView[G], state: LoaderState) -> None:
        self.m: Machine = machine
        self.env = machine.env
        self.view: StreamView[G] = view
        group = machine.ctx.buffers.group("weights")
        self.slots = group.slots
        self.resident: dict[TileKey, int] = {}
        self.events: dict[TileKey, simpy.Event] = {}
        for seq, tile, nbytes in state.resident:
            self.resident[(seq, tile)] = nbytes
            self._event((seq, tile)).succeed()
        self.position = state.position
        self.taken: dict[int, bool] = dict(state.taken)
        self.inflight: InflightTile | None = None
        if state.inflight is not None:
            saved = state.inflight
            transfer = machine.dram.restore(
                saved.parts, saved.rounded, saved.remaining, saved.latency_left, LOADER_STREAM
            )
            self.inflight = InflightTile((saved.seq, saved.tile), saved.nbytes, transfer)
        if state.continues:
            machine.dram.mark_stream_done(LOADER_STREAM, cycle_now(self.env))
        self.used = len(self.resident) + (1 if self.inflight else 0)
        self.occupied_bytes = sum(self.resident.values()) + (self.inflight.nbytes if self.inflight else 0)
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

    def resolve(self, group: G) -> None:
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
        if self.inflight is not None and self.inflight.key[0] >= first:
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
    def _event(self, key: TileKey) -> simpy.Event:
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

    def _next_tile(self) -> tuple[TileKey, int] | None:
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

    def _run(self) -> Process[None]:
        while True:
            if self.inflight is not None:
                key, nbytes, transfer = self.inflight
                ok = yield transfer.event
                if not ok:  # cancelled by a redirect, which already fixed the accounting
                    continue
                self.inflight = None
                self.resident[key] = nbytes
                self._event(key).succeed()
                tiles = self.view.tiles(key[0])
                assert tiles is not None, "a loaded tile belongs to an element within the video"
                if key[1] + 1 < len(tiles):
                    self.position = (key[0], key[1] + 1)
                else:  # element loaded: the position is the next element's start (one form per state)
                    self.position = (key[0] + 1, 0)
                    if self.m.run is not None:
                        start = self.started.pop(key[0], self.m.run.start)  # requested before this segment
                        self.m.run._interval("dram.weights", "weight stream", start, cycle_now(self.env))
                continue
            nxt = self._next_tile() if self.used < self.slots else None
            if nxt is None:
                yield self._wait()
                continue
            key, nbytes = nxt
            self.started.setdefault(key[0], cycle_now(self.env))
            self.used += 1
            self.occupied_bytes += nbytes
            self.m.occupancy_change("weights", nbytes)
            self.m.count("drs.prefetch_bytes", nbytes)
            request = self.m.transfer([("read", "weights", nbytes)], LOADER_STREAM, self.view.block(key[0]))
            assert request is not None, "the stream loads only tiles of at least one byte"
            self.inflight = InflightTile(key, nbytes, request)

    def capture(self, delta: int) -> LoaderState:
        """The stream's state now, renumbered so that element `delta` becomes 0."""
        inflight = None
        if self.inflight is not None:
            (seq, tile), nbytes, transfer = self.inflight
            remaining, latency_left = self.m.dram.snapshot(transfer)
            inflight = InflightState(seq, tile, nbytes, transfer.parts, transfer.rounded, remaining, latency_left)
        state = LoaderState(
            tuple((s, t, b) for (s, t), b in sorted(self.resident.items())),
            inflight,
            self.position,
            tuple(sorted(self.taken.items())),
            self.m.dram.continues(LOADER_STREAM),
        )
        return state.shifted(delta)
