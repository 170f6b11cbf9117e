"""The DRAM after an access latency, and a one-byte request, by hand."""

from __future__ import annotations

from fractions import Fraction

import simpy

from cosim.sim.clock import cycle_now
from cosim.sim.dram import Dram, DramSpec

SPEC = DramSpec(Fraction(64), 64, 10, (("weights", 1), ("kv", 1), ("activations", 1), ("replay", 1)))


def test_a_transfer_after_its_latency_leaves_the_dram_idle_when_done():
    # Latency 10, then 64 bytes at 64 B/cycle: busy from cycle 0 (waiting) to 11, idle after.
    env = simpy.Environment()
    dram = Dram(env, SPEC)
    seen: dict[str, object] = {}

    def run():
        transfer = dram.transfer([("read", "weights", 64)])
        assert transfer is not None
        yield env.timeout(10)
        seen["waiting_at_10"] = not dram.idle
        yield transfer.event
        seen["done"], seen["idle"] = cycle_now(env), dram.idle

    env.process(run())
    env.run()
    assert seen == {"waiting_at_10": True, "done": 11, "idle": True}


def test_a_one_byte_request_moves_a_whole_burst():
    env = simpy.Environment()
    dram = Dram(env, SPEC)
    transfer = dram.transfer([("read", "kv_read", 1), ("read", "kv_read", 0)])
    assert transfer is not None and transfer.rounded == 64 and len(transfer.parts) == 1
    assert dram.counters.payload == {("read", "kv_read"): 1} and dram.counters.rounded == {("read", "kv_read"): 64}


def test_the_dram_stays_busy_while_a_second_transfer_waits_out_its_latency():
    # A issued at 0 moves 64 bytes in cycle 10 (done at 11); B issued at 5 waits until 15.
    # At 12 nothing moves but B still waits: not idle.
    env = simpy.Environment()
    dram = Dram(env, SPEC)
    seen: dict[str, object] = {}

    def run():
        first = dram.transfer([("read", "weights", 64)])
        yield env.timeout(5)
        second = dram.transfer([("read", "kv_read", 64)])
        assert first is not None and second is not None
        yield env.timeout(7)
        seen["first_done"], seen["idle_at_12"] = first.event.triggered, dram.idle
        yield second.event
        seen["second_done"], seen["idle"] = cycle_now(env), dram.idle

    env.process(run())
    env.run()
    assert seen == {"first_done": True, "idle_at_12": False, "second_done": 16, "idle": True}
