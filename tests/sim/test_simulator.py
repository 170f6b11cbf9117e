"""The simulator against hand computations, and its invariants on a 7B-shaped workload."""

import pytest

from cosim.artifacts.graph import add_op
from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.hw.library import load_design
from cosim.sim.policies import POLICIES
from cosim.sim.simulator import simulate, simulate_dense
from cosim.sim.workload import Workload
from simulator_graphs import OpSizes, first_frame_trace, llama7b_graph, llama_graph, one_op_graph, tiny_design
from workload_totals import expected_dram_bytes

# The tiny design: 48 DRAM bytes per cycle, 20 cycles of latency, 12288-byte weight tiles.
BYTES_PER_CYCLE, LATENCY = 48, 20
GEMV = OpSizes(weight_elems=48 * 1024, macs_fixed=48 * 1024, act_read_elems_fixed=48, act_write_elems_fixed=1024)
# 49152 weight bytes = 4 tiles of 12288 bytes (256 output columns); one tile loads in 12288 / 48 = 256 cycles
TILES, LOAD = 4, 12288 // BYTES_PER_CYCLE
SYSTOLIC_4X4_WS = {"type": "systolic", "arrays": 1, "rows": 4, "cols": 4, "dataflow": "weight_stationary"}
# one tile on it: S_R = k = 48 -> 12 folds, S_C = 256 columns -> 64 folds, T = 1 row: 2*4 + 4 + 1 - 2 = 11 cycles
SLOW_TILE = 12 * 64 * 11


def run(graph, design, trace=None, **kwargs):
    return simulate(graph, trace or first_frame_trace(), design, **kwargs)


# --------------------------------------------------------------------------- hand-computed cases


def test_bandwidth_bound_gemv_takes_bytes_over_bandwidth_plus_latency():
    # mac tree, one tile computes in ceil(256/64) * ceil(48/64) = 4 cycles + tree depth 1 + log2(64) = 7
    result = run(one_op_graph(**GEMV), tiny_design())
    compute_tile = 4 + 7
    # loads stream back to back (double-buffered, compute far shorter): latency once, then the last tile computes
    assert result.total_cycles == LATENCY + TILES * LOAD + compute_tile
    assert result.dram_bytes["read"]["weights"] == 49152
    assert result.engine_busy_cycles["matrix"] == TILES * compute_tile
    assert result.total_cycles >= result.roofline["bound_cycles"]


def test_gemv_counts_its_bytes_and_bits_for_its_class():
    result = run(one_op_graph(**GEMV), tiny_design())  # the op sits in a layer's pre-attention segment
    assert result.dram_bytes_by_block["attention"]["read"]["weights"] == 49152
    assert all(v == 0 for b in ("mlp", "other") for by in result.dram_bytes_by_block[b].values() for v in by.values())
    # weights: filled and read once (49152 bytes); activations: 48 input bytes read for each of the 4 tiles,
    # 1024 output bytes written
    assert result.buffer_bits_by_block["attention"] == {
        "w": {"read_bits": 49152 * 8, "write_bits": 49152 * 8},
        "kv": {"read_bits": 0, "write_bits": 0},
        "act": {"read_bits": 4 * 48 * 8, "write_bits": 1024 * 8},
    }
    assert result.buffer_bits["act"]["read_bits"] == 4 * 48 * 8


def test_burst_rounding_in_a_bandwidth_bound_op():
    # 48 x 1000 weights = 48000 bytes: tiles of 256, 256, 256, 232 columns (12288 x 3 + 11136 bytes);
    # the last tile is rounded up to 3 bursts = 12288 bytes, so every tile loads in 256 cycles
    gemv: OpSizes = {**GEMV, "weight_elems": 48 * 1000, "macs_fixed": 48 * 1000, "act_write_elems_fixed": 1000}
    result = run(one_op_graph(**gemv), tiny_design())
    assert result.dram_bytes["read"]["weights"] == 4 * 12288
    assert result.dram_bytes_unrounded["read"]["weights"] == 48000
    assert result.total_cycles == LATENCY + 4 * LOAD + (4 + 7)


