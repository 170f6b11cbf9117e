"""Energy of a hand-made SimResult on the KV260 design, computed by hand.

The video: 4000 cycles at 250 MHz = 16 us; a quarter of the time attention, half MLP, a
quarter other. Table: int8 MAC 0.75 pJ, URAM 0.2 pJ/bit, BRAM 0.1 pJ/bit, DDR4
15 pJ/bit, controller 500 mW x 1 channel, static 1 W.
"""

import pytest

from cosim.energy import COMPONENTS, compute_energy
from handmade_results import handmade_result, kv260

US = 16e-6  # latency of the hand-made video


@pytest.fixture(scope="module")
def design():
    return kv260()


def test_components_match_the_hand_calculation(design):
    energy = compute_energy(handmade_result(), design)
    by_component = energy.by_component_j
    # 3e6 int8 MACs x 0.75 pJ + 1e4 vector ops x 0.75 pJ
    assert by_component["compute"] == pytest.approx(3e6 * 0.75e-12 + 1e4 * 0.75e-12)
    # 16e6 URAM bits x 0.2 pJ + 2e6 BRAM bits x 0.1 pJ
    assert by_component["on_chip_memory"] == pytest.approx(16e6 * 0.2e-12 + 2e6 * 0.1e-12)
    # (1e6 weights + 1e5 KV read + 1e4 KV write) bytes x 8 x 15 pJ
    assert by_component["dram"] == pytest.approx(1.11e6 * 8 * 15e-12)
    assert by_component["dram_controller"] == pytest.approx(0.5 * US)
    assert by_component["static"] == pytest.approx(1.0 * US)
    assert energy.total_j == pytest.approx(2.2575e-6 + 3.4e-6 + 1.332e-4 + 8e-6 + 16e-6)
    assert energy.per_token_j == pytest.approx(energy.total_j / 2)
    assert energy.average_power_w == pytest.approx(energy.total_j / US)


def test_op_classes_exact_where_counted_and_time_shared_elsewhere(design):
    energy = compute_energy(handmade_result(), design)
    shared = 3.4e-6 + 1e6 * 8 * 15e-12 + 0.5 * US + 1.0 * US  # on-chip, weights, controller, static
    kv = 1.1e5 * 8 * 15e-12
    expected = {
        "attention": 1e6 * 0.75e-12 + 1e4 * 0.75e-12 + kv + 0.25 * shared,
        "mlp": 2e6 * 0.75e-12 + 0.5 * shared,
        "other": 0.25 * shared,
    }
    assert energy.by_block_j == pytest.approx(expected)
    assert sum(energy.by_block_j.values()) == pytest.approx(energy.total_j)
    matrix = energy.by_component_block_j
    assert set(matrix) == set(COMPONENTS)
    assert matrix["dram"]["attention"] == pytest.approx(kv + 0.25 * 1e6 * 8 * 15e-12)


def test_replay_traffic_and_wasted_prefetch_count_as_mlp(design):
    result = handmade_result()
    result.dram_bytes["read"]["replay_read"] = 1000
    result.dram_bytes["write"]["replay_write"] = 1000
    result.dram_bytes["read"]["weights_prefetch_wasted"] = 2000
    before = compute_energy(handmade_result(), design)
    after = compute_energy(result, design)
    added = 4000 * 8 * 15e-12
    assert after.by_block_j["mlp"] - before.by_block_j["mlp"] == pytest.approx(added)
    assert after.by_block_j["attention"] == pytest.approx(before.by_block_j["attention"])
    assert after.dram_by_category_j["weights_prefetch_wasted"] == pytest.approx(2000 * 8 * 15e-12)


def test_overridden_table_entries_are_used(design):
    custom = design.model_copy(deep=True)
    custom.energy.mac_int8_pj = 2.0
    custom.energy.static_w = 0.0
    energy = compute_energy(handmade_result(), custom)
    assert energy.by_component_j["compute"] == pytest.approx(3.01e6 * 2e-12)
    assert energy.by_component_j["static"] == 0.0
    assert energy.table["mac_int8_pj"] == 2.0


def test_result_of_another_design_is_refused(design):
    result = handmade_result()
    result.design_name = "zcu104-fastcar"
    with pytest.raises(ValueError, match="does not match"):
        compute_energy(result, design)
