"""On-chip buffers as the simulator sees them, and how ops are tiled to fit them.

Buffers of one purpose (weights, kv_cache, activations, scores, replay_cache, output)
form one group: their capacities and read-port bandwidths add up (they are striped).
A group holds ``slots`` tiles of ``slot_bytes`` each: one tile when single-buffered,
two when double-buffered (the schema's ``bytes`` is the size of one copy), so a tile
is exactly one copy and double buffering loads tile i+1 while tile i is computed.

A matrix op streams one large operand (weights, or the KV cache for attention) through
its group; `tile_columns` cuts that operand into tiles along the output columns (or, if
one column -- or the columns that give every array work -- do not fit, along the
reduction too), so every tile fits a slot.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from cosim.hw.schema import Design

PURPOSES = ("weights", "activations", "kv_cache", "replay_cache", "scores", "output")
Run = tuple[int, int, int]  # tiles [start, stop) whose bytes and cycles repeat every `period` (1 or 2) tiles
MIN_RUN_TILES = 16  # shorter stretches are walked tile by tile


@dataclass(frozen=True)
class BufferGroup:
    """All buffers of one purpose, as one striped buffer."""

    purpose: str
    names: tuple[str, ...]
    memories: tuple[str, ...]
    capacities_bytes: tuple[int, ...]
    slot_bytes: int
    slots: int
    port_bytes_per_cycle: float

    @property
    def capacity_bytes(self) -> int:
        """Bytes of all copies of all buffers of the group."""
        return self.slot_bytes * self.slots


class BufferSet:
    """The design's buffers grouped by purpose; a missing optional purpose falls back."""

    FALLBACK: ClassVar[Mapping[str, str]] = {
        "scores": "activations",
        "output": "activations",
        "replay_cache": "activations",
    }

    def __init__(self, groups: dict[str, BufferGroup], buffers: Sequence[tuple[str, str, str, int]]) -> None:
        self.groups = groups
        self.buffers = buffers  # (name, purpose, memory, bytes of all copies)

    @classmethod
    def from_design(cls, design: Design) -> BufferSet:
        groups: dict[str, BufferGroup] = {}
        for purpose in PURPOSES:
            members = design.buffers_for(purpose)
            if not members:
                continue
            groups[purpose] = BufferGroup(
                purpose=purpose,
                names=tuple(b.name for b in members),
                memories=tuple(b.memory for b in members),
                capacities_bytes=tuple(b.bytes * b.copies for b in members),
                slot_bytes=sum(b.bytes for b in members),
                slots=2 if all(b.double_buffered for b in members) else 1,
                port_bytes_per_cycle=sum(b.port_bytes_per_cycle for b in members),
            )
        buffers = [(b.name, b.purpose, b.memory, b.bytes * b.copies) for b in design.buffers]
        return cls(groups, buffers)

    def group(self, purpose: str) -> BufferGroup:
        """The group holding `purpose`, or the one its data falls back to."""
        while purpose not in self.groups:
            if purpose not in self.FALLBACK:
                raise KeyError(f"design has no buffer with purpose {purpose!r}")
            purpose = self.FALLBACK[purpose]
        return self.groups[purpose]

    def split_bits(self, bits_by_purpose: dict[str, tuple[int, int]]) -> dict[str, dict[str, Any]]:
        """Per-buffer read/write bits from per-purpose totals, split in proportion to capacity."""
        result: dict[str, dict[str, Any]] = {
            name: {"memory": memory, "purpose": purpose, "read_bits": 0, "write_bits": 0}
            for name, purpose, memory, _ in self.buffers
        }
        for purpose, (read_bits, write_bits) in bits_by_purpose.items():
            group = self.group(purpose)
            total = sum(group.capacities_bytes)
            for key, bits in (("read_bits", read_bits), ("write_bits", write_bits)):
                given = 0
                for name, capacity in zip(group.names[:-1], group.capacities_bytes[:-1], strict=True):
                    part = bits * capacity // total
                    result[name][key] += part
                    given += part
                result[group.names[-1]][key] += bits - given
        return result


