"""DramSpec.from_design by hand: the bandwidth's rational form and the smallest requester weight."""

from __future__ import annotations

from fractions import Fraction

from cosim.sim.dram import DramSpec
from simulator_graphs import TINY_DESIGN, tiny_design


def test_the_bandwidth_is_the_nearest_fraction_with_a_denominator_up_to_a_million():
    # tiny design: 96 peak bytes per cycle; this efficiency gives 48 + 1/1000001 bytes per cycle, whose nearest
    # fraction with a denominator <= 1 000 000 is 48 + 1/1000000 (1/1000001 needs one more)
    efficiency = (48 + 1 / 1_000_001) / 96
    design = tiny_design({"dram": {**TINY_DESIGN["dram"], "efficiency": efficiency}})
    assert DramSpec.from_design(design).bytes_per_cycle == Fraction(48_000_001, 1_000_000)


def test_a_requester_weight_of_one_is_taken():
    spec = DramSpec.from_design(tiny_design(), {"kv": 1})
    assert dict(spec.requester_weights)["kv"] == 1
