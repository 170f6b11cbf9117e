"""The distinct segment results of a run, as numpy tables: one row per result, whatever the video's length.

A long video has one distinct attention core per step (its KV length), so the results are
held compactly: duration, counter vector and per-purpose buffer peaks in growing arrays;
the op intervals and buffer occupancy only where the timeline needs them (`None` elsewhere); under DRS the
stream's end state by id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim.sim.buffer_timeline import Occupancy
from cosim.sim.weight_stream import LoaderState

Interval = tuple[str, str, int, int]  # (track, name, start within the segment, duration)


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
    """Results by index: `durations`, `counters` (row per result), `peaks` (column per purpose), `intervals`."""

    def __init__(self, counters: int, purposes: list[str]) -> None:
        self.purposes = purposes
        self._durations = np.zeros(64, dtype=np.int64)
        self._counters = np.zeros((64, counters), dtype=np.int64)
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
            self._counters = np.concatenate([self._counters, np.zeros_like(self._counters)])
            self._peaks = np.concatenate([self._peaks, np.zeros_like(self._peaks)])
        self._durations[index] = result.duration
        self._counters[index] = result.counters
        self._peaks[index] = [result.peaks.get(p, 0) for p in self.purposes]
        self.intervals.append(result.intervals)
        self.end_state.append(result.end_state)
        self.occupancy.append(result.occupancy)
        return index

    @property
    def durations(self) -> np.ndarray:
        return self._durations[: len(self)]

    @property
    def counters(self) -> np.ndarray:
        return self._counters[: len(self)]

    @property
    def peaks(self) -> np.ndarray:
        return self._peaks[: len(self)]
