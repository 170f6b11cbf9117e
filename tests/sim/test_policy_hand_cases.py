"""Multi-op graphs where static, time-multiplexed and DRS give different, hand-derived cycle counts,
and a DRS case where the previous-frame predictor changes what the weight stream does and how long it takes."""

import networkx as nx
import pytest

from cosim.artifacts.graph import add_op
from cosim.artifacts.replay_trace import ReplayTrace
from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.hw.library import load_design
from cosim.sim.simulator import simulate
from simulator_graphs import (
    OpSizes,
    first_frame_trace,
    llama_graph,
    one_layer_graph,
    one_token_per_frame_trace,
    tiny_design,
)

FOUR_ARRAYS = {"type": "systolic", "arrays": 4, "rows": 4, "cols": 4, "dataflow": "input_stationary"}
SPLIT = {"policy": "static", "static_split": {"attention_arrays": 1, "mlp_arrays": 3}}
# tiny design: 48 DRAM bytes per cycle, 20 cycles of latency; a 4800-byte weight tile is rounded to two
# 4096-byte bursts = 8192 bytes = 171 cycles
LATENCY, TILE_LOAD = 20, 171
# a 2-row x k=48 x n=100 GEMM, input stationary: 12 folds of 2*4 + 4 + 100 - 2 = 110 cycles
FOLD, FOLDS = 110, 12
# a norm over 2 rows x 640 flops on 64 lanes: 20 cycles + pipeline depth 8
NORM = 2 * 640 // 64 + 8


def three_independent_ops() -> nx.DiGraph:
    """Two GEMMs with their own weights and a norm, none depending on another, in one segment."""
    g: nx.DiGraph[str] = one_layer_graph("three-op")
    gemm = OpSizes(weight_elems=4800, macs_fixed=48 * 100, act_read_elems_fixed=48, act_write_elems_fixed=100)
    add_op(g, "layers.0.gemm_a", "linear", "attention", layer=0, **gemm)
    add_op(g, "layers.0.gemm_b", "linear", "attention", layer=0, **gemm)
    norm = OpSizes(flops_fixed=640, act_read_elems_fixed=64, act_write_elems_fixed=64)
    add_op(g, "layers.0.norm", "norm", "attention", layer=0, **norm)
    return g


