"""Cycle counts of the compute engines: pure functions a reader can check by hand.

Matrix engine, systolic: one engine model parameterised by the dataflow. A GEMM of
``m`` streamed rows (tokens / batch rows), reduction length ``k`` and ``n`` outputs is
mapped onto a ``rows x cols`` array as in SCALE-Sim's analytical model (Samajdar et al.,
"SCALE-Sim", arXiv 1811.02883, and "A Systematic Methodology for Characterizing
Scalability of DNN Accelerators using SCALE-Sim", ISPASS 2020): the dataflow picks which
two GEMM dimensions are spread over the array (S_R over rows, S_C over columns) and which
one is streamed in time (T):

=================== ===== ===== =====
dataflow            S_R   S_C   T
=================== ===== ===== =====
output_stationary   m     n     k
weight_stationary   k     n     m
input_stationary    k     m     n
=================== ===== ===== =====

One fold (one array-sized piece of S_R x S_C) takes, as SCALE-Sim v3 counts it (the rows of
its demand matrices, one per cycle; golden data in tests/data/scalesim_golden.json, derivation
in docs/fidelity.md):

- output stationary: ``rows + cols + T - 2``: both operands stream in skewed from two edges
  (``rows - 1`` and ``cols - 1`` cycles of skew) for T steps; nothing is preloaded.
- weight and input stationary: ``2*rows + cols + T - 2``: ``rows`` cycles to load the
  stationary operand, then the same skewed stream of T steps and the drain.

The work needs ``ceil(S_R/rows) * ceil(S_C/cols)`` folds, run one after another; a pool of
``arrays`` identical arrays runs folds side by side (SCALE-Sim models one array).

A streamed operand reaches the arrays in buffer-sized tiles. Output stationary, a tile of
few output columns has fewer folds than the pool has arrays, so a tile takes at least
`min_tile_columns` columns (cut along the reduction if they do not fit a buffer slot); an
array keeps its partial sums while the next part of the reduction streams in behind the
previous one, so only a group's first part pays the skew fill and drain
(`matrix_tile_cycles`) and the parts of a group add up to the GEMM formula.

Matrix engine, MAC tree: ``rows`` lanes, each an adder tree summing ``cols`` products per
cycle; a lane produces one output every ``ceil(k/cols)`` cycles, plus the tree's depth. The
lanes of an array share one activation vector (a GEMV engine: the activation is read once
and broadcast), so one pass of ``ceil(k/cols)`` beats covers up to ``rows`` outputs of one
row of the GEMM: ``m * ceil(n/rows)`` passes, spread over the arrays. This is the generated
RTL's count (`cosim.rtl.mac_tree`, checked cycle by cycle in tests/rtl); no peer simulator
models a MAC tree.
The TAS unit is a single such tree ``lanes`` wide. The vector unit processes ``lanes``
element operations per cycle after a fixed pipeline depth.
"""

from __future__ import annotations

import math

DATAFLOWS = ("weight_stationary", "output_stationary", "input_stationary")

VECTOR_PIPELINE_DEPTH_CYCLES = 8
"""Fill latency of the vector unit's pipeline [est]; the design schema has no field for it."""


def systolic_mapping(dataflow: str, m: int, k: int, n: int) -> tuple[int, int, int]:
    """(S_R, S_C, T) of a GEMM under `dataflow` (see the module table)."""
    if dataflow == "output_stationary":
        return m, n, k
    if dataflow == "weight_stationary":
        return k, n, m
    if dataflow == "input_stationary":
        return k, m, n
    raise ValueError(f"unknown dataflow {dataflow!r}; expected one of {', '.join(DATAFLOWS)}")


def systolic_fold_cycles(rows: int, cols: int, temporal: int, dataflow: str) -> int:
    """Cycles of one fold on a rows x cols array streaming `temporal` steps (preload, skew and drain included)."""
    stream = rows + cols + temporal - 2
    if dataflow == "output_stationary":
        return stream
    if dataflow in ("weight_stationary", "input_stationary"):
        return rows + stream  # the stationary operand is loaded first, one array row per cycle
    raise ValueError(f"unknown dataflow {dataflow!r}; expected one of {', '.join(DATAFLOWS)}")


