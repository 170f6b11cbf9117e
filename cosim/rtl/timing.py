"""Cycle counts of the generated RTL, next to the simulator's formulas in `cosim.sim.compute`.

The counts are "first input to last output" of a run, as `cosim.rtl.harness` measures
them. Where the RTL and the simulator's formula differ, the difference is written here
(`*_difference`) and checked by the tests, so a change on either side shows:

- MAC tree: the RTL shares one activation vector across its lanes (a GEMV engine), so the
  lanes of one beat cover outputs of one row of A: ``m * ceil(n/lanes)`` outputs per lane
  where the formula has ``ceil(m*n/lanes)``. Equal when lanes divide n (or m = 1);
  otherwise the RTL takes ``(m*ceil(n/lanes) - ceil(m*n/lanes)) * ceil(k/width)`` more cycles.
- Systolic, output stationary: R cycles more per fold (2R + C + T - 2 against the formula's
  R + C + T - 2): the generated array shifts its R rows of finished outputs out through the
  array after the last MAC, where SCALE-Sim's count (which the formula follows, see
  docs/fidelity.md) overlaps that drain with the next fold.
- Systolic, weight / input stationary: one cycle more per fold (2R + C + T - 1): the R
  load beats end before the first streamed beat, and the bottom row's partial sum is
  registered before it leaves; the formula (SCALE-Sim's) counts to the last MAC.
- Systolic with two int8 MACs per DSP48E2 (packed): neighbouring columns share one DSP and
  see the row operand on the same cycle, so a fold is floor(C/2) cycles shorter (the array
  skews over ceil(C/2) column groups); the formula has no packing term.
- Vector unit: ceil(elements/lanes) + 8, equal to the formula (the RTL lane has 8 stages).
- TAS unit: a one-lane MAC tree, equal to `tas_cycles`.
"""

from __future__ import annotations

import math

from cosim.sim.compute import adder_tree_depth, systolic_mapping


def mac_tree_rtl_cycles(m: int, k: int, n: int, *, lanes: int, width: int) -> int:
    """Cycles of an m x k x n GEMM on one generated MAC-tree array (lanes share the activations)."""
    return m * math.ceil(n / lanes) * math.ceil(k / width) + adder_tree_depth(width)


def systolic_groups(cols: int, packed: bool) -> int:
    """Column groups of the generated array: ceil(cols/2) when two columns share a DSP, else cols."""
    return math.ceil(cols / 2) if packed else cols


def systolic_rtl_fold_cycles(rows: int, cols: int, temporal: int, *, dataflow: str, packed: bool) -> int:
    """Cycles of one fold on the generated array (see the module docstring for the +1 and the packing)."""
    groups = systolic_groups(cols, packed)
    extra = 0 if dataflow == "output_stationary" else 1
    return 2 * rows + groups + temporal - 2 + extra


def systolic_rtl_cycles(m: int, k: int, n: int, *, rows: int, cols: int, dataflow: str, packed: bool) -> int:
    """Cycles of an m x k x n GEMM on one generated systolic array, folds back to back."""
    s_r, s_c, temporal = systolic_mapping(dataflow, m, k, n)
    folds = math.ceil(s_r / rows) * math.ceil(s_c / cols)
    return folds * systolic_rtl_fold_cycles(rows, cols, temporal, dataflow=dataflow, packed=packed)


def systolic_fold_difference(rows: int, cols: int, *, dataflow: str, packed: bool) -> int:
    """RTL minus formula cycles per fold: +rows output-stationary (the drain), +1 for the
    stationary dataflows, -floor(cols/2) with packing."""
    return (rows if dataflow == "output_stationary" else 1) - (cols // 2 if packed else 0)
