"""Energy of a hand-made SimResult on the KV260 design, computed by hand.

The video: 4000 cycles at 250 MHz = 16 us; a quarter of the time attention, half MLP, a
quarter other. Table: int8 MAC 0.75 pJ, URAM 0.2 pJ/bit, BRAM 0.1 pJ/bit, DDR4
15 pJ/bit, controller 500 mW x 1 channel, static 1 W.
"""

import pytest

from cosim.analysis.energy import COMPONENTS, TIME_SHARED, compute_energy
from cosim.sim.result import DRAM_CATEGORIES
from handmade_results import handmade_result, kv260

US = 16e-6  # latency of the hand-made video
DRAM_J_PER_BYTE = 8 * 15e-12


@pytest.fixture(scope="module")
def design():
    return kv260()


def with_class_counts(result):
    """The hand-made result with its DRAM bytes and buffer bits counted per op class, as the simulator does:
    weights 3e5 / 6e5 / 1e5 bytes, the KV traffic attention's; URAM bits 4e6 / 10e6 / 2e6, BRAM 1e6 / 8e5 / 2e5."""
    zeros = dict.fromkeys(DRAM_CATEGORIES, 0)
    result.dram_bytes_by_block = {
        "attention": {"read": dict(zeros, weights=300_000, kv_read=100_000), "write": dict(zeros, kv_write=10_000)},
        "mlp": {"read": dict(zeros, weights=600_000), "write": dict(zeros)},
        "other": {"read": dict(zeros, weights=100_000), "write": dict(zeros)},
    }
    result.buffer_bits_by_block = {
        block: {"weights": {"read_bits": uram, "write_bits": uram}, "act": {"read_bits": bram, "write_bits": bram}}
        for block, uram, bram in (("attention", 2e6, 5e5), ("mlp", 5e6, 4e5), ("other", 1e6, 1e5))
    }
    return result


def test_components_match_the_hand_calculation(design):
    energy = compute_energy(with_class_counts(handmade_result()), design)
    by_component = energy.by_component_j
    # 3e6 int8 MACs x 0.75 pJ + 1e4 vector ops x 0.75 pJ
    assert by_component["compute"] == pytest.approx(3e6 * 0.75e-12 + 1e4 * 0.75e-12)
    # 16e6 URAM bits x 0.2 pJ + 2e6 BRAM bits x 0.1 pJ
    assert by_component["on_chip_memory"] == pytest.approx(16e6 * 0.2e-12 + 2e6 * 0.1e-12)
    # (1e6 weights + 1e5 KV read + 1e4 KV write) bytes x 8 x 15 pJ
    assert by_component["dram"] == pytest.approx(1.11e6 * DRAM_J_PER_BYTE)
    assert by_component["dram_controller"] == pytest.approx(0.5 * US)
    assert by_component["static"] == pytest.approx(1.0 * US)
    assert energy.total_j == pytest.approx(2.2575e-6 + 3.4e-6 + 1.332e-4 + 8e-6 + 16e-6)
    assert energy.per_token_j == pytest.approx(energy.total_j / 2)
    assert energy.average_power_w == pytest.approx(energy.total_j / US)
    # the per-class counts only divide the components among classes
    assert energy.by_component_j == pytest.approx(compute_energy(handmade_result(), design).by_component_j)


