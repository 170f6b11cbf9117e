"""The pre-RoPE TAS under sparse attention: the attention's scores hold the key p - F only
after RoPE, so the pre-RoPE form must compute its own dot product even where the sparse
attention kept that key."""

from __future__ import annotations

import numpy as np
import torch

from models.decoding.decode import decode_video
from models.decoding.sparse_attention import StreamingAttention
from tiny_models import DecodeOptions, tiny_model

torch.set_num_threads(1)
F = 16  # tokens per frame of the tiny model (4 x 4)


@torch.no_grad()
def test_prerope_tas_with_a_kept_key_is_not_read_from_the_rope_scores():
    # A sink of 2 plus a window of F + 1 keeps key p - F, at an offset in the scores. Layer 0
    # sees the same inputs with dense and sparse attention, so its pre-RoPE TAS must match
    # the dense run's, and differ from the RoPE form's.
    model = tiny_model(seed=3)
    video = np.random.default_rng(2).integers(0, 256, (3, 4, 4))
    kwargs = DecodeOptions(frames=3, cfg_scale=None, teacher_codes=video)
    policy = StreamingAttention(sink=2, window=F + 1)
    dense = decode_video(model, video[0], 0, thresholds=float("inf"), tas_form="prerope", **kwargs).trace.tas
    sparse = decode_video(
        model, video[0], 0, thresholds=float("inf"), tas_form="prerope", attention_policy=policy, **kwargs
    ).trace.tas
    rope = decode_video(model, video[0], 0, thresholds=float("inf"), attention_policy=policy, **kwargs).trace.tas
    np.testing.assert_allclose(sparse[:, 0], dense[:, 0], rtol=1e-5, atol=1e-6)
    assert np.abs(rope[:, 0] - dense[:, 0]).max() > 1e-3
