"""Off-chip memory: channels shared by every requester, as a weighted fluid fair share.

All used channels are striped together into one pool delivering ``bytes_per_cycle`` =
channels x per-channel peak GB/s x efficiency / clock (bytes per design cycle, an exact
fraction). A transfer is rounded up to whole bursts, waits the access latency (unless
it continues a stream whose previous transfer finished in the very cycle it is issued:
a DMA engine that keeps its request queue full pays the latency once), and then moves
its bytes while sharing the bandwidth with all other moving transfers in proportion to
their requester weights (weighted fair share). Nothing happens between changes of the
set of moving transfers, so the model needs one event per change, and the bandwidth
split is exact. Times are whole cycles: a transfer completes at the first cycle boundary
after its last byte (progress is tracked exactly as a fraction), so results do not depend
on when a segment of work starts -- a property memoisation relies on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import simpy

from cosim.common.errors import UserError
from cosim.hw.schema import Design
from cosim.sim.clock import cycle_now

REQUESTER_CLASSES = ("weights", "kv", "activations", "replay")
DEFAULT_REQUESTER_WEIGHTS = {name: 1 for name in REQUESTER_CLASSES}
"""Arbitration weights by requester class [design choice]; the schema has no field for them."""

CATEGORY_REQUESTER = {
    "weights": "weights",
    "weights_prefetch_wasted": "weights",
    "kv_read": "kv",
    "kv_write": "kv",
    "activations": "activations",
    "replay_read": "replay",
    "replay_write": "replay",
}


@dataclass(frozen=True)
class DramSpec:
    """Bandwidth, burst, latency and arbitration of the design's DRAM, in design cycles."""

    bytes_per_cycle: Fraction
    burst_bytes: int
    latency_cycles: int
    requester_weights: tuple[tuple[str, int], ...] = tuple(DEFAULT_REQUESTER_WEIGHTS.items())

    @classmethod
    def from_design(cls, design: Design, requester_weights: dict[str, int] | None = None) -> DramSpec:
        """Figures of the validated `design`."""
        bandwidth = Fraction(design.dram_effective_bytes_per_cycle).limit_denominator(1_000_000)
        weights = dict(DEFAULT_REQUESTER_WEIGHTS)
        for name, weight in (requester_weights or {}).items():
            if name not in weights:
                raise UserError(None, "dram_weights", f"requester classes among {', '.join(weights)}", name)
            if not isinstance(weight, int) or isinstance(weight, bool) or weight < 1:
                raise UserError(None, f"dram_weights.{name}", "an integer >= 1", weight)
            weights[name] = weight
        return cls(
            bandwidth, int(design.dram.burst_bytes), int(design.dram_access_latency_cycles), tuple(weights.items())
        )

    def weight_of(self, category: str) -> int:
        return dict(self.requester_weights)[CATEGORY_REQUESTER[category]]

    def rounded(self, nbytes: int) -> int:
        """Bytes actually moved for a request of `nbytes`: whole bursts."""
        return math.ceil(nbytes / self.burst_bytes) * self.burst_bytes if nbytes > 0 else 0

    def move_cycles(self, rounded_bytes: int) -> int:
        """Cycles to move `rounded_bytes` with the whole bandwidth (no latency)."""
        return math.ceil(Fraction(rounded_bytes) / self.bytes_per_cycle) if rounded_bytes > 0 else 0


@dataclass(eq=False)
class Transfer:
    """One DMA request in flight; ``event`` succeeds with True when done, False if cancelled."""

    parts: tuple[tuple[str, str, int, int], ...]  # (direction, category, payload bytes, rounded bytes)
    rounded: int
    remaining: Fraction  # bytes left when admitted (updated only by `Dram.snapshot`)
    weight: int
    stream: Any
    event: simpy.Event
    admitted: bool = False
    cancelled: bool = False
    admit_at: int = 0
    finish_v: Fraction = Fraction(0)  # virtual time at which its last byte arrives


@dataclass
class DramCounters:
    """Bytes by (direction, category) -- rounded and payload -- and cycles with data moving."""

    rounded: dict[tuple[str, str], int] = field(default_factory=dict)
    payload: dict[tuple[str, str], int] = field(default_factory=dict)
    busy_cycles: int = 0

    def add(self, direction: str, category: str, payload: int, rounded: int) -> None:
        key = (direction, category)
        self.rounded[key] = self.rounded.get(key, 0) + rounded
        self.payload[key] = self.payload.get(key, 0) + payload


