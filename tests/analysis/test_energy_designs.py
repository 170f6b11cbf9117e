"""Energy beyond the single-channel int8 KV260: a 28-channel HBM design and int4 / fp16 MACs, against hand counts."""

import pytest

from cosim.analysis.energy import compute_energy
from cosim.hw.library import load_design
from cosim.sim.simulator import simulate
from handmade_results import handmade_result
from simulator_graphs import OpSizes, first_frame_trace, one_op_graph, tiny_design

US = 16e-6  # latency of the hand-made video: 4000 cycles at 250 MHz


def test_hbm_design_charges_every_channel_its_controller_power():
    # u280-fastcar: 28 HBM2 channels at 100 mW each, 3.9 pJ/bit, 25 W static, 250 MHz like the hand-made video
    design = load_design("u280-fastcar")
    result = handmade_result()
    result.design_name = design.name
    energy = compute_energy(result, design)
    by_component = energy.by_component_j
    assert by_component["dram_controller"] == pytest.approx(28 * 0.100 * US)
    # (1e6 weights + 1e5 KV read + 1e4 KV write) bytes x 8 x 3.9 pJ
    assert by_component["dram"] == pytest.approx(1.11e6 * 8 * 3.9e-12)
    assert by_component["static"] == pytest.approx(25.0 * US)
    assert energy.table["dram_channels"] == 28


# a GEMV of 48 inputs x 1024 outputs (one row), the weights streamed from DRAM
GEMV = OpSizes(weight_elems=48 * 1024, macs_fixed=48 * 1024, act_read_elems_fixed=48, act_write_elems_fixed=1024)
NORM = OpSizes(flops_fixed=640, act_read_elems_fixed=64, act_write_elems_fixed=64)


@pytest.mark.parametrize(
    "weights, activations, mac_pj, weight_bytes",
    [
        ("int4", "int8", 0.45, 48 * 1024 // 2),  # int4 x int8 MACs; half a byte per weight
        ("int8", "int8", 0.75, 48 * 1024),
        ("fp16", "fp16", 5.0, 48 * 1024 * 2),
    ],
)
def test_simulated_macs_cost_their_precision(weights, activations, mac_pj, weight_bytes):
    design = tiny_design({"precision": {"weights": weights, "activations": activations, "kv_cache": activations}})
    result = simulate(one_op_graph(**GEMV), first_frame_trace(), design)
    precision = weights  # the wider operand: int4 x int8 counts as int4, fp16 x fp16 as fp16
    assert result.macs["attention"][precision] == sum(result.macs["attention"].values()) == 48 * 1024
    energy = compute_energy(result, design)
    assert energy.compute_by_precision_j[precision] == pytest.approx(48 * 1024 * mac_pj * 1e-12)
    assert energy.by_component_j["compute"] == pytest.approx(48 * 1024 * mac_pj * 1e-12)
    # the weight bytes are whole 4096-byte bursts; DDR4 at 15 pJ/bit
    assert result.dram_bytes["read"]["weights"] == weight_bytes
    assert energy.by_component_j["dram"] == pytest.approx(weight_bytes * 8 * 15e-12)


@pytest.mark.parametrize("activations, op_pj", [("int8", 0.75), ("fp16", 5.0)])
def test_vector_operations_cost_a_mac_of_the_activation_precision(activations, op_pj):
    design = tiny_design({"precision": {"weights": activations, "activations": activations, "kv_cache": activations}})
    result = simulate(one_op_graph("norm", **NORM), first_frame_trace(), design)
    assert result.vector_elements["attention"] == 640
    assert compute_energy(result, design).vector_j == pytest.approx(640 * op_pj * 1e-12)
