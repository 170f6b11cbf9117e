"""Workloads on the simulated engines: GEMMs tiled into folds, TAS dot products, vector streams.

Each driver returns the values (exactly what numpy gives when the engine is right) and
the cycles from first input to last output, which the tests hold equal to the
simulator's formulas (`cosim.sim.compute`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cosim.rtl.harness import Fold, OutputEvent, pack, run_folds, unpack

if TYPE_CHECKING:
    from cosim.rtl.systolic import OutputStationaryArray, StationaryArray


@dataclass
class EngineRun:
    """Result of a simulated workload: the values and the cycles from first input to last output."""

    values: np.ndarray
    cycles: int


def mac_tree_gemm(
    a: np.ndarray, b: np.ndarray, *, lanes: int, width: int, packed: bool = False, in_bits: int = 8, acc_bits: int = 32
) -> EngineRun:
    """A (m x k) @ B (k x n) on one MAC-tree array: lanes cover n, each output takes ceil(k/width) beats."""
    from cosim.rtl.mac_tree import MacTreeArray

    m_rows, k = a.shape
    n = b.shape[1]
    dut = MacTreeArray(lanes, width, in_bits=in_bits, acc_bits=acc_bits, packed=packed)
    chunks = math.ceil(k / width)
    groups = math.ceil(n / lanes)
    a_pad = np.zeros((m_rows, chunks * width), dtype=np.int64)
    a_pad[:, :k] = a
    b_pad = np.zeros((chunks * width, groups * lanes), dtype=np.int64)
    b_pad[:k, :n] = b
    beats = []
    order = []  # (row, group) of each output event, in the order the lanes emit them
    for row in range(m_rows):
        for group in range(groups):
            for chunk in range(chunks):
                span = slice(chunk * width, (chunk + 1) * width)
                weights = [value for lane in range(lanes) for value in b_pad[span, group * lanes + lane]]
                beats.append(
                    [
                        (dut.x, pack(a_pad[row, span], in_bits)),
                        (dut.w, pack(weights, in_bits)),
                        (dut.in_valid, 1),
                        (dut.in_first, int(chunk == 0)),
                        (dut.in_last, int(chunk == chunks - 1)),
                    ]
                )
            order.append((row, group))
    record = run_folds(
        dut,
        [Fold(beats, len(order))],
        [(dut.out_valid, dut.out)],
        [(dut.in_valid, 0), (dut.in_first, 0), (dut.in_last, 0)],
    )
    product = np.zeros((m_rows, groups * lanes), dtype=np.int64)
    for (row, group), event in zip(order, record.events, strict=True):
        product[row, group * lanes : (group + 1) * lanes] = unpack(event.value, lanes, acc_bits)
    return EngineRun(product[:, :n], record.cycles)


def systolic_gemm(
    a: np.ndarray,
    b: np.ndarray,
    *,
    rows: int,
    cols: int,
    dataflow: str,
    packed: bool = False,
    in_bits: int = 8,
    acc_bits: int = 32,
) -> EngineRun:
    """A (m x k) @ B (k x n) on one rows x cols systolic array in `dataflow`, fold after fold."""
    from cosim.rtl.systolic import OutputStationaryArray, StationaryArray

    if dataflow == "output_stationary":
        dut = OutputStationaryArray(rows, cols, in_bits=in_bits, acc_bits=acc_bits, packed=packed)
    else:
        dut = StationaryArray(rows, cols, in_bits=in_bits, acc_bits=acc_bits, packed=packed)
    # every dataflow as "spatial rows x spatial cols, streamed over t": left[t] feeds the rows, top[t] the columns
    if dataflow == "output_stationary":  # rows: m, cols: n, t: k
        left, top, out_shape = a, b, (a.shape[0], b.shape[1])
    elif dataflow == "weight_stationary":  # rows: k, cols: n, t: m (B stays, A's rows stream)
        left, top, out_shape = a.T, b, (a.shape[0], b.shape[1])
    elif dataflow == "input_stationary":  # rows: k, cols: m, t: n (A stays, B's columns stream)
        left, top, out_shape = b, a.T, (b.shape[1], a.shape[0])
    else:
        raise ValueError(f"unknown dataflow {dataflow!r}")
    ports = [(dut.out_valid[c], dut.out) for c in range(cols)]
    product = np.zeros(out_shape, dtype=np.int64)
    folds, placements = [], []
    if dataflow == "output_stationary":
        idle = [(dut.in_valid, 0), (dut.in_first, 0), (dut.in_last, 0)]
        k = a.shape[1]
        for r0 in range(0, a.shape[0], rows):
            for c0 in range(0, b.shape[1], cols):
                beats = [
                    [
                        (dut.row_in, pack(_window(a[:, t], r0, rows), in_bits)),
                        (dut.col_in, pack(_window(b[t, :], c0, cols), in_bits)),
                        (dut.in_valid, 1),
                        (dut.in_first, int(t == 0)),
                        (dut.in_last, int(t == k - 1)),
                    ]
                    for t in range(k)
                ]
                folds.append(Fold(beats, rows * cols))
                placements.append((r0, c0))
    else:
        idle = [(dut.in_valid, 0), (dut.load, 0)]
        reduction, temporal = left.shape[0], left.shape[1]
        for r0 in range(0, reduction, rows):
            for c0 in range(0, top.shape[1], cols):
                loads = [
                    [
                        (
                            dut.col_in,
                            pack(_window(top[r0 + r, :] if r0 + r < reduction else np.zeros(0), c0, cols), in_bits),
                        ),
                        (dut.load, 1),
                        (dut.in_valid, 0),
                    ]
                    for r in reversed(range(rows))
                ]
                stream = [
                    [(dut.row_in, pack(_window(left[:, t], r0, rows), in_bits)), (dut.in_valid, 1), (dut.load, 0)]
                    for t in range(temporal)
                ]
                folds.append(Fold(loads + stream, temporal * cols))
                placements.append((r0, c0))
    record = run_folds(dut, folds, ports, idle)
    _place(record.events, folds, placements, product, dut, dataflow, acc_bits=acc_bits)
    result = product if dataflow != "input_stationary" else product.T
    return EngineRun(result, record.cycles)


def _window(vector: np.ndarray, start: int, size: int) -> np.ndarray:
    """vector[start:start+size], zero-padded to `size`."""
    out = np.zeros(size, dtype=np.int64)
    part = vector[start : start + size]
    out[: len(part)] = part
    return out


def _place(
    events: list[OutputEvent],
    folds: list[Fold],
    placements: list[tuple[int, int]],
    product: np.ndarray,
    dut: OutputStationaryArray | StationaryArray,
    dataflow: str,
    *,
    acc_bits: int,
) -> None:
    """Add each fold's output events into `product` at the fold's place (partial sums add up over reduction folds)."""
    position = 0
    for fold, (r0, c0) in zip(folds, placements, strict=True):
        mine = events[position : position + fold.outputs]
        position += fold.outputs
        seen_per_column: dict[int, int] = {}
        for event in mine:
            c = event.port
            index = seen_per_column.get(c, 0)
            seen_per_column[c] = index + 1
            value = unpack(event.value, dut.cols, acc_bits)[c]
            row, col = (r0 + index, c0 + c) if dataflow == "output_stationary" else (index, c0 + c)
            if row < product.shape[0] and col < product.shape[1]:
                # output stationary: a column's PEs finish top row first; else output t of this fold,
                # a partial sum over the fold's slice of the reduction
                product[row, col] += value


def tas_dots(x: np.ndarray, y: np.ndarray, *, lanes: int, in_bits: int = 8, acc_bits: int = 32) -> EngineRun:
    """Row-wise dot products x[i] . y[i] on the TAS unit (one MAC tree `lanes` wide), ceil(length/lanes) beats each."""
    from cosim.rtl.mac_tree import MacTreeArray

    dots, length = x.shape
    dut = MacTreeArray(1, lanes, in_bits=in_bits, acc_bits=acc_bits)
    chunks = math.ceil(length / lanes)
    beats = []
    for i in range(dots):
        for chunk in range(chunks):
            span = slice(chunk * lanes, (chunk + 1) * lanes)
            beats.append(
                [
                    (dut.x, pack(_window(x[i], span.start, lanes), in_bits)),
                    (dut.w, pack(_window(y[i], span.start, lanes), in_bits)),
                    (dut.in_valid, 1),
                    (dut.in_first, int(chunk == 0)),
                    (dut.in_last, int(chunk == chunks - 1)),
                ]
            )
    record = run_folds(
        dut, [Fold(beats, dots)], [(dut.out_valid, dut.out)], [(dut.in_valid, 0), (dut.in_first, 0), (dut.in_last, 0)]
    )
    return EngineRun(np.array([unpack(e.value, 1, acc_bits)[0] for e in record.events]), record.cycles)


def vector_stream(op: int, a: np.ndarray, b: np.ndarray, *, lanes: int) -> EngineRun:
    """Element-wise `op` over the Q7.8 vectors a and b on the vector unit, `lanes` elements per beat."""
    from cosim.rtl.vector import DATA_BITS, vector_unit

    dut = vector_unit(lanes)
    beats_needed = math.ceil(len(a) / lanes)
    beats = [
        [
            (dut.a, pack(_window(a, t * lanes, lanes), DATA_BITS)),
            (dut.b, pack(_window(b, t * lanes, lanes), DATA_BITS)),
            (dut.op, int(op)),
            (dut.in_valid, 1),
        ]
        for t in range(beats_needed)
    ]
    record = run_folds(dut, [Fold(beats, beats_needed)], [(dut.out_valid, dut.out)], [(dut.in_valid, 0)])
    values = [v for e in record.events for v in unpack(e.value, lanes, DATA_BITS)]
    return EngineRun(np.array(values[: len(a)]), record.cycles)
