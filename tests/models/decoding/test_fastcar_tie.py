"""FastCar's replay rule is strict: TAS equal to the threshold computes, a hair above replays (both row
policies that decide on one number, and `each` with two rows)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models.decoding.decode import decode_video
from tiny_models import tiny_model

torch.set_num_threads(1)


@pytest.mark.parametrize("cfg_scale, row_policy", [(None, "all"), (None, "each"), (3.0, "each")])
@torch.no_grad()
def test_a_tas_equal_to_the_threshold_does_not_replay(cfg_scale, row_policy):
    model = tiny_model(seed=5)
    video = np.random.default_rng(1).integers(0, 256, (3, 4, 4))
    kwargs = dict(frames=3, cfg_scale=cfg_scale, teacher_codes=video, row_policy=row_policy)
    probe = decode_video(model, video[0], 1, thresholds=float("inf"), **kwargs)
    first = int(np.argmax(np.isfinite(probe.trace.tas[:, 0, 0])))  # the first step with a TAS
    tas = probe.trace.tas[first, :, :].astype(np.float64)  # float32 values, exactly as decoding compares them
    # every layer's threshold at its lowest row's TAS: up to that step the run is the probe (nothing replayed),
    # so the lowest row ties at every layer and must compute
    tie = decode_video(model, video[0], 1, thresholds=tas.min(axis=1).tolist(), **kwargs)
    np.testing.assert_array_equal(tie.trace.tas[first], probe.trace.tas[first])
    at_min = tas == tas.min(axis=1, keepdims=True)
    assert not tie.trace.replay[first][at_min].any()
    # a hair below the lowest TAS at layer 0: every row of layer 0 replays at that step
    below = [math.nextafter(float(tas[0].min()), -math.inf)] + [math.inf] * (tas.shape[0] - 1)
    assert decode_video(model, video[0], 1, thresholds=below, **kwargs).trace.replay[first, 0].all()
