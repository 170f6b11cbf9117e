"""Vector unit: `lanes` identical 16-bit fixed-point lanes, one element operation per lane per cycle.

Numbers are Q7.8 (16-bit signed, 8 fraction bits). Operations (one per beat, all lanes):
add, sub, mul (product >> 8), max, and exp of a non-positive argument by 16-segment
piecewise-linear interpolation over [-8, 0] (secants of e^x; softmax's exp after the
max is subtracted). Results saturate to 16 bits. Each lane has one multiplier (one
DSP48E2), shared by mul and exp, so the unit uses `lanes` DSPs as the designs declare.

Pipeline, 8 stages (the simulator's VECTOR_PIPELINE_DEPTH_CYCLES): input registers;
segment, table look-up and multiplier operand choice; the DSP's M and P registers; shift;
combine; saturate; output register. `reference` is the same arithmetic in numpy, bit for bit.
"""

from __future__ import annotations

import math
from enum import IntEnum

import numpy as np

DATA_BITS = 16
FRAC_BITS = 8
EXP_SEGMENTS = 16
EXP_SEGMENT_SHIFT = 7  # segment width 2^7 / 2^8 = 0.5
PIPELINE_STAGES = 8


class VectorOp(IntEnum):
    """Operation codes on the unit's ``op`` input."""

    ADD = 0
    SUB = 1
    MUL = 2
    MAX = 3
    EXP = 4


def exp_table() -> tuple[list[int], list[int]]:
    """Per segment s (x from -s/2 down to -(s+1)/2): e^x at the segment's right end and the secant slope, Q.8."""
    one = 1 << FRAC_BITS
    width = (1 << EXP_SEGMENT_SHIFT) / one
    starts = [round(one * math.exp(-s * width)) for s in range(EXP_SEGMENTS)]
    slopes = [round(one * (math.exp(-s * width) - math.exp(-(s + 1) * width)) / width) for s in range(EXP_SEGMENTS)]
    return starts, slopes


def _saturate(values: np.ndarray) -> np.ndarray:
    limit = 1 << (DATA_BITS - 1)
    return np.clip(values, -limit, limit - 1)


def reference(op: VectorOp, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """What the RTL computes, in numpy (int64 throughout, Q7.8 in and out)."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if op == VectorOp.ADD:
        return _saturate(a + b)
    if op == VectorOp.SUB:
        return _saturate(a - b)
    if op == VectorOp.MUL:
        return _saturate((a * b) >> FRAC_BITS)
    if op == VectorOp.MAX:
        return np.maximum(a, b)
    starts, slopes = exp_table()
    magnitude = np.clip(-a, 0, None)
    segment = np.minimum(magnitude >> EXP_SEGMENT_SHIFT, EXP_SEGMENTS - 1)
    offset = magnitude - (segment << EXP_SEGMENT_SHIFT)
    value = np.array(starts)[segment] - ((np.array(slopes)[segment] * offset) >> FRAC_BITS)
    return _saturate(np.clip(value, 0, None))


def vector_unit(lanes: int):
    """The Amaranth vector unit (imported lazily: this module's numpy reference needs no Amaranth)."""
    from cosim.rtl.vector_rtl import VectorUnit

    return VectorUnit(lanes)
