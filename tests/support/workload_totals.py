"""Whole-video totals of a `Workload`, summed over its distinct segment instances (for checking the simulator)."""

from __future__ import annotations

import numpy as np

from cosim.sim.workload import SegmentParam, Workload


def distinct_instances(workload: Workload) -> list[tuple[int, SegmentParam, int]]:
    """(template id, parameter, count) of the distinct segment instances of the video."""
    templates = np.broadcast_to(workload.segment_template, workload.param_size.shape).ravel()
    keys = np.stack([templates, workload.param_size.ravel(), workload.param_tas.ravel()], axis=1)
    unique, counts = np.unique(keys, axis=0, return_counts=True)
    return [
        (int(t), SegmentParam(int(size), int(tas)), int(c)) for (t, size, tas), c in zip(unique, counts, strict=True)
    ]


def expected_dram_bytes(workload: Workload) -> dict[tuple[str, str], int]:
    """Payload bytes of every DRAM category the whole video must move (before bursts)."""
    totals: dict[tuple[str, str], int] = {}
    for template_id, param, count in distinct_instances(workload):
        for op in workload.ops(template_id, param):
            for direction, parts in (("read", op.loads), ("write", op.stores)):
                for category, nbytes in parts:
                    if not nbytes:
                        continue
                    totals[(direction, category)] = totals.get((direction, category), 0) + count * nbytes
            if op.streamed:
                category = "weights" if op.streamed == "weights" else "kv_read"
                key = ("read", category)
                totals[key] = totals.get(key, 0) + count * op.streamed_bytes * op.instances
    return totals


def total_macs(workload: Workload) -> int:
    return sum(count * sum(op.macs for op in workload.ops(t, p)) for t, p, count in distinct_instances(workload))


def uniform_layers(workload: Workload) -> bool:
    """Whether every decoder layer uses the same segment templates."""
    per_layer = {
        tuple(int(workload.segment_template[q]) for q, layer in enumerate(workload.segment_layer) if layer == wanted)
        for wanted in range(workload.num_layers)
    }
    return len(per_layer) <= 1
