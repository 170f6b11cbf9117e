"""Benchmark: where dynamic resource scheduling pays -- a map of decode regimes.

    .venv/bin/python benchmarks/drs_regimes.py [--json docs/drs_regimes.json] [--quick]

Sweeps videos decoded in lockstep x tokens per step x off-chip memory kind x matrix array
count over the shipped kv260-fastcar and u280-fastcar designs, on the VILA-U 7B decode step
(32 layers, CFG) with a synthetic trace (50 % replay per layer, previous-frame correlation
0.8, each video and token deciding on its own). To keep the run short the trace decodes one
frame of 8 x 8 positions after a prompt of four such frames: KV lengths 258-321 as early in a
7B video, 64 steps at one token per step, and no previous-frame predictions (the stream loads
every MLP it reaches before TAS decides). Per point it simulates DRS,
time-multiplexing and the static policy at three splits of the pool (a quarter, half and
three quarters of the arrays on attention; one split when there are two arrays) and prints
DRS's gain over each, and what no schedule could beat: the better of the two other policies
over three lower bounds on the cycles (`schedule_bounds`). The last line is the issue's verdict:

    best DRS gain over the better of time_multiplexed and best static: X.XXx (at ...); worst: Y.YYx

Memory kinds are reference parts put in place of the design's memory (the array count and
everything else stay): DDR4 = one 64-bit DDR4-2400 channel (19.2 GB/s, the edge boards'),
LPDDR4 = a 64-bit LPDDR4-4266 interface of two 32-bit channels (34.1 GB/s) [est], HBM2 = 28
pseudo-channels of the U280's HBM2 (402.5 GB/s, what u280-fastcar uses). Efficiency and
latency are the defaults of each kind (cosim/hw/device_schema.py). The JSON holds every point
for notebooks/07_drs_regimes.ipynb.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.hw.library import design_from_dict, hwconfigs_dir, load_design, override_design
from cosim.hw.schema import Design
from cosim.sim.result import SimResult
from cosim.sim.simulator import simulate

# zcu104-fastcar is left out for run time: it has kv260-fastcar's engines (it differs in KV buffer and policy)
DESIGNS = ("kv260-fastcar", "u280-fastcar")
MEMORIES: dict[str, dict[str, Any]] = {  # reference parts (see the docstring)
    "ddr4": {"kind": "ddr4", "channels": 1, "data_width_bits": 64, "peak_gb_per_s_per_channel": 19.2},
    "lpddr4": {"kind": "lpddr4", "channels": 2, "data_width_bits": 32, "peak_gb_per_s_per_channel": 17.064},
    "hbm2": {"kind": "hbm2", "channels": 28, "data_width_bits": 64, "peak_gb_per_s_per_channel": 14.375},
}
ARRAY_FACTORS = (1, 4)  # the design's array count, and four times as many
VIDEOS = (1, 16)
TOKENS_PER_STEP = (1, 16)
GRAPH_MODEL = "vila-u-7b-256"
# A prompt of 4 frames of 8 x 8 positions and one generated frame: KV lengths 258-321 as early in a
# 7B video, 64 decode steps at one token per step (a 16 x 16 frame would take 4 times as long to simulate)
PROMPT_FRAMES, FRAME_SIDE = 4, 8


BOUNDS = {  # `schedule_bounds`, in words
    "overlap": "any schedule of the same bytes and ops (every engine and the DRAM busy all the time)",
    "two_groups": "two interleaved groups of sequences (each reads every weight)",
    "prefetch": "DRS with prefetch of all on-chip buffers' bytes across every barrier",
}


def variant_devices(folder: Path) -> None:
    """Each shipped device with the reference memories added (named ``ref-<kind>``), written to `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted((hwconfigs_dir() / "devices").glob("*.yaml")):
        device = yaml.safe_load(path.read_text())
        for kind, part in MEMORIES.items():
            peak = round(part["channels"] * part["peak_gb_per_s_per_channel"], 3)
            device["memories"][f"ref-{kind}"] = {**part, "peak_gb_per_s": peak, "capacity_gib": 32}
        (folder / path.name).write_text(yaml.safe_dump(device))


def variant(name: str, memory: str, arrays_factor: int, designs_dir: Path) -> Design:
    """Design `name` with memory `memory` (a `MEMORIES` key) and `arrays_factor` times its arrays."""
    data = dict(load_design(name).source.data)
    data["dram"] = {"memory": f"ref-{memory}", "channels": MEMORIES[memory]["channels"], "burst_bytes": 4096}
    arrays = int(data["engines"]["matrix"]["arrays"]) * arrays_factor
    data["engines"] = {**data["engines"], "matrix": {**data["engines"]["matrix"], "arrays": arrays}}
    data["scheduling"] = {"policy": "drs", "static_split": {"attention_arrays": arrays // 2, "mlp_arrays": arrays // 2}}
    return design_from_dict(data, f"{name} with {memory} and {arrays} arrays", designs_dir)


def static_splits(arrays: int) -> list[int]:
    """Attention arrays of the static splits tried: a quarter, a half and three quarters of the pool."""
    return sorted({min(max(round(arrays * f), 1), arrays - 1) for f in (0.25, 0.5, 0.75)})


def with_split(design: Design, attention: int) -> Design:
    """`design` under the static policy with `attention` of its arrays on attention, the rest on the MLP."""
    arrays = design.engines.matrix.arrays
    return override_design(
        design,
        {
            "scheduling.policy": "static",
            "scheduling.static_split.attention_arrays": attention,
            "scheduling.static_split.mlp_arrays": arrays - attention,
        },
    )


def schedule_bounds(drs: SimResult, design: Design) -> dict[str, int]:
    """Lower bounds on the cycles of any schedule of the point's work (docs/drs.md, "What any schedule could gain").

    ``overlap``: every engine and the DRAM busy all the time -- the largest of their busy
    cycles under DRS (each matrix op on the whole pool, the DRAM moving the same bytes).
    ``two_groups``: the same with the step's sequences split into two groups whose layers
    interleave (one group's attention beside the other's MLP), the only independent work in
    a lockstep step; the weight buffer holds two tiles, so each group reads every weight.
    ``prefetch``: DRS plus prefetching (KV cache, weights into lent buffers) across each
    barrier at most what all on-chip buffers hold, each such load saving its transfer and
    access latency.
    """
    busiest_engine = max(drs.engine_busy_cycles.values())
    dram = int(drs.step_busy_cycles["dram"].sum())
    per_cycle = design.dram_effective_bytes_per_cycle
    weights = drs.dram_bytes["read"]["weights"]
    on_chip = sum(b.bytes * b.copies for b in design.buffers)
    barriers = drs.segments_total  # segments of all steps
    ahead = barriers * (math.ceil(on_chip / per_cycle) + int(design.dram_access_latency_cycles))
    overlap = max(busiest_engine, dram)
    return {
        "overlap": overlap,
        "two_groups": max(busiest_engine, dram + math.ceil(weights / per_cycle)),
        "prefetch": max(overlap, drs.total_cycles - ahead),
    }


def run_point(graph: Any, design: Design, videos: int, tokens: int) -> dict[str, Any]:
    trace = synthetic_trace(
        num_layers=int(graph.graph["num_layers"]),
        layer_rates=0.5,
        frames=PROMPT_FRAMES + 1,
        conditioning_frames=PROMPT_FRAMES,
        frame_rows=FRAME_SIDE,
        frame_cols=FRAME_SIDE,
        correlation=0.8,
        rows_agree=True,  # the CFG rows of a token agree; every token and video draws its own
        seed=0,
        model=GRAPH_MODEL,
        videos=videos,
        tokens_per_step=tokens,
    )
    drs = simulate(graph, trace, design, policy="drs")
    cycles = {
        "drs": drs.total_cycles,
        "time_multiplexed": simulate(graph, trace, design, policy="time_multiplexed").total_cycles,
    }
    static = {}
    for attention in static_splits(int(design.engines.matrix.arrays)):
        static[attention] = simulate(graph, trace, with_split(design, attention), policy="static")
    best_split = min(static, key=lambda a: static[a].total_cycles)
    cycles["best_static"] = static[best_split].total_cycles
    better = min(cycles["time_multiplexed"], cycles["best_static"])
    bounds = schedule_bounds(drs, design)
    return {
        "cycles": cycles,
        "best_static_attention_arrays": best_split,
        "gain_vs_time_multiplexed": cycles["time_multiplexed"] / cycles["drs"],
        "gain_vs_best_static": cycles["best_static"] / cycles["drs"],
        "gain": better / cycles["drs"],
        "bound_cycles": bounds,
        "gain_bound": {name: better / value for name, value in bounds.items()},
        "tokens_per_s_drs": videos * trace.num_steps * tokens / (cycles["drs"] / (design.clock_mhz * 1e6)),
    }


def place(point: dict[str, Any]) -> str:
    """Where a point sits on the map, in words."""
    return (
        f"{point['design']}, {point['memory']}, {point['arrays']} arrays, {point['videos']} videos x "
        f"{point['tokens_per_step']} tokens per step"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="docs/drs_regimes.json", help="where to write every point (JSON)")
    parser.add_argument("--quick", action="store_true", help="one design, DDR4 and HBM2, 1 and 16 videos and tokens")
    args = parser.parse_args()

    from models.tracing.graph_trace import trace_model  # torch only here, to trace the 7B geometry on meta

    started = time.perf_counter()
    graph = trace_model(GRAPH_MODEL, phase="decode")
    designs: tuple[str, ...] = DESIGNS
    memories: tuple[str, ...] = tuple(MEMORIES)
    videos: tuple[int, ...] = VIDEOS
    tokens: tuple[int, ...] = TOKENS_PER_STEP
    if args.quick:
        designs, memories, videos, tokens = DESIGNS[:1], ("ddr4", "hbm2"), (1, 16), (1, 16)
    points: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        variant_devices(Path(tmp) / "devices")
        designs_dir = Path(tmp) / "designs"
        print(
            f"{'design':<16}{'memory':<8}{'arrays':>7}{'videos':>7}{'tokens':>7}"
            f"{'DRS Mcyc':>10}{'TM Mcyc':>10}{'static Mcyc':>12}{'split':>7}{'vs TM':>8}{'vs static':>10}{'gain':>7}"
            f"  bounds: {'overlap':>7}{'2 groups':>9}{'prefetch':>9}"
        )
        for name, memory, factor in itertools.product(designs, memories, ARRAY_FACTORS):
            design = variant(name, memory, factor, designs_dir)
            arrays = int(design.engines.matrix.arrays)
            for n, k in itertools.product(videos, tokens):
                point: dict[str, Any] = {
                    "design": name,
                    "memory": memory,
                    "arrays": arrays,
                    "videos": n,
                    "tokens_per_step": k,
                }
                point |= run_point(graph, design, n, k)
                points.append(point)
                c, bound = point["cycles"], point["gain_bound"]
                print(
                    f"{name:<16}{memory:<8}{arrays:>7}{n:>7}{k:>7}{c['drs'] / 1e6:>10.2f}"
                    f"{c['time_multiplexed'] / 1e6:>10.2f}{c['best_static'] / 1e6:>12.2f}"
                    f"{point['best_static_attention_arrays']:>4}+{arrays - point['best_static_attention_arrays']:<2}"
                    f"{point['gain_vs_time_multiplexed']:>8.3f}{point['gain_vs_best_static']:>10.3f}{point['gain']:>7.3f}"
                    f"{'':10}{bound['overlap']:>7.3f}{bound['two_groups']:>9.3f}{bound['prefetch']:>9.3f}",
                    flush=True,
                )
    elapsed = time.perf_counter() - started
    document = {
        "model": GRAPH_MODEL,
        "trace": {
            "layer_rates": 0.5,
            "correlation": 0.8,
            "frame": [FRAME_SIDE, FRAME_SIDE],
            "prompt_frames": PROMPT_FRAMES,
            "generated_frames": 1,
        },
        "memories": MEMORIES,
        "wall_time_s": elapsed,
        "points": points,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(document, indent=1) + "\n")
    best = max(points, key=lambda p: p["gain"])
    worst = min(points, key=lambda p: p["gain"])
    where = place(best)
    print(f"{len(points)} points in {elapsed:.0f} s; wrote {args.json}")
    for name, what in BOUNDS.items():
        top = max(points, key=lambda p: p["gain_bound"][name])
        print(f"upper bound, {what}: {top['gain_bound'][name]:.2f}x (at {place(top)})")
    print(
        f"best DRS gain over the better of time_multiplexed and best static: {best['gain']:.2f}x (at {where}); "
        f"worst: {worst['gain']:.2f}x"
    )


if __name__ == "__main__":
    main()
