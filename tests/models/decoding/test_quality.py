"""Quality metrics checked against hand calculations."""

import math

import numpy as np
import pytest

from models.decoding.quality import (
    agreement_per_frame,
    compare_runs,
    compare_to_ground_truth,
    psnr,
    psnr_per_frame,
    token_agreement,
)
from models.toyworld.tokenizer import PatchTokenizer


def test_psnr_of_identical_frames_is_infinite():
    frames = np.full((2, 8, 8, 3), 77, dtype=np.uint8)
    assert psnr(frames, frames) == math.inf


def test_psnr_of_a_known_error_matches_the_formula():
    reference = np.full((4, 4, 3), 100, dtype=np.uint8)
    noisy = reference.copy()
    noisy[0, 0, 0] = 110  # one element off by 10 of 48: MSE = 100 / 48
    assert psnr(noisy, reference) == pytest.approx(10 * math.log10(255**2 / (100 / 48)))
    # Uniform offset 5: MSE 25 -> 34.151 dB.
    assert psnr(reference + 5, reference) == pytest.approx(10 * math.log10(255**2 / 25))
    assert psnr(reference + 5, reference) == pytest.approx(34.1514, abs=1e-4)


def test_psnr_per_frame_pools_the_batch_and_shows_drift():
    reference = np.zeros((2, 3, 4, 4, 3), dtype=np.uint8)
    run = reference.copy()
    run[0, 1] = 2  # frame 1: MSE 4 in one of two videos -> pooled MSE 2
    run[:, 2] = 4  # frame 2: MSE 16
    per_frame = psnr_per_frame(run, reference)
    assert per_frame[0] == math.inf
    assert per_frame[1] == pytest.approx(10 * math.log10(255**2 / 2))
    assert per_frame[2] == pytest.approx(10 * math.log10(255**2 / 16))


def test_token_agreement_overall_and_per_frame():
    reference = np.zeros((2, 2, 2), dtype=np.int64)  # [F, rows, cols]
    codes = reference.copy()
    codes[1, 0, 0] = 5
    assert token_agreement(codes, reference) == pytest.approx(7 / 8)
    assert agreement_per_frame(codes, reference).tolist() == [1.0, 0.75]


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="shapes differ"):
        token_agreement(np.zeros((2, 2)), np.zeros((2, 3)))


def test_comparisons_against_a_run_and_against_ground_truth():
    tokenizer = PatchTokenizer(codebook=np.array([[0.0] * 48, [20.0] * 48], dtype=np.float32))
    dense = np.zeros((2, 1, 2), dtype=np.int64)  # 2 frames of 1x2 patches
    replay = dense.copy()
    replay[1, 0, 1] = 1
    report = compare_runs(replay, dense, tokenizer)
    assert report.psnr_per_frame_db[0] == math.inf
    # Frame 1: half its pixels off by 20 -> MSE 200.
    assert report.psnr_per_frame_db[1] == pytest.approx(10 * math.log10(255**2 / 200))
    assert report.agreement_per_frame == [1.0, 0.5]
    truth = np.full((2, 4, 8, 3), 2, dtype=np.uint8)  # nearest codeword 0 everywhere
    against_truth = compare_to_ground_truth(dense, truth, tokenizer)
    assert against_truth.token_agreement == 1.0
    assert against_truth.psnr_db == pytest.approx(10 * math.log10(255**2 / 4))
