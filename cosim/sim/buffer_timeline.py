"""Buffer occupancy over the cycles of the timeline's steps (the counter tracks of the Perfetto export).

The simulator tracks the level of the buffers that hold streamed operands -- weight tiles
(an op's own, or the DRS weight stream's) and KV-cache tiles -- as a list of (cycle, +/- bytes)
changes per buffer purpose; their per-step peaks come from it. A segment that records its
timeline also keeps that list (`segment_occupancy`), and `window_occupancy` strings the
segments of the timeline's steps together into one level per purpose over the cycles.
Activation, score and output buffers are sized per op (their peak is the largest working
set of one op), so they have a peak per step but no level over time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from cosim.sim.segment_results import SegmentResults

Change = tuple[int, int]  # (cycle, +/- bytes)
Occupancy = dict[str, tuple[int, tuple[Change, ...]]]  # purpose -> (level at the segment's start, changes in order)
MAX_OCCUPANCY_POINTS = 4096  # per purpose; beyond it, the maximum over equal bins (peaks stay visible)


def segment_occupancy(levels: Mapping[str, int], changes: Mapping[str, Sequence[Change]], start: int) -> Occupancy:
    """One segment's occupancy: levels at its start and its changes, timed from `start`.

    Changes at one cycle are ordered releases first, as `peak_occupancy` counts them.
    """
    purposes = sorted(set(changes) | {p for p, level in levels.items() if level})
    return {p: (levels.get(p, 0), tuple(sorted((t - start, d) for t, d in changes.get(p, ())))) for p in purposes}


def window_occupancy(
    results: SegmentResults, ids: np.ndarray, step_cycles: np.ndarray, window: tuple[int, int]
) -> dict[str, list[Change]]:
    """Per purpose, (cycle, bytes) points of its level over the steps [first, last) of `window`.

    A point gives the level from its cycle on (the last change at that cycle); cycles count
    from the video's start, like the timeline's events. A purpose a segment does not touch
    is empty during it.
    """
    first, last = max(window[0], 0), min(window[1], len(step_cycles))
    if first >= last:
        return {}
    purposes = sorted(
        {p for step in range(first, last) for i in ids[step].tolist() for p in results.occupancy[i] or {}}
    )
    points: dict[str, list[Change]] = {p: [] for p in purposes}
    window_start = start = int(step_cycles[:first].sum())
    for step in range(first, last):
        for index in ids[step].tolist():
            occupancy = results.occupancy[index]
            assert occupancy is not None, "the segments of the timeline's steps are recorded"
            for purpose in purposes:
                level, changes = occupancy.get(purpose, (0, ()))
                points[purpose].append((start, level))
                for t, delta in changes:
                    level += delta
                    points[purpose].append((start + t, level))
            start += int(results.durations[index])
    return {p: _bounded(_last_per_cycle(series), (window_start, start)) for p, series in points.items()}


def _last_per_cycle(series: list[Change]) -> list[Change]:
    """Keep the last level of each cycle, and only where the level changes."""
    out: list[Change] = []
    for t, level in series:
        if out and out[-1][0] == t:
            out.pop()
        if not out or out[-1][1] != level:
            out.append((t, level))
    return out


def _bounded(series: list[Change], span: tuple[int, int]) -> list[Change]:
    """`series` itself if short enough, else the maximum level in each of `MAX_OCCUPANCY_POINTS` equal bins."""
    if len(series) <= MAX_OCCUPANCY_POINTS or span[1] <= span[0]:
        return series
    times = np.array([t for t, _ in series], dtype=np.int64)
    levels = np.array([level for _, level in series], dtype=np.int64)
    edges = np.linspace(span[0], span[1], MAX_OCCUPANCY_POINTS + 1).astype(np.int64)
    first_inside = np.searchsorted(times, edges, side="left")  # first point at or after each edge
    binned: list[Change] = []
    for b in range(MAX_OCCUPANCY_POINTS):
        lo, hi = int(first_inside[b]), int(first_inside[b + 1])
        carried = int(levels[lo - 1]) if lo > 0 else 0  # the level holding as the bin starts
        peak = max(carried, int(levels[lo:hi].max())) if hi > lo else carried
        binned.append((int(edges[b]), peak))
    return _last_per_cycle(binned)
