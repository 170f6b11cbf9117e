"""Result assembly: from the distinct segment results and the instance -> result map to a `SimResult`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cosim.hw.precisions import MAC_PRECISIONS
from cosim.sim.buffer_timeline import window_occupancy
from cosim.sim.context import SimContext
from cosim.sim.result import BLOCK_CLASSES, DRAM_CATEGORIES, DRAM_DIRECTIONS, SimResult, TimelineEvent
from cosim.sim.segment_results import SegmentResults
from cosim.sim.segments import SEGMENT_BLOCK
from cosim.sim.workload import Workload


def assemble(
    ctx: SimContext, results: SegmentResults, ids: np.ndarray, window: tuple[int, int], max_events: int
) -> SimResult:
    """The whole video's figures: segment results counted once per instance (`ids`: steps x segments per step).

    Per-step figures are summed one segment of the step at a time (a column of `ids`), so
    memory stays a few arrays of the step count, however long the video.
    """
    wl, layout, design = ctx.workload, ctx.layout, ctx.design
    durations = results.durations
    counts = np.zeros(len(results), dtype=np.int64)  # instances per result, a column at a time (no int64 copy of ids)
    for q in range(ids.shape[1]):
        counts += np.bincount(ids[:, q], minlength=len(results))
    totals = results.weighted_counters(counts)
    step_cycles = np.zeros(wl.steps, dtype=np.int64)

    def total(name: str) -> int:
        return int(totals[layout.index[name]])

    block_cycles = {b: 0 for b in BLOCK_CLASSES}
    for q, kind in enumerate(wl.segment_kind):
        cycles = durations[ids[:, q]]
        step_cycles += cycles
        block_cycles[SEGMENT_BLOCK[kind]] += int(cycles.sum())
    step_buffer_peak, capacity = _buffer_peaks(ctx, results, ids)
    buffer_bits, bits_by_block = _buffer_bits(ctx, total)
    macs: dict[str, dict[str, int]] = {b: {p: total(f"macs.{b}.{p}") for p in MAC_PRECISIONS} for b in BLOCK_CLASSES}
    dram_bytes = {d: {c: total(f"dram.{d}.{c}") for c in DRAM_CATEGORIES} for d in DRAM_DIRECTIONS}
    dram_payload = {d: {c: total(f"dram_payload.{d}.{c}") for c in DRAM_CATEGORIES} for d in DRAM_DIRECTIONS}
    dram_by_block = {
        b: {d: {c: total(f"dram_block.{b}.{d}.{c}") for c in DRAM_CATEGORIES} for d in DRAM_DIRECTIONS}
        for b in BLOCK_CLASSES
    }
    timeline, truncated = _timeline(wl, results, ids, step_cycles, window, max_events)
    occupancy = window_occupancy(results, ids, step_cycles, window)
    return SimResult(
        design_name=design.name,
        policy=ctx.policy.name,
        clock_mhz=float(design.clock_mhz),
        total_cycles=int(step_cycles.sum()),
        step_cycles=step_cycles,
        step_frame=wl.trace.frame.astype(np.int32),
        block_cycles=block_cycles,
        macs=macs,
        vector_elements={b: total(f"vector.{b}") for b in BLOCK_CLASSES},
        dram_bytes=dram_bytes,
        dram_bytes_unrounded=dram_payload,
        buffer_bits=buffer_bits,
        engine_busy_cycles={e: total(f"busy.{e}") for e in layout.engines},
        matrix_arrays=dict(ctx.matrix_engines),
        step_busy_cycles=_step_busy(ctx, results, ids),
        step_buffer_peak_bytes=step_buffer_peak,
        buffer_capacity_bytes=capacity,
        roofline=_roofline(ctx, dram_bytes, macs),
        drs=ctx.policy.result_section(wl, total),
        dram_bytes_by_block=dram_by_block,
        buffer_bits_by_block=bits_by_block,
        timeline=timeline,
        timeline_steps=window,
        timeline_truncated=truncated,
        timeline_occupancy=occupancy,
        workload=wl.summary(),
    )


def _step_busy(ctx: SimContext, results: SegmentResults, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Per engine, and for DRAM ("dram"): its busy cycles in each step."""
    layout = ctx.layout
    tracks = [f"busy.{e}" for e in layout.engines] + ["dram.busy"]
    busy = results.counter_columns([layout.index[t] for t in tracks])
    per_step = np.zeros((ctx.workload.steps, len(tracks)), dtype=np.int64)
    for q in range(ids.shape[1]):
        per_step += busy[ids[:, q]]
    return {t.split(".", 1)[1] if t.startswith("busy.") else "dram": per_step[:, k] for k, t in enumerate(tracks)}


