"""The world's rule applied to tokens: predict frame t+1 from frames <= t and the class.

A check of the world, not of a model: if this oracle recalls nearly every code that
changes, everything a model must predict is visible in its context (docs/toyworld.md).
It reads colours off the tokenizer's codebook and applies the rules of
models/toyworld/world.py: every sprite cell (a patch of a sprite colour at the frame's
brightness) moves one patch along its colour's direction and leaves at the walls; a cell
a sprite uncovers shows the background seen at a visible cell of the same pattern phase
(backgrounds repeat every 4 patches on both axes); a square of the class's colour enters
when none is in the frame; the class's lighting factor applies from frame 2 on.
"""

from __future__ import annotations

import numpy as np

from models.toyworld.tokenizer import PatchTokenizer
from models.toyworld.world import (
    DIRECTION_STEPS,
    ENTERING_SHAPE,
    SPRITE_COLOURS,
    ToyWorldConfig,
    entry_position,
    shape_mask,
)

PATTERN_PERIOD = 4  # patches: stripes and checkers of 1- or 2-patch cells repeat with period 2 or 4
_COLOUR_TOLERANCE = 6.0  # RGB distance under which a patch counts as a sprite colour


def _patch_colours(tokenizer: PatchTokenizer, codes: np.ndarray) -> np.ndarray:
    """Mean RGB of each code's patch: codes [..., rows, cols] -> float [..., rows, cols, 3]."""
    per_code = tokenizer.codebook.reshape(tokenizer.num_codes, -1, 3).mean(axis=1)
    return per_code[codes]


def _sprite_directions(colours: np.ndarray, brightness: float) -> np.ndarray:
    """Direction index of each cell showing a sprite colour at `brightness`, -1 elsewhere."""
    lit = np.clip(np.rint(SPRITE_COLOURS * brightness), 0, 255)
    distance = np.linalg.norm(colours[..., None, :] - lit, axis=-1)  # [rows, cols, 8]
    return np.where(distance.min(axis=-1) < _COLOUR_TOLERANCE, distance.argmin(axis=-1), -1)


def _background(history: np.ndarray, directions: list[np.ndarray], lighting: np.ndarray) -> np.ndarray:
    """Unlit background colour per cell: the latest visible colour at the cell, else at a
    visible cell of the same phase of the pattern, in the latest frame that shows one."""
    frames, rows, cols, _ = history.shape
    background = np.full((rows, cols, 3), np.nan)
    for t in range(frames - 1, -1, -1):
        free = directions[t] < 0
        unlit = history[t] / lighting[t]
        fill = free & np.isnan(background[..., 0])
        background[fill] = unlit[fill]
        for r, c in zip(*np.nonzero(np.isnan(background[..., 0])), strict=True):
            same_phase = free[r % PATTERN_PERIOD :: PATTERN_PERIOD, c % PATTERN_PERIOD :: PATTERN_PERIOD]
            if same_phase.any():
                block = unlit[r % PATTERN_PERIOD :: PATTERN_PERIOD, c % PATTERN_PERIOD :: PATTERN_PERIOD]
                background[r, c] = block[same_phase][0]
    return np.nan_to_num(background)


def _class_square_corner(cells: np.ndarray, label: int, size: int, grid: int) -> np.ndarray | None:
    """Top-left (patches, may lie outside) of the class's square from its visible cells
    [rows, cols]: along each moving axis the visible part is its leading edge while it
    enters (touching the wall it comes from) and its trailing edge otherwise."""
    if not cells.any():
        return None
    corner = np.empty(2, dtype=np.int64)
    for axis, step in enumerate(DIRECTION_STEPS[label]):
        index = np.nonzero(cells.any(axis=1 - axis))[0]
        low, high = int(index.min()), int(index.max())
        entering = high - low + 1 < size and (low == 0 if step > 0 else high == grid - 1)
        if step > 0:
            corner[axis] = high - (size - 1) if entering else low
        elif step < 0:
            corner[axis] = low if entering else high - (size - 1)
        else:
            corner[axis] = low
    return corner


def oracle_next_frame(
    tokenizer: PatchTokenizer, world: ToyWorldConfig, codes: np.ndarray, label: int, frames: int
) -> np.ndarray:
    """Codes [rows, cols] of frame index t+1 predicted from codes [t+1, rows, cols] of frames 0..t."""
    t = len(codes) - 1
    lighting = world.lighting(label, max(frames, t + 2))
    history = _patch_colours(tokenizer, codes)
    directions = [_sprite_directions(history[i], lighting[i]) for i in range(t + 1)]
    grid = world.grid
    image = _background(history, directions, lighting)
    for r, c in zip(*np.nonzero((directions[t] >= 0) & (directions[t] != label)), strict=True):
        d = int(directions[t][r, c])
        row, col = r + DIRECTION_STEPS[d][0], c + DIRECTION_STEPS[d][1]
        if 0 <= row < grid and 0 <= col < grid:
            image[row, col] = SPRITE_COLOURS[d]
    size = int(world.sprite_patch_sizes()[-1])
    corner = _class_square_corner(directions[t] == label, label, size, grid)
    if (
        corner is None
        or not (corner + DIRECTION_STEPS[label] > -size).all()
        or not (corner + DIRECTION_STEPS[label] < grid).all()
    ):
        corner = entry_position(label, size, grid)  # none left in the frame: the next one enters
    else:
        corner = corner + DIRECTION_STEPS[label]
    for r, c in zip(*np.nonzero(shape_mask(ENTERING_SHAPE, size)), strict=True):
        if 0 <= corner[0] + r < grid and 0 <= corner[1] + c < grid:
            image[corner[0] + r, corner[1] + c] = SPRITE_COLOURS[label]
    pixels = np.clip(np.rint(image * lighting[t + 1]), 0, 255).astype(np.uint8)
    patches = pixels.repeat(tokenizer.patch_px, axis=0).repeat(tokenizer.patch_px, axis=1)
    return tokenizer.encode(patches)


def oracle_changed_recall(
    tokenizer: PatchTokenizer, world: ToyWorldConfig, codes: np.ndarray, labels: np.ndarray
) -> dict:
    """Recall of the changed codes of frames 2..N of true videos codes [V, F, rows, cols]
    when each frame is predicted by the oracle from the true frames before it."""
    videos, frames = codes.shape[:2]
    predicted = np.stack(
        [
            [oracle_next_frame(tokenizer, world, codes[v, : t + 1], int(labels[v]), frames) for t in range(frames - 1)]
            for v in range(videos)
        ]
    )
    changed = codes[:, 1:] != codes[:, :-1]
    hits = predicted == codes[:, 1:]
    return {
        "videos": videos,
        "changed_recall": float(hits[changed].mean()),
        "unchanged_accuracy": float(hits[~changed].mean()),
        "changed_codes": int(changed.sum()),
    }
