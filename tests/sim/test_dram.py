"""The shared DRAM: bandwidth, bursts, latency, stream continuation and weighted arbitration, by hand."""

from fractions import Fraction

import simpy

from cosim.sim.clock import cycle_now
from cosim.sim.dram import Dram, DramSpec, Transfer


def spec(latency: int = 0, weights: dict | None = None, bytes_per_cycle: int = 64, burst: int = 64) -> DramSpec:
    table = {"weights": 1, "kv": 1, "activations": 1, "replay": 1, **(weights or {})}
    return DramSpec(Fraction(bytes_per_cycle), burst, latency, tuple(table.items()))


def issue(dram: Dram, parts: list[tuple[str, str, int]], stream: object = None) -> Transfer:
    """`dram.transfer` of a non-empty request (which never returns None)."""
    transfer = dram.transfer(parts, stream=stream)
    assert transfer is not None
    return transfer


def run_transfers(dram_spec: DramSpec, requests: list[tuple[int, str, int]]) -> dict[int, int]:
    """Issue (start cycle, category, bytes) requests; return each one's completion cycle by index."""
    env = simpy.Environment()
    dram = Dram(env, dram_spec)
    done: dict[int, int] = {}

    def requester(index: int, start: int, category: str, nbytes: int):
        yield env.timeout(start)
        transfer = issue(dram, [("read", category, nbytes)], stream=index)
        yield transfer.event
        done[index] = cycle_now(env)

    for index, (start, category, nbytes) in enumerate(requests):
        env.process(requester(index, start, category, nbytes))
    env.run()
    return done


def test_one_transfer_is_bytes_over_bandwidth_plus_latency():
    # 10000 bytes -> 3 bursts of 4096 = 12288 bytes; at 64 B/cycle 192 cycles; plus 25 cycles latency
    assert run_transfers(spec(latency=25, burst=4096), [(0, "weights", 10000)]) == {0: 25 + 192}


def test_fractional_bandwidth_rounds_up_to_whole_cycles():
    # 61.44 B/cycle (19.2 GB/s x 0.8 at 250 MHz): 4096 bytes take 66.67 -> 67 cycles
    s = DramSpec(Fraction(1536, 25), 4096, 0)
    assert run_transfers(s, [(0, "weights", 4096)]) == {0: 67}


def test_equal_weights_share_bandwidth_equally():
    # 6400 and 3200 bytes at 64 B/cycle, 1:1 -> 32 B/cycle each: the small one ends at 100;
    # the large one has 3200 left and gets all 64 B/cycle: 50 more cycles
    assert run_transfers(spec(), [(0, "weights", 6400), (0, "kv_read", 3200)]) == {1: 100, 0: 150}


def test_three_to_one_weights():
    # weights class weighted 3, kv 1: 48 vs 16 B/cycle. 4800 weight bytes end at 100;
    # the 3200 KV bytes got 1600 by then and finish the rest alone in 25 cycles
    done = run_transfers(spec(weights={"weights": 3}), [(0, "weights", 4800), (0, "kv_read", 3200)])
    assert done == {0: 100, 1: 125}
    # all bytes moved in exactly (4800 + 3200) / 64 cycles: arbitration never wastes bandwidth here
    assert max(done.values()) == (4800 + 3200) // 64


def test_latency_overlaps_other_transfers():
    # A (1920 B) waits 10 cycles of latency, then moves alone; B is issued at 10 and moves from 20,
    # while A (1280 B left) shares: 32 B/cycle each, B ends at 40, A has 640 left -> 50.
    done = run_transfers(spec(latency=10), [(0, "weights", 1920), (10, "kv_read", 640)])
    assert done == {1: 40, 0: 50}
    # B's latency was hidden: the last byte arrives 10 + (1920 + 640) / 64 cycles after the start
    assert done[0] == 10 + (1920 + 640) // 64


def test_stream_continuation_pays_latency_once():
    env = simpy.Environment()
    dram = Dram(env, spec(latency=20, burst=64))
    times = []

    def stream():
        for _ in range(3):
            transfer = issue(dram, [("read", "weights", 6400)], stream="s")
            yield transfer.event
            times.append(env.now)
        yield env.timeout(1)  # idle for a cycle: the next request pays the latency again
        transfer = issue(dram, [("read", "weights", 6400)], stream="s")
        yield transfer.event
        times.append(env.now)

    env.process(stream())
    env.run()
    assert times == [120, 220, 320, 321 + 20 + 100]
    assert dram.counters.busy_cycles == 400


def test_counters_and_cancel():
    env = simpy.Environment()
    dram = Dram(env, spec(burst=4096))
    transfer = issue(dram, [("read", "weights", 100), ("read", "kv_read", 5000)])
    assert dram.counters.rounded == {("read", "weights"): 4096, ("read", "kv_read"): 8192}
    assert dram.counters.payload == {("read", "weights"): 100, ("read", "kv_read"): 5000}
    env.run(until=10)
    assert dram.cancel(transfer) == 640  # 10 cycles at 64 B/cycle had arrived
    env.run()
    assert transfer.event.value is False
    assert dram.transfer([("read", "weights", 0)]) is None


def test_spec_from_design():
    from cosim.hw.library import load_design

    design = load_design("kv260-fastcar")  # DDR4 19.2 GB/s, efficiency 0.8, 100 ns, 250 MHz
    s = DramSpec.from_design(design)
    assert s.bytes_per_cycle == Fraction(6144, 100)
    assert s.latency_cycles == 25
    assert s.rounded(1) == 4096 and s.rounded(4097) == 8192
    assert s.move_cycles(4096) == 67


def test_bad_arbitration_weights_are_user_errors():
    import pytest

    from cosim.common.errors import UserError
    from cosim.hw.library import load_design

    design = load_design("kv260-fastcar")
    assert DramSpec.from_design(design, {"kv": 3}).weight_of("kv_read") == 3
    with pytest.raises(UserError, match="dram_weights"):
        DramSpec.from_design(design, {"prefetch": 2})
    with pytest.raises(UserError, match=r"dram_weights\.kv"):
        DramSpec.from_design(design, {"kv": 0})