@pytest.mark.parametrize(
    "dataflow, expected",
    [
        # 2 rows x k=48 x n=100 on two 4x4 arrays; a fold costs 2*4 + 4 + T - 2 (WS, IS) or
        # 4 + 4 + T - 2 (OS: nothing preloaded), as SCALE-Sim v3 counts (docs/fidelity.md)
        ("output_stationary", 13 * (4 + 4 + 48 - 2)),  # S_R=2, S_C=100: 1*25 folds -> 13 rounds, T=48
        ("weight_stationary", 150 * (8 + 4 + 2 - 2)),  # S_R=48, S_C=100: 12*25 folds -> 150 rounds, T=2
        ("input_stationary", 6 * (8 + 4 + 100 - 2)),  # S_R=48, S_C=2: 12*1 folds -> 6 rounds, T=100
    ],
)
def test_compute_bound_gemm_follows_the_systolic_formula(dataflow, expected):
    design = tiny_design(matrix={"type": "systolic", "arrays": 2, "rows": 4, "cols": 4, "dataflow": dataflow})
    on_chip = one_op_graph(macs_fixed=48 * 100, act_read_elems_fixed=48, act_write_elems_fixed=100)
    assert run(on_chip, design, first_frame_trace(rows=2)).total_cycles == expected
    # with weights: one 4800-byte tile (2 bursts, 8192 bytes, 171 cycles at 48 B/cycle) then the GEMM;
    # the 16384-bit port reads the tile in 3 cycles, far below the GEMM
    with_weights = one_op_graph(
        weight_elems=4800, macs_fixed=48 * 100, act_read_elems_fixed=48, act_write_elems_fixed=100
    )
    assert run(with_weights, design, first_frame_trace(rows=2)).total_cycles == LATENCY + 171 + expected


def test_double_buffering_hides_loads_only_when_they_are_shorter_than_compute():
    # compute-bound, double-buffered: first load exposed, the rest hidden behind compute
    hidden = run(one_op_graph(**GEMV), tiny_design(matrix=SYSTOLIC_4X4_WS))
    assert hidden.total_cycles == LATENCY + LOAD + TILES * SLOW_TILE
    # single-buffered: every tile loads (with latency: the stream went idle) and then computes
    single = run(one_op_graph(**GEMV), tiny_design(matrix=SYSTOLIC_4X4_WS, buffers={"w": {"double_buffered": False}}))
    assert single.total_cycles == TILES * (LATENCY + LOAD + SLOW_TILE)
    # load-bound, double-buffered: loads are not hidden (the compute is)
    fast = run(one_op_graph(**GEMV), tiny_design())
    assert fast.total_cycles == LATENCY + TILES * LOAD + 11
    # load-bound, single-buffered
    fast_single = run(one_op_graph(**GEMV), tiny_design(buffers={"w": {"double_buffered": False}}))
    assert fast_single.total_cycles == TILES * (LATENCY + LOAD + 11)


def test_buffer_port_bandwidth_limits_the_engine():
    # a 512-bit port delivers 64 bytes per cycle: a 12288-byte tile needs 192 cycles to reach the engine
    result = run(one_op_graph(**GEMV), tiny_design(buffers={"w": {"width_bits": 512}}))
    assert result.engine_busy_cycles["matrix"] == TILES * 192
    assert result.total_cycles == LATENCY + TILES * LOAD + 192


