"""Systolic cycle counts against SCALE-Sim v3, the peer simulator (golden data, no SCALE-Sim needed).

tests/data/scalesim_golden.json holds SCALE-Sim's compute cycles of GEMVs, small-batch and
square GEMMs on three array shapes in all three dataflows; regenerate it with
``bash tools/scalesim/setup.sh && .venv-scalesim/bin/python tools/scalesim/make_golden.py``.
"""

import json
from pathlib import Path

import pytest

from cosim.sim import compute
from cosim.sim.simulator import simulate
from simulator_graphs import first_frame_trace, one_op_graph, tiny_design

GOLDEN = json.loads((Path(__file__).resolve().parents[1] / "data" / "scalesim_golden.json").read_text())
ENTRIES = GOLDEN["entries"]


def entry_id(entry: dict) -> str:
    return f"{entry['scalesim_dataflow']}-{entry['rows']}x{entry['cols']}-{entry['name']}"


def test_golden_data_is_what_the_tests_rely_on():
    assert GOLDEN["scalesim_version"] == "3.0.0"
    assert {e["dataflow"] for e in ENTRIES} == set(compute.DATAFLOWS)
    assert len({(e["rows"], e["cols"]) for e in ENTRIES}) >= 2
    assert len(ENTRIES) >= 24
    assert any(e["m"] == 1 for e in ENTRIES) and any(e["m"] == e["k"] == e["n"] for e in ENTRIES)
    # stall-free: SCALE-Sim's report prints the 0-based index of the last cycle, one less than the count
    assert all(e["report_total_cycles"] == e["compute_cycles"] - 1 for e in ENTRIES)


@pytest.mark.parametrize("entry", ENTRIES, ids=entry_id)
def test_matrix_cycles_equal_scalesim(entry):
    cycles = compute.matrix_cycles(
        "systolic",
        entry["m"],
        entry["k"],
        entry["n"],
        rows=entry["rows"],
        cols=entry["cols"],
        dataflow=entry["dataflow"],
        arrays=1,
    )
    assert cycles == entry["compute_cycles"]


@pytest.mark.parametrize("entry", ENTRIES, ids=entry_id)
def test_simulated_compute_bound_gemm_equals_scalesim(entry):
    # an op with no weights to load and its activations on chip: the segment is the GEMM alone
    matrix = {
        "type": "systolic",
        "arrays": 1,
        "rows": entry["rows"],
        "cols": entry["cols"],
        "dataflow": entry["dataflow"],
    }
    m, k, n = entry["m"], entry["k"], entry["n"]
    gemm = one_op_graph(macs_fixed=k * n, act_read_elems_fixed=k, act_write_elems_fixed=n)
    result = simulate(gemm, first_frame_trace(rows=m), tiny_design(matrix=matrix))
    assert result.total_cycles == entry["compute_cycles"]
    assert result.engine_busy_cycles["matrix"] == entry["compute_cycles"]
