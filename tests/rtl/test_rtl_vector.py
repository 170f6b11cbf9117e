"""Vector unit in Amaranth simulation: bit-exact with its numpy reference, 8-stage pipeline as the formula."""

import numpy as np
import pytest

pytest.importorskip("amaranth")

from cosim.rtl.drivers import vector_stream
from cosim.rtl.vector import FRAC_BITS, VectorOp, reference
from cosim.sim.compute import vector_cycles

RNG = np.random.default_rng(22)


@pytest.mark.parametrize("op", list(VectorOp))
def test_vector_unit_matches_reference_and_formula(op):
    count, lanes = 37, 8
    a, b = RNG.integers(-32768, 32768, count), RNG.integers(-32768, 32768, count)
    if op == VectorOp.EXP:
        a = RNG.integers(-3000, 300, count)
    run = vector_stream(op, a, b, lanes=lanes)
    assert np.array_equal(run.values, reference(op, a, b))
    assert run.cycles == vector_cycles(count, lanes)


def test_reference_arithmetic_is_the_intended_one():
    a, b = np.array([256, -512, 32000]), np.array([128, 256, 32000])
    assert list(reference(VectorOp.ADD, a, b)) == [384, -256, 32767]
    assert list(reference(VectorOp.MUL, a, b)) == [128, -512, 32767]
    assert list(reference(VectorOp.MAX, a, b)) == [256, 256, 32000]
    x = np.arange(-8 << FRAC_BITS, 1, 7)
    exp = reference(VectorOp.EXP, x, x) / (1 << FRAC_BITS)
    assert np.abs(exp - np.exp(x / (1 << FRAC_BITS))).max() < 0.035
