"""Benchmark: simulate a whole 8-frame VILA-U 7B video (CFG, 2 rows) on the shipped edge
and datacenter designs; print wall time, SimPy events per second, and the dense /
FastCar / DRS latency and energy against what FACTS.md's arithmetic predicts.

    .venv/bin/python benchmarks/simulate_video.py [--trace T.npz] [--designs a,b]

Without --trace the replay decisions are synthetic (50 % per layer, previous-frame
correlation 0.8); with a decoded trace of another depth they are mapped onto 32 layers.
"""

from __future__ import annotations

import argparse
import time
from functools import partial

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
    args = parser.parse_args()

    from models.tracing.graph_trace import trace_model  # torch only here, to trace the 7B geometry on meta

    start = time.perf_counter()
    graph = trace_model("vila-u-7b-256", phase="decode")
    print(f"traced vila-u-7b-256 decode in {time.perf_counter() - start:.1f} s: {graph.number_of_nodes()} ops")
    if args.trace:
        trace = ReplayTrace.load(args.trace)
        if trace.num_layers != graph.graph["num_layers"]:
            trace = trace.map_to_layers(graph.graph["num_layers"])
    else:
        trace = synthetic_trace(num_layers=32, layer_rates=0.5, correlation=0.8, seed=0, model="vila-u-7b-256")
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


if __name__ == "__main__":
    main()
