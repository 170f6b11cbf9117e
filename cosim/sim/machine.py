"""The machine of one SimPy environment: engines, DRAM, the policy's admission token, the weight stream."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import simpy

from cosim.sim.clock import cycle_now
from cosim.sim.dram import Dram, DramCounters, Transfer

if TYPE_CHECKING:
    from cosim.sim.context import SimContext
    from cosim.sim.segment_run import SegmentRun
    from cosim.sim.weight_stream import WeightStream


class Machine:
    """Engines, DRAM, counters and buffer occupancy of one SimPy environment (and DRS's weight stream)."""

    def __init__(self, env: simpy.Environment, ctx: SimContext) -> None:
        self.env = env
        self.ctx = ctx
        self.dram = Dram(env, ctx.dram_spec, DramCounters())
        self.resources = {name: simpy.Resource(env, 1) for name in (*ctx.matrix_engines, "vector", "tas")}
        self.token = ctx.policy.admission_token(env)
        self.counts: dict[str, int] = {}
        self.occupancy: dict[str, list[tuple[int, int]]] = {}
        self.level: dict[str, int] = {}
        self.loader: WeightStream[Any] | None = None
        self.run: SegmentRun | None = None  # the segment running now
        self.run_id = 0

    def count(self, name: str, value: int) -> None:
        self.counts[name] = self.counts.get(name, 0) + value

    def occupancy_change(self, purpose: str, delta: int, when: int | None = None) -> None:
        self.occupancy.setdefault(purpose, []).append((cycle_now(self.env) if when is None else when, delta))

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
