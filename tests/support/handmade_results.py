"""SimResults written by hand, with round numbers, so that report and energy figures can
be checked with a pocket calculator.

The design is the shipped kv260-systolic: 250 MHz, int8, one DDR4 channel (15 pJ/bit, 500 mW
controller), 1 W static; 1024 PEs; 19.2 GB/s x 0.8 efficiency = 61.44 bytes/cycle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cosim.hw import load_design
from cosim.sim.result import DRAM_CATEGORIES, SimResult, TimelineEvent

DESIGN_PATH = Path(__file__).resolve().parents[2] / "hwconfigs" / "designs" / "kv260-systolic.yaml"


def kv260():
    return load_design(DESIGN_PATH)


def handmade_result(
    policy: str = "time_multiplexed",
    step_cycles=(1000, 3000),
    step_frame=(1, 2),
    block_cycles=None,
    mlp_macs: int = 2_000_000,
    weight_bytes: int = 1_000_000,
    replay_ratio: float = 0.0,
    drs: dict | None = None,
) -> SimResult:
    """Two decode steps (1000 and 3000 cycles = 4 us and 12 us at 250 MHz) by default."""
    step_cycles = np.asarray(step_cycles, dtype=np.int64)
    total = int(step_cycles.sum())
    if block_cycles is None:  # a quarter attention, half MLP, a quarter other
        block_cycles = {"attention": total // 4, "mlp": total // 2, "other": total - total // 4 - total // 2}
    zeros = dict.fromkeys(DRAM_CATEGORIES, 0)
    read = dict(zeros, weights=weight_bytes, kv_read=100_000)
    write = dict(zeros, kv_write=10_000)
    matrix_busy = step_cycles // 2
    events = [
        TimelineEvent("matrix", "layers.0.attn.q_proj", 0, 400, 0, 0),
        TimelineEvent("dram.weights", "layers.0.mlp.up_proj load", 100, 600, 0, 0),
        TimelineEvent("vector", "layers.0.softmax", 500, 50, 0, 0),
        TimelineEvent("matrix", "layers.0.mlp.up_proj", 1000, 2000, 1, 0),
    ]
    return SimResult(
        design_name="kv260-systolic",
        policy=policy,
        clock_mhz=250.0,
        total_cycles=total,
        step_cycles=step_cycles,
        step_frame=np.asarray(step_frame, dtype=np.int32),
        block_cycles=block_cycles,
        macs={"attention": {"int8": 1_000_000}, "mlp": {"int8": mlp_macs}, "other": {}},
        vector_elements={"attention": 10_000, "mlp": 0, "other": 0},
        dram_bytes={"read": read, "write": write},
        dram_bytes_unrounded={"read": read, "write": write},
        buffer_bits={
            "weights": {"memory": "uram", "read_bits": 8_000_000, "write_bits": 8_000_000},
            "act": {"memory": "bram", "read_bits": 1_000_000, "write_bits": 1_000_000},
        },
        engine_busy_cycles={"matrix": int(matrix_busy.sum()), "vector": total // 10, "tas": 0},
        matrix_arrays={"matrix": 8},
        step_busy_cycles={
            "matrix": matrix_busy,
            "vector": step_cycles // 10,
            "tas": np.zeros_like(step_cycles),
            "dram": step_cycles * 3 // 4,
        },
        step_buffer_peak_bytes={"weights": np.array([1000, 2000])},
        buffer_capacity_bytes={"weights": 294912},
        # half the weights are attention's, half the MLP's; KV traffic is attention's
        dram_bytes_by_block={
            "attention": {
                "read": dict(zeros, weights=weight_bytes // 2, kv_read=100_000),
                "write": dict(zeros, kv_write=10_000),
            },
            "mlp": {"read": dict(zeros, weights=weight_bytes - weight_bytes // 2), "write": dict(zeros)},
            "other": {"read": dict(zeros), "write": dict(zeros)},
        },
        buffer_bits_by_block={
            "attention": {
                "weights": {"read_bits": 4_000_000, "write_bits": 4_000_000},
                "act": {"read_bits": 500_000, "write_bits": 500_000},
            },
            "mlp": {
                "weights": {"read_bits": 4_000_000, "write_bits": 4_000_000},
                "act": {"read_bits": 500_000, "write_bits": 500_000},
            },
            "other": {"weights": {"read_bits": 0, "write_bits": 0}, "act": {"read_bits": 0, "write_bits": 0}},
        },
        roofline=_roofline(total_macs=1_000_000 + mlp_macs + 0, dram_bytes=weight_bytes + 110_000),
        drs=drs,
        timeline=events,
        timeline_steps=(0, 2),
        workload={
            "steps": len(step_cycles),
            "layers": 1,
            "batch_rows": 1,
            "replay_ratio": replay_ratio,
            "weights_skipped_ratio": replay_ratio,
            "graph_model": "handmade",
            "trace_source": "synthetic",
        },
    )


def _roofline(total_macs: int, dram_bytes: int) -> dict[str, float]:
    peak_bytes = 19.2e9 * 0.8 / 250e6  # 61.44 bytes per cycle
    peak_macs = 1024.0
    dram_bound = dram_bytes / peak_bytes
    compute_bound = total_macs / peak_macs
    return {
        "dram_bytes": dram_bytes,
        "macs": total_macs,
        "peak_dram_bytes_per_cycle": peak_bytes,
        "peak_macs_per_cycle": peak_macs,
        "dram_bound_cycles": dram_bound,
        "compute_bound_cycles": compute_bound,
        "bound_cycles": max(dram_bound, compute_bound),
    }
