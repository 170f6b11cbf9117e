"""Engine cycle formulas at their edges, by hand: empty GEMMs, one-element reductions, the smallest
trees, the messages of refused dataflows and engines, and tiles of output-stationary arrays."""

from __future__ import annotations

import pytest

from cosim.sim import compute

EXPECTED_DATAFLOWS = "expected one of weight_stationary, output_stationary, input_stationary"


def test_an_unknown_dataflow_is_named_with_the_known_ones():
    with pytest.raises(ValueError) as mapping:
        compute.systolic_mapping("row_stationary", 1, 1, 1)
    assert str(mapping.value) == f"unknown dataflow 'row_stationary'; {EXPECTED_DATAFLOWS}"
    with pytest.raises(ValueError) as fold:
        compute.systolic_fold_cycles(1, 1, 1, "row_stationary")
    assert str(fold.value) == f"unknown dataflow 'row_stationary'; {EXPECTED_DATAFLOWS}"


def test_refused_matrix_engines_say_why():
    with pytest.raises(ValueError) as no_dataflow:
        compute.matrix_cycles("systolic", 1, 1, 1, rows=1, cols=1, dataflow=None, arrays=1)
    assert str(no_dataflow.value) == "a systolic engine needs a dataflow"
    with pytest.raises(ValueError) as unknown:
        compute.matrix_cycles("crossbar", 1, 1, 1, rows=1, cols=1, dataflow=None, arrays=1)
    assert str(unknown.value) == "unknown matrix engine type 'crossbar'"


@pytest.mark.parametrize("dims", [(0, 8, 6), (4, 0, 6), (4, 8, 0), (0, 0, 6)])
def test_an_empty_gemm_takes_no_cycles(dims):
    m, k, n = dims
    for dataflow in compute.DATAFLOWS:  # each streams a different dimension: an empty one must not cost a fold
        assert compute.systolic_cycles(m, k, n, rows=4, cols=4, dataflow=dataflow) == 0
    assert compute.mac_tree_cycles(m, k, n, lanes=4, width=16) == 0


def test_a_one_element_gemm_takes_one_fold_or_one_pass():
    # output stationary 1x1x1 on a 4x4 array: one fold of 4 + 4 + 1 - 2 = 7 cycles
    assert compute.systolic_cycles(1, 1, 1, rows=4, cols=4, dataflow="output_stationary") == 7
    # k = 1 over 6 outputs: S_C = 6 needs two column folds of 4 + 4 + 1 - 2 cycles
    assert compute.systolic_cycles(1, 1, 6, rows=4, cols=4, dataflow="output_stationary") == 2 * 7
    # a MAC tree 16 wide: one pass of one beat, plus the tree (1 multiply stage + 4 adder levels)
    assert compute.mac_tree_cycles(1, 1, 1, lanes=4, width=16) == 1 + 5
    assert compute.mac_tree_cycles(3, 1, 1, lanes=4, width=16) == 3 + 5


def test_adder_tree_depth_of_the_smallest_trees():
    assert compute.adder_tree_depth(1) == 1  # the multiplier alone
    assert compute.adder_tree_depth(2) == 2  # one adder level
    assert compute.adder_tree_depth(3) == 3
    assert compute.adder_tree_depth(0) == 1  # no products still has the multiply stage (no log of zero)


def test_a_mac_tree_engine_spreads_its_passes_over_its_arrays():
    # 2 x 100 x 10 on 4 lanes 16 wide: 6 passes of 7 beats; 5 arrays take ceil(6/5) = 2 passes each
    assert compute.matrix_cycles("mac_tree", 2, 100, 10, rows=4, cols=16, dataflow=None, arrays=5) == 2 * 7 + 5


def test_min_tile_columns_by_hand():
    def columns(m: int, arrays: int) -> int:
        return compute.min_tile_columns("systolic", m, rows=32, cols=32, dataflow="output_stationary", arrays=arrays)

    assert columns(0, 12) == 1  # nothing streamed: any tile
    assert columns(1, 12) == 32 * 12  # one row fold: every array needs its own 32 columns
    assert columns(130, 12) == 32 * 2  # ceil(130/32) = 5 row folds: 12 // 5 = 2 column folds per array
    assert columns(64, 1) == 32  # more row folds than arrays: one array-width of columns
    assert compute.min_tile_columns("mac_tree", 1, rows=32, cols=32, dataflow=None, arrays=12) == 1


def test_a_continuing_tile_pays_the_skew_only_when_all_its_folds_run_at_once():
    # 64 x 100 x 64 on 32x32 arrays: 2 x 2 = 4 folds of 32 + 32 + 100 - 2 = 162 cycles; 2 arrays run them in 2 rounds,
    # so a continuing tile cannot stream in behind the previous one: the whole 2 x 162
    assert (
        compute.matrix_tile_cycles(
            "systolic", 64, 100, 64, rows=32, cols=32, dataflow="output_stationary", arrays=2, continues=True
        )
        == 2 * 162
    )


def test_tas_dot_products_by_hand():
    # 3 dot products of length 40 on a 16-wide tree: 3 passes of ceil(40/16) = 3 beats, plus depth 5
    assert compute.tas_cycles(3, 40, 16) == 3 * 3 + 5


def test_buffer_reads_of_nothing_and_of_one_byte():
    assert compute.buffer_read_cycles(1, 64.0) == 1
    assert compute.buffer_read_cycles(0, 0.0) == 0  # nothing to read costs nothing, even without a port