def test_op_classes_exact_except_power_over_time(design):
    energy = compute_energy(with_class_counts(handmade_result()), design)
    shared = 0.5 * US + 1.0 * US  # controller and static: a quarter, half, a quarter
    expected = {
        # MACs + vector ops; 4e6 URAM + 1e6 BRAM bits; 4.1e5 DRAM bytes
        "attention": 1.01e6 * 0.75e-12 + (4e6 * 0.2e-12 + 1e6 * 0.1e-12) + 4.1e5 * DRAM_J_PER_BYTE + 0.25 * shared,
        "mlp": 2e6 * 0.75e-12 + (10e6 * 0.2e-12 + 8e5 * 0.1e-12) + 6e5 * DRAM_J_PER_BYTE + 0.5 * shared,
        "other": (2e6 * 0.2e-12 + 2e5 * 0.1e-12) + 1e5 * DRAM_J_PER_BYTE + 0.25 * shared,
    }
    assert energy.by_block_j == pytest.approx(expected)
    # the classes share out the hand-computed total (summing `by_block_j` against `total_j` could not fail:
    # both are sums of the same matrix)
    assert sum(expected.values()) == pytest.approx(2.2575e-6 + 3.4e-6 + 1.332e-4 + 8e-6 + 16e-6)
    matrix = energy.by_component_block_j
    assert set(matrix) == set(COMPONENTS)
    assert matrix["dram"]["attention"] == pytest.approx(4.1e5 * DRAM_J_PER_BYTE)
    assert matrix["on_chip_memory"]["other"] == pytest.approx(0.42e-6)
    assert matrix["static"] == pytest.approx({"attention": 0.25 * US, "mlp": 0.5 * US, "other": 0.25 * US})
    assert energy.time_shared == TIME_SHARED == ("DRAM controller", "static")
    assert energy.to_dict()["time_shared"] == ["DRAM controller", "static"]


def test_handmade_result_charges_each_class_its_own_traffic(design):
    # half the 1e6 weight bytes and all KV traffic are attention's; on-chip bits split evenly
    energy = compute_energy(handmade_result(), design)
    matrix = energy.by_component_block_j
    assert matrix["dram"]["attention"] == pytest.approx((0.5e6 + 1e5 + 1e4) * DRAM_J_PER_BYTE)
    assert matrix["dram"]["mlp"] == pytest.approx(0.5e6 * DRAM_J_PER_BYTE)
    assert matrix["dram"]["other"] == 0
    assert sum(energy.dram_by_category_j.values()) == pytest.approx(1.11e6 * DRAM_J_PER_BYTE)


def test_simulated_replay_charges_the_mlp_its_replay_traffic_and_wasted_prefetches():
    # every MLP of the generated frames replays: the mlp class moves no weights, only replay-cache bytes and
    # the DRS prefetches of MLP weights its decisions made useless (the slow arrays of kv260-systolic let
    # the stream run ahead of TAS; the first generated frame has no previous frame to predict from)
    from cosim.artifacts.synthetic_trace import synthetic_trace
    from cosim.hw.library import load_design
    from cosim.sim.simulator import simulate
    from simulator_graphs import llama_graph

    design = load_design("kv260-systolic")
    graph = llama_graph(num_layers=2, hidden=128, heads=4, mlp_hidden=256, vocab=64)
    trace = synthetic_trace(num_layers=2, layer_rates=1.0, frames=2, frame_rows=2, frame_cols=2)
    result = simulate(graph, trace, design, policy="drs")
    energy = compute_energy(result, design)
    replay_bytes = result.dram_bytes["read"]["replay_read"] + result.dram_bytes["write"]["replay_write"]
    wasted_bytes = result.dram_bytes["read"]["weights_prefetch_wasted"]
    assert replay_bytes > 0 and wasted_bytes > 0
    assert energy.by_component_block_j["dram"]["mlp"] == pytest.approx((replay_bytes + wasted_bytes) * DRAM_J_PER_BYTE)
    assert sum(energy.by_component_block_j["dram"].values()) == pytest.approx(
        result.total_dram_bytes() * DRAM_J_PER_BYTE
    )
    assert energy.time_shared == TIME_SHARED


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


def test_board_power_adds_processing_system_dram_background_and_board_to_the_chip(design):
    energy = compute_energy(handmade_result(), design)
    # kv260 device file: PS 1.5 W, board 1.5 W; DDR4 background 300 mW x 1 channel
    assert energy.board_j == pytest.approx(
        {"processing_system": 1.5 * US, "dram_background": 0.3 * US, "board_overhead": 1.5 * US}
    )
    assert energy.board_total_j == pytest.approx(energy.total_j + 3.3 * US)
    assert energy.board_power_w == pytest.approx(energy.average_power_w + 3.3)
    # on chip: everything but the DRAM access energy (compute, buffers, static, controller)
    assert energy.on_chip_power_w == pytest.approx((energy.total_j - energy.by_component_j["dram"]) / US)
    assert energy.total_j == pytest.approx(2.2575e-6 + 3.4e-6 + 1.332e-4 + 8e-6 + 16e-6)  # chip + DRAM: unchanged
