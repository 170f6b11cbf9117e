"""How an op runs: its engine, and its streamed tiles as repeated patterns (`TilePlan`).

A KV stream of a long video is thousands of tiles in a few shapes (full slot-sized tiles,
then the last one, per row; or sizes alternating by one byte), so a plan holds *pieces*:
a pattern of one or two tiles and how many times it repeats in a row. The closed-form
segments walk the pieces (`tile_pipeline.walk_pieces`); the SimPy processes read the
per-tile lists, built from the pieces only when asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from cosim.sim.buffers import Run, periodic_runs, periodic_runs_of_segments

TileValue = tuple[int, int]  # (bytes, compute cycles) of one tile
Piece = tuple[tuple[TileValue, ...], int]  # a pattern of tiles and how many times it repeats in a row
MIN_PAIR_TILES = 4  # alternating stretches at least this long become one two-tile pattern


@dataclass
class TilePlan:
    """How an op runs: on which engine, its streamed tiles (`pieces`) and buffer slots."""

    engine: str | None  # resource name; None for pure transfers
    pieces: tuple[Piece, ...]  # streamed tiles (empty: not streamed)
    purpose: str | None  # buffer purpose of the streamed operand
    slots: int
    compute_cycles: int = 0  # cycles of an op that streams nothing
    stores_hold_engine: bool = False  # its DRAM stores overflow the output buffer: written before the op ends

    tiles: int = field(init=False)  # how many tiles it streams
    busy_cycles: int = field(init=False)  # cycles the op holds its engine computing (all tiles)

    def __post_init__(self) -> None:  # plain fields: a plan of a new KV length is built and read once
        self.tiles = sum(len(pattern) * repeats for pattern, repeats in self.pieces)
        self.busy_cycles = (
            sum(sum(c for _, c in pattern) * repeats for pattern, repeats in self.pieces)
            if self.pieces
            else self.compute_cycles
        )

    @cached_property
    def bytes(self) -> list[int]:
        """Streamed bytes per tile (empty: not streamed)."""
        out: list[int] = []
        for pattern, repeats in self.pieces:
            out += [nbytes for nbytes, _ in pattern] * repeats
        return out

    @cached_property
    def cycles(self) -> list[int]:
        """Compute cycles per tile (one entry when not streamed)."""
        if not self.pieces:
            return [self.compute_cycles]
        out: list[int] = []
        for pattern, repeats in self.pieces:
            out += [cycles for _, cycles in pattern] * repeats
        return out

    @cached_property
    def runs(self) -> tuple[Run, ...]:
        """Stretches of periodic tiles the SimPy fast path may jump over (`buffers.periodic_runs`): from the stretches
        of equal tiles where every pattern is one tile (a few stretches), else tile by tile in numpy."""
        if any(len(pattern) > 1 for pattern, _ in self.pieces):
            return periodic_runs(np.array(self.bytes), np.array(self.cycles))
        stretches: list[tuple[TileValue, int]] = []
        for (value,), repeats in self.pieces:
            if stretches and stretches[-1][0] == value:
                stretches[-1] = (value, stretches[-1][1] + repeats)
            else:
                stretches.append((value, repeats))
        return periodic_runs_of_segments(stretches)


def repeated(one: Iterable[Piece], instances: int) -> tuple[Piece, ...]:
    """The pieces of `instances` copies of one instance's tiles, neighbours with the same pattern joined."""
    one = list(one)
    out: list[Piece] = []
    for _ in range(instances):
        for pattern, repeats in one:
            if out and out[-1][0] == pattern:
                out[-1] = (pattern, out[-1][1] + repeats)
            else:
                out.append((pattern, repeats))
    return tuple(out)


def pieces_of_stretches(stretches: list[tuple[TileValue, int]]) -> list[Piece]:
    """Pieces of tiles given as stretches of equal values (neighbours differ): alternating single tiles (at least
    `MIN_PAIR_TILES`) become a two-tile pattern, every other stretch a one-tile pattern."""
    pieces: list[Piece] = []
    i = 0
    while i < len(stretches):
        j = i
        while j < len(stretches) and stretches[j][1] == 1 and (j < i + 2 or stretches[j][0] == stretches[j - 2][0]):
            j += 1
        if j - i >= MIN_PAIR_TILES:
            pieces.append(((stretches[i][0], stretches[i + 1][0]), (j - i) // 2))
            if (j - i) % 2:
                pieces.append(((stretches[j - 1][0],), 1))
            i = j
            continue
        value, count = stretches[i]
        pieces.append(((value,), count))
        i += 1
    return pieces
