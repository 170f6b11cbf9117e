"""Tiny random-weight models shared by the model tests (fast on one CPU thread)."""

from __future__ import annotations

from dataclasses import replace
from typing import TypedDict

import numpy as np
import torch

from models.config import DepthConfig, ModelConfig, get_preset
from models.decoding.sampling import Sampling
from models.transformer import DecoderLayer, VideoTransformer


class DecodeOptions(TypedDict, total=False):
    """Keyword arguments of `decode_video` that a test shares between several runs (a plain
    dict would give every value the union of all their types). No `thresholds`: tests pass
    it per run, and mypy rejects a keyword given both ways."""

    frames: int
    cfg_scale: float | None
    sampling: Sampling
    seed: int
    teacher_codes: np.ndarray


def tiny_config(**changes) -> ModelConfig:
    """The toyworld geometry shrunk: 2 layers, hidden 32, 4 heads on 2 kv heads, 4x4 frames; queries
    rotated at their own position (the hand computations of FastCar and sparse attention are written so;
    tests of `rope_queries_at_target` turn it on)."""
    base = replace(
        get_preset("toyworld"),
        name="tiny",
        num_layers=2,
        hidden=32,
        num_heads=4,
        num_kv_heads=2,
        mlp_hidden=64,
        frames=3,
        frame_rows=4,
        frame_cols=4,
        rope_queries_at_target=False,
    )
    return replace(base, **changes)


def tiny_depth_config() -> ModelConfig:
    """A tiny model with a depth transformer (VILA-U layout): 2 codes per position."""
    return tiny_config(
        name="tiny-depth",
        vocab_size=40,
        num_classes=4,
        codebook_size=0,
        depth=DepthConfig(num_layers=1, hidden=16, num_heads=2, mlp_hidden=32, codes_per_position=2, codebook_size=24),
    )


def tiny_model(seed: int = 0, **changes) -> VideoTransformer:
    torch.manual_seed(seed)
    return VideoTransformer(tiny_config(**changes)).eval()


def decoder_layer(model: VideoTransformer, index: int) -> DecoderLayer:
    """Layer `index` of `model` as its own type (`nn.ModuleList` items are plain modules)."""
    layer = model.layers[index]
    assert isinstance(layer, DecoderLayer)
    return layer
