"""Benchmark: simulate a whole 8-frame VILA-U 7B video (CFG, 2 rows) on the shipped edge
and datacenter designs; print wall time, SimPy events per second, and the dense /
FastCar / DRS latency and energy against what FACTS.md's arithmetic predicts.

    .venv/bin/python benchmarks/simulate_video.py [--trace T.npz] [--designs a,b]
    .venv/bin/python benchmarks/simulate_video.py --frames 8,32,128,256 [--designs kv260-fastcar] [--jobs 3]

Without --trace the replay decisions are synthetic (50 % per layer, previous-frame
correlation 0.8); with a decoded trace of another depth they are mapped onto 32 layers.

`--frames` prints instead the growth table of issue 17: for each video length and each
run (dense and every policy) on the first design, wall and CPU seconds, peak memory and
CPU cost per decode step, each run in its own process (so that its peak is its own); then
the ratio of the cost per step at the longest video to that at the shortest, and the goal's
verdict.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from cosim.analysis.energy import compute_energy
from cosim.artifacts.graph import totals
from cosim.artifacts.replay_trace import ReplayTrace
from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.hw import load_design
from cosim.sim.policies import POLICIES
from cosim.sim.simulator import simulate, simulate_dense


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", help="ReplayTrace to use (default: synthetic, 50 %% replay)")
    parser.add_argument("--designs", default="kv260-fastcar,u280-fastcar")
    parser.add_argument("--frames", help="growth table over these video lengths (comma-separated frame counts)")
    parser.add_argument("--jobs", type=int, default=1, help="growth table: runs at once (each its own process)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: graph.json,design,frames,run -> one JSON line
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_one_run(*args.one.split(","))))
        return

    from models.tracing.graph_trace import trace_model  # torch only here, to trace the 7B geometry on meta

    start = time.perf_counter()
    graph = trace_model("vila-u-7b-256", phase="decode")
    print(f"traced vila-u-7b-256 decode in {time.perf_counter() - start:.1f} s: {graph.number_of_nodes()} ops")
    if args.frames:
        _growth(graph, args.designs.split(",")[0], [int(f) for f in args.frames.split(",")], args.jobs)
        return
    if args.trace:
        trace = ReplayTrace.load(args.trace)
        if trace.num_layers != graph.graph["num_layers"]:
            trace = trace.map_to_layers(graph.graph["num_layers"])
    else:
        trace = _synthetic(8)
    print(
        f"trace: {trace.meta['source']}, {trace.num_steps} steps x {trace.num_layers} layers x "
        f"{trace.batch_rows} rows, replay ratio {trace.replay_ratio():.3f}"
    )

    kv = int(trace.kv_len.mean())
    mlp_nodes = [n for n, a in graph.nodes(data=True) if a["replayable"]]
    mlp_weight_share = totals(graph, kv, mlp_nodes)["weight_elems"] / totals(graph, kv)["weight_elems"]
    ideal = 1 / (1 - trace.weights_skippable().mean() * mlp_weight_share)
    print(
        f"FACTS.md arithmetic: MLP holds {mlp_weight_share:.1%} of a decode step's weights; if decode is "
        f"bandwidth-bound, skipping the MLP weights of {trace.weights_skippable().mean():.1%} of (step, layer) "
        f"pairs gives at most {ideal:.2f}x"
    )

    for name in args.designs.split(","):
        design = load_design(name)
        print(f"\n== {name} ({design.device}, {design.clock_mhz:g} MHz) ==")
        print(
            f"{'run':<22}{'wall s':>8}{'cpu s':>8}{'events':>10}{'events/s':>11}{'video s':>10}"
            f"{'ms/token':>10}{'energy J':>10}{'MLP share':>10}{'speedup':>9}{'% roofline':>11}"
        )
        dense_cycles = None
        runs = [("dense", partial(simulate_dense, graph, trace, design))]
        runs += [(f"fastcar-{p}", partial(simulate, graph, trace, design, policy=p)) for p in POLICIES]
        for label, job in runs:
            wall, cpu = time.perf_counter(), time.process_time()
            result = job()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            dense_cycles = dense_cycles or result.total_cycles
            seconds = result.total_cycles / (result.clock_mhz * 1e6)
            energy = compute_energy(result, design)
            mlp_share = result.block_cycles.get("mlp", 0) / result.total_cycles
            bound = result.roofline["bound_cycles"] / result.total_cycles
            print(
                f"{label:<22}{wall:>8.2f}{cpu:>8.2f}{result.events_simulated:>10}"
                f"{result.events_simulated / cpu:>11.0f}{seconds:>10.1f}{1e3 * seconds / trace.num_steps:>10.1f}"
                f"{energy.total_j:>10.1f}{mlp_share:>10.1%}{dense_cycles / result.total_cycles:>8.2f}x{bound:>11.1%}"
            )


GOAL_SECONDS, GOAL_MB, GOAL_RATIO = 30.0, 500.0, 1.5


def _synthetic(frames: int) -> ReplayTrace:
    return synthetic_trace(
        num_layers=32, layer_rates=0.5, correlation=0.8, seed=0, model="vila-u-7b-256", frames=frames
    )


def _one_run(graph_path: str, design_name: str, frames: str, run: str) -> dict[str, float]:
    """One simulation in this process: its wall and CPU seconds, this process's peak memory, its steps."""
    from cosim.artifacts.graph import load_graph

    graph, design, trace = load_graph(graph_path), load_design(design_name), _synthetic(int(frames))
    wall, cpu = time.perf_counter(), time.process_time()
    result = simulate_dense(graph, trace, design) if run == "dense" else simulate(graph, trace, design, policy=run)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall": wall, "cpu": cpu, "peak_mb": _peak_mb(), "steps": trace.num_steps, "cycles": result.total_cycles}


