"""Benchmark: SCALE-Sim v3 and this simulator on the same GEMMs; wall time, peak memory, agreement.

    bash tools/scalesim/setup.sh        # once: .venv-scalesim with SCALE-Sim
    .venv/bin/python benchmarks/scalesim_compare.py

Each tool runs in its own process, so its peak resident memory (ru_maxrss of that child) and
wall time include the interpreter and its imports. SCALE-Sim runs tools/scalesim/make_golden.py
(the GEMMs of tests/data/scalesim_golden.json); ours evaluates the compute formula and simulates
each GEMM as a one-op graph on a one-array systolic design (kv260-systolic with its matrix engine
resized). The last line counts the GEMMs whose cycles agree exactly in both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SCALESIM_PYTHON = REPO_ROOT / ".venv-scalesim" / "bin" / "python"
MAKE_GOLDEN = REPO_ROOT / "tools" / "scalesim" / "make_golden.py"


def run_measured(command: list[str]) -> tuple[float, float, float]:
    """Run `command`; its wall and CPU time in seconds and peak resident memory in MiB (ru_maxrss is KiB)."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if child.returncode:
        raise SystemExit(f"{' '.join(command)} failed with exit code {child.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def our_cycles(gemms: list[dict]) -> list[dict]:
    """Formula and simulated cycles of each GEMM (m streamed rows, k, n) on its one-array systolic design."""
    import networkx as nx

    from cosim.artifacts.graph import add_op
    from cosim.artifacts.synthetic_trace import synthetic_trace
    from cosim.hw import load_design
    from cosim.hw.library import override_design
    from cosim.sim import compute
    from cosim.sim.simulator import simulate

    base = load_design("kv260-systolic")
    out = []
    for g in gemms:
        design = override_design(
            base,
            {
                "engines.matrix.arrays": 1,
                "engines.matrix.rows": g["rows"],
                "engines.matrix.cols": g["cols"],
                "engines.matrix.dataflow": g["dataflow"],
                "scheduling": {"policy": "time_multiplexed"},
            },
        )
        graph: nx.DiGraph = nx.DiGraph(
            model="gemm",
            phase="decode",
            batch_rows=g["m"],
            tokens_per_frame=1,
            frames=1,
            num_layers=1,
            hidden=g["k"],
            kv_len_ref=1,
            precision_bytes={"weights": 1},
        )
        # no weights to load, activations on chip: the op's time is the GEMM's compute time
        add_op(
            graph,
            "layers.0.gemm",
            "linear",
            "attention",
            layer=0,
            macs_fixed=g["k"] * g["n"],
            act_read_elems_fixed=g["k"],
            act_write_elems_fixed=g["n"],
        )
        trace = synthetic_trace(
            num_layers=1,
            layer_rates=0.0,
            frames=1,
            frame_rows=1,
            frame_cols=1,
            batch_rows=g["m"],
            conditioning_frames=0,
        )
        simulated = simulate(graph, trace, design).total_cycles
        formula = compute.matrix_cycles(
            "systolic", g["m"], g["k"], g["n"], rows=g["rows"], cols=g["cols"], dataflow=g["dataflow"], arrays=1
        )
        out.append({"formula": formula, "simulated": simulated})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", nargs=2, metavar=("GEMMS_JSON", "OUT_JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ours:  # the child process that runs our side
        gemms = json.loads(Path(args.ours[0]).read_text())["entries"]
        Path(args.ours[1]).write_text(json.dumps(our_cycles(gemms)))
        return
    if not SCALESIM_PYTHON.exists():
        raise SystemExit(f"{SCALESIM_PYTHON} not found: run `bash tools/scalesim/setup.sh` first")
    with tempfile.TemporaryDirectory(prefix="scalesim-compare-") as tmp:
        theirs_path, ours_path = Path(tmp) / "scalesim.json", Path(tmp) / "ours.json"
        scalesim_run = run_measured([str(SCALESIM_PYTHON), str(MAKE_GOLDEN), "--output", str(theirs_path)])
        theirs = json.loads(theirs_path.read_text())
        env_note = f"SCALE-Sim {theirs['scalesim_version']} (numpy {theirs['numpy_version']})"
        ours_run = run_measured([sys.executable, __file__, "--ours", str(theirs_path), str(ours_path)])
        ours = json.loads(ours_path.read_text())
    entries = theirs["entries"]
    print(
        f"{len(entries)} GEMM runs: {len({(e['m'], e['k'], e['n']) for e in entries})} shapes (m, k, n) x "
        f"{len({(e['rows'], e['cols']) for e in entries})} arrays x {len({e['dataflow'] for e in entries})} "
        "dataflows, one array each"
    )
    print(f"{'tool':<44}{'wall s':>9}{'cpu s':>9}{'peak MiB':>10}")
    for label, (wall, cpu, mib) in ((env_note, scalesim_run), ("cosim (formula + simulate)", ours_run)):
        print(f"{label:<44}{wall:>9.2f}{cpu:>9.2f}{mib:>10.0f}")
    exact = 0
    for e, o in zip(entries, ours, strict=True):
        if o["formula"] == o["simulated"] == e["compute_cycles"]:
            exact += 1
        else:
            print(
                f"differs: {e['scalesim_dataflow']} {e['rows']}x{e['cols']} {e['name']}: SCALE-Sim "
                f"{e['compute_cycles']}, formula {o['formula']}, simulated {o['simulated']}"
            )
    print(f"compute cycles vs SCALE-Sim: {exact} of {len(entries)} GEMMs exact")


if __name__ == "__main__":
    main()
