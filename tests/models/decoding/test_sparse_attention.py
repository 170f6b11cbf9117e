"""Sparse attention policies attend exactly the expected KV entries, log them per step
and layer, and combine with FastCar."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cosim.common.errors import UserError
from models.decoding.decode import decode_video
from models.decoding.sampling import Sampling
from models.decoding.sparse_attention import (
    AttentionRun,
    BlockAttention,
    DenseAttention,
    StreamingAttention,
    WindowAttention,
    make_policy,
    position_in,
)
from tiny_models import DecodeOptions, tiny_model

torch.set_num_threads(1)


def _keys(count: int) -> torch.Tensor:
    return torch.zeros(1, 1, count, 2)


@pytest.mark.parametrize(
    "policy, count, expected",
    [
        (DenseAttention(), 20, [(0, 20)]),
        (StreamingAttention(sink=4, window=8), 20, [(0, 4), (12, 20)]),
        (StreamingAttention(sink=4, window=8), 11, [(0, 11)]),  # sink and window overlap
        (WindowAttention(window=5), 20, [(15, 20)]),
        (WindowAttention(window=5), 3, [(0, 3)]),
    ],
)
def test_policy_ranges(policy, count, expected):
    assert policy.ranges(torch.zeros(1, 1, 1, 2), _keys(count)) == expected


def test_block_selection_keeps_the_best_block_and_the_current_one():
    keys = torch.zeros(1, 1, 14, 2)  # blocks of 4: [0,4) [4,8) [8,12) complete, [12,14) current
    keys[0, 0, 4:8] = torch.tensor([1.0, 0.0])  # block 1 points along the query
    keys[0, 0, 8:12] = torch.tensor([-1.0, 0.0])
    query = torch.tensor([[[[2.0, 0.0]]]])
    assert BlockAttention(block_size=4, top_k=1).ranges(query, keys) == [(4, 8), (12, 14)]
    assert BlockAttention(block_size=4, top_k=2).ranges(query, keys) == [(0, 8), (12, 14)]
    assert BlockAttention(block_size=4, top_k=3).ranges(query, keys) == [(0, 14)]


def test_run_gathers_the_chosen_entries_and_counts_them():
    keys = torch.arange(20.0).view(1, 1, 20, 1)
    run = AttentionRun(StreamingAttention(sink=2, window=3), num_layers=2, max_steps=4)
    run.step = 3
    chosen, values, ranges = run.select(1, torch.zeros(1, 1, 1, 1), keys, keys * 10)
    assert chosen.flatten().tolist() == [0, 1, 17, 18, 19] and ranges == [(0, 2), (17, 20)]
    assert [position_in(ranges, p) for p in (1, 2, 16, 17, 19, 20)] == [1, None, None, 2, 4, None]
    assert values.flatten().tolist() == [0, 10, 170, 180, 190]
    assert run.attended[3].tolist() == [0, 5]


@torch.no_grad()
def test_decode_logs_attended_entries_per_step_and_layer():
    model = tiny_model()
    first = np.random.default_rng(0).integers(0, 256, (4, 4))
    kwargs = DecodeOptions(frames=3, cfg_scale=None)
    streaming = decode_video(
        model, first, 0, thresholds=float("inf"), attention_policy=StreamingAttention(sink=4, window=16), **kwargs
    )
    expected = np.minimum(streaming.trace.kv_len, 4 + 16)
    np.testing.assert_array_equal(streaming.trace.kv_attended, np.repeat(expected[:, None], 2, axis=1))
    block = decode_video(
        model, first, 0, thresholds=float("inf"), attention_policy=BlockAttention(block_size=8, top_k=2), **kwargs
    )
    current = (block.trace.kv_len - 1) % 8 + 1  # entries of the (partial) current block
    full_blocks = (block.trace.kv_len - 1) // 8
    expected = np.where(full_blocks <= 2, block.trace.kv_len, current + 2 * 8)
    np.testing.assert_array_equal(block.trace.kv_attended, np.repeat(expected[:, None], 2, axis=1))


@torch.no_grad()
def test_window_covering_the_cache_equals_dense_and_combines_with_fastcar():
    model = tiny_model(seed=1)
    first = np.random.default_rng(1).integers(0, 256, (4, 4))
    kwargs = DecodeOptions(frames=3, sampling=Sampling(temperature=1.0), seed=3)
    dense = decode_video(model, first, 2, **kwargs)
    wide = decode_video(model, first, 2, attention_policy=WindowAttention(window=10_000), **kwargs)
    np.testing.assert_array_equal(dense.codes, wide.codes)
    both = decode_video(model, first, 2, thresholds=-1e9, attention_policy=WindowAttention(window=16), **kwargs)
    assert both.trace.replay.all() and (both.trace.kv_attended <= 16).all()


def test_unknown_policy_or_knob_is_a_user_error():
    with pytest.raises(UserError, match="dense, streaming, window, block"):
        make_policy("h2o")
    with pytest.raises(UserError, match=r"attention\.sinks"):
        make_policy("streaming", sinks=4)
    assert make_policy("window", window=7) == WindowAttention(window=7)
