"""Quality of decoded videos: PSNR, token agreement and their drift over frames.

A replayed or sparse decoding run is judged two ways: against the dense run of the same
model from the same prompt and seed (how much did the approximation change the output?)
and against the ground-truth frames of the toy world (how good is the video at all?).
Drift is the same metric per frame index: errors of AR decoding accumulate, so later
frames are where an approximation shows.

PSNR pools the squared error over everything compared (all videos of a batch, all pixels)
before taking the log, so a perfectly reproduced frame does not make the mean infinite.
numpy only: cosim-side tools may use it without torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np

PEAK_VALUE = 255.0


class FrameDecoder(Protocol):
    def decode(self, codes: np.ndarray) -> np.ndarray: ...

    def encode(self, frames: np.ndarray) -> np.ndarray: ...


def _same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")


def mse(frames: np.ndarray, reference: np.ndarray) -> float:
    """Mean squared error over all elements (pixel values as given, e.g. 0..255)."""
    a, b = np.asarray(frames, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    _same_shape(a, b)
    return float(np.mean((a - b) ** 2))


def _psnr_of(error: np.ndarray, peak: float) -> np.ndarray:
    """10 log10(peak^2 / MSE) in dB elementwise; +inf where MSE is 0."""
    with np.errstate(divide="ignore"):
        return np.where(error > 0, 10.0 * np.log10(peak**2 / np.maximum(error, 1e-300)), np.inf)


def psnr_from_mse(error: float | np.ndarray, peak: float = PEAK_VALUE) -> float | np.ndarray:
    """10 log10(peak^2 / MSE) in dB; +inf where MSE is 0. A float for a scalar MSE."""
    value = _psnr_of(np.asarray(error, dtype=np.float64), peak)
    return float(value) if value.ndim == 0 else value


def psnr(frames: np.ndarray, reference: np.ndarray, peak: float = PEAK_VALUE) -> float:
    """PSNR in dB of `frames` against `reference` (same shape, pooled MSE)."""
    return float(_psnr_of(np.asarray(mse(frames, reference), dtype=np.float64), peak))


def psnr_per_frame(frames: np.ndarray, reference: np.ndarray, peak: float = PEAK_VALUE) -> np.ndarray:
    """PSNR per frame index of videos [..., F, H, W, C]; leading axes are pooled."""
    a, b = np.asarray(frames, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    _same_shape(a, b)
    squared = (a - b) ** 2
    frame_axis = a.ndim - 4
    axes = tuple(i for i in range(a.ndim) if i != frame_axis)
    return _psnr_of(squared.mean(axis=axes), peak)  # the frame axis remains: never 0-d


def token_agreement(codes: np.ndarray, reference: np.ndarray) -> float:
    """Fraction of token positions where the two code arrays agree."""
    a, b = np.asarray(codes), np.asarray(reference)
    _same_shape(a, b)
    return float(np.mean(a == b))


def agreement_per_frame(codes: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Token agreement per frame index of code grids [..., F, rows, cols]."""
    a, b = np.asarray(codes), np.asarray(reference)
    _same_shape(a, b)
    frame_axis = a.ndim - 3
    axes = tuple(i for i in range(a.ndim) if i != frame_axis)
    return np.mean(a == b, axis=axes)


@dataclass
class QualityReport:
    """Overall and per-frame figures of one comparison (per-frame lists index frames 0..F-1)."""

    psnr_db: float
    psnr_per_frame_db: list[float]
    token_agreement: float
    agreement_per_frame: list[float]

    def as_dict(self) -> dict:
        return asdict(self)


def _report(
    frames: np.ndarray, reference_frames: np.ndarray, codes: np.ndarray, reference_codes: np.ndarray
) -> QualityReport:
    return QualityReport(
        psnr_db=psnr(frames, reference_frames),
        psnr_per_frame_db=[float(v) for v in psnr_per_frame(frames, reference_frames)],
        token_agreement=token_agreement(codes, reference_codes),
        agreement_per_frame=[float(v) for v in agreement_per_frame(codes, reference_codes)],
    )


def compare_runs(codes: np.ndarray, reference_codes: np.ndarray, tokenizer: FrameDecoder) -> QualityReport:
    """A run (e.g. with replay) against a reference run (e.g. dense), both code grids
    [..., F, rows, cols]; PSNR is between the two decoded videos."""
    return _report(tokenizer.decode(codes), tokenizer.decode(reference_codes), codes, reference_codes)


def compare_to_ground_truth(codes: np.ndarray, frames: np.ndarray, tokenizer: FrameDecoder) -> QualityReport:
    """A run's codes against the true frames [..., F, H, W, 3]: PSNR of the decoded video
    against the true pixels, agreement against the tokenised true frames (so agreement 1
    means "as good as the tokenizer allows")."""
    return _report(tokenizer.decode(codes), frames, codes, tokenizer.encode(frames))