def tile_columns(
    total_bytes: int, k: int, n: int, slot_bytes: int, min_columns: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut a streamed operand of `total_bytes` (k x n, reduction x outputs) into slot-sized tiles.

    Returns (bytes, k, n) per tile. Tiles take as many whole output columns as fit a slot.
    When fewer than `min_columns` fit (one column, or as many as give every array of the
    engine work), groups of `min_columns` columns are cut along the reduction into equal
    parts, the parts of a group one after another. Tile bytes add up to `total_bytes` exactly.
    """
    if total_bytes <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    n = max(n, 1)
    k = max(k, 1)
    columns_per_tile = (slot_bytes * n) // total_bytes
    group = min(max(min_columns, 1), n)
    if columns_per_tile >= group:
        columns_per_tile = min(columns_per_tile, n)
        tiles = math.ceil(n / columns_per_tile)
        starts = np.arange(tiles, dtype=np.int64) * columns_per_tile
        ends = np.minimum(starts + columns_per_tile, n)
        bytes_ = (total_bytes * ends) // n - (total_bytes * starts) // n
        return bytes_, np.full(tiles, k, np.int64), ends - starts
    # in whole numbers (floating point misses a byte beyond 2**53): a part then holds at most
    # ceil(total x group / (n x parts)) <= slot bytes
    parts = -(-total_bytes * group // (n * slot_bytes))
    groups = math.ceil(n / group)
    starts = np.arange(groups, dtype=np.int64) * group
    widths = np.minimum(starts + group, n) - starts
    # byte edges at (group g, part p): total x (columns before g + p / parts of g's columns) / n, exactly
    edges = starts[:, None] * parts + np.arange(parts, dtype=np.int64)[None, :] * widths[:, None]
    edges = np.append(edges.ravel(), n * parts)
    bytes_ = np.diff((total_bytes * edges) // (n * parts))
    k_parts = np.diff((k * np.arange(parts + 1, dtype=np.int64)) // parts)
    return bytes_, np.tile(k_parts, groups), np.repeat(widths, parts)


Tile = tuple[int, int, int]  # (bytes, k, n) of one tile
TilePiece = tuple[tuple[Tile, ...], int]  # a pattern of tiles and how many times it repeats in a row


def column_tile_pieces(
    total_bytes: int, k: int, n: int, slot_bytes: int, min_columns: int = 1
) -> list[TilePiece] | None:
    """`tile_columns` in closed form, as repeated patterns, where tiles take whole columns and the full tiles'
    bytes repeat every tile or every other tile (a KV stream: the same slot-sized tiles whatever its length, or
    sizes alternating by one byte); None otherwise (then `tile_columns` cuts it tile by tile).

    Full tile t holds columns [t c, (t + 1) c) and ``floor(A (t + 1) / n) - floor(A t / n)`` bytes, A =
    total x c: with ``A = q n + r`` that is q for every tile if r = 0 and q, q + 1 alternately if 2 r = n.
    """
    if total_bytes <= 0:
        return []
    n, k = max(n, 1), max(k, 1)
    columns = (slot_bytes * n) // total_bytes
    if columns < min(max(min_columns, 1), n):
        return None
    columns = min(columns, n)
    q, r = divmod(total_bytes * columns, n)
    if r and 2 * r != n:
        return None
    full = -(-n // columns) - 1  # tiles before the last
    last = (total_bytes - (total_bytes * full * columns) // n, k, n - full * columns)
    pieces: list[TilePiece] = []
    if r == 0:
        pieces.append((((q, k, columns),), full))
    else:
        pieces.append((((q, k, columns), (q + 1, k, columns)), full // 2))
        pieces.append((((q, k, columns),), full % 2))
    pieces = [piece for piece in pieces if piece[1]]
    return [*pieces, ((last,), 1)]


def periodic_runs(tile_bytes: np.ndarray, tile_cycles: np.ndarray) -> tuple[Run, ...]:
    """Stretches of at least `MIN_RUN_TILES` tiles whose (bytes, cycles) repeat every tile, or every other tile
    (stretches of period 1 first, then those of period 2 that do not overlap them), in tile order.

    A KV stream is mostly full tiles (period 1); cutting the output columns of a value
    product into equal groups can give bytes alternating by one (period 2).
    """
    n = len(tile_bytes)
    runs: list[Run] = []
    for period in (1, 2):
        if n < MIN_RUN_TILES:
            break
        same = (tile_bytes[period:] == tile_bytes[:-period]) & (tile_cycles[period:] == tile_cycles[:-period])
        breaks = np.flatnonzero(~same) + period  # tiles that differ from the one `period` before
        starts, stops = np.concatenate([[0], breaks]), np.concatenate([breaks, [n]])
        long = stops - starts >= MIN_RUN_TILES
        for start, stop in zip(starts[long].tolist(), stops[long].tolist(), strict=True):
            if all(stop <= a or start >= b for a, b, _ in runs):
                runs.append((start, stop, period))
    return tuple(sorted(runs))


def periodic_runs_of_segments(segments: Sequence[tuple[object, int]]) -> tuple[Run, ...]:
    """`periodic_runs` of the tiles that `segments` -- (value, count) with no two neighbours equal -- spell out,
    found from the segments alone (a KV stream is a few thousand tiles in a few segments).

    Period 1 breaks at every segment's start. Period 2 breaks where a tile differs from the one
    two before: at a segment's second tile always (its neighbour before differs), at its first
    tile unless the segment before is one tile long and the one before that has its value.
    """
    n = sum(count for _, count in segments)
    if n < MIN_RUN_TILES:
        return ()
    starts, position = [], 0
    for _, count in segments:
        starts.append(position)
        position += count
    runs: list[Run] = []
    for start, (_, count) in zip(starts, segments, strict=True):
        if count >= MIN_RUN_TILES:
            runs.append((start, start + count, 1))
    breaks = []
    for i, (value, count) in enumerate(segments):
        first = starts[i]
        if i and first >= 2 and not (segments[i - 1][1] == 1 and i >= 2 and segments[i - 2][0] == value):
            breaks.append(first)
        if i and count >= 2:
            breaks.append(first + 1)
    edges = [0, *breaks, n]
    for start, stop in itertools.pairwise(edges):
        if stop - start >= MIN_RUN_TILES and all(stop <= a or start >= b for a, b, _ in runs):
            runs.append((start, stop, 2))
    return tuple(sorted(runs))


def peak_occupancy(changes: list[tuple[int, int]], start_bytes: int = 0) -> int:
    """Peak of a running sum of (time, +/- bytes) changes; releases at a time go before fills."""
    if not changes:
        return start_bytes
    ordered = sorted(changes)  # (time, delta) tuples: by time, releases (negative) first
    level = peak = start_bytes
    for _, delta in ordered:
        level += delta
        peak = max(peak, level)
    return peak
