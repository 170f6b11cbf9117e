"""Cancelling a DRAM transfer (DRS drops a prefetch it guessed wrong): the bytes it had
delivered, the bandwidth it hands back to the others, and a cancel during the access latency,
by hand. Also the smallest vector op."""

from __future__ import annotations

from fractions import Fraction

import simpy

from cosim.sim import compute
from cosim.sim.clock import cycle_now
from cosim.sim.dram import Dram, DramSpec, Transfer


def spec(latency: int = 0, burst: int = 64) -> DramSpec:
    """64 bytes per cycle; the weights class weighted 3, the others 1."""
    return DramSpec(Fraction(64), burst, latency, (("weights", 3), ("kv", 1), ("activations", 1), ("replay", 1)))


def issue(dram: Dram, category: str, nbytes: int) -> Transfer:
    transfer = dram.transfer([("read", category, nbytes)])
    assert transfer is not None
    return transfer


def test_cancelling_a_moving_transfer_returns_its_bytes_and_its_share():
    # 6400 weight bytes (weight 3) and 3200 KV bytes (weight 1) share 64 B/cycle 48 : 16.
    # At cycle 50 the weights got 2400 bytes and are cancelled; the KV transfer has 800 and
    # moves the other 2400 alone at 64 B/cycle: 37.5 cycles, done at cycle 88.
    env = simpy.Environment()
    dram = Dram(env, spec())
    seen: dict[str, object] = {}

    def run():
        weights, kv = issue(dram, "weights", 6400), issue(dram, "kv_read", 3200)
        yield env.timeout(50)
        seen["delivered"] = dram.cancel(weights)
        seen["cancelled_with"] = weights.event.value
        yield kv.event
        seen["kv_done"] = cycle_now(env)

    env.process(run())
    env.run()
    assert seen == {"delivered": 2400, "cancelled_with": False, "kv_done": 88}
    assert dram.idle and dram.counters.busy_cycles == 88


def test_cancelling_in_the_cycle_a_transfer_ends_returns_all_its_bytes():
    # 64 bytes at 64 B/cycle end at cycle 1; the canceller wakes in that cycle before the
    # DRAM does, so the transfer is not yet done but has nothing left: all 64 bytes delivered.
    env = simpy.Environment()
    dram = Dram(env, spec())
    seen: dict[str, object] = {}

    def canceller():
        yield env.timeout(1)
        seen["done_before"] = seen["transfer"].event.triggered  # type: ignore[attr-defined]
        seen["delivered"] = dram.cancel(seen["transfer"])  # type: ignore[arg-type]

    def requester():
        seen["transfer"] = issue(dram, "kv_read", 64)
        yield env.timeout(0)

    env.process(canceller())
    env.process(requester())
    env.run()
    assert seen["done_before"] is False and seen["delivered"] == 64


def test_a_transfer_cancelled_during_its_latency_moves_nothing():
    # Latency 10: cancelled at cycle 4, before it moves; the DRAM is idle at once and stays
    # so when the latency would have ended.
    env = simpy.Environment()
    dram = Dram(env, spec(latency=10))
    seen: dict[str, object] = {}

    def run():
        transfer = issue(dram, "weights", 640)
        yield env.timeout(4)
        seen["busy_before"] = not dram.idle
        seen["delivered"] = dram.cancel(transfer)
        seen["idle_after"] = dram.idle
        yield env.timeout(20)

    env.process(run())
    env.run()
    assert seen == {"busy_before": True, "delivered": 0, "idle_after": True}
    assert dram.idle and dram.counters.busy_cycles == 0


def test_cancelling_a_finished_transfer_returns_all_its_bytes():
    env = simpy.Environment()
    dram = Dram(env, spec())
    transfer = issue(dram, "kv_read", 100)  # two bursts: 128 bytes, done at cycle 2
    env.run()
    assert transfer.event.value is True and dram.cancel(transfer) == 128


def test_one_vector_element_takes_one_cycle_and_the_pipeline():
    assert compute.vector_cycles(1, 32) == 1 + compute.VECTOR_PIPELINE_DEPTH_CYCLES
    assert compute.vector_cycles(1, 32, depth=0) == 1
