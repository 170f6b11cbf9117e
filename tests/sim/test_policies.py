"""Scheduling policies: the registry, what each policy gives the ops, and a user-registered policy."""

import pytest

from cosim.analysis.comparison import simulate_runs
from cosim.cli import build_parser
from cosim.common.errors import UserError
from cosim.sim.policies import POLICIES, SchedulingPolicy, make_policy, register_policy
from cosim.sim.segments import OpWork
from cosim.sim.simulator import simulate
from simulator_graphs import first_frame_trace, one_op_graph, tiny_design

SPLIT = {"policy": "static", "static_split": {"attention_arrays": 1, "mlp_arrays": 3}}
FOUR_ARRAYS = {"type": "systolic", "arrays": 4, "rows": 4, "cols": 4, "dataflow": "input_stationary"}


def op(partition: str) -> OpWork:
    return OpWork(
        name="x",
        kind="linear",
        role="graph",
        engine="matrix",
        partition=partition,
        preds=(),
        m=1,
        k=1,
        n=1,
        instances=1,
        streamed=None,
        streamed_bytes=0,
        loads=(),
        stores=(),
        macs=1,
        mac_precision="int8",
        vector_elements=0,
        act_purpose="activations",
        act_read_bytes=0,
        act_write_bytes=0,
    )


def test_registry_and_design_default():
    assert {"static", "time_multiplexed", "drs"} <= set(POLICIES)
    assert make_policy(None, tiny_design()).name == "time_multiplexed"  # the design's own policy
    with pytest.raises(UserError, match=r"scheduling\.policy"):
        make_policy("round_robin", tiny_design())


def test_static_partitions():
    policy = make_policy(None, tiny_design(matrix=FOUR_ARRAYS, scheduling=SPLIT))
    assert policy.matrix_engines() == {"matrix.attention": 1, "matrix.mlp": 3}
    assert policy.matrix_engine_for(op("attention")) == "matrix.attention"
    assert policy.matrix_engine_for(op("mlp")) == "matrix.mlp"
    assert not policy.serial and not policy.stream_weights


def test_static_on_a_design_without_split_splits_evenly_or_refuses():
    assert make_policy("static", tiny_design(matrix=FOUR_ARRAYS)).matrix_engines() == {
        "matrix.attention": 2,
        "matrix.mlp": 2,
    }
    with pytest.raises(UserError, match="static_split"):
        make_policy("static", tiny_design())  # a single array cannot be split


def test_time_multiplexed_and_drs():
    design = tiny_design(matrix=FOUR_ARRAYS, scheduling=SPLIT)
    tm, drs = make_policy("time_multiplexed", design), make_policy("drs", design)
    assert tm.serial and not tm.stream_weights and tm.matrix_engines() == {"matrix": 4}
    assert drs.stream_weights and not drs.serial and drs.matrix_engines() == {"matrix": 4}
    assert drs.matrix_engine_for(op("mlp")) == "matrix"


class HalfPoolSerial(SchedulingPolicy):
    """A toy policy: every op on half the arrays, one op at a time (added through the registry alone)."""

    name = "half_pool"
    summary = "every op on half the arrays, one at a time"
    serial = True

    def matrix_engines(self):
        return {"matrix": max(self.total_arrays // 2, 1)}


@pytest.fixture
def half_pool():
    register_policy(HalfPoolSerial)
    yield HalfPoolSerial
    POLICIES.remove("half_pool")


def test_a_registered_policy_is_chosen_by_name(half_pool):
    design = tiny_design(matrix=FOUR_ARRAYS)
    on_chip = one_op_graph(macs_fixed=48 * 100, act_read_elems_fixed=48, act_write_elems_fixed=100)
    # input stationary: 12 folds of 2*4 + 4 + 100 - 2 = 110 cycles on 2 arrays -> 6 rounds
    result = simulate(on_chip, first_frame_trace(rows=2), design, policy="half_pool")
    assert result.policy == "half_pool" and result.total_cycles == 6 * 110
    assert result.matrix_arrays == {"matrix": 2} and result.drs is None


def test_a_registered_policy_reaches_the_schema_the_cli_and_the_comparison(half_pool):
    assert tiny_design(matrix=FOUR_ARRAYS, scheduling={"policy": "half_pool"}).scheduling.policy == "half_pool"
    parser = build_parser()
    for argv in (
        ["simulate", "--graph", "g", "--trace", "t", "--design", "d", "-o", "o", "--policy", "half_pool"],
        ["run", "--policy", "half_pool"],
    ):
        assert parser.parse_args(argv).policy == ["half_pool"]
    # with weights: DRS needs a weight stream to run on
    graph = one_op_graph(macs_fixed=48 * 100, act_read_elems_fixed=48, act_write_elems_fixed=100, weight_elems=4800)
    design, trace = tiny_design(matrix=FOUR_ARRAYS), first_frame_trace(rows=2)
    runs = simulate_runs(graph, trace, design, progress=False)
    assert [run.label for run in runs] == ["dense", *(f"fastcar-{name}" for name in POLICIES)]
    assert runs[-1].label == "fastcar-half_pool"
    assert runs[-1].result.total_cycles == simulate(graph, trace, design, policy="half_pool").total_cycles > 0


def test_drs_on_a_graph_without_weights_has_nothing_to_stream():
    """No op streams weights, so DRS runs like the whole pool on one op at a time (it divided by zero)."""
    design, trace = tiny_design(matrix=FOUR_ARRAYS), first_frame_trace(rows=2)
    on_chip = one_op_graph(macs_fixed=48 * 100, act_read_elems_fixed=48, act_write_elems_fixed=100)
    drs = simulate(on_chip, trace, design, policy="drs")
    assert drs.total_cycles == simulate(on_chip, trace, design, policy="time_multiplexed").total_cycles
    assert drs.total_cycles == simulate(on_chip, trace, design, policy="drs", memoize=False).total_cycles