def _buffer_peaks(
    ctx: SimContext, results: SegmentResults, ids: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Per buffer: its peak bytes in each step (its share of its purpose's peak), and its capacity."""
    purposes = results.purposes
    step_peak_by_purpose = np.zeros((ctx.workload.steps, len(purposes)), dtype=np.int64)
    for q in range(ids.shape[1]):
        np.maximum(step_peak_by_purpose, results.peaks[ids[:, q]], out=step_peak_by_purpose)
    step_buffer_peak: dict[str, np.ndarray] = {}
    capacity: dict[str, int] = {}
    for name, purpose, _, nbytes in ctx.buffers.buffers:
        group = ctx.buffers.groups[purpose]
        share = nbytes / group.capacity_bytes
        step_buffer_peak[name] = np.floor(step_peak_by_purpose[:, purposes.index(purpose)] * share).astype(np.int64)
        capacity[name] = nbytes
    return step_buffer_peak, capacity


def _buffer_bits(
    ctx: SimContext, total: Callable[[str], int]
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, dict[str, int]]]]:
    """Bits read and written per buffer, in all and per block class.

    Each class's bits are split among the buffers of a purpose on their own, and a buffer's
    figure is the sum over classes, so that the per-class figures add up exactly.
    """
    purposes = sorted(ctx.buffers.groups)
    split = {
        b: ctx.buffers.split_bits(
            {p: (total(f"buffer.{b}.{p}.read") * 8, total(f"buffer.{b}.{p}.write") * 8) for p in purposes}
        )
        for b in BLOCK_CLASSES
    }
    bits_by_block = {
        b: {name: {k: counts[k] for k in ("read_bits", "write_bits")} for name, counts in split[b].items()}
        for b in BLOCK_CLASSES
    }
    buffer_bits = {
        name: dict(
            counts, **{k: sum(bits_by_block[b][name][k] for b in BLOCK_CLASSES) for k in ("read_bits", "write_bits")}
        )
        for name, counts in split[BLOCK_CLASSES[0]].items()
    }
    return buffer_bits, bits_by_block


def _roofline(
    ctx: SimContext, dram_bytes: dict[str, dict[str, int]], macs: dict[str, dict[str, int]]
) -> dict[str, float]:
    """The video's DRAM and compute bounds at peak bandwidth and peak MACs per cycle."""
    all_bytes = sum(sum(v.values()) for v in dram_bytes.values())
    all_macs = sum(sum(v.values()) for v in macs.values())
    peak_bw = float(ctx.dram_spec.bytes_per_cycle)
    peak_macs = ctx.design.engines.matrix.pes + ctx.design.engines.tas.lanes
    dram_bound = all_bytes / peak_bw
    compute_bound = all_macs / peak_macs
    return {
        "dram_bytes": all_bytes,
        "macs": all_macs,
        "peak_dram_bytes_per_cycle": peak_bw,
        "peak_macs_per_cycle": peak_macs,
        "dram_bound_cycles": dram_bound,
        "compute_bound_cycles": compute_bound,
        "bound_cycles": max(dram_bound, compute_bound),
    }


def _timeline(
    wl: Workload,
    results: SegmentResults,
    ids: np.ndarray,
    step_cycles: np.ndarray,
    window: tuple[int, int],
    max_events: int,
) -> tuple[list[TimelineEvent], bool]:
    first, last = max(window[0], 0), min(window[1], wl.steps)
    if first >= last:
        return [], False
    start_of_step = int(step_cycles[:first].sum())
    events: list[TimelineEvent] = []
    for step in range(first, last):
        segment_start = start_of_step
        for q, index in enumerate(ids[step].tolist()):
            intervals = results.intervals[index]
            assert intervals is not None, "the segments of the timeline's steps are recorded"
            for start, track, name, duration in sorted((i[2], i[0], i[1], i[3]) for i in intervals):
                if len(events) >= max_events:
                    return events, True
                events.append(
                    TimelineEvent(track, name, segment_start + start, int(duration), step, int(wl.segment_layer[q]))
                )
            segment_start += int(results.durations[index])
        start_of_step = segment_start
    return events, False
