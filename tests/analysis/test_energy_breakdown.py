"""The energy breakdown's parts a report reads: its dictionary, the on-chip split by memory kind, entries set
to zero, and the time shares that divide power drawn over time (hand-made KV260 result, see test_energy.py)."""

import pytest

from cosim.analysis.energy import compute_energy, energy_table, time_share
from handmade_results import handmade_result, kv260

US = 16e-6  # latency of the hand-made video


@pytest.fixture(scope="module")
def design():
    return kv260()


def test_the_dictionary_holds_every_figure(design):
    energy = compute_energy(handmade_result(), design)
    assert energy.to_dict() == {
        "total_j": energy.total_j,
        "per_token_j": energy.per_token_j,
        "average_power_w": energy.average_power_w,
        "on_chip_power_w": energy.on_chip_power_w,
        "board_power_w": energy.board_power_w,
        "board_total_j": energy.board_total_j,
        "board_j": energy.board_j,
        "by_component_j": energy.by_component_j,
        "by_block_j": energy.by_block_j,
        "by_component_block_j": energy.by_component_block_j,
        "compute_by_precision_j": energy.compute_by_precision_j,
        "vector_j": energy.vector_j,
        "on_chip_by_memory_j": energy.on_chip_by_memory_j,
        "dram_by_category_j": energy.dram_by_category_j,
        "table": energy.table,
        "time_shared": ["DRAM controller", "static"],
    }
    # the figures are distinct: a swapped entry would show
    assert len({energy.total_j, energy.per_token_j, energy.average_power_w, energy.on_chip_power_w}) == 4
    assert len({energy.board_power_w, energy.board_total_j, energy.vector_j}) == 3


def test_on_chip_energy_by_memory_kind_adds_every_buffer_of_a_kind(design):
    result = handmade_result()
    # 16e6 URAM bits x 0.2 pJ, 2e6 BRAM bits x 0.1 pJ
    assert compute_energy(result, design).on_chip_by_memory_j == pytest.approx({"bram": 2e-7, "uram": 3.2e-6})
    result.buffer_bits["kv"] = {"memory": "uram", "read_bits": 1_000_000, "write_bits": 3_000_000}
    result.buffer_bits["out"] = {"memory": "bram", "read_bits": 0, "write_bits": 2_000_000}
    assert compute_energy(result, design).on_chip_by_memory_j == pytest.approx({"bram": 4e-7, "uram": 4e-6})


def test_entries_set_to_zero_cost_nothing(design):
    custom = design.model_copy(deep=True)
    custom.energy.dram_pj_per_bit = 0.0
    custom.energy.dram_controller_mw_per_channel = 0.0
    assert custom.memory_spec is not design.memory_spec  # a copy: the loaded device stays as it is
    custom.memory_spec.background_mw_per_channel = 0.0
    table = energy_table(custom)
    assert (table["dram_pj_per_bit"], table["dram_controller_mw_per_channel"]) == (0.0, 0.0)
    assert table["dram_background_mw_per_channel"] == 0.0
    energy = compute_energy(handmade_result(), custom)
    assert energy.by_component_j["dram"] == energy.by_component_j["dram_controller"] == 0.0
    assert energy.board_j["dram_background"] == 0.0
    assert energy.by_component_j["static"] == pytest.approx(1.0 * US)


def test_time_shares_follow_the_block_cycles_and_count_a_missing_class_as_idle():
    assert time_share(handmade_result(block_cycles={"attention": 1000, "mlp": 3000})) == {
        "attention": 0.25,
        "mlp": 0.75,
        "other": 0.0,
    }


def test_time_shares_of_a_video_without_cycles_are_equal():
    assert time_share(handmade_result(block_cycles={"attention": 0, "mlp": 0, "other": 0})) == dict.fromkeys(
        ("attention", "mlp", "other"), 1 / 3
    )
    assert time_share(handmade_result(block_cycles={"mlp": 1})) == {"attention": 0.0, "mlp": 1.0, "other": 0.0}


def test_each_channel_in_use_draws_its_background_and_controller_power(design):
    two = design.model_copy(deep=True)
    two.dram.channels = 2
    energy = compute_energy(handmade_result(), two)
    # DDR4 background 300 mW and controller 500 mW, per channel, over 16 us
    assert energy.board_j["dram_background"] == pytest.approx(2 * 0.3 * US)
    assert energy.by_component_j["dram_controller"] == pytest.approx(2 * 0.5 * US)
