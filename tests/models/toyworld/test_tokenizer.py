"""The patch VQ tokenizer: shapes, exact patch layout, reconstruction quality."""

import numpy as np
import pytest

from models.decoding.quality import psnr
from models.toyworld.tokenizer import PatchTokenizer, fit_tokenizer, from_patches, to_patches
from models.toyworld.world import generate_videos


@pytest.fixture(scope="module")
def fitted():
    frames, _ = generate_videos(60, seed=0)
    return fit_tokenizer(frames, num_codes=128, seed=0, sample_patches=20_000, iterations=8)


def test_patch_layout_is_raster_order_of_4x4_blocks():
    frame = np.arange(8 * 8 * 3, dtype=np.int64).reshape(8, 8, 3)
    patches = to_patches(frame, 4)
    assert patches.shape == (2, 2, 48)
    # Patch (0, 1) holds rows 0..3, cols 4..7; its first pixel is frame[0, 4].
    assert np.array_equal(patches[0, 1, :3], frame[0, 4])
    assert np.array_equal(patches[0, 1, 3:6], frame[0, 5])
    assert np.array_equal(patches[0, 1, 12:15], frame[1, 4])
    assert np.array_equal(from_patches(patches, 4), frame)


def test_encode_decode_shapes(fitted):
    frames, _ = generate_videos(3, seed=9)
    codes = fitted.encode(frames)
    assert codes.shape == (3, 8, 16, 16) and codes.min() >= 0 and codes.max() < 128
    assert fitted.decode(codes).shape == frames.shape


def test_codeword_patches_round_trip_exactly():
    codebook = np.array([[0.0] * 48, [255.0] * 48, [10.0, 20.0, 30.0] * 16], dtype=np.float32)
    tokenizer = PatchTokenizer(codebook=codebook, patch_px=4)
    codes = np.array([[[0, 1], [2, 1]]])
    assert np.array_equal(tokenizer.encode(tokenizer.decode(codes)), codes)


def test_reconstruction_psnr_on_held_out_videos_is_above_a_floor(fitted):
    frames, _ = generate_videos(20, seed=123)
    assert psnr(fitted.decode(fitted.encode(frames)), frames) > 22.0  # measured 24.0


def test_fit_is_deterministic_per_seed_and_state_round_trips(fitted):
    frames, _ = generate_videos(10, seed=0)
    a = fit_tokenizer(frames, num_codes=32, seed=3, sample_patches=4000, iterations=3)
    b = fit_tokenizer(frames, num_codes=32, seed=3, sample_patches=4000, iterations=3)
    assert np.array_equal(a.codebook, b.codebook)
    restored = PatchTokenizer.from_state(fitted.state())
    assert np.array_equal(restored.encode(frames), fitted.encode(frames))


def test_decode_rejects_out_of_range_codes(fitted):
    with pytest.raises(ValueError, match="codes must lie"):
        fitted.decode(np.array([[128]]))