def test_vector_op_and_kv_writes():
    # RMSNorm-like op: 64 weight bytes (one burst), 640 flops on 64 lanes + pipeline depth 8, KV append stored after
    graph = one_op_graph(
        "norm", weight_elems=64, flops_fixed=640, act_read_elems_fixed=64, act_write_elems_fixed=64, kv_write_elems=100
    )
    result = run(graph, tiny_design())
    load = -(-4096 // BYTES_PER_CYCLE)  # one 4096-byte burst: 86 cycles
    store = LATENCY + load  # written back after the compute, the segment waits for it
    assert result.total_cycles == LATENCY + load + (10 + 8) + store
    assert result.dram_bytes["write"]["kv_write"] == 4096
    assert result.dram_bytes_unrounded["write"]["kv_write"] == 100
    assert result.vector_elements["attention"] == 640


def test_static_partition_gives_each_op_only_its_arrays():
    matrix = {"type": "systolic", "arrays": 4, "rows": 4, "cols": 4, "dataflow": "input_stationary"}
    on_chip = one_op_graph(macs_fixed=48 * 100, act_read_elems_fixed=48, act_write_elems_fixed=100)
    # input stationary, 12 folds of 2*4 + 4 + 100 - 2 = 110 cycles
    whole_pool = run(on_chip, tiny_design(matrix=matrix), first_frame_trace(rows=2))
    assert whole_pool.total_cycles == 3 * 110  # 12 folds on 4 arrays
    split = tiny_design(
        matrix=matrix, scheduling={"policy": "static", "static_split": {"attention_arrays": 1, "mlp_arrays": 3}}
    )
    static = run(on_chip, split, first_frame_trace(rows=2))
    assert static.total_cycles == 12 * 110  # an attention op on its single array
    assert static.engine_busy_cycles == {"matrix.attention": 1320, "matrix.mlp": 0, "vector": 0, "tas": 0}
    assert static.matrix_arrays == {"matrix.attention": 1, "matrix.mlp": 3}


# --------------------------------------------------------------------------- invariants on a 7B-shaped workload

LAYERS = 2
GRAPH_7B = llama7b_graph(num_layers=LAYERS, vocab=1000)
TRACE = synthetic_trace(
    num_layers=LAYERS,
    layer_rates=[0.4, 0.7],
    frames=3,
    frame_rows=2,
    frame_cols=4,
    correlation=0.5,
    rows_agree=False,
    seed=2,
)


def kv260(**overrides):
    from cosim.hw.library import override_design

    design = load_design("kv260-systolic")
    return override_design(design, overrides) if overrides else design


def same(a, b) -> bool:
    """Every figure of two results equal (not the wall time)."""
    skip = {"wall_time_s", "segments_simulated", "events_simulated"}
    da = {k: v for k, v in a.to_dict().items() if k not in skip}
    db = {k: v for k, v in b.to_dict().items() if k not in skip}
    return da == db


@pytest.fixture(scope="module")
def results_7b():
    design = kv260()
    return {policy: simulate(GRAPH_7B, TRACE, design, policy=policy) for policy in POLICIES}


def test_latency_never_beats_the_roofline(results_7b):
    for result in results_7b.values():
        assert result.total_cycles >= result.roofline["bound_cycles"] > 0
        assert result.total_cycles == int(result.step_cycles.sum()) == sum(result.block_cycles.values())


def test_bytes_moved_equal_the_workload(results_7b):
    expected = expected_dram_bytes(Workload(GRAPH_7B, TRACE, kv260()))
    for result in results_7b.values():
        moved = {(d, c): v for d, by in result.dram_bytes_unrounded.items() for c, v in by.items() if v}
        wasted = moved.pop(("read", "weights_prefetch_wasted"), 0)
        assert moved == expected
        assert wasted == (result.drs["prefetch_wasted_bytes"] if result.drs else 0)


def test_per_class_counts_add_up_to_the_totals(results_7b):
    steps = TRACE.num_steps
    for result in results_7b.values():
        by_block = result.dram_bytes_by_block
        for direction, by_category in result.dram_bytes.items():
            for category, nbytes in by_category.items():
                assert sum(by_block[b][direction][category] for b in by_block) == nbytes, (direction, category)
        for name, counts in result.buffer_bits.items():
            for key in ("read_bits", "write_bits"):
                assert sum(result.buffer_bits_by_block[b][name][key] for b in by_block) == counts[key], (name, key)
        # Q, K, V, O projections and the input norm of every layer, every step (whole bursts)
        assert by_block["attention"]["read"]["weights"] == steps * LAYERS * (4 * 4096 * 4096 + 4096)
        assert by_block["attention"]["read"]["kv_read"] == result.dram_bytes["read"]["kv_read"]
        assert by_block["mlp"]["read"]["kv_read"] == by_block["other"]["read"]["kv_read"] == 0
    # every policy moves the same weights for the same classes (DRS prefetches count for the op they serve)
    weights = [
        {b: r.dram_bytes_by_block[b]["read"]["weights"] for b in r.dram_bytes_by_block} for r in results_7b.values()
    ]
    assert weights[0] == weights[1] == weights[2]


def test_same_inputs_same_cycles(results_7b):
    again = simulate(GRAPH_7B, TRACE, kv260(), policy="drs")
    assert same(again, results_7b["drs"])


@pytest.mark.parametrize("policy", POLICIES.names())
def test_memoised_equals_plain_and_fast_path_equals_step_by_step(results_7b, policy):
    design = kv260()
    plain = simulate(GRAPH_7B, TRACE, design, policy=policy, memoize=False)
    assert same(plain, results_7b[policy])
    step_by_step = simulate(GRAPH_7B, TRACE, design, policy=policy, memoize=False, fast_forward=False)
    assert same(step_by_step, results_7b[policy])
    assert results_7b[policy].segments_simulated < results_7b[policy].segments_total


def test_all_dense_decisions_equal_the_dense_baseline():
    design = kv260()
    never = synthetic_trace(num_layers=LAYERS, layer_rates=0.0, frames=3, frame_rows=2, frame_cols=4)
    dense = simulate_dense(GRAPH_7B, TRACE, design)
    assert same(simulate(GRAPH_7B, never.dense_baseline(full_attention=False), design), dense)
    assert not TRACE.dense_baseline(full_attention=False).replay.any()
    # FastCar never replaying moves the same bytes plus the replay-ring writes, and runs TAS besides
    fastcar = simulate(GRAPH_7B, never, design)
    ring = never.num_steps * LAYERS * 2 * 4096  # every computed MLP output (2 rows, int8) is written
    for direction, by_category in dense.dram_bytes_unrounded.items():
        for category, nbytes in by_category.items():
            added = ring if (direction, category) == ("write", "replay_write") else 0
            assert fastcar.dram_bytes_unrounded[direction][category] == nbytes + added, category
    assert fastcar.engine_busy_cycles["tas"] > dense.engine_busy_cycles["tas"] == 0


def test_replay_removes_mlp_weight_traffic():
    design = kv260()
    always = synthetic_trace(
        num_layers=LAYERS, layer_rates=1.0, frames=2, frame_rows=2, frame_cols=4, conditioning_frames=1
    )
    replayed = simulate(GRAPH_7B, always, design)
    dense = simulate_dense(GRAPH_7B, always, design)
    mlp_weight_bytes = LAYERS * (3 * 4096 * 11008 + 4096)  # int8, per step, norm included
    steps = always.num_steps
    assert (
        dense.dram_bytes_unrounded["read"]["weights"] - replayed.dram_bytes_unrounded["read"]["weights"]
        == steps * mlp_weight_bytes
    )
    assert replayed.dram_bytes_unrounded["read"]["replay_read"] == steps * LAYERS * 2 * 4096
    assert replayed.macs["mlp"]["int8"] == 0
    assert replayed.dram_bytes_by_block["mlp"]["read"]["weights"] == 0
    assert replayed.dram_bytes_by_block["mlp"]["read"]["replay_read"] == replayed.dram_bytes["read"]["replay_read"]
    assert replayed.total_cycles < dense.total_cycles


def test_drs_mispredictions_waste_bytes_and_are_counted():
    # a small model whose layers fit the weight buffer: the stream reaches undecided MLPs and must guess
    graph = llama_graph(num_layers=3, hidden=128, heads=4, mlp_hidden=352, vocab=64)
    trace = synthetic_trace(
        num_layers=3,
        layer_rates=[0.3, 0.6, 0.9],
        frames=3,
        frame_rows=2,
        frame_cols=4,
        correlation=0.5,
        rows_agree=False,
        seed=3,
    )
    design = load_design("kv260-systolic")  # slow arrays: the stream gets ahead of TAS
    result = simulate(graph, trace, design, policy="drs")
    drs = result.drs
    assert drs is not None
    assert drs["prefetch_predictions_used"] > 0 and drs["prefetch_mispredicted"] > 0
    assert result.dram_bytes_unrounded["read"]["weights_prefetch_wasted"] == drs["prefetch_wasted_bytes"] > 0
    expected = expected_dram_bytes(Workload(graph, trace, design))
    assert result.dram_bytes_unrounded["read"]["weights"] == expected[("read", "weights")]
    assert same(result, simulate(graph, trace, design, policy="drs", memoize=False))
    # wasted bytes are the MLP decision's; the useful ones count for the op they were loaded for, as under static
    wasted = result.dram_bytes_by_block["mlp"]["read"]["weights_prefetch_wasted"]
    assert wasted == result.dram_bytes["read"]["weights_prefetch_wasted"] > 0
    static = simulate(graph, trace, design, policy="static")
    assert {b: result.dram_bytes_by_block[b]["read"]["weights"] for b in ("attention", "mlp", "other")} == {
        b: static.dram_bytes_by_block[b]["read"]["weights"] for b in ("attention", "mlp", "other")
    }
    # the predictor: previous frame's decision (any row computes) at the same position and layer
    truth = trace.replay.sum(axis=2) < 2
    f = 8
    accuracy = (truth[f:] == truth[:-f]).mean()
    assert drs["predictor_accuracy"] == pytest.approx(accuracy)
    assert drs["predictions"] == truth[f:].size


def graph_without_weights_after_the_last_mlp(hidden: int, mlp_hidden: int, sampling: bool):
    """Two layers and nothing after them (the final norm removed), or only a weightless sampling op."""
    graph = llama_graph(num_layers=2, hidden=hidden, heads=4, mlp_hidden=mlp_hidden)
    graph.remove_node("norm")
    if sampling:
        add_op(
            graph,
            "sample",
            "sampling",
            "head",
            after=["layers.1.residual_mlp"],
            flops_fixed=hidden,
            act_read_elems_fixed=hidden,
            act_write_elems_fixed=1,
        )
    return graph


@pytest.mark.parametrize(
    "hidden, mlp_hidden, sampling, replay_rate",
    [
        (64, 128, False, 0.5),  # the weight stream ends inside the last MLP's elements
        (64, 128, True, 1.0),  # every MLP replays: the stream ends at the last layer's output projection
        (256, 1024, False, 1.0),  # the same with 2-tile MLP weights (a stale position would load a wrong tile)
    ],
)
def test_drs_when_no_weights_follow_the_last_layer(hidden, mlp_hidden, sampling, replay_rate):
    # regression: the stream's position stayed behind the elements it had walked over when the video's
    # stream ended, and renumbered for the next segment it became negative (IndexError or a wrong tile)
    graph = graph_without_weights_after_the_last_mlp(hidden, mlp_hidden, sampling)
    trace = synthetic_trace(num_layers=2, layer_rates=replay_rate, frames=3, frame_rows=2, frame_cols=2, seed=0)
    design = kv260()
    result = simulate(graph, trace, design, policy="drs")
    assert same(result, simulate(graph, trace, design, policy="drs", memoize=False))
    moved = {(d, c): v for d, by in result.dram_bytes_unrounded.items() for c, v in by.items() if v}
    wasted = moved.pop(("read", "weights_prefetch_wasted"), 0)
    assert moved == expected_dram_bytes(Workload(graph, trace, design))
    assert result.drs is not None
    assert wasted == result.drs["prefetch_wasted_bytes"]


def test_timeline_and_utilisation_shapes(results_7b):
    result = results_7b["drs"]
    first, last = result.timeline_steps
    assert (first, last) == (8, 10)  # first two steps of the second generated frame (8 positions per frame)
    assert result.timeline and all(first <= e.step < last for e in result.timeline)
    assert {e.track for e in result.timeline} >= {"matrix", "vector", "dram.weights", "dram.kv_read"}
    for name, busy in result.utilisation().items():
        assert busy.shape == (TRACE.num_steps,) and (busy >= 0).all() and (busy <= 1).all(), name
    assert all(v.shape == (TRACE.num_steps,) for v in result.step_buffer_peak_bytes.values())
    assert result.step_buffer_peak_bytes["weights"].max() <= result.buffer_capacity_bytes["weights"]
    assert result.to_dict()["total_cycles"] == result.total_cycles


def test_fast_path_matches_on_varied_buffers():
    graph = llama_graph(num_layers=2, hidden=256, heads=4, mlp_hidden=512, vocab=100)
    trace = synthetic_trace(num_layers=2, layer_rates=0.5, frames=2, frame_rows=1, frame_cols=4, seed=5)
    for weights_bytes, double in ((4096, False), (8192, True), (60000, False)):
        design = kv260(
            **{
                "buffers.0.bytes": weights_bytes,
                "buffers.0.double_buffered": double,
                "buffers.1.bytes": 5000,
                "buffers.1.double_buffered": not double,
            }
        )
        for policy in ("static", "drs"):
            fast = simulate(graph, trace, design, policy=policy)
            assert same(fast, simulate(graph, trace, design, policy=policy, fast_forward=False, memoize=False))


def test_an_op_streaming_the_kv_cache_rereads_its_activations_once_per_tile_of_each_row():
    # per row: a 192-element query against 36864 KV bytes (192 x 192) = 3 tiles of the 12288-byte kv buffer;
    # 2 rows: each row's 192 input bytes are read once per tile of its own KV cache = 2 x 192 x 3 bytes
    score = one_op_graph(
        "attention_score",
        macs_fixed=192 * 192,
        kv_read_elems_fixed=192 * 192,
        act_read_elems_fixed=192,
        act_write_elems_fixed=192,
    )
    result = run(score, tiny_design(), first_frame_trace(rows=2))
    assert result.dram_bytes["read"]["kv_read"] == 2 * 3 * 12288
    assert result.buffer_bits["act"]["read_bits"] == 2 * 192 * 3 * 8


def test_baselines_without_fastcar_run_no_tas_and_write_no_replay_ring():
    design = kv260()
    fastcar = simulate(GRAPH_7B, TRACE, design)
    assert fastcar.engine_busy_cycles["tas"] and fastcar.dram_bytes["write"]["replay_write"]  # FastCar runs both
    sparse = TRACE.dense_baseline(full_attention=False)  # attended KV lengths as decoded, no replay
    sparse.meta.pop("dense_baseline")
    sparse.meta.update(source="decoded", thresholds=None)  # a sparse-attention decode with FastCar off
    for baseline in (simulate_dense(GRAPH_7B, TRACE, design), simulate(GRAPH_7B, sparse, design)):
        assert baseline.engine_busy_cycles["tas"] == 0
        assert baseline.dram_bytes["write"]["replay_write"] == 0


@pytest.mark.parametrize("policy", ["time_multiplexed", "drs"])
@pytest.mark.parametrize("arrays", [1, 2, 4, 8])
def test_a_compute_bound_gemm_on_n_arrays_takes_the_formula_even_when_a_slot_holds_few_columns(arrays, policy):
    # 2 rows x k=480 x n=96 int8 weights, output stationary on 4x4 arrays: S_R=2 -> 1 row fold, S_C=96 -> 24 folds
    # of 4 + 4 + 480 - 2 = 486 cycles. A 3840-byte slot holds 8 columns = 2 folds, fewer than 4 arrays: tiles of
    # 16 columns cut in two halves of the reduction (3840 bytes each) give every array a fold, and the second
    # half streams in behind the first (246 + 240 cycles; 8 arrays: quarters). Every load (20 + 86 cycles)
    # hides behind compute but the first, so N arrays take 1/N of one array's cycles (rounded up to whole folds).
    design = tiny_design(
        matrix={"type": "systolic", "arrays": arrays, "rows": 4, "cols": 4, "dataflow": "output_stationary"},
        buffers={"w": {"bytes": 3840}},
    )
    gemm = one_op_graph(weight_elems=480 * 96, macs_fixed=480 * 96, act_read_elems_fixed=480, act_write_elems_fixed=96)
    result = run(gemm, design, first_frame_trace(rows=2), policy=policy)
    formula = -(-24 // arrays) * 486
    assert result.engine_busy_cycles["matrix"] == formula
    assert result.total_cycles == LATENCY + 86 + formula
    assert result.dram_bytes_unrounded["read"]["weights"] == 480 * 96


def test_memoised_equals_continuous_with_tiles_cut_along_the_reduction():
    # u280-systolic: a 768 KB slot holds 192 of the 384 columns 12 output-stationary arrays need
    design = load_design("u280-systolic")
    graph = llama_graph(num_layers=1, hidden=4096, heads=32, mlp_hidden=11008, vocab=0)
    trace = synthetic_trace(num_layers=1, layer_rates=0.5, frames=2, frame_rows=1, frame_cols=4, rows_agree=False)
    for policy in POLICIES.names():
        memoised = simulate(graph, trace, design, policy=policy)
        assert same(simulate(graph, trace, design, policy=policy, memoize=False, fast_forward=False), memoised)


def test_stores_that_overflow_the_output_buffer_hold_the_op_until_written():
    import copy

    from cosim.hw.library import design_from_dict
    from simulator_graphs import TINY_DESIGN

    def with_output_buffer(nbytes):
        data = copy.deepcopy(TINY_DESIGN)
        data["buffers"].append(
            {"name": "out", "purpose": "output", "bytes": nbytes, "memory": "bram", "width_bits": 512}
        )
        return design_from_dict(data, "out")

    # a vector op appending 8192 KV bytes (2 bursts: 20 + 8192 / 48 -> 191 cycles), then a vector op using its output;
    # each computes 640 elements on 64 lanes + 8 = 18 cycles
    graph = one_op_graph(
        "norm", flops_fixed=640, act_read_elems_fixed=64, act_write_elems_fixed=64, kv_write_elems=8192
    )
    add_op(graph, "layers.0.next", "rope", "attention", layer=0, after=["layers.0.op"], flops_fixed=640)
    store = LATENCY + -(-8192 // BYTES_PER_CYCLE)
    # the store fits the output buffer: it drains while the next op computes
    assert run(graph, with_output_buffer(16384)).total_cycles == 18 + store
    # it does not: the first op ends once its store is written, then the next one computes
    assert run(graph, with_output_buffer(4096)).total_cycles == 18 + store + 18


@pytest.mark.parametrize("attention", ["dense", "sparse"])
def test_long_kv_streams_skip_whole_periods_and_equal_the_continuous_simulation(attention, monkeypatch):
    # ~600 KV entries of 1024 int4 values through an 8 KiB KV slot: each attention product streams ~38 equal
    # tiles per row, so the fast path skips whole periods of its tile pipeline (as in long videos); every figure
    # must equal the step-by-step continuous run, for every policy and the dense baseline
    import numpy as np

    from cosim.hw.library import override_design
    from cosim.sim import tile_pipeline

    skipped = []
    after = tile_pipeline._Jump.after

    def counted_after(*args):
        skipped.append(after(*args))
        return skipped[-1]

    monkeypatch.setattr(tile_pipeline._Jump, "after", counted_after)
    graph = llama_graph(num_layers=2, hidden=1024, heads=8, mlp_hidden=2048, vocab=0)
    trace = synthetic_trace(
        num_layers=2,
        layer_rates=[0.4, 0.7],
        frames=152,
        conditioning_frames=150,
        frame_rows=1,
        frame_cols=4,
        correlation=0.5,
        rows_agree=False,
        seed=2,
    )
    if attention == "sparse":  # layer 1 attends to about half of the cache, a different count each step
        trace.kv_attended[:, 1] = trace.kv_len // 2 + np.arange(trace.num_steps) % 3
        trace.meta["attention"] = {"policy": "sparse"}
    design = override_design(load_design("kv260-fastcar"), {"buffers.1.bytes": 8192})
    for policy in POLICIES.names():
        memoised = simulate(graph, trace, design, policy=policy)
        assert same(memoised, simulate(graph, trace, design, policy=policy, memoize=False, fast_forward=False))
    assert same(simulate_dense(graph, trace, design), simulate_dense(graph, trace, design, memoize=False))
    assert any(skip is not None for skip in skipped)


@pytest.mark.parametrize("policy", ["time_multiplexed", "drs"])
def test_a_run_leaves_the_garbage_collectors_thresholds_as_it_found_them(policy):
    import gc

    before = gc.get_threshold()
    graph = llama_graph(num_layers=2, hidden=128, heads=4, mlp_hidden=256, vocab=64)
    trace = synthetic_trace(num_layers=2, layer_rates=0.5, frames=2, frame_rows=2, frame_cols=2)
    simulate(graph, trace, tiny_design(), policy=policy)
    assert gc.get_threshold() == before
