"""VQ tokenizer of the toy world: each 4x4x3 pixel patch becomes the id of its nearest
codeword in a k-means codebook.

Real AR video models tokenise frames with a learned VQ/RQ autoencoder; for 64x64 toy
frames a patch codebook learned by k-means does the same job (16x16 code grid per frame,
raster order) with no training of its own beyond a few seconds of numpy, and decoding is
an exact table look-up, so decoded-frame PSNR measures the model and not a decoder net.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_CHUNK_PATCHES = 16384  # bounds the [patches x codes] distance matrix to ~16 MB


def to_patches(frames: np.ndarray, patch_px: int) -> np.ndarray:
    """uint8 [..., H, W, C] -> [..., H/p, W/p, p*p*C] (row-major inside a patch)."""
    *lead, height, width, channels = frames.shape
    if height % patch_px or width % patch_px:
        raise ValueError(f"frame {height}x{width} is not a multiple of the {patch_px}px patch")
    rows, cols = height // patch_px, width // patch_px
    grid = frames.reshape(*lead, rows, patch_px, cols, patch_px, channels)
    grid = np.moveaxis(grid, -4, -3)  # [..., rows, cols, p, p, C]
    return grid.reshape(*lead, rows, cols, patch_px * patch_px * channels)


def from_patches(patches: np.ndarray, patch_px: int, channels: int = 3) -> np.ndarray:
    """Inverse of `to_patches`."""
    *lead, rows, cols, _ = patches.shape
    grid = patches.reshape(*lead, rows, cols, patch_px, patch_px, channels)
    grid = np.moveaxis(grid, -3, -4)  # [..., rows, p, cols, p, C]
    return grid.reshape(*lead, rows * patch_px, cols * patch_px, channels)


def _nearest(points: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """Index of the nearest codeword (squared L2) for each row of `points`, chunked."""
    codebook = codebook.astype(np.float32)
    norms = np.einsum("kd,kd->k", codebook, codebook)
    out = np.empty(len(points), dtype=np.int64)
    for start in range(0, len(points), _CHUNK_PATCHES):
        chunk = points[start : start + _CHUNK_PATCHES].astype(np.float32)
        distances = norms[None, :] - 2.0 * chunk @ codebook.T
        out[start : start + len(chunk)] = distances.argmin(axis=1)
    return out


@dataclass
class PatchTokenizer:
    """A codebook float32 [K, p*p*3]; encode/decode between frames and code grids."""

    codebook: np.ndarray
    patch_px: int = 4

    @property
    def num_codes(self) -> int:
        return int(self.codebook.shape[0])

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """uint8 frames [..., H, W, 3] -> int64 codes [..., H/p, W/p]."""
        patches = to_patches(np.asarray(frames), self.patch_px)
        lead = patches.shape[:-1]
        return _nearest(patches.reshape(-1, patches.shape[-1]), self.codebook).reshape(lead)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Codes [..., rows, cols] -> uint8 frames [..., rows*p, cols*p, 3]."""
        codes = np.asarray(codes)
        if codes.size and (codes.min() < 0 or codes.max() >= self.num_codes):
            raise ValueError(f"codes must lie in [0, {self.num_codes}), found {codes.min()}..{codes.max()}")
        patches = np.clip(np.rint(self.codebook[codes]), 0, 255).astype(np.uint8)
        return from_patches(patches, self.patch_px)

    def state(self) -> dict:
        """Plain data for a checkpoint."""
        return {"codebook": self.codebook.astype(np.float32), "patch_px": int(self.patch_px)}

    @classmethod
    def from_state(cls, state: dict) -> PatchTokenizer:
        return cls(codebook=np.asarray(state["codebook"], dtype=np.float32), patch_px=int(state["patch_px"]))


def _kmeans_plus_plus(points: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: spread the initial codewords over the data."""
    centres = np.empty((count, points.shape[1]), dtype=np.float32)
    centres[0] = points[rng.integers(len(points))]
    closest = ((points - centres[0]) ** 2).sum(axis=1)
    for k in range(1, count):
        total = closest.sum()
        index = rng.choice(len(points), p=closest / total) if total > 0 else rng.integers(len(points))
        centres[k] = points[index]
        closest = np.minimum(closest, ((points - centres[k]) ** 2).sum(axis=1))
    return centres


def fit_tokenizer(
    frames: np.ndarray,
    num_codes: int = 256,
    patch_px: int = 4,
    seed: int = 0,
    sample_patches: int = 60_000,
    iterations: int = 20,
) -> PatchTokenizer:
    """Learn a codebook by k-means (k-means++ seeding, Lloyd steps) on a seeded sample of
    the patches of `frames` (uint8 [..., H, W, 3])."""
    rng = np.random.default_rng(seed)
    patches = to_patches(np.asarray(frames), patch_px)
    patches = patches.reshape(-1, patches.shape[-1])
    if len(patches) > sample_patches:
        patches = patches[rng.choice(len(patches), size=sample_patches, replace=False)]
    points = patches.astype(np.float32)
    if len(points) < num_codes:
        raise ValueError(f"need at least {num_codes} patches to fit {num_codes} codes, got {len(points)}")
    codebook = _kmeans_plus_plus(points, num_codes, rng)
    for _ in range(iterations):
        assignment = _nearest(points, codebook)
        counts = np.bincount(assignment, minlength=num_codes)
        sums = np.zeros_like(codebook, dtype=np.float64)
        np.add.at(sums, assignment, points)
        used = counts > 0
        codebook[used] = (sums[used] / counts[used, None]).astype(np.float32)
        if not used.all():
            # Re-seed empty codewords on the points worst served by the codebook.
            error = ((points - codebook[assignment]) ** 2).sum(axis=1)
            worst = np.argsort(-error, kind="stable")[: int((~used).sum())]
            codebook[~used] = points[worst]
    return PatchTokenizer(codebook=codebook, patch_px=patch_px)
