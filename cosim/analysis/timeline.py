"""Chrome trace-event JSON of simulated timelines, to open in Perfetto (ui.perfetto.dev).

One process per run (policy), one thread per track (engine, matrix partition or DRAM
category) plus a ``steps`` track that marks each decode step. Every interval is a
complete event (``"ph": "X"``) with ``ts`` and ``dur`` in microseconds, converted from
cycles with the run's clock. Process and thread names come as metadata events
(``"ph": "M"``) so the tracks are labelled in the viewer, in a fixed order. The level of
each buffer the simulator tracks over time (weights, KV cache) is a counter track
(``"ph": "C"``, named ``<purpose> buffer``, in bytes), from `SimResult.timeline_occupancy`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cosim.common.atomic import atomic_write_text
from cosim.sim.result import SimResult

STEPS_TRACK = "steps"


def _track_order(track: str) -> tuple[int, str]:
    """Steps first, then compute engines, then DRAM tracks; alphabetical inside each."""
    group = 0 if track == STEPS_TRACK else 2 if track.startswith("dram") else 1
    return group, track


def trace_events(runs: Sequence[tuple[str, SimResult]]) -> dict[str, Any]:
    """The trace-event document of labelled results (label = process name)."""
    events: list[dict[str, Any]] = []
    for pid, (label, result) in enumerate(runs, start=1):
        us_per_cycle = 1.0 / result.clock_mhz
        tracks = sorted({e.track for e in result.timeline} | {STEPS_TRACK}, key=_track_order)
        tids = {track: tid for tid, track in enumerate(tracks, start=1)}
        events.append(_meta("process_name", pid, 0, {"name": f"{label} ({result.policy})"}))
        events.append(_meta("process_sort_index", pid, 0, {"sort_index": pid}))
        for track, tid in tids.items():
            events.append(_meta("thread_name", pid, tid, {"name": track}))
            events.append(_meta("thread_sort_index", pid, tid, {"sort_index": tid}))
        first, last = result.timeline_steps
        starts = np.concatenate(([0], np.cumsum(result.step_cycles)))
        for step in range(first, min(last, result.num_steps)):
            events.append(
                {
                    "name": f"step {step} (frame {int(result.step_frame[step])})",
                    "cat": STEPS_TRACK,
                    "ph": "X",
                    "pid": pid,
                    "tid": tids[STEPS_TRACK],
                    "ts": float(starts[step]) * us_per_cycle,
                    "dur": float(result.step_cycles[step]) * us_per_cycle,
                    "args": {"step": step, "cycles": int(result.step_cycles[step])},
                }
            )
        for event in result.timeline:
            events.append(
                {
                    "name": event.name,
                    "cat": event.track,
                    "ph": "X",
                    "pid": pid,
                    "tid": tids[event.track],
                    "ts": event.start_cycle * us_per_cycle,
                    "dur": event.duration_cycles * us_per_cycle,
                    "args": {
                        "step": event.step,
                        "layer": event.layer,
                        "start_cycle": event.start_cycle,
                        "cycles": event.duration_cycles,
                    },
                }
            )
        events.extend(_occupancy_counters(pid, result, us_per_cycle))
    return {
        "traceEvents": events,
        "displayTimeUnit": "ns",
        "otherData": {
            "runs": {
                label: {
                    "design": result.design_name,
                    "policy": result.policy,
                    "clock_mhz": result.clock_mhz,
                    "timeline_steps": list(result.timeline_steps),
                    "timeline_truncated": result.timeline_truncated,
                }
                for label, result in runs
            }
        },
    }


def write_timeline(path: str | Path, runs: Sequence[tuple[str, SimResult]]) -> Path:
    """Write the trace-event JSON of `runs` to `path` atomically."""
    path = Path(path)
    atomic_write_text(path, json.dumps(trace_events(runs), separators=(",", ":")))
    return path


def _meta(name: str, pid: int, tid: int, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "ph": "M", "pid": pid, "tid": tid, "args": args}


def _occupancy_counters(pid: int, result: SimResult, us_per_cycle: float) -> list[dict[str, Any]]:
    """One counter track per buffer purpose: its bytes from each point's cycle on."""
    return [
        {
            "name": f"{purpose} buffer",
            "cat": "buffer",
            "ph": "C",
            "pid": pid,
            "ts": cycle * us_per_cycle,
            "args": {"bytes": level},
        }
        for purpose, points in sorted(result.timeline_occupancy.items())
        for cycle, level in points
    ]
