"""Systolic array in every dataflow in Amaranth simulation: values equal numpy's, cycles as documented."""

import math

import numpy as np
import pytest

pytest.importorskip("amaranth")

from cosim.rtl.drivers import systolic_gemm
from cosim.rtl.timing import systolic_fold_difference, systolic_rtl_cycles
from cosim.sim.compute import DATAFLOWS, systolic_cycles, systolic_mapping

RNG = np.random.default_rng(21)


@pytest.mark.parametrize("dataflow", DATAFLOWS)
@pytest.mark.parametrize("rows, cols", [(4, 4), (8, 4)])
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("m, k, n", [(4, 4, 4), (16, 16, 16), (5, 7, 9)])
def test_systolic_gemm_values_and_cycles(dataflow, rows, cols, packed, m, k, n):
    a, b = RNG.integers(-128, 128, (m, k)), RNG.integers(-128, 128, (k, n))
    run = systolic_gemm(a, b, rows=rows, cols=cols, dataflow=dataflow, packed=packed)
    assert np.array_equal(run.values, a @ b)
    assert run.cycles == systolic_rtl_cycles(m, k, n, rows=rows, cols=cols, dataflow=dataflow, packed=packed)
    s_r, s_c, _ = systolic_mapping(dataflow, m, k, n)
    folds = math.ceil(s_r / rows) * math.ceil(s_c / cols)
    formula = systolic_cycles(m, k, n, rows=rows, cols=cols, dataflow=dataflow)
    assert run.cycles - formula == folds * systolic_fold_difference(rows, cols, dataflow=dataflow, packed=packed)


def test_output_stationary_drains_its_rows_after_the_formula():
    """The generated array shifts finished outputs out (R cycles a fold) where SCALE-Sim overlaps them."""
    a, b = RNG.integers(-128, 128, (8, 16)), RNG.integers(-128, 128, (16, 8))
    run = systolic_gemm(a, b, rows=8, cols=4, dataflow="output_stationary")
    assert np.array_equal(run.values, a @ b)
    formula = systolic_cycles(8, 16, 8, rows=8, cols=4, dataflow="output_stationary")
    assert formula == 2 * (8 + 4 + 16 - 2)  # 2 folds, SCALE-Sim's count
    assert run.cycles == formula + 2 * 8 == 2 * (2 * 8 + 4 + 16 - 2)


def test_odd_column_count_packs_all_but_the_last_column():
    a, b = RNG.integers(-128, 128, (5, 6)), RNG.integers(-128, 128, (6, 7))
    run = systolic_gemm(a, b, rows=4, cols=3, dataflow="weight_stationary", packed=True)
    assert np.array_equal(run.values, a @ b)
    assert systolic_fold_difference(4, 3, dataflow="weight_stationary", packed=True) == 0
    assert run.cycles == systolic_cycles(5, 6, 7, rows=4, cols=3, dataflow="weight_stationary")
