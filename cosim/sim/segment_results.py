"""The distinct segment results of a run, as numpy tables: one row per result, whatever the video's length.

A long video has one distinct attention core per step (its KV length), so the results are
held compactly: duration and per-purpose buffer peaks in growing arrays, the counter vectors
in fixed-size blocks (growing a single table by copying would hold it twice at the copy: the
largest part of a long video's peak memory); the op intervals and buffer occupancy only where
the timeline needs them (`None` elsewhere); under DRS the stream's end state by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cosim.sim.buffer_timeline import Occupancy
from cosim.sim.weight_stream import LoaderState

Interval = tuple[str, str, int, int]  # (track, name, start within the segment, duration)
BLOCK_ROWS = 4096  # counter vectors per block (~4 MB with the ~120 counters)


@dataclass
class SegmentResult:
    """What one segment simulation produced (before it is stored in the table)."""

    duration: int
    counters: np.ndarray
    peaks: dict[str, int]
    intervals: list[Interval] | None
    end_state: LoaderState | None = None
    events: int = 0
    occupancy: Occupancy | None = None  # buffer levels over the segment, where the timeline may use them


class SegmentResults:
    """Results by index: `durations`, `peaks` (column per purpose), `intervals`; counters summed on request."""

    def __init__(self, counters: int, purposes: list[str]) -> None:
        self.purposes = purposes
        self._width = counters
        self._durations = np.zeros(64, dtype=np.int64)
        self._blocks: list[np.ndarray] = []  # counter vectors, BLOCK_ROWS per block
        self._peaks = np.zeros((64, len(purposes)), dtype=np.int64)
        self.intervals: list[list[Interval] | None] = []
        self.end_state: list[LoaderState | None] = []
        self.occupancy: list[Occupancy | None] = []

    def __len__(self) -> int:
        return len(self.intervals)

    def add(self, result: SegmentResult) -> int:
        """Store `result`; returns its index."""
        index = len(self)
        if index == len(self._durations):
            grow = len(self._durations)
            self._durations = np.concatenate([self._durations, np.zeros(grow, np.int64)])
            self._peaks = np.concatenate([self._peaks, np.zeros_like(self._peaks)])
        block, row = divmod(index, BLOCK_ROWS)
        if block == len(self._blocks):
            self._blocks.append(np.zeros((BLOCK_ROWS, self._width), dtype=np.int64))
        self._durations[index] = result.duration
        self._blocks[block][row] = result.counters
        self._peaks[index] = [result.peaks.get(p, 0) for p in self.purposes]
        self.intervals.append(result.intervals)
        self.end_state.append(result.end_state)
        self.occupancy.append(result.occupancy)
        return index

    @property
    def durations(self) -> np.ndarray:
        return self._durations[: len(self)]

    @property
    def peaks(self) -> np.ndarray:
        return self._peaks[: len(self)]

    def weighted_counters(self, weights: np.ndarray) -> np.ndarray:
        """Sum over results of `weights[i]` x result i's counter vector (int64; `weights` has one entry per result)."""
        total = np.zeros(self._width, dtype=np.int64)
        for block, start in enumerate(range(0, len(self), BLOCK_ROWS)):
            stop = min(start + BLOCK_ROWS, len(self))
            total += weights[start:stop] @ self._blocks[block][: stop - start]
        return total

    def counter_columns(self, columns: Sequence[int]) -> np.ndarray:
        """The given counters of every result (results x columns)."""
        if not len(self):
            return np.zeros((0, len(columns)), dtype=np.int64)
        parts = [block[:, list(columns)] for block in self._blocks]
        return np.concatenate(parts)[: len(self)]
