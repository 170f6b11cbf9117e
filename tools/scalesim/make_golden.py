"""Run SCALE-Sim v3 on a fixed set of GEMMs and record its compute cycles as golden data.

Run it with the interpreter of the SCALE-Sim virtual environment (made by tools/scalesim/setup.sh):

    .venv-scalesim/bin/python tools/scalesim/make_golden.py [--output tests/data/scalesim_golden.json]

SCALE-Sim's GEMM mode (``-i gemm`` on its command line, ``input_type_gemm=True`` in its API)
reads rows ``name, M, N, K,`` and turns each into a convolution with an M x K input, a K x N
filter and an M x N output (scalesim/topology_utils.py, ``load_arrays_gemm``). So its M, N, K
are our m (streamed rows), n (outputs) and k (reduction length). Its array is ``ArrayHeight``
rows by ``ArrayWidth`` columns: our ``rows`` and ``cols``.

Two figures are recorded per GEMM:

- ``compute_cycles``: how many cycles SCALE-Sim runs the array, i.e. the rows of its OFMAP demand
  matrix, one row per cycle (its memory loop walks ``range(ofmap_demand_mat.shape[0])``,
  scalesim/memory/double_buffered_scratchpad_mem.py ``service_memory_requests``).
- ``report_total_cycles``: the column "Total Cycles" of its COMPUTE_REPORT.csv, which is
  ``int(max(ofmap_serviced_cycles))`` (same function): the 0-based index of the last cycle, so one
  less than the count when nothing stalls (its older ``service_memory_requests_old`` added the 1).

The bandwidth mode is CALC, in which SCALE-Sim's reads never stall, and the SRAMs are large, so the
stall column is 0 and the figure is the array's own compute time; the script refuses to write data
with stalls, or whose report is not the count minus one.
This script needs only SCALE-Sim and the standard library: the project's packages are not imported.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.metadata
import io
import json
import os
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO_ROOT / "tests" / "data" / "scalesim_golden.json"

DATAFLOWS = {"os": "output_stationary", "ws": "weight_stationary", "is": "input_stationary"}
"""SCALE-Sim's dataflow names and ours."""

ARRAYS = [(8, 8), (16, 8), (4, 16)]
"""(rows, cols) of the arrays; two are not square, so a formula that swaps rows and cols fails."""

GEMMS = [
    # batch-1 GEMVs (decode of one row): m = 1
    ("gemv_64x64", 1, 64, 64),
    ("gemv_100x40", 1, 100, 40),
    ("gemv_48x200", 1, 48, 200),
    # small-batch GEMMs (decode of a few rows)
    ("batch2_96x48", 2, 96, 48),
    ("batch4_64x64", 4, 64, 64),
    ("batch8_40x24", 8, 40, 24),
    # square GEMMs, one not a multiple of any array side
    ("square_32", 32, 32, 32),
    ("square_45", 45, 45, 45),
    ("square_64", 64, 64, 64),
]
"""(name, m, k, n): m streamed rows, reduction length k, n outputs."""

CONFIG_TEMPLATE = """\
[general]
run_name = {run_name}

[run_presets]
InterfaceBandwidth = CALC
UseRamulatorTrace = False

[architecture_presets]
ArrayHeight = {rows}
ArrayWidth = {cols}
IfmapSramSzkB = 1024
FilterSramSzkB = 1024
OfmapSramSzkB = 1024
IfmapOffset = 0
FilterOffset = 10000000
OfmapOffset = 20000000
Dataflow = {dataflow}
ReadRequestBuffer = 32
WriteRequestBuffer = 32

[layout]
IfmapCustomLayout = False
IfmapSRAMBankBandwidth = 10
IfmapSRAMBankNum = 10
IfmapSRAMBankPort = 2
FilterCustomLayout = False
FilterSRAMBankBandwidth = 10
FilterSRAMBankNum = 10
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = False
SparseRep = ellpack_block
OptimizedMapping = False
BlockSize = 8
RandomNumberGeneratorSeed = 40
"""
"""SCALE-Sim's configuration file; only the array size and the dataflow change between runs."""


def topology_csv() -> str:
    """The GEMM topology file: a header, then ``name, M, N, K,`` per layer (the trailing comma is required)."""
    lines = ["Layer, M, N, K,"]
    lines += [f"{name}, {m}, {n}, {k}," for name, m, k, n in GEMMS]
    return "\n".join(lines) + "\n"


