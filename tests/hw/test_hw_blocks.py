"""Block mapping of buffers, checked against hand-computed cases (AMD UG573 block shapes)."""

from cosim.hw.blocks import BRAM36_BITS, URAM288_BITS, map_to_blocks
from cosim.hw.components import Buffer


def test_bram_512_bit_by_1024_words_takes_16_blocks():
    m = map_to_blocks(512, 1024, "bram")
    # ceil(512 / 72) = 8 blocks side by side, ceil(1024 / 512) = 2 rows
    assert (m.blocks_wide, m.blocks_deep, m.blocks) == (8, 2, 16)
    assert m.capacity_bits == 16 * 36 * 1024 == 589_824
    assert m.used_bits == 512 * 1024 == 524_288
    # 8 blocks x 72 bits = 576 bits per word row, 64 of them unused: 64 / 576 = 1/9 lost
    assert m.lost_bits == 65_536
    assert round(m.lost_fraction, 4) == round(1 / 9, 4)


def test_uram_exact_fit_loses_nothing():
    m = map_to_blocks(576, 4096, "uram")
    assert (m.blocks_wide, m.blocks_deep, m.blocks) == (8, 1, 8)
    assert m.lost_bits == 0


def test_uram_depth_rounding():
    m = map_to_blocks(512, 5000, "uram")
    assert (m.blocks_wide, m.blocks_deep, m.blocks) == (8, 2, 16)
    assert m.capacity_bits == 16 * URAM288_BITS == 4_718_592
    assert m.lost_bits == 4_718_592 - 512 * 5000


def test_true_dual_port_bram_maps_36_bits_by_1024():
    assert map_to_blocks(64, 1024, "bram", ports=2).blocks == 2  # ceil(64/36) x ceil(1024/1024)
    assert map_to_blocks(64, 1024, "bram", ports=1).blocks == 2  # ceil(64/72) x ceil(1024/512)
    assert map_to_blocks(72, 1024, "bram", ports=2).blocks == 2  # 72 bits need two 36-bit ports


def test_double_buffering_stacks_copies_in_depth():
    assert map_to_blocks(72, 300, "bram").blocks == 1
    two = map_to_blocks(72, 300, "bram", copies=2)
    assert (two.blocks_deep, two.blocks) == (2, 2)  # 600 words
    assert map_to_blocks(72, 200, "bram", copies=2).blocks == 1  # 400 words still fit one block
    assert two.capacity_bits == 2 * BRAM36_BITS


def test_buffer_depth_rounds_bytes_up_to_whole_words():
    buffer = Buffer(name="b", purpose="weights", bytes=100, memory="bram", width_bits=72)
    assert buffer.depth_words == 12  # 800 bits / 72 = 11.1 -> 12 words
    assert buffer.port_bytes_per_cycle == 9
    assert (
        Buffer(name="b", purpose="weights", bytes=100, memory="uram", width_bits=72, ports=2).port_bytes_per_cycle == 18
    )
