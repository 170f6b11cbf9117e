"""Names of the per-segment counters, in a fixed order: the rows of each segment result's counter vector."""

from __future__ import annotations

from cosim.hw.precisions import MAC_PRECISIONS
from cosim.sim.result import BLOCK_CLASSES, DRAM_CATEGORIES, DRAM_DIRECTIONS


class CounterLayout:
    """Names of the per-segment counters, in a fixed order (rows of a numpy matrix)."""

    def __init__(self, engines: list[str], purposes: list[str]) -> None:
        names = []
        for direction in DRAM_DIRECTIONS:
            for category in DRAM_CATEGORIES:
                names += [f"dram.{direction}.{category}", f"dram_payload.{direction}.{category}"]
        names.append("dram.busy")
        names += [f"dram_block.{b}.{d}.{c}" for b in BLOCK_CLASSES for d in DRAM_DIRECTIONS for c in DRAM_CATEGORIES]
        names += [f"macs.{b}.{p}" for b in BLOCK_CLASSES for p in MAC_PRECISIONS]
        names += [f"vector.{b}" for b in BLOCK_CLASSES]
        names += [f"buffer.{b}.{p}.{rw}" for b in BLOCK_CLASSES for p in purposes for rw in ("read", "write")]
        names += [f"busy.{e}" for e in engines]
        names += ["drs.prefetch_bytes", "drs.wasted_bytes", "drs.predictions_used", "drs.mispredicted"]
        self.names = names
        self.index = {n: i for i, n in enumerate(names)}
        self.engines = engines
