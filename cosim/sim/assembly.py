"""Result assembly: from the distinct segment results and the instance -> result map to a `SimResult`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cosim.hw.precisions import MAC_PRECISIONS
from cosim.sim.context import SimContext
from cosim.sim.result import BLOCK_CLASSES, DRAM_CATEGORIES, DRAM_DIRECTIONS, SimResult, TimelineEvent
from cosim.sim.simulation import SegmentResult
from cosim.sim.workload import SEGMENT_BLOCK, Workload


def assemble(
    ctx: SimContext, results: list[SegmentResult], ids: np.ndarray, window: tuple[int, int], max_events: int
) -> SimResult:
    """The whole video's figures: segment results counted once per instance (`ids`), in step order."""
    wl, layout, design = ctx.workload, ctx.layout, ctx.design
    steps, per_step = wl.steps, len(wl.segment_kind)
    durations = np.array([r.duration for r in results], dtype=np.int64)
    matrix = np.stack([r.counters for r in results]) if results else np.zeros((0, len(layout.names)), np.int64)
    instance_cycles = durations[ids].reshape(steps, per_step)
    step_cycles = instance_cycles.sum(axis=1)
    counts = np.bincount(ids, minlength=len(results)).astype(np.int64)
    totals = counts @ matrix if len(results) else np.zeros(len(layout.names), np.int64)

    def total(name: str) -> int:
        return int(totals[layout.index[name]])

    block_cycles = {b: 0 for b in BLOCK_CLASSES}
    for q, kind in enumerate(wl.segment_kind):
        block_cycles[SEGMENT_BLOCK[kind]] += int(instance_cycles[:, q].sum())
    tracks = [f"busy.{e}" for e in layout.engines] + ["dram.busy"]
    columns = [layout.index[t] for t in tracks]
    per_instance = matrix[:, columns][ids].reshape(steps, per_step, len(columns)).sum(axis=1)
    step_busy = {
        t.split(".", 1)[1] if t.startswith("busy.") else "dram": per_instance[:, k] for k, t in enumerate(tracks)
    }
    step_buffer_peak, capacity = _buffer_peaks(ctx, results, ids)
    buffer_bits, bits_by_block = _buffer_bits(ctx, total)
    macs: dict[str, dict[str, int]] = {b: {p: total(f"macs.{b}.{p}") for p in MAC_PRECISIONS} for b in BLOCK_CLASSES}
    dram_bytes = {d: {c: total(f"dram.{d}.{c}") for c in DRAM_CATEGORIES} for d in DRAM_DIRECTIONS}
    dram_payload = {d: {c: total(f"dram_payload.{d}.{c}") for c in DRAM_CATEGORIES} for d in DRAM_DIRECTIONS}
    dram_by_block = {
        b: {d: {c: total(f"dram_block.{b}.{d}.{c}") for c in DRAM_CATEGORIES} for d in DRAM_DIRECTIONS}
        for b in BLOCK_CLASSES
    }
    timeline, truncated = _timeline(wl, results, ids, instance_cycles, window, max_events)
    return SimResult(
        design_name=design.name,
        policy=ctx.policy.name,
        clock_mhz=float(design.clock_mhz),
        total_cycles=int(step_cycles.sum()),
        step_cycles=step_cycles.astype(np.int64),
        step_frame=wl.trace.frame.astype(np.int32),
        block_cycles=block_cycles,
        macs=macs,
        vector_elements={b: total(f"vector.{b}") for b in BLOCK_CLASSES},
        dram_bytes=dram_bytes,
        dram_bytes_unrounded=dram_payload,
        buffer_bits=buffer_bits,
        engine_busy_cycles={e: total(f"busy.{e}") for e in layout.engines},
        matrix_arrays=dict(ctx.matrix_engines),
        step_busy_cycles=step_busy,
        step_buffer_peak_bytes=step_buffer_peak,
        buffer_capacity_bytes=capacity,
        roofline=_roofline(ctx, dram_bytes, macs),
        drs=ctx.policy.result_section(wl, total),
        dram_bytes_by_block=dram_by_block,
        buffer_bits_by_block=bits_by_block,
        timeline=timeline,
        timeline_steps=window,
        timeline_truncated=truncated,
        workload=wl.summary(),
    )


def _buffer_peaks(
    ctx: SimContext, results: list[SegmentResult], ids: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Per buffer: its peak bytes in each step (its share of its purpose's peak), and its capacity."""
    wl = ctx.workload
    steps, per_step = wl.steps, len(wl.segment_kind)
    purposes = sorted(ctx.buffers.groups)
    peaks = np.array([[r.peaks.get(p, 0) for p in purposes] for r in results], dtype=np.int64).reshape(
        -1, len(purposes)
    )
    step_peak_by_purpose = (
        peaks[ids].reshape(steps, per_step, len(purposes)).max(axis=1)
        if steps
        else np.zeros((0, len(purposes)), np.int64)
    )
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
    results: list[SegmentResult],
    ids: np.ndarray,
    instance_cycles: np.ndarray,
    window: tuple[int, int],
    max_events: int,
) -> tuple[list[TimelineEvent], bool]:
    first, last = max(window[0], 0), min(window[1], wl.steps)
    if first >= last:
        return [], False
    per_step = instance_cycles.shape[1]
    starts = np.concatenate([[0], np.cumsum(instance_cycles.ravel())[:-1]])
    events: list[TimelineEvent] = []
    for flat in range(first * per_step, last * per_step):
        step, q = divmod(flat, per_step)
        for start, track, name, duration in sorted((i[2], i[0], i[1], i[3]) for i in results[int(ids[flat])].intervals):
            if len(events) >= max_events:
                return events, True
            events.append(
                TimelineEvent(track, name, int(starts[flat] + start), int(duration), step, int(wl.segment_layer[q]))
            )
    return events, False
