"""The DRAM model's bookkeeping by hand: bursts and move cycles at their edges, one wake-up per change
of the moving set, a transfer restored with nothing left, streams continuing, and a closed DRAM."""

from __future__ import annotations

from fractions import Fraction

import pytest
import simpy

from cosim.common.errors import UserError
from cosim.sim.clock import cycle_now
from cosim.sim.dram import Dram, DramCounters, DramSpec
from simulator_graphs import tiny_design

# 64 bytes per cycle, 64-byte bursts, no access latency, every requester class weighted 1
SPEC = DramSpec(Fraction(64), 64, 0, (("weights", 1), ("kv", 1), ("activations", 1), ("replay", 1)))


def test_bursts_and_move_cycles_at_their_edges():
    assert SPEC.rounded(0) == 0 and SPEC.rounded(-100) == 0  # no request, no burst
    assert SPEC.rounded(1) == 64 and SPEC.rounded(65) == 128
    assert SPEC.move_cycles(0) == 0 and SPEC.move_cycles(-64) == 0
    assert SPEC.move_cycles(1) == 1 and SPEC.move_cycles(64) == 1 and SPEC.move_cycles(65) == 2


def steps_until_idle(env: simpy.Environment) -> int:
    """Run `env` to the end; the number of events it processed."""
    steps = 0
    while env.peek() != float("inf"):
        env.step()
        steps += 1
    return steps


def test_one_wake_up_per_change_of_the_moving_set():
    # A (6400 bytes) alone from cycle 0 would end at 100. B (640 bytes) joins at 10: 32 B/cycle each, B ends at 30
    # with A at 640 + 640 = 1280 bytes; A moves the other 5120 alone in 80 cycles, ending at 110.
    # Events: the process's start, its timeout(10) and its end; A's wake-up (at 100, made stale by B), B's (30)
    # and A's again (110); the two transfers' completions: 8. A stale wake-up is dropped, not re-armed.
    env = simpy.Environment()
    dram = Dram(env, SPEC)
    done: dict[str, int] = {}

    def finished(name: str):
        return lambda _event: done.__setitem__(name, cycle_now(env))

    def run():
        first = dram.transfer([("read", "weights", 6400)])
        assert first is not None and first.admitted  # no latency: it moves in the cycle it is issued
        first.event.callbacks.append(finished("A"))
        yield env.timeout(10)
        second = dram.transfer([("read", "kv_read", 640)])
        assert second is not None and second.admitted
        second.event.callbacks.append(finished("B"))

    env.process(run())
    assert steps_until_idle(env) == 8
    assert done == {"A": 110, "B": 30}
    assert dram.idle and dram.counters.busy_cycles == 110


def test_a_transfer_restored_with_nothing_left_completes_in_the_same_cycle():
    # a segment can end in the cycle a transfer's last byte arrived, before the DRAM noticed (remaining 0)
    env = simpy.Environment()
    dram = Dram(env, SPEC)
    transfer = dram.restore((("read", "kv_read", 64, 64),), 64, Fraction(0), 0, None)
    env.run()
    assert transfer.event.value is True and env.now == 0


def test_a_stream_marked_done_now_continues_without_latency():
    env = simpy.Environment()
    dram = Dram(env, DramSpec(Fraction(64), 64, 10, SPEC.requester_weights))
    dram.mark_stream_done("weights", 0)
    assert dram.continues("weights") and not dram.continues("kv")
    transfer = dram.transfer([("read", "weights", 64)], stream="weights")
    assert transfer is not None
    env.run()
    assert env.now == 1  # no access latency: one cycle of moving


def test_a_closed_dram_completes_nothing():
    # the simulation closes a segment's DRAM when the segment ends: its pending wake-ups must not fire
    env = simpy.Environment()
    dram = Dram(env, SPEC)
    moving = dram.transfer([("read", "weights", 640)])
    waiting = Dram(env, DramSpec(Fraction(64), 64, 5, SPEC.requester_weights))
    latent = waiting.transfer([("read", "weights", 64)])
    assert moving is not None and latent is not None
    dram.closed = waiting.closed = True
    env.run()
    assert not moving.event.triggered and not latent.event.triggered and not latent.admitted


@pytest.mark.parametrize(
    ("weights", "key", "expected", "found"),
    [
        ({"bogus": 1}, "dram_weights", "requester classes among weights, kv, activations, replay", "bogus"),
        ({"kv": "2"}, "dram_weights.kv", "an integer >= 1", "2"),
        ({"kv": True}, "dram_weights.kv", "an integer >= 1", True),
        ({"kv": 0}, "dram_weights.kv", "an integer >= 1", 0),
    ],
)
def test_requester_weights_are_refused_in_full(weights, key, expected, found):
    with pytest.raises(UserError) as refusal:
        DramSpec.from_design(tiny_design(), weights)
    error = refusal.value
    assert (error.file, error.key, error.expected, error.found) == (None, key, expected, found)


def test_the_dram_counts_into_the_counters_it_is_given():
    counters = DramCounters()
    dram = Dram(simpy.Environment(), SPEC, counters)
    dram.transfer([("read", "kv_read", 100)])
    assert dram.counters is counters and counters.rounded == {("read", "kv_read"): 128}
