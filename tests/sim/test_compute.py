"""Engine cycle formulas against hand computations (SCALE-Sim's analytical model for systolic arrays)."""

import pytest

from cosim.sim import compute


def test_systolic_each_dataflow_by_hand():
    # GEMM m=4 streamed rows, k=8 reduction, n=6 outputs on one 4x4 array.
    # output stationary: S_R=m=4, S_C=n=6, T=k=8 -> 1*2 folds of 4+4+8-2 = 14 cycles (nothing preloaded;
    # SCALE-Sim 3.0.0 runs this GEMM for 28 cycles, where the former 2*rows+cols+T-2 gave 2*18)
    assert compute.systolic_cycles(4, 8, 6, rows=4, cols=4, dataflow="output_stationary") == 2 * 14
    # weight stationary: S_R=k=8, S_C=n=6, T=m=4 -> 2*2 folds of 2*4+4+4-2 = 14 cycles
    assert compute.systolic_cycles(4, 8, 6, rows=4, cols=4, dataflow="weight_stationary") == 4 * 14
    # input stationary: S_R=k=8, S_C=m=4, T=n=6 -> 2*1 folds of 2*4+4+6-2 = 16 cycles
    assert compute.systolic_cycles(4, 8, 6, rows=4, cols=4, dataflow="input_stationary") == 2 * 16


def test_systolic_folds_spread_over_arrays():
    # weight stationary, 4 folds of 14 cycles on 3 arrays: ceil(4/3) = 2 rounds
    assert compute.systolic_cycles(4, 8, 6, rows=4, cols=4, dataflow="weight_stationary", arrays=3) == 2 * 14
    assert compute.systolic_cycles(4, 8, 6, rows=4, cols=4, dataflow="weight_stationary", arrays=4) == 14


def test_one_fold_is_fill_stream_drain():
    # a 16x8 array streaming 2 rows: 2*16 + 8 + 2 - 2 = 40 cycles (decode GEMV on weight stationary)
    assert compute.systolic_fold_cycles(16, 8, 2, "weight_stationary") == 40
    # output stationary preloads nothing: 16 + 8 + 2 - 2
    assert compute.systolic_fold_cycles(16, 8, 2, "output_stationary") == 24
    assert compute.systolic_cycles(2, 16, 8, rows=16, cols=8, dataflow="weight_stationary") == 40


def test_mac_tree_by_hand():
    # 2 x 100 x 10 on 4 lanes of 16-wide trees: the lanes share a row's activations, so each row takes
    # ceil(10/4)=3 passes (the last with 2 lanes idle), 2 x 3 = 6 passes of ceil(100/16)=7 cycles each,
    # plus the tree: 1 multiply stage + log2(16)=4 adder levels
    assert compute.mac_tree_cycles(2, 100, 10, lanes=4, width=16) == 6 * 7 + 5
    assert compute.mac_tree_cycles(2, 100, 10, lanes=4, width=16, arrays=5) == 2 * 7 + 5
    # lanes dividing n: every lane busy in every pass, ceil(2*12/4) = 6 passes
    assert compute.mac_tree_cycles(2, 100, 12, lanes=4, width=16) == 6 * 7 + 5


def test_vector_and_tas_units_by_hand():
    assert compute.vector_cycles(1000, 32) == 32 + compute.VECTOR_PIPELINE_DEPTH_CYCLES
    assert compute.vector_cycles(0, 32) == 0
    # two rows of a 4096-long dot product on a 16-wide TAS tree: 2 * 256 passes + depth 5
    assert compute.tas_cycles(2, 4096, 16) == 2 * 256 + 5


def test_matrix_dispatch_and_errors():
    assert compute.matrix_cycles("mac_tree", 2, 100, 10, rows=4, cols=16, dataflow=None, arrays=1) == 47
    assert compute.matrix_cycles("systolic", 4, 8, 6, rows=4, cols=4, dataflow="input_stationary", arrays=1) == 32
    assert compute.systolic_cycles(0, 8, 6, rows=4, cols=4, dataflow="weight_stationary") == 0
    with pytest.raises(ValueError):
        compute.systolic_mapping("row_stationary", 1, 1, 1)
    with pytest.raises(ValueError):
        compute.systolic_fold_cycles(1, 1, 1, "row_stationary")
    with pytest.raises(ValueError):
        compute.matrix_cycles("systolic", 1, 1, 1, rows=1, cols=1, dataflow=None, arrays=1)


def test_buffer_port_cycles():
    assert compute.buffer_read_cycles(12288, 2048.0) == 6
    assert compute.buffer_read_cycles(12289, 2048.0) == 7
    assert compute.buffer_read_cycles(0, 64.0) == 0


def test_tiles_that_must_give_every_array_work_are_cut_along_the_reduction():
    from cosim.sim.buffers import tile_columns

    # 4096 x 4096 int8 weights, 768 KB slot (192 columns): 12 output-stationary 32-column arrays need 384 columns,
    # so groups of 384 columns come in two halves of the reduction; the last group has 256 columns
    tile_bytes, k, n = tile_columns(4096 * 4096, 4096, 4096, 786432, min_columns=384)
    assert list(n) == [384] * 20 + [256] * 2 and list(k) == [2048] * 22
    assert list(tile_bytes) == [786432] * 20 + [524288] * 2
    assert compute.min_tile_columns("systolic", 2, rows=32, cols=32, dataflow="output_stationary", arrays=12) == 384
    assert compute.min_tile_columns("systolic", 2, rows=16, cols=8, dataflow="weight_stationary", arrays=8) == 1
    # the second half continues the reduction in place: 2048 cycles, the first pays the skew and drain too
    first, second = (
        compute.matrix_tile_cycles(
            "systolic", 2, 2048, 384, rows=32, cols=32, dataflow="output_stationary", arrays=12, continues=c
        )
        for c in (False, True)
    )
    assert (first, second) == (32 + 32 + 2048 - 2, 2048)
    assert first + second == compute.systolic_cycles(
        2, 4096, 384, rows=32, cols=32, dataflow="output_stationary", arrays=12
    )
