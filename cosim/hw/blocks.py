"""Mapping a buffer onto whole BRAM36 / URAM288 blocks, and what rounding costs.

A buffer of W-bit words and D words occupies ceil(W / block width) blocks side by side
and ceil(D / block depth) rows of them (block shapes from AMD UG573, UltraScale memory resources):

- BRAM36, simple dual-port (one read, one write per cycle): 72 bits x 512 words
- BRAM36, true dual-port (two read/write ports): 36 bits x 1024 words per port
- URAM288 (two ports on one clock in either case): 72 bits x 4096 words

A double-buffered buffer stacks its two copies in depth (the ping-pong halves of one
memory), so it maps 2 x D words. Whatever the blocks hold beyond W x D bits is lost.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from cosim.hw.components import Buffer

BRAM36_BITS = 36 * 1024
URAM288_BITS = 288 * 1024

# (block width in bits, block depth in words) by memory type and port count
BLOCK_SHAPES: dict[tuple[str, int], tuple[int, int]] = {
    ("bram", 1): (72, 512),
    ("bram", 2): (36, 1024),
    ("uram", 1): (72, 4096),
    ("uram", 2): (72, 4096),
}


@dataclass(frozen=True)
class BlockMapping:
    """How one buffer maps to blocks."""

    memory: str
    width_bits: int
    depth_words: int
    copies: int
    block_width_bits: int
    block_depth_words: int
    blocks_wide: int
    blocks_deep: int
    blocks: int
    used_bits: int
    capacity_bits: int

    @property
    def lost_bits(self) -> int:
        """Block capacity the buffer cannot use because of rounding up to whole blocks."""
        return self.capacity_bits - self.used_bits

    @property
    def lost_fraction(self) -> float:
        """lost_bits / capacity_bits."""
        return self.lost_bits / self.capacity_bits

    def as_dict(self) -> dict[str, Any]:
        """Plain dict including the derived loss figures (for reports)."""
        data = asdict(self)
        data["lost_bits"] = self.lost_bits
        data["lost_percent"] = round(100 * self.lost_fraction, 2)
        return data


def map_to_blocks(
    width_bits: int, depth_words: int, memory: Literal["bram", "uram"], ports: int = 1, copies: int = 1
) -> BlockMapping:
    """Blocks for `copies` copies of a `width_bits` x `depth_words` memory."""
    block_width, block_depth = BLOCK_SHAPES[(memory, ports)]
    total_depth = depth_words * copies
    wide = math.ceil(width_bits / block_width)
    deep = math.ceil(total_depth / block_depth)
    block_bits = BRAM36_BITS if memory == "bram" else URAM288_BITS
    return BlockMapping(
        memory=memory,
        width_bits=width_bits,
        depth_words=depth_words,
        copies=copies,
        block_width_bits=block_width,
        block_depth_words=block_depth,
        blocks_wide=wide,
        blocks_deep=deep,
        blocks=wide * deep,
        used_bits=width_bits * total_depth,
        capacity_bits=wide * deep * block_bits,
    )


def map_buffer(buffer: Buffer) -> BlockMapping:
    """Blocks of a design's buffer (copies and ports included)."""
    return map_to_blocks(buffer.width_bits, buffer.depth_words, buffer.memory, buffer.ports, buffer.copies)
