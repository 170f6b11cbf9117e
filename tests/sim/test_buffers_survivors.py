"""`periodic_runs_of_segments` by hand: each case names the tiles it spells and the breaks it expects.

Period 1 runs are the segments of at least 16 tiles; period 2 breaks at every tile that differs from
the one two before. Each answer is also checked against the tile-by-tile `periodic_runs`.
"""

from __future__ import annotations

import numpy as np
import pytest

from cosim.sim.buffers import periodic_runs, periodic_runs_of_segments

A, B, C = 0, 1, 2
ALTERNATING = [(A, 1), (B, 1)] * 8  # A B A B ... (16 tiles): no tile differs from the one two before

CASES = {
    # 15 tiles: too short for any run
    "fifteen equal tiles": ([(A, 15)], ()),
    # exactly 16 equal tiles: one period-1 run from tile 0
    "sixteen equal tiles": ([(A, 16)], ((0, 16, 1),)),
    # exactly 16 alternating tiles: one period-2 run from tile 0 (no break at tile 1 nor anywhere)
    "sixteen alternating tiles": (ALTERNATING, ((0, 16, 2),)),
    # A A B A B ...: tile 2 (B) differs from tile 0 (A); tile 3 (A) equals tile 1 (A) -> one break, at 2
    "a double first tile": ([(A, 2)] + [(B, 1), (A, 1)] * 8, ((2, 18, 2),)),
    # A B B A B A ...: tile 2 (B vs A) and tile 3 (A vs B) break; tile 4 on repeats -> run from 3
    "a double in the middle": ([(A, 1), (B, 2)] + [(A, 1), (B, 1)] * 8, ((3, 19, 2),)),
    # A A B C B C ...: tile 2 (B vs A) and tile 3 (C vs A) break: the segment before C is one tile but
    # the one before that is A, not C
    "a single tile between different values": ([(A, 2), (B, 1)] + [(C, 1), (B, 1)] * 8, ((3, 19, 2),)),
    # A B ... A B A A: tile 16 (A) equals tile 14; tile 17 (A vs B) breaks -> run 0..17, then one short tile
    "alternating then a double": ([*ALTERNATING, (A, 2)], ((0, 17, 2),)),
    # 16 A, then B C B C ... B: tiles 16 (B vs A) and 17 (C vs A) break; the period-2 run 17..33 follows
    # the period-1 run 0..16 without touching it
    "a period-2 run after a period-1 run": ([(A, 16)] + [(B, 1), (C, 1)] * 8 + [(B, 1)], ((0, 16, 1), (17, 33, 2))),
    # B C ... B C then 16 A: the period-2 run ends exactly where the period-1 run starts
    "a period-2 run up to a period-1 run": ([(B, 1), (C, 1)] * 8 + [(A, 16)], ((0, 16, 2), (16, 32, 1))),
    # 16 A then B A B A ...: tile 16 (B vs A) breaks, tile 17 (A vs A) does not: the period-2 run starts
    # exactly where the period-1 run ends
    "a period-2 run from the end of a period-1 run": ([(A, 16)] + [(B, 1), (A, 1)] * 8, ((0, 16, 1), (16, 32, 2))),
    # 16 alternating then 16 A: the period-2 stretch 0..17 overlaps the period-1 run 16..32 and is dropped
    "an overlapping period-2 stretch": ([*ALTERNATING, (A, 16)], ((16, 32, 1),)),
}


@pytest.mark.parametrize("name", CASES)
def test_periodic_runs_of_segments_by_hand(name: str) -> None:
    segments, expected = CASES[name]
    assert periodic_runs_of_segments(segments) == expected
    tiles = np.repeat([value for value, _ in segments], [count for _, count in segments])
    assert periodic_runs(tiles, 0 * tiles) == expected