def systolic_cycles(m: int, k: int, n: int, *, rows: int, cols: int, dataflow: str, arrays: int = 1) -> int:
    """Cycles of an m x k x n GEMM on `arrays` systolic arrays of rows x cols."""
    if m <= 0 or k <= 0 or n <= 0:
        return 0
    s_r, s_c, temporal = systolic_mapping(dataflow, m, k, n)
    folds = math.ceil(s_r / rows) * math.ceil(s_c / cols)
    return math.ceil(folds / arrays) * systolic_fold_cycles(rows, cols, temporal, dataflow)


def min_tile_columns(engine_type: str, m: int, *, rows: int, cols: int, dataflow: str | None, arrays: int) -> int:
    """Output columns one tile needs so that every array has a fold (output-stationary systolic; else 1).

    Output stationary spreads the outputs over the arrays (S_C = n): `cols` columns per array
    for each of the ``ceil(m/rows)`` row folds. Other dataflows spread the reduction too and
    a MAC tree spreads rows x columns over its lanes, so any column tile gives them work.
    """
    if engine_type != "systolic" or dataflow != "output_stationary" or m <= 0:
        return 1
    return cols * max(arrays // math.ceil(m / rows), 1)


def matrix_tile_cycles(
    engine_type: str,
    m: int,
    k: int,
    n: int,
    *,
    rows: int,
    cols: int,
    dataflow: str | None,
    arrays: int,
    continues: bool,
) -> int:
    """`matrix_cycles` of one tile; `continues`: it carries on the reduction of the previous tile (same outputs).

    An output-stationary array keeps its partial sums, so when all the tile's folds run at
    once the continuing part streams in behind the previous one: no second skew and drain.
    """
    full = matrix_cycles(engine_type, m, k, n, rows=rows, cols=cols, dataflow=dataflow, arrays=arrays)
    if continues and engine_type == "systolic" and dataflow == "output_stationary":
        folds = math.ceil(m / rows) * math.ceil(n / cols)
        if folds <= arrays:
            return full - (rows + cols - 2)
    return full


def adder_tree_depth(width: int) -> int:
    """Pipeline depth of a MAC tree `width` products wide: one multiply stage plus log2 adder levels."""
    return 1 + math.ceil(math.log2(width)) if width > 1 else 1


def mac_tree_cycles(m: int, k: int, n: int, *, lanes: int, width: int, arrays: int = 1) -> int:
    """Cycles of an m x k x n GEMM on `arrays` MAC-tree engines of `lanes` trees `width` wide.

    A pass gives each lane one output of the same GEMM row (the lanes share the activation
    vector), so a row whose n is not a multiple of `lanes` leaves lanes idle in its last pass.
    """
    if m <= 0 or k <= 0 or n <= 0:
        return 0
    passes_per_array = math.ceil(m * math.ceil(n / lanes) / arrays)
    return passes_per_array * math.ceil(k / width) + adder_tree_depth(width)


def matrix_cycles(
    engine_type: str, m: int, k: int, n: int, *, rows: int, cols: int, dataflow: str | None, arrays: int
) -> int:
    """Cycles on the matrix engine of a design (``engines.matrix`` fields) using `arrays` of its arrays."""
    if engine_type == "systolic":
        if dataflow is None:
            raise ValueError("a systolic engine needs a dataflow")
        return systolic_cycles(m, k, n, rows=rows, cols=cols, dataflow=dataflow, arrays=arrays)
    if engine_type == "mac_tree":
        return mac_tree_cycles(m, k, n, lanes=rows, width=cols, arrays=arrays)
    raise ValueError(f"unknown matrix engine type {engine_type!r}")


def vector_cycles(elements: int, lanes: int, depth: int = VECTOR_PIPELINE_DEPTH_CYCLES) -> int:
    """Cycles of `elements` element operations on a vector unit of `lanes` lanes."""
    if elements <= 0:
        return 0
    return math.ceil(elements / lanes) + depth


def tas_cycles(dots: int, length: int, lanes: int) -> int:
    """Cycles of `dots` dot products of `length` on the TAS unit (one MAC tree `lanes` wide)."""
    return mac_tree_cycles(dots, length, 1, lanes=1, width=lanes)


def buffer_read_cycles(nbytes: int, port_bytes_per_cycle: float) -> int:
    """Cycles the engine needs just to read `nbytes` through a buffer's read ports."""
    if nbytes <= 0:
        return 0
    return math.ceil(nbytes / port_bytes_per_cycle)
