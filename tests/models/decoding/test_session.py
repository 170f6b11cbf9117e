"""Decoding sessions: starts from held-out indices, the calibration offset, the dense
reference and quality, the same for every caller."""

from __future__ import annotations

import numpy as np
import torch

from models.decoding.session import CALIBRATION_VIDEO_OFFSET, DecodeSession, torch_threads
from tiny_models import tiny_model

torch.set_num_threads(1)


def test_random_weight_starts_repeat_and_calibration_starts_sit_at_the_offset():
    session = DecodeSession(tiny_model())
    a, b = session.start(3, frames=2, seed=7), session.start(3, frames=2, seed=7)
    assert (a.first_frame_codes == b.first_frame_codes).all() and a.class_id == b.class_id == 3
    assert a.true_frames is None
    calibration = session.calibration_starts(2, frames=2, seed=7)
    expected = session.start(CALIBRATION_VIDEO_OFFSET + 1, frames=2, seed=7)
    assert (calibration[1].first_frame_codes == expected.first_frame_codes).all()


@torch.no_grad()
def test_dense_reference_drops_fastcar_and_sparse_attention():
    from models.decoding.sparse_attention import WindowAttention

    session = DecodeSession(tiny_model())
    start = session.start(0, frames=2)
    knobs = dict(frames=2, seed=1, thresholds=-1e9, adaptive_ratio=0.5, attention_policy=WindowAttention(window=4))
    run, dense = session.decode(start, **knobs), session.decode_dense(start, **knobs)
    plain = session.decode(start, frames=2, seed=1)
    assert run.trace.replay.all() and not dense.trace.replay.any()
    np.testing.assert_array_equal(dense.codes, plain.codes)
    assert dense.trace.meta["attention"] == {"policy": "dense"} and dense.trace.meta["thresholds"] is None
    measured = session.quality(run, dense, start)
    assert measured.versus_dense is None and measured.versus_truth is None  # no tokenizer: no pixels


def test_torch_threads_restores_the_count():
    before = torch.get_num_threads()
    with torch_threads(2):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before