class Dram:
    """The shared DRAM of one SimPy environment."""

    def __init__(self, env: simpy.Environment, spec: DramSpec, counters: DramCounters | None = None) -> None:
        self.env = env
        self.spec = spec
        self.counters = counters if counters is not None else DramCounters()
        self._weights = dict(spec.requester_weights)
        self._moving: list[Transfer] = []
        self._weight = 0  # total weight of the moving transfers
        self._virtual = Fraction(0)  # bytes per unit of weight delivered since the start
        self._pending = 0  # transfers waiting out their access latency
        self._last_update = cycle_now(env)
        self._generation = 0
        self._stream_done: dict[Any, int] = {}
        self.closed = False

    # -- requests ----------------------------------------------------------------------
    def transfer(self, parts: list[tuple[str, str, int]], stream: Any = None) -> Transfer | None:
        """Issue one request moving ``(direction, category, payload bytes)`` parts; None if empty.

        Each part is rounded up to whole bursts on its own; the request's weight is that
        of its first part's requester class.
        """
        rounded_parts = tuple((d, c, b, self.spec.rounded(b)) for d, c, b in parts if b > 0)
        if not rounded_parts:
            return None
        for direction, category, payload, rounded in rounded_parts:
            self.counters.add(direction, category, payload, rounded)
        rounded_total = sum(p[3] for p in rounded_parts)
        latency = 0 if self.continues(stream) else self.spec.latency_cycles
        transfer = Transfer(
            rounded_parts,
            rounded_total,
            Fraction(rounded_total),
            self._weights[CATEGORY_REQUESTER[rounded_parts[0][1]]],
            stream,
            self.env.event(),
        )
        self._start(transfer, latency)
        return transfer

    def restore(
        self,
        parts: tuple[tuple[str, str, int, int], ...],
        rounded: int,
        remaining: Fraction,
        latency_left: int,
        stream: Any,
    ) -> Transfer:
        """Re-create a transfer that was in flight when a segment of work ended (already counted)."""
        transfer = Transfer(
            parts, rounded, remaining, self._weights[CATEGORY_REQUESTER[parts[0][1]]], stream, self.env.event()
        )
        self._start(transfer, latency_left)
        return transfer

    def continues(self, stream: Any) -> bool:
        """True if a request of `stream` issued now would continue its previous transfer."""
        return stream is not None and self._stream_done.get(stream) == cycle_now(self.env)

    def mark_stream_done(self, stream: Any, when: int) -> None:
        """Record that `stream`'s last transfer completed at `when` (for restored state)."""
        self._stream_done[stream] = when

    def cancel(self, transfer: Transfer) -> int:
        """Stop `transfer`; returns the whole bytes it had delivered. Its event succeeds with False."""
        if transfer.event.triggered:
            return transfer.rounded
        transfer.cancelled = True
        if transfer.admitted:
            self._advance()
            remaining = self._remaining(transfer)
            self._moving.remove(transfer)
            self._weight -= transfer.weight
            self._reschedule()
        else:
            remaining = transfer.remaining
            self._pending -= 1
        transfer.event.succeed(False)
        return int(transfer.rounded - math.ceil(max(remaining, Fraction(0))))

    # -- state -------------------------------------------------------------------------
    @property
    def idle(self) -> bool:
        """No transfer moving or waiting out its latency."""
        return not self._moving and self._pending == 0

    def snapshot(self, transfer: Transfer) -> tuple[Fraction, int]:
        """(remaining bytes, latency cycles left) of an unfinished transfer, as of now."""
        if transfer.admitted:
            self._advance()
            return self._remaining(transfer), 0
        return transfer.remaining, transfer.admit_at - cycle_now(self.env)

    def _remaining(self, transfer: Transfer) -> Fraction:
        return (transfer.finish_v - self._virtual) * transfer.weight

    def add_alone(self, move_cycles: int) -> None:
        """Account busy cycles of transfers computed analytically while the DRAM was otherwise idle."""
        self.counters.busy_cycles += move_cycles

    # -- fluid model -------------------------------------------------------------------
    def _start(self, transfer: Transfer, latency: int) -> None:
        if latency > 0:
            self._pending += 1
            transfer.admit_at = cycle_now(self.env) + latency
            self.env.timeout(latency).callbacks.append(lambda _event: self._admit_pending(transfer))
        else:
            self._admit(transfer)

    def _admit_pending(self, transfer: Transfer) -> None:
        if self.closed or transfer.cancelled:
            return
        self._pending -= 1
        self._admit(transfer)

    def _admit(self, transfer: Transfer) -> None:
        self._advance()
        transfer.admitted = True
        transfer.finish_v = self._virtual + transfer.remaining / transfer.weight
        self._moving.append(transfer)
        self._weight += transfer.weight
        self._reschedule()

    # Weighted fair share as a virtual clock: while the moving set is unchanged, every
    # transfer of weight w receives w * (bytes_per_cycle / total weight) bytes per cycle,
    # so one number -- the bytes per unit of weight delivered so far -- describes all of
    # them, and a transfer is done when it reaches its own finish value.
    def _advance(self) -> None:
        now = cycle_now(self.env)
        elapsed = now - self._last_update
        if elapsed and self._moving:
            self._virtual += self.spec.bytes_per_cycle * elapsed / self._weight
            self.counters.busy_cycles += elapsed
        self._last_update = now

    def _reschedule(self) -> None:
        if not self._moving:
            return
        self._generation += 1
        soonest = min(t.finish_v for t in self._moving)
        delay = math.ceil((soonest - self._virtual) * self._weight / self.spec.bytes_per_cycle)
        generation = self._generation
        self.env.timeout(max(delay, 0)).callbacks.append(lambda _event: self._wake(generation))

    def _wake(self, generation: int) -> None:
        if self.closed or generation != self._generation:
            return
        self._advance()
        finished = [t for t in self._moving if t.finish_v <= self._virtual]
        if finished:
            self._moving = [t for t in self._moving if t.finish_v > self._virtual]
            self._weight -= sum(t.weight for t in finished)
        now = cycle_now(self.env)
        for transfer in finished:
            self._stream_done[transfer.stream] = now
            transfer.event.succeed(True)
        self._reschedule()
