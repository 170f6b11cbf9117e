"""What the policies tell the rest of the project: the schema's words for them, the static policy's even
split of a design made for another policy, and the DRS section of a result, each against a hand count."""

import pytest

from cosim.common.errors import UserError
from cosim.sim.policies import POLICIES, SchedulingPolicy, make_policy, register_policy
from cosim.sim.policies.base import policy_summaries, split_rules_text
from cosim.sim.simulator import simulate
from simulator_graphs import llama_graph, one_token_per_frame_trace, tiny_design


def test_the_schema_words_for_the_registered_policies():
    assert split_rules_text() == "Required for static and drs; not allowed for time_multiplexed."
    assert policy_summaries() == (
        "static: fixed split; time_multiplexed: all arrays on one op at a time; "
        "drs: dynamic resource scheduling driven by TAS replay decisions (the DRS design in docs/)"
    )


def _toy_policy(name: str, rule: str) -> type[SchedulingPolicy]:
    return type(f"Toy_{name}", (SchedulingPolicy,), {"name": name, "summary": f"toy {name}", "static_split": rule})


@pytest.fixture
def three_more_policies():
    """Two more policies that require a split and one that may take one."""
    added = [_toy_policy("ring", "required"), _toy_policy("mesh", "required"), _toy_policy("free", "optional")]
    for cls in added:
        register_policy(cls)
    yield
    for cls in added:
        POLICIES.remove(cls.name)


def test_the_schema_words_list_many_policies_with_commas(three_more_policies):
    assert split_rules_text() == (
        "Required for static, drs, ring and mesh; optional for free; not allowed for time_multiplexed."
    )
    assert policy_summaries().endswith("; ring: toy ring; mesh: toy mesh; free: toy free")


@pytest.mark.parametrize("arrays, split", [(2, (1, 1)), (5, (2, 3))])
def test_static_without_a_split_halves_the_pool_rounding_attention_down(arrays, split):
    matrix = {"type": "systolic", "arrays": arrays, "rows": 4, "cols": 4, "dataflow": "input_stationary"}
    design = tiny_design(matrix=matrix)
    policy = make_policy("static", design)
    engines = policy.matrix_engines()
    assert engines == {"matrix.attention": split[0], "matrix.mlp": split[1]}
    assert all(type(n) is int for n in engines.values())
    assert policy.design is design


def test_static_on_one_array_names_what_it_needs():
    with pytest.raises(UserError) as error:
        make_policy("static", tiny_design())
    assert (error.value.file, error.value.key, error.value.found) == (None, "scheduling.static_split", 1)
    assert error.value.expected == "a static split, or engines.matrix.arrays >= 2 to split evenly"


# --------------------------------------------------------------------------- the DRS section of a result


GRAPH = llama_graph(num_layers=1, hidden=64, heads=4, mlp_hidden=128, tokens_per_frame=1, frames=3)
DRS = {"policy": "drs", "static_split": {"attention_arrays": 1, "mlp_arrays": 3}}
FOUR_ARRAYS = {"type": "systolic", "arrays": 4, "rows": 4, "cols": 4, "dataflow": "input_stationary"}


def test_drs_section_counts_a_layer_with_one_computing_row_as_computing():
    # frame 1: one row computes, so the MLP weights are needed (computes); predicted from frame 0 (computes): right.
    # frame 2: both rows replay (skips); predicted from frame 1 (computes): wrong. Accuracy 1 / 2.
    trace = one_token_per_frame_trace([(False, False), (True, False), (True, True)])
    drs = simulate(GRAPH, trace, tiny_design(matrix=FOUR_ARRAYS, scheduling=DRS), policy="drs").drs
    assert drs is not None
    assert set(drs) == {
        "predictor_accuracy",
        "predictions",
        "prefetch_predictions_used",
        "prefetch_mispredicted",
        "prefetch_bytes",
        "prefetch_wasted_bytes",
    }
    assert (drs["predictor_accuracy"], drs["predictions"]) == (0.5, 2)
    assert drs["prefetch_bytes"] > 0


def test_drs_section_without_a_previous_frame_has_no_accuracy():
    trace = one_token_per_frame_trace([(False, False)])
    drs = simulate(GRAPH, trace, tiny_design(matrix=FOUR_ARRAYS, scheduling=DRS), policy="drs").drs
    assert drs is not None
    assert (drs["predictor_accuracy"], drs["predictions"], drs["prefetch_predictions_used"]) == (None, 0, 0)