def _peak_mb() -> float:
    """This process's peak resident memory in MB (Linux VmHWM: unlike ru_maxrss, not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # elsewhere: the rusage figure


def _growth(graph: object, design_name: str, frame_counts: list[int], jobs: int) -> None:
    """Issue 17's growth table: cost per step as the video grows, each run in a fresh process (`jobs` at once,
    the longest videos first; CPU seconds and peak memory are each process's own)."""
    from cosim.artifacts.graph import save_graph

    runs = ["dense", *POLICIES.names()]
    print(f"\n== growth on {design_name}: synthetic traces, one process per run, {jobs} at once ==")
    print(f"{'frames':>6}{'steps':>8}  {'run':<18}{'wall s':>8}{'cpu s':>8}{'peak MB':>9}{'ms/step':>9}")
    per_step: dict[str, dict[int, float]] = {run: {} for run in runs}
    worst_cpu, worst_mb = 0.0, 0.0
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
        graph_path = str(save_graph(graph, Path(tmp) / "graph.json"))  # type: ignore[arg-type]
        tasks = [(frames, run) for frames in frame_counts for run in runs]

        def one(task: tuple[int, str]) -> dict[str, float]:
            out = subprocess.run(
                [sys.executable, __file__, "--one", f"{graph_path},{design_name},{task[0]},{task[1]}"],
                check=True,
                capture_output=True,
                text=True,
            )
            figures = dict(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"done: {task[0]} frames {task[1]}: {figures}", file=sys.stderr, flush=True)
            return figures

        started = {task: pool.submit(one, task) for task in sorted(tasks, key=lambda t: -t[0])}
        for frames, run in tasks:
            figures = started[frames, run].result()
            cost = 1e3 * figures["cpu"] / figures["steps"]
            per_step[run][frames] = cost
            if frames == max(frame_counts):
                worst_cpu, worst_mb = max(worst_cpu, figures["cpu"]), max(worst_mb, figures["peak_mb"])
            print(
                f"{frames:>6}{figures['steps']:>8}  {run:<18}{figures['wall']:>8.1f}{figures['cpu']:>8.1f}"
                f"{figures['peak_mb']:>9.0f}{cost:>9.3f}",
                flush=True,
            )
    shortest, longest = min(frame_counts), max(frame_counts)
    ratios = {run: per_step[run][longest] / per_step[run][shortest] for run in runs}
    print(
        f"cost per step, {longest} frames / {shortest} frames: "
        + ", ".join(f"{run} {ratio:.2f}x" for run, ratio in ratios.items())
    )
    ratio_met = max(ratios.values()) <= GOAL_RATIO
    time_met = worst_cpu < GOAL_SECONDS and worst_mb < GOAL_MB
    verdict = "goal met" if ratio_met and time_met else "goal not met"
    print(
        f"goal (cost per step at {longest} frames within {GOAL_RATIO}x of that at {shortest} frames; {longest} frames "
        f"in under {GOAL_SECONDS:.0f} s and {GOAL_MB:.0f} MB per policy on one core): worst ratio "
        f"{max(ratios.values()):.2f}x ({'met' if ratio_met else 'not met'}), slowest run {worst_cpu:.1f} CPU s, "
        f"largest peak {worst_mb:.0f} MB ({'met' if time_met else 'not met'}): {verdict}"
    )


if __name__ == "__main__":
    main()