@pytest.mark.parametrize(
    "policy, expected",
    [
        # both GEMMs on the single attention array, one after the other; each loads its tile when it starts
        # (the stream has gone idle: latency again) and then computes 12 folds on one array; the norm overlaps
        ("static", 2 * (LATENCY + TILE_LOAD + FOLDS * FOLD)),
        # one op at a time, each on the whole pool (12 folds on 4 arrays = 3 rounds): nothing overlaps
        ("time_multiplexed", 2 * (LATENCY + TILE_LOAD + FOLDS // 4 * FOLD) + NORM),
        # one weight stream loads both tiles back to back (the second is on chip at 20 + 2 * 171 = 362 cycles,
        # before the first GEMM ends at 191 + 330): only the first load is exposed; the norm overlaps
        ("drs", LATENCY + TILE_LOAD + 2 * (FOLDS // 4 * FOLD)),
    ],
)
def test_three_ops_on_two_engines_per_policy(policy, expected):
    design = tiny_design(matrix=FOUR_ARRAYS, scheduling=SPLIT)
    result = simulate(three_independent_ops(), first_frame_trace(rows=2), design, policy=policy)
    assert result.total_cycles == expected
    assert result.engine_busy_cycles["vector"] == NORM


# --------------------------------------------------------------------------- the DRS predictor

GRAPH = llama_graph(num_layers=3, hidden=128, heads=4, mlp_hidden=352, vocab=64)


def every_mlp_replays(frames: int):
    """Every MLP of every generated frame replays (frame 1 of the trace has no previous frame to predict from)."""
    return synthetic_trace(num_layers=3, layer_rates=1.0, frames=frames, frame_rows=2, frame_cols=4)


@pytest.fixture(scope="module")
def drs_runs():
    design = load_design("kv260-systolic")  # slow arrays: the stream gets ahead of TAS and must guess
    return {frames: simulate(GRAPH, every_mlp_replays(frames), design, policy="drs") for frames in (2, 3)}


def test_the_previous_frame_predictor_guesses_replay_right(drs_runs):
    one, two = drs_runs[2], drs_runs[3]  # one generated frame, then two
    assert one.drs is not None and two.drs is not None
    # first generated frame: no previous frame, the stream loads every MLP and TAS says replay: all guesses wrong
    assert one.drs["prefetch_predictions_used"] == one.drs["prefetch_mispredicted"] == 8 * 3
    # second frame: the previous frame replayed, so the stream skips the MLP weights: every new guess is right
    assert two.drs["prefetch_predictions_used"] == 2 * 8 * 3
    assert two.drs["prefetch_mispredicted"] == one.drs["prefetch_mispredicted"]
    assert two.drs["prefetch_wasted_bytes"] == one.drs["prefetch_wasted_bytes"] > 0
    assert two.drs["predictor_accuracy"] == 1.0


def test_drs_is_faster_than_the_other_policies_on_replayed_mlps(drs_runs):
    design = load_design("kv260-systolic")
    others = {
        p: simulate(GRAPH, every_mlp_replays(3), design, policy=p).total_cycles for p in ("static", "time_multiplexed")
    }
    assert drs_runs[3].total_cycles < others["time_multiplexed"] < others["static"]


# --------------------------------------------------------------------------- a wrong guess costs one exposed load

DRS_SPLIT = {"policy": "drs", "static_split": {"attention_arrays": 1, "mlp_arrays": 3}}


def projection_then_mlp() -> nx.DiGraph:
    """One layer: an attention projection, then (after the TAS op the workload adds) a replayable MLP GEMM.
    Each has one 4800-byte weight tile; one token per frame, so frame f's step predicts from frame f - 1's."""
    g: nx.DiGraph[str] = one_layer_graph("projection-then-mlp")
    g.graph["tokens_per_frame"] = 1
    gemm = OpSizes(weight_elems=4800, macs_fixed=48 * 100, act_read_elems_fixed=48, act_write_elems_fixed=100)
    add_op(g, "layers.0.proj", "linear", "attention", layer=0, **gemm)
    add_op(g, "layers.0.mlp", "linear", "mlp", layer=0, after=["layers.0.proj"], replayable=True, **gemm)
    return g


def one_token_frames(replays: list[int]) -> ReplayTrace:
    """One step per frame (one row, one column), frame f replaying its MLP when replays[f]."""
    return one_token_per_frame_trace([(bool(r),) for r in replays])


@pytest.mark.parametrize("latency_ns, latency_cycles", [(100.0, 20), (200.0, 40)])
def test_a_wrong_skip_guess_exposes_one_tile_load(latency_ns, latency_cycles):
    """Frame 3 computes its MLP in both videos; only the guess differs. Before it, frame 2 computed
    (guess: compute, right) or replayed (guess: skip, wrong). A right guess has the MLP tile on chip
    when the MLP starts (the stream loaded it during the projection). A wrong one skipped it: the
    stream learns the truth from TAS, which ends as the MLP segment starts, and only then loads the
    tile, so frame 3 takes one DRAM latency plus one tile transfer (171 cycles) longer."""
    dram = {"channels": 1, "efficiency": 0.5, "burst_bytes": 4096, "access_latency_ns": latency_ns}
    design = tiny_design({"dram": dram}, matrix=FOUR_ARRAYS, scheduling=DRS_SPLIT)
    for tail in ([], [0]):  # frame 3 last in the video, or followed by another frame
        right = simulate(projection_then_mlp(), one_token_frames([0, 0, 0, 0, *tail]), design, policy="drs")
        wrong = simulate(projection_then_mlp(), one_token_frames([0, 1, 1, 0, *tail]), design, policy="drs")
        assert right.drs is not None and wrong.drs is not None
        assert right.drs["prefetch_mispredicted"] == 0
        # frame 1 guessed compute (frame 0 computed) and frame 3 guessed skip (frame 2 replayed): both wrong
        assert wrong.drs["prefetch_mispredicted"] == 2
        assert wrong.step_cycles[3] - right.step_cycles[3] == latency_cycles + TILE_LOAD
