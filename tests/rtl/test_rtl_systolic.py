"""Systolic array in every dataflow in Amaranth simulation: values equal numpy's, cycles equal the simulator's
formula (SCALE-Sim v3's count) exactly, packed or not."""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("amaranth")

from cosim.rtl.drivers import systolic_gemm
from cosim.sim.compute import DATAFLOWS, systolic_cycles

RNG = np.random.default_rng(21)
GOLDEN = Path(__file__).resolve().parents[1] / "data" / "scalesim_golden.json"


@pytest.mark.parametrize("dataflow", DATAFLOWS)
@pytest.mark.parametrize("rows, cols", [(4, 4), (8, 4)])
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("m, k, n", [(4, 4, 4), (16, 16, 16), (5, 7, 9)])
def test_systolic_gemm_values_and_cycles_equal_the_formula(dataflow, rows, cols, packed, m, k, n):
    a, b = RNG.integers(-128, 128, (m, k)), RNG.integers(-128, 128, (k, n))
    run = systolic_gemm(a, b, rows=rows, cols=cols, dataflow=dataflow, packed=packed)
    assert np.array_equal(run.values, a @ b)
    assert run.cycles == systolic_cycles(m, k, n, rows=rows, cols=cols, dataflow=dataflow)


def test_fold_cycles_by_hand():
    """Output stationary: R + C + T - 2 a fold, no drain after the last MAC; stationary: R load beats more."""
    a, b = RNG.integers(-128, 128, (8, 16)), RNG.integers(-128, 128, (16, 8))
    output_stationary = systolic_gemm(a, b, rows=8, cols=4, dataflow="output_stationary", packed=True)
    assert np.array_equal(output_stationary.values, a @ b)
    assert output_stationary.cycles == 2 * (8 + 4 + 16 - 2)  # 2 folds of n, T = k = 16
    weight_stationary = systolic_gemm(a, b, rows=8, cols=4, dataflow="weight_stationary", packed=True)
    assert np.array_equal(weight_stationary.values, a @ b)
    assert weight_stationary.cycles == 4 * (2 * 8 + 4 + 8 - 2)  # 2 folds of k x 2 of n, T = m = 8


@pytest.mark.parametrize("rows, cols", [(4, 3), (1, 1), (2, 5)])
@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_odd_and_degenerate_arrays(rows, cols, dataflow):
    """An odd column count packs all but the last column; a 1 x 1 array's result leaves with its only MAC."""
    a, b = RNG.integers(-128, 128, (5, 6)), RNG.integers(-128, 128, (6, 7))
    run = systolic_gemm(a, b, rows=rows, cols=cols, dataflow=dataflow, packed=True)
    assert np.array_equal(run.values, a @ b)
    assert run.cycles == systolic_cycles(5, 6, 7, rows=rows, cols=cols, dataflow=dataflow)


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_generated_array_counts_what_scalesim_counts(dataflow):
    """The RTL against SCALE-Sim's own golden count (not through the formula): batch-8 GEMM on an 8 x 8 array."""
    entries = json.loads(GOLDEN.read_text())["entries"]
    entry = next(
        e for e in entries if (e["name"], e["rows"], e["cols"], e["dataflow"]) == ("batch8_40x24", 8, 8, dataflow)
    )
    a = RNG.integers(-128, 128, (entry["m"], entry["k"]))
    b = RNG.integers(-128, 128, (entry["k"], entry["n"]))
    run = systolic_gemm(a, b, rows=8, cols=8, dataflow=dataflow, packed=True)
    assert np.array_equal(run.values, a @ b)
    assert run.cycles == entry["compute_cycles"]