def run_scalesim(rows: int, cols: int, dataflow: str, workdir: Path) -> list[dict]:
    """Run SCALE-Sim once over all GEMMs on one array and dataflow; one report row per GEMM."""
    from scalesim.scale_sim import scalesim

    run_name = f"array{rows}x{cols}_{dataflow}"
    config_path = workdir / f"{run_name}.cfg"
    config_path.write_text(CONFIG_TEMPLATE.format(run_name=run_name, rows=rows, cols=cols, dataflow=dataflow))
    topology_path = workdir / "gemms.csv"
    topology_path.write_text(topology_csv())
    layout_path = workdir / "layout.csv"  # read even when the custom layouts are off; a header is enough
    layout_path.write_text("Layer name,\n")
    with contextlib.redirect_stdout(io.StringIO()):
        sim = scalesim(
            save_disk_space=True,
            verbose=False,
            config=str(config_path),
            topology=str(topology_path),
            layout=str(layout_path),
            input_type_gemm=True,
        )
        sim.run_scale(top_path=str(workdir))
    with open(workdir / run_name / "COMPUTE_REPORT.csv", newline="") as f:
        report = [[cell.strip() for cell in row] for row in csv.reader(f)]
    header, rows_out = report[0], report[1:]
    assert header[1:4] == ["Total Cycles (incl. prefetch)", "Total Cycles", "Stall Cycles"], header
    layers = sim.runner.single_layer_sim_object_list
    entries = []
    for (name, m, k, n), row, layer in zip(GEMMS, rows_out, layers, strict=True):
        total, stalls = int(row[2]), int(row[3])
        cycles = int(layer.compute_system.get_ofmap_demand_mat().shape[0])
        if stalls or total != cycles - 1:
            raise SystemExit(
                f"{run_name} {name}: {stalls} stall cycles, report {total} for {cycles} cycles; "
                "the golden data must be stall-free"
            )
        entries.append(
            {
                "name": name,
                "m": m,
                "k": k,
                "n": n,
                "rows": rows,
                "cols": cols,
                "dataflow": DATAFLOWS[dataflow],
                "scalesim_dataflow": dataflow,
                "compute_cycles": cycles,
                "report_total_cycles": total,
            }
        )
    return entries


def golden_json(golden: dict) -> str:
    """The golden data as JSON with one line per entry, so a regenerated file diffs line by line."""
    head = json.dumps({key: value for key, value in golden.items() if key != "entries"}, indent=1)
    entries = ",\n".join("  " + json.dumps(entry) for entry in golden["entries"])
    return head[:-2] + ',\n "entries": [\n' + entries + "\n ]\n}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON file to write")
    args = parser.parse_args()
    started = time.perf_counter()
    entries: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="scalesim-golden-") as tmp:
        for rows, cols in ARRAYS:
            for dataflow in DATAFLOWS:
                workdir = Path(tmp) / f"{rows}x{cols}_{dataflow}"
                workdir.mkdir()
                entries += run_scalesim(rows, cols, dataflow, workdir)
    golden = {
        "scalesim_version": importlib.metadata.version("scalesim"),
        "numpy_version": importlib.metadata.version("numpy"),
        "command": ".venv-scalesim/bin/python tools/scalesim/make_golden.py",
        "figure": "compute_cycles: rows of SCALE-Sim's OFMAP demand matrix (one per cycle); report_total_cycles: "
        "COMPUTE_REPORT.csv 'Total Cycles' = compute_cycles - 1 (0-based last cycle); 'Stall Cycles' is 0",
        "mapping": "SCALE-Sim GEMM row 'name, M, N, K,' = our (m, n, k); ArrayHeight x ArrayWidth = rows x cols",
        "config_template": CONFIG_TEMPLATE,
        "topology_csv": topology_csv(),
        "entries": entries,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.output.with_suffix(".tmp")
    tmp_out.write_text(golden_json(golden))
    os.replace(tmp_out, args.output)
    print(
        f"{len(entries)} GEMM runs of SCALE-Sim {golden['scalesim_version']} in "
        f"{time.perf_counter() - started:.1f} s -> {args.output}"
    )


if __name__ == "__main__":
    main()
