"""Buffers and tiling by hand: grouping a design's buffers by purpose, splitting bits among a group,
cutting a streamed operand into slot-sized tiles, runs of repeating tiles, and peak occupancy."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from cosim.hw.library import design_from_dict
from cosim.sim.buffers import BufferGroup, BufferSet, peak_occupancy, periodic_runs, tile_columns
from simulator_graphs import TINY_DESIGN


def buffer_set() -> BufferSet:
    """The tiny design with two weight buffers (both double-buffered) and three activation buffers (one is)."""
    data = copy.deepcopy(TINY_DESIGN)
    data["buffers"] += [
        {
            "name": "w2",
            "purpose": "weights",
            "bytes": 4096,
            "memory": "bram",
            "width_bits": 512,
            "double_buffered": True,
        },
        {"name": "act2", "purpose": "activations", "bytes": 262144, "memory": "uram", "width_bits": 512},
        {
            "name": "act3",
            "purpose": "activations",
            "bytes": 131072,
            "memory": "bram",
            "width_bits": 512,
            "double_buffered": True,
        },
    ]
    return BufferSet.from_design(design_from_dict(data, "tiny"))


def test_buffers_of_one_purpose_form_one_striped_group():
    buffers = buffer_set()
    weights = buffers.group("weights")
    assert weights.names == ("w", "w2") and weights.memories == ("uram", "bram")
    assert weights.capacities_bytes == (2 * 12288, 2 * 4096)  # both copies
    assert weights.slot_bytes == 12288 + 4096 and weights.slots == 2
    assert weights.capacity_bytes == 2 * (12288 + 4096)
    activations = buffers.group("activations")
    assert activations.slots == 1  # act and act2 are single-buffered
    assert activations.capacities_bytes == (1 << 20, 262144, 2 * 131072)
    assert buffers.buffers == [
        ("w", "weights", "uram", 2 * 12288),
        ("kv", "kv_cache", "uram", 12288),
        ("act", "activations", "bram", 1 << 20),
        ("w2", "weights", "bram", 2 * 4096),
        ("act2", "activations", "uram", 262144),
        ("act3", "activations", "bram", 2 * 131072),
    ]


def test_a_purpose_without_buffers_falls_back_or_is_refused():
    buffers = buffer_set()
    assert buffers.group("scores") is buffers.group("activations")
    with pytest.raises(KeyError) as missing:
        buffers.group("bias")
    assert missing.value.args == ("design has no buffer with purpose 'bias'",)


def test_bits_split_in_proportion_to_capacity_and_add_up():
    # activations: 1 MiB, 256 KiB, 2 x 128 KiB of 1.5 MiB = 2/3, 1/6, 1/6; the last buffer takes the remainder.
    # 3001 read bits: 2000 (2000.67 rounded down), 500 (500.17), 501; 601 scores bits (no scores buffer, so
    # activations): 400, 100, 101. Weights 24 KiB and 8 KiB: 1001 bits = 750 (750.75) and 251.
    split = buffer_set().split_bits({"activations": (3001, 7), "scores": (601, 0), "weights": (1001, 0)})
    assert split == {
        "w": {"memory": "uram", "purpose": "weights", "read_bits": 750, "write_bits": 0},
        "kv": {"memory": "uram", "purpose": "kv_cache", "read_bits": 0, "write_bits": 0},
        "act": {"memory": "bram", "purpose": "activations", "read_bits": 2400, "write_bits": 4},
        "w2": {"memory": "bram", "purpose": "weights", "read_bits": 251, "write_bits": 0},
        "act2": {"memory": "uram", "purpose": "activations", "read_bits": 600, "write_bits": 1},
        "act3": {"memory": "bram", "purpose": "activations", "read_bits": 602, "write_bits": 2},
    }
    assert all(type(counts[key]) is int for counts in split.values() for key in ("read_bits", "write_bits"))


def test_a_group_whose_names_and_capacities_disagree_is_refused():
    group = BufferGroup("weights", ("a", "b", "c"), ("bram",) * 3, (10, 20), 30, 1, 8.0)
    buffers = BufferSet({"weights": group}, [(name, "weights", "bram", 10) for name in ("a", "b", "c")])
    with pytest.raises(ValueError):
        buffers.split_bits({"weights": (100, 0)})


def tiles(*args: int) -> list[list[int]]:
    bytes_, k, n = tile_columns(*args)
    assert bytes_.dtype == k.dtype == n.dtype == np.int64
    return [bytes_.tolist(), k.tolist(), n.tolist()]


def test_nothing_to_stream_has_no_tiles_and_one_byte_has_one():
    assert tiles(0, 8, 4, 64) == [[], [], []]
    assert tiles(1, 1, 1, 64) == [[1], [1], [1]]


def test_whole_columns_per_tile_and_exact_byte_edges():
    # 10 bytes over 3 columns, 4-byte slot: 4 x 3 // 10 = 1 column per tile; bytes at edges 10 x c // 3: 3, 3, 4
    assert tiles(10, 5, 3, 4) == [[3, 3, 4], [5, 5, 5], [1, 1, 1]]
    # exactly one column fits (400 bytes, 4 columns, slot 150): one column per tile, the reduction whole
    assert tiles(400, 100, 4, 150) == [[100] * 4, [100] * 4, [1] * 4]
    # one column, one reduction element: nothing to round up to
    assert tiles(100, 1, 1, 100) == [[100], [1], [1]]


def test_groups_of_columns_cut_along_the_reduction_into_equal_parts():
    # 5 x 2 operand of 10 bytes, slot 6, groups of 2 columns: ceil(10 x 2 / (2 x 6)) = 2 parts of 5 bytes;
    # the reduction of 5 splits as 5 x p // 2: 2 and 3
    assert tiles(10, 5, 2, 6, 2) == [[5, 5], [2, 3], [2, 2]]


def test_parts_of_a_reduction_fit_the_slot_where_floating_point_undercounts_them():
    # 14 columns of (14 x slot + 1) / 14 = slot + 1/14 bytes each, in groups of 4: the estimate 4 x 14 x (slot + 1/14)
    # / (14 x slot) = 4 + 2 / (7 x slot) rounds to 4.0 in floating point, but a quarter of a group is one column,
    # over the slot: 5 parts per group. 3 groups of 4 columns and one of 2, 5 parts each: 20 tiles
    slot = 2**50 - 2
    bytes_, k, n = tile_columns(14 * slot + 1, 5, 14, slot, 4)
    assert len(bytes_) == 20 and bytes_.max() <= slot and bytes_.sum() == 14 * slot + 1
    assert k.tolist() == [1] * 20 and n.tolist() == [4] * 15 + [2] * 5


@pytest.mark.parametrize(
    ("total", "k", "n", "group"),
    [
        # 2 columns of slot + 1/2 bytes: 16 parts would hold slot + 1/16 bytes, which floating point reads as the slot
        (16 * (2**50 - 2) + 1, 17, 2, 2),
        # 3 x total = 49 x slot + 6: 7 parts of a 3-column group would hold slot + 6/49 bytes
        (18389698478429560, 8, 7, 3),
    ],
)
def test_every_tile_fits_its_slot_at_sizes_beyond_floating_point(total, k, n, group):
    slot = 2**50 - 2 if n == 2 else 1125899906842626
    bytes_, _, _ = tile_columns(total, k, n, slot, group)
    assert bytes_.max() <= slot and bytes_.sum() == total


def test_sizes_read_from_int32_arrays_still_give_int64_tiles():
    # the workload keeps its sizes in int32 arrays: an element not converted to int must not make int32 tiles
    size = np.int32
    bytes_, k, n = tile_columns(size(10), size(5), size(3), 4)  # type: ignore[arg-type]
    assert bytes_.dtype == k.dtype == n.dtype == np.int64


U, V, A, B, C = (100, 5), (60, 3), (70, 4), (71, 4), (80, 2)


def runs(*tiles: tuple[int, int]) -> tuple[tuple[int, int, int], ...]:
    return periodic_runs(np.array([t[0] for t in tiles]), np.array([t[1] for t in tiles]))


def test_periodic_runs_of_repeating_tiles():
    assert runs(*[U] * 16) == ((0, 16, 1),)  # exactly MIN_RUN_TILES
    assert runs(*[U] * 15) == ()
    assert runs(*[U] * 20, *[V] * 20) == ((0, 20, 1), (20, 40, 1))
    # a short stretch between two long ones is walked tile by tile
    assert runs(*[U] * 20, A, B, V, *[V] * 19) == ((0, 20, 1), (22, 42, 1))
    assert runs(*[A, B] * 10) == ((0, 20, 2),)  # alternating bytes: period 2


def test_period_two_runs_may_touch_but_not_overlap_period_one_runs():
    # U x 20 then X, U alternating: the period-2 stretch from 20 touches the period-1 run [0, 20)
    assert runs(*[U] * 20, *[C, U] * 10) == ((0, 20, 1), (20, 40, 2))
    # A, B alternating then C x 20: the period-2 stretch [0, 20) ends where the period-1 run starts
    assert runs(*[A, B] * 10, *[C] * 20) == ((0, 20, 2), (20, 40, 1))


def test_peak_occupancy_by_hand():
    assert peak_occupancy([]) == 0 and peak_occupancy([], 7) == 7
    assert peak_occupancy([(0, 5)]) == 5 and peak_occupancy([(0, 5), (1, 5)]) == 10
    assert peak_occupancy([(0, -3)]) == 0  # the start level is the first peak
    # out of time order: 10 bytes in at 0, out at 1, 5 in at 2
    assert peak_occupancy([(2, 5), (1, -10), (0, 10)]) == 10
    # a release and a fill at the same time: the release first
    assert peak_occupancy([(0, 8), (1, 4), (1, -8)]) == 8
    assert peak_occupancy([(0, 8), (1, 4)], start_bytes=2) == 14
