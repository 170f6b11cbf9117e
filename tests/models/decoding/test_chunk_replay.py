"""FlowCache's chunkwise rule for FastCar: chunks of rows, the accumulated change by hand,
and decodes that replay everything, nothing, or a calibrated fraction per chunk."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cosim.common.errors import UserError
from models.decoding.calibrate import Start, calibrate_chunk_ratio, match_chunk_ratio
from models.decoding.chunk_replay import AccumulatedChange, chunk_of_slots
from models.decoding.decode import decode_video
from tiny_models import DecodeOptions, tiny_config, tiny_model

torch.set_num_threads(1)


def test_chunks_are_bands_of_rows():
    assert chunk_of_slots(4, 2, 2) == [0, 0, 0, 0, 1, 1, 1, 1]
    assert chunk_of_slots(4, 1, 3) == [0, 0, 1, 2]
    assert chunk_of_slots(4, 1, 1) == [0, 0, 0, 0]
    with pytest.raises(UserError, match="chunks"):
        chunk_of_slots(4, 1, 5)


def test_change_accumulates_while_replaying_and_resets_on_compute():
    config = tiny_config(num_layers=1, hidden=2, num_heads=1, num_kv_heads=1, frame_rows=1, frame_cols=1)
    rule = AccumulatedChange(((0.8,),), config, batch=2)
    rule.store_inputs(0, 0, torch.tensor([[[1.0, 1.0]], [[1.0, 1.0]]]))
    step = torch.tensor([[[2.0, 1.0]], [[2.0, 1.0]]])  # |(1, 0)|_1 / |(1, 1)|_1 = 0.5 for both rows
    assert list(rule.values(0, 0, step)) == [-0.5, -0.5] and rule.threshold(0, 0) == pytest.approx(-0.8)
    rule.settle(0, 0, b"\x01\x00")  # row 0 replayed (keeps 0.5), row 1 computed (resets)
    later = torch.tensor([[[3.0, 1.0]], [[3.0, 1.0]]])  # change 1 / 3 against the stored (2, 1)
    assert list(rule.values(0, 0, later)) == pytest.approx([-(0.5 + 1 / 3), -1 / 3])


def test_decode_with_infinite_or_zero_thresholds_replays_all_or_nothing():
    model = tiny_model()
    first = np.random.default_rng(0).integers(0, 256, (4, 4))
    kwargs = DecodeOptions(frames=3, cfg_scale=1.5)
    always = decode_video(model, first, 0, chunk_deltas=[[np.inf, np.inf]] * 2, **kwargs).trace
    never = decode_video(model, first, 0, chunk_deltas=[[0.0, 0.0]] * 2, **kwargs).trace
    assert always.replay.all() and not never.replay.any()
    assert always.meta["replay_rule"]["rule"] == "accumulated" and (never.tas <= 0).all()
    dense = decode_video(model, first, 0, thresholds=float("inf"), **kwargs)
    np.testing.assert_array_equal(dense.codes, decode_video(model, first, 0, chunk_deltas=[[0.0]] * 2, **kwargs).codes)


def test_calibration_gives_every_layer_and_chunk_a_threshold():
    model = tiny_model(seed=1)
    starts = [Start(np.random.default_rng(i).integers(0, 256, (4, 4)), i) for i in range(2)]
    calibration = calibrate_chunk_ratio(model, starts, 0.4, 2, rounds=1, frames=3, cfg_scale=None)
    assert calibration.chunk_deltas is not None and np.shape(calibration.chunk_deltas) == (2, 2)
    assert calibration.history[0]["layer_replay_ratio"] == [0.0, 0.0]  # round 0 never replays
    assert 0.15 < calibration.replay_ratio < 0.65


def test_matching_scales_the_chunk_thresholds_to_the_asked_replay_ratio():
    model = tiny_model(seed=1)
    starts = [Start(np.random.default_rng(i).integers(0, 256, (4, 4)), i) for i in range(2)]
    kwargs = DecodeOptions(frames=3, cfg_scale=None)
    quantiles = calibrate_chunk_ratio(model, starts, 0.4, 2, rounds=0, **kwargs)
    matched = match_chunk_ratio(model, starts, quantiles, 0.3, tolerance=0.02, iterations=10, **kwargs)
    runs = [
        decode_video(model, s.first_frame_codes, s.class_id, chunk_deltas=matched.chunk_deltas, **kwargs)
        for s in starts
    ]
    replay = float(np.mean([run.trace.replay_ratio() for run in runs]))
    assert replay == pytest.approx(matched.replay_ratio) and abs(replay - 0.3) <= 0.02
    scale = matched.history[-1]["scale"]
    assert quantiles.chunk_deltas is not None and matched.chunk_deltas is not None
    assert np.allclose(np.array(matched.chunk_deltas), scale * np.array(quantiles.chunk_deltas))
