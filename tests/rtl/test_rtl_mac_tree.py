"""MAC-tree engine and TAS unit in Amaranth simulation: values equal numpy's, cycles equal the simulator's formulas."""

import numpy as np
import pytest

pytest.importorskip("amaranth")

from cosim.rtl.drivers import mac_tree_gemm, tas_dots
from cosim.sim.compute import mac_tree_cycles, tas_cycles

RNG = np.random.default_rng(20)


@pytest.mark.parametrize("lanes, width", [(4, 8), (8, 16), (16, 8)])
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("m, k, n", [(1, 16, 16), (3, 20, 16), (3, 20, 10), (2, 16, 3)])
def test_mac_tree_gemm_values_and_cycles_equal_the_formula(lanes, width, packed, m, k, n):
    a, b = RNG.integers(-128, 128, (m, k)), RNG.integers(-128, 128, (k, n))
    run = mac_tree_gemm(a, b, lanes=lanes, width=width, packed=packed)
    assert np.array_equal(run.values, a @ b)
    assert run.cycles == mac_tree_cycles(m, k, n, lanes=lanes, width=width)


def test_lanes_that_do_not_divide_n_idle_in_a_rows_last_pass():
    """The lanes share one activation row: 3 rows x ceil(5/2) = 9 passes of ceil(40/16) = 3 beats, + depth 5."""
    m, k, n, lanes, width = 3, 40, 5, 2, 16
    a, b = RNG.integers(-128, 128, (m, k)), RNG.integers(-128, 128, (k, n))
    run = mac_tree_gemm(a, b, lanes=lanes, width=width, packed=True)
    assert np.array_equal(run.values, a @ b)
    assert run.cycles == mac_tree_cycles(m, k, n, lanes=lanes, width=width) == 9 * 3 + 5


def test_mac_tree_extreme_int8_values_survive_packing():
    a = np.full((1, 8), -128)
    b = np.array([[-128, 127, -128, 127]] * 8)
    run = mac_tree_gemm(a, b, lanes=4, width=8, packed=True)
    assert np.array_equal(run.values, a @ b)


@pytest.mark.parametrize("lanes, dots, length", [(8, 4, 8), (16, 5, 40), (16, 3, 16)])
def test_tas_unit_dot_products_and_cycles(lanes, dots, length):
    x, y = RNG.integers(-128, 128, (dots, length)), RNG.integers(-128, 128, (dots, length))
    run = tas_dots(x, y, lanes=lanes)
    assert np.array_equal(run.values, (x * y).sum(axis=1))
    assert run.cycles == tas_cycles(dots, length, lanes)
