"""Calibrated thresholds hit their target replay ratio on held-out videos, and the
quality-budget search keeps token agreement above the budget."""

from __future__ import annotations

import numpy as np
import torch

from models.decoding.calibrate import Start, calibrate_quality, calibrate_ratio, thresholds_for_ratio
from models.decoding.decode import decode_video
from models.decoding.sampling import Sampling
from tiny_models import DecodeOptions, tiny_model

torch.set_num_threads(1)


def _starts(count: int, seed: int) -> list[Start]:
    rng = np.random.default_rng(seed)
    return [Start(rng.integers(0, 256, (8, 8)), int(rng.integers(0, 8))) for _ in range(count)]


def test_quantile_thresholds_split_the_samples_exactly():
    tas = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
    assert thresholds_for_ratio(tas, 0.5) == [2.5, 25.0]
    assert thresholds_for_ratio(tas, [0.25, 1.0]) == [3.5, float("-inf")]
    assert thresholds_for_ratio(tas, 0.0) == [float("inf")] * 2


@torch.no_grad()
def test_ratio_calibration_holds_on_held_out_videos():
    model = tiny_model(seed=11, frame_rows=8, frame_cols=8, frames=4)  # 64 tokens per frame
    kwargs = DecodeOptions(sampling=Sampling(temperature=1.0), seed=0)
    calibration = calibrate_ratio(model, _starts(6, seed=1), 0.4, rounds=2, **kwargs)
    held_out = [
        decode_video(model, s.first_frame_codes, s.class_id, thresholds=calibration.thresholds, **kwargs)
        for s in _starts(6, seed=2)
    ]
    ratios = np.concatenate([r.trace.replay for r in held_out]).mean(axis=(0, 2))
    assert abs(ratios.mean() - 0.4) <= 0.02
    assert np.abs(ratios - 0.4).max() <= 0.05


@torch.no_grad()
def test_quality_budget_keeps_agreement_and_trades_ratio():
    model = tiny_model(seed=12, frames=3)
    starts = _starts(2, seed=3)
    starts = [Start(s.first_frame_codes[:4, :4], s.class_id) for s in starts]
    strict = calibrate_quality(model, starts, 0.95, iterations=4)
    loose = calibrate_quality(model, starts, 0.5, iterations=4)
    assert strict.token_agreement is not None and loose.token_agreement is not None
    assert strict.token_agreement >= 0.95 and loose.token_agreement >= 0.5
    assert loose.replay_ratio >= strict.replay_ratio
    assert loose.replay_ratio > 0
