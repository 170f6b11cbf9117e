"""Tile plans as repeated patterns: the closed-form column tiling, the pieces, and the walk over them."""

from types import SimpleNamespace

import numpy as np

from cosim.hw.library import load_design
from cosim.sim.buffers import column_tile_pieces, peak_occupancy, periodic_runs, tile_columns
from cosim.sim.dram import DramSpec
from cosim.sim.tile_pipeline import walk_pieces
from cosim.sim.tile_plan import TilePlan, pieces_of_stretches, repeated


def _spelled(pieces):
    return [tile for pattern, repeats in pieces for _ in range(repeats) for tile in pattern]


def test_column_tile_pieces_spell_the_tiles_tile_columns_cuts():
    rng = np.random.default_rng(0)
    closed = 0
    for _ in range(3000):
        n = int(rng.choice([1, 2, 3, 7, 64, 100, 4096, int(rng.integers(1, 3000))]))
        k = int(rng.integers(1, 300))
        slot = int(rng.choice([1, 7, 1024, 73728, int(rng.integers(1, 100_000))]))
        total = int(rng.choice([n * int(rng.integers(1, 64)), n * int(rng.integers(1, 64)) // 2, n * k // 2]))
        group = int(rng.choice([1, 2, 8, 384]))
        pieces = column_tile_pieces(total, k, n, slot, group)
        if pieces is None:
            continue
        closed += 1
        tile_bytes, tile_k, tile_n = tile_columns(total, k, n, slot, group)
        assert _spelled(pieces) == list(zip(tile_bytes.tolist(), tile_k.tolist(), tile_n.tolist(), strict=True))
    assert closed > 1000


def test_pieces_spell_their_tiles_and_runs():
    rng = np.random.default_rng(1)
    for _ in range(500):
        tiles = []
        for _ in range(int(rng.integers(1, 6))):
            a, b = (int(x) for x in rng.integers(1, 4, size=2))
            count = int(rng.choice([1, 2, 3, 5, 16, 40]))
            tiles += [(a, 1)] * count if rng.random() < 0.5 else [(a, 1), (b + 3, 2)] * count
        stretches: list[tuple[tuple[int, int], int]] = []
        for value in tiles:
            if stretches and stretches[-1][0] == value:
                stretches[-1] = (value, stretches[-1][1] + 1)
            else:
                stretches.append((value, 1))
        instances = int(rng.integers(1, 4))
        plan = TilePlan("e", repeated(pieces_of_stretches(stretches), instances), "kv_cache", 2)
        assert list(zip(plan.bytes, plan.cycles, strict=True)) == tiles * instances
        assert plan.tiles == len(tiles) * instances and plan.busy_cycles == sum(plan.cycles)
        assert plan.runs == periodic_runs(np.array(plan.bytes), np.array(plan.cycles))


def _walk_one_by_one(ctx, plan, issue, continuing):
    """The tile recurrence without jumps, and the peak of its occupancy changes."""
    latency = ctx.dram_spec.latency_cycles
    recent, prev_done, changes, payload, rounded_sum, busy = [issue] * plan.slots, issue, [], 0, 0, 0
    for t, (nbytes, cycles) in enumerate(zip(plan.bytes, plan.cycles, strict=True)):
        if t:
            issue = max(prev_done, recent[0])
            continuing = issue == prev_done
        rounded, move = ctx.tile_move(nbytes)
        prev_done = issue + (0 if continuing else latency) + move
        recent = [*recent[1:], max(prev_done, recent[-1]) + cycles]
        changes += [(issue, nbytes), (recent[-1], -nbytes)]
        payload, rounded_sum, busy = payload + nbytes, rounded_sum + rounded, busy + move
    return prev_done, recent[-1], payload, rounded_sum, busy, peak_occupancy(changes)


def test_walk_over_pieces_equals_the_tile_by_tile_recurrence():
    spec = DramSpec.from_design(load_design("kv260-fastcar"), None)
    ctx = SimpleNamespace(dram_spec=spec, tile_moves={})
    ctx.tile_move = lambda nbytes: (spec.rounded(nbytes), spec.move_cycles(spec.rounded(nbytes)))
    rng = np.random.default_rng(2)
    for _ in range(300):
        pieces = []
        for _ in range(int(rng.integers(1, 5))):
            pattern = tuple(
                (int(rng.integers(1, 20_000)), int(rng.integers(1, 3000))) for _ in range(int(rng.integers(1, 3)))
            )
            pieces.append((pattern, int(rng.choice([1, 2, 3, 7, 50]))))
        plan = TilePlan("e", tuple(pieces), "kv_cache", int(rng.integers(1, 3)))
        start, continuing = int(rng.integers(0, 100)), bool(rng.random() < 0.5)
        walk = walk_pieces(ctx, plan, start, continuing)  # type: ignore[arg-type]  # the DRAM figures it reads
        assert tuple(walk) == _walk_one_by_one(ctx, plan, start, continuing)
