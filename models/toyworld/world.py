"""Procedural toy videos with exact ground truth, for training and checking the tiny AR model.

Weights of real video models cannot be downloaded here, so real decoding runs use a model
trained in this project on these videos. The world (fifth version, docs/toyworld.md) is
built so that every code of frame t+1 follows from what is visible in frames <= t and
from the class token, which a tiny model can learn and `models/toyworld/oracle.py` checks:

- everything sits on the tokenizer's patch grid (sprites are drawn in whole patches and
  move by one patch per frame, backgrounds are flat or periodic patterns of whole patches),
  so a moving sprite's codes travel with it unchanged and the background a sprite
  uncovers can be read off the same pattern elsewhere;
- a sprite's colour is its direction of motion (`SPRITE_COLOURS[d]` moves along
  `DIRECTION_STEPS[d]`), velocities are constant, sprites leave the frame at the walls
  and never overlap (scenes are drawn so), so frame t+1 follows from frame t;
- the class label (a compass direction) decides what enters: whenever no square of the
  class's colour is in the frame (from frame 2 on), one slides in from the edge opposite
  its direction; the sprites of frame 1 never have the class's colour. In videos of the
  lighting classes (`ToyWorldConfig.lighting_classes`) the light also drops in one step
  at frame 2. The condition token is what predicts both.

Everything is numpy and deterministic from (seed, index): video `i` of a data set is the
same whatever the size of the data set, and the same video simulated for more frames
starts with the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

DIRECTIONS = ("east", "north-east", "north", "north-west", "west", "south-west", "south", "south-east")
# Unit step (row, col) of each direction; image rows grow downwards, so north is -1.
DIRECTION_STEPS = np.array([[0, 1], [-1, 1], [-1, 0], [-1, -1], [0, -1], [1, -1], [1, 0], [1, 1]], dtype=np.int64)
SHAPES = ("square", "cross", "diamond", "bar", "corner")
BACKGROUNDS = ("flat", "stripes", "checker")

# Bright sprite colours, one per direction of motion (index = direction), and muted
# background colours (RGB): sprites stand out, and lit or dimmed, no two colours coincide.
SPRITE_COLOURS = np.array(
    [
        [230, 40, 40],
        [40, 200, 60],
        [50, 90, 240],
        [240, 220, 40],
        [230, 60, 220],
        [40, 220, 230],
        [250, 140, 20],
        [245, 245, 245],
    ],
    dtype=np.uint8,
)
BACKGROUND_COLOURS = np.array(
    [
        [20, 20, 30],
        [70, 60, 50],
        [40, 70, 90],
        [90, 40, 60],
        [50, 90, 50],
        [110, 110, 120],
        [30, 40, 80],
        [100, 80, 40],
    ],
    dtype=np.uint8,
)
ENTERING_SHAPE = "square"
_OVERLAP_HORIZON_FRAMES = 40  # frame-1 sprites have left by then; fixed so scenes do not depend on num_frames
_PLACEMENT_TRIES = 20


@dataclass(frozen=True)
class ToyWorldConfig:
    """Geometry of the toy world. Defaults give 64x64 frames = 16x16 patches of 4x4 px.

    Sprite sizes are whole patches between the pixel bounds; the entering squares take the
    largest size. Videos of a class in `lighting_classes` are `lighting_factor` as bright
    from frame 2 on."""

    frame_px: int = 64
    num_frames: int = 8
    min_sprites: int = 2
    max_sprites: int = 4
    min_sprite_px: int = 8
    max_sprite_px: int = 12
    patch_px: int = 4  # the tokenizer's patch: sprites, steps and background cells are whole patches
    lighting_classes: tuple[int, ...] = ()  # e.g. (4,): the light drops at frame 2 in class-4 videos
    lighting_factor: float = 0.55

    @property
    def num_classes(self) -> int:
        return len(DIRECTIONS)

    @property
    def grid(self) -> int:
        """Patches per frame side."""
        return self.frame_px // self.patch_px

    def sprite_patch_sizes(self) -> np.ndarray:
        """The sprite sizes in patches that the pixel bounds allow (at least one)."""
        low = max(1, -(-self.min_sprite_px // self.patch_px))
        return np.arange(low, max(low, self.max_sprite_px // self.patch_px) + 1)

    def lighting(self, label: int, frames: int) -> np.ndarray:
        """Brightness factor per frame of a video of class `label`."""
        factor = np.ones(frames)
        if label in self.lighting_classes:
            factor[1:] = self.lighting_factor
        return factor


@dataclass
class Video:
    """One video and its exact ground truth (positions and sizes in pixels).

    positions[t, s] is the (row, col) of sprite s's top-left corner in frame t (outside
    the frame before it enters and after it left), velocities[s] its constant step per
    frame and directions[s] its direction index (= its colour). The sprites of frame 1
    have entered_at 0, the class's squares the frame they slid in. silhouettes are the
    shapes clipped to the frame; sprites never overlap, so visible masks equal them.
    lighting[t] is the brightness factor of frame t."""

    frames: np.ndarray  # uint8 [F, H, W, 3]
    label: int
    shapes: tuple[str, ...]
    sizes_px: np.ndarray  # int [S]
    colours: np.ndarray  # uint8 [S, 3] (at full brightness)
    directions: np.ndarray  # int [S]
    entered_at: np.ndarray  # int [S]
    positions: np.ndarray  # int [F, S, 2]
    velocities: np.ndarray  # int [S, 2]
    background: str
    lighting: np.ndarray  # float [F]
    silhouettes: np.ndarray  # bool [F, S, H, W]
    visible_masks: np.ndarray  # bool [F, S, H, W]

    @property
    def direction(self) -> str:
        return DIRECTIONS[self.label]


@cache
def shape_mask(shape: str, size: int) -> np.ndarray:
    """Boolean size x size template of a shape, in patches (cached)."""
    y, x = np.mgrid[0:size, 0:size]
    middle = (size - 1) / 2.0
    if shape == "square" or (size < 3 and shape in ("cross", "diamond")):
        mask = np.ones((size, size), dtype=bool)
    elif shape == "cross":
        mask = (np.abs(y - middle) < 1) | (np.abs(x - middle) < 1)
    elif shape == "diamond":
        mask = np.abs(y - middle) + np.abs(x - middle) <= middle + 0.5
    elif shape == "bar":
        mask = np.abs(y - middle) < 1
    elif shape == "corner":
        mask = (y == size - 1) | (x == 0)
    else:
        raise ValueError(f"unknown shape {shape!r}; known: {SHAPES}")
    mask = np.asarray(mask, dtype=bool)
    mask.setflags(write=False)
    return mask


def video_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of video `index` of the data set with base `seed`."""
    return np.random.default_rng([int(seed), int(index)])


def class_name(label: int) -> str:
    """Human name of a class label, e.g. 2 -> "north"."""
    return DIRECTIONS[label]


def _draw_background(rng: np.random.Generator) -> dict:
    """The background's kind and parameters: flat, or stripes / checker cells of 1 or 2 patches
    (period 2 or 4 patches on both axes, so a covered patch repeats visibly elsewhere)."""
    kind = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    first, second = rng.choice(len(BACKGROUND_COLOURS), size=2, replace=False)
    return dict(
        kind=kind,
        colours=(BACKGROUND_COLOURS[first].astype(np.float64), BACKGROUND_COLOURS[second].astype(np.float64)),
        cells=int(rng.choice([1, 2])),
        axis=int(rng.integers(3)),
    )


def background_patches(params: dict, grid: int) -> np.ndarray:
    """Background colour [grid, grid, 3] per patch."""
    y, x = np.mgrid[0:grid, 0:grid]
    colour_a, colour_b = params["colours"]
    if params["kind"] == "stripes":
        coordinate = (y, x, x + y)[params["axis"]]
        weight = (coordinate // params["cells"]) % 2
    elif params["kind"] == "checker":
        weight = ((y // params["cells"]) + (x // params["cells"])) % 2
    else:
        weight = np.zeros((grid, grid), dtype=np.int64)
    return colour_a + weight[..., None].astype(np.float64) * (colour_b - colour_a)


def entry_position(direction: int, size: int, grid: int) -> np.ndarray:
    """Top-left (patches) of a square of `size` entering along `direction`: only its
    leading row / column (corner cell, diagonally) inside the frame, centred across."""
    position = np.empty(2, dtype=np.int64)
    for axis, step in enumerate(DIRECTION_STEPS[direction]):
        position[axis] = -(size - 1) if step > 0 else grid - 1 if step < 0 else (grid - size) // 2
    return position


def _inside(position: np.ndarray, size: int, grid: int) -> bool:
    """Whether a size x size box at top-left `position` shows any cell of the frame."""
    return bool((position > -size).all() and (position < grid).all())


def entering_frames(label: int, size: int, grid: int, frames: int) -> list[int]:
    """Frames at which a square of the class enters: whenever, after every sprite moved, no
    square of the class is in the frame (frame 1 never has one, so the first enters at
    index 1). A rule read off the previous frame, so a window of any start teaches it."""
    step, start = DIRECTION_STEPS[label], entry_position(label, size, grid)
    entered: list[int] = []
    for t in range(1, frames):
        if not any(_inside(start + (t - e) * step, size, grid) for e in entered):
            entered.append(t)
    return entered


def _occupancy(path: np.ndarray, size: int, shape: str, grid: int, first: int = 0) -> np.ndarray:
    """Cells bool [T, grid, grid] a sprite on `path` [T, 2] (top-left, patches) covers from frame `first` on."""
    template = shape_mask(shape, size)
    cells = np.zeros((len(path), grid + 2 * size, grid + 2 * size), dtype=bool)
    for t in range(first, len(path)):
        row, col = path[t] + size
        if 0 <= row <= grid + size and 0 <= col <= grid + size:
            cells[t, row : row + size, col : col + size] = template
    return cells[:, size : size + grid, size : size + grid]


def _simulate(rng: np.random.Generator, config: ToyWorldConfig) -> dict:
    """Draw one video's scene and its exact trajectories in patches (no pixels yet).

    Everything random is drawn before the frame count matters; frame-1 sprites are placed
    so that no two sprites (the class's squares included) ever share a cell."""
    grid, frames, horizon = config.grid, config.num_frames, _OVERLAP_HORIZON_FRAMES
    label = int(rng.integers(config.num_classes))
    count = int(rng.integers(config.min_sprites, config.max_sprites + 1))
    background = _draw_background(rng)
    entry_size = int(config.sprite_patch_sizes()[-1])
    time = np.arange(horizon)[:, None]
    entry_step = DIRECTION_STEPS[label]
    occupied = np.zeros((horizon, grid, grid), dtype=bool)
    sprites: list[tuple[str, int, int, np.ndarray, int]] = []  # shape, size, direction, start, entered at
    for e in entering_frames(label, entry_size, grid, horizon):
        start = entry_position(label, entry_size, grid) - e * entry_step
        occupied |= _occupancy(start + time * entry_step, entry_size, ENTERING_SHAPE, grid, first=e)
        sprites.append((ENTERING_SHAPE, entry_size, label, start, e))
    others = [d for d in range(config.num_classes) if d != label]
    for _ in range(count):
        for _ in range(_PLACEMENT_TRIES):
            size = int(rng.choice(config.sprite_patch_sizes()))
            shape = SHAPES[rng.integers(len(SHAPES))]
            direction = others[rng.integers(len(others))]
            start = rng.integers(0, grid - size + 1, size=2)
            cells = _occupancy(start + time * DIRECTION_STEPS[direction], size, shape, grid)
            if not (cells & occupied).any():
                occupied |= cells
                sprites.append((shape, size, direction, start, 0))
                break
    shapes, sizes, directions, starts, entered_at = (list(column) for column in zip(*sprites, strict=True))
    # the frame-1 sprites first (z order is irrelevant: nothing overlaps), then the entering squares
    entering = [i for i, e in enumerate(entered_at) if e > 0]
    keep = [i for i in range(len(shapes)) if entered_at[i] == 0] + [i for i in entering if entered_at[i] < frames]
    steps = DIRECTION_STEPS[np.array(directions, dtype=np.int64)[keep]]
    positions = np.array(starts, dtype=np.int64)[keep][None] + np.arange(frames)[:, None, None] * steps[None]
    return dict(
        label=label,
        shapes=tuple(shapes[i] for i in keep),
        sizes=np.array(sizes, dtype=np.int64)[keep],
        directions=np.array(directions, dtype=np.int64)[keep],
        entered_at=np.array(entered_at, dtype=np.int64)[keep],
        positions=positions,
        steps=steps,
        background_params=background,
        lighting=config.lighting(label, frames),
    )


def _render(scene: dict, config: ToyWorldConfig, with_masks: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Paint the frames at patch resolution, then blow each patch up to patch_px pixels;
    with the sprites' silhouettes [F, S, H, W] (clipped to the frame) if `with_masks`."""
    grid, px, frames = config.grid, config.patch_px, config.num_frames
    count = len(scene["shapes"])
    image = np.repeat(background_patches(scene["background_params"], grid)[None], frames, axis=0)
    masks = np.zeros((frames, count, grid, grid), dtype=bool)
    for t in range(frames):
        for s in range(count):
            if t < scene["entered_at"][s]:
                continue
            size = int(scene["sizes"][s])
            template = shape_mask(scene["shapes"][s], size)
            row, col = scene["positions"][t, s]
            top, left = max(row, 0), max(col, 0)
            bottom, right = min(row + size, grid), min(col + size, grid)
            if top >= bottom or left >= right:
                continue
            cut = template[top - row : bottom - row, left - col : right - col]
            masks[t, s, top:bottom, left:right] = cut
            image[t, top:bottom, left:right][cut] = SPRITE_COLOURS[scene["directions"][s]]
    image = np.clip(np.rint(image * scene["lighting"][:, None, None, None]), 0, 255).astype(np.uint8)
    pixels = image.repeat(px, axis=1).repeat(px, axis=2)
    silhouettes = masks.repeat(px, axis=2).repeat(px, axis=3) if with_masks else None
    return pixels, silhouettes


def _visible_masks(silhouettes: np.ndarray) -> np.ndarray:
    """A pixel is visible for sprite s if no sprite above it (higher s) covers that pixel."""
    above = np.flip(np.logical_or.accumulate(np.flip(silhouettes, axis=1), axis=1), axis=1)
    covered_by_higher = np.concatenate([above[:, 1:], np.zeros_like(above[:, :1])], axis=1)
    return silhouettes & ~covered_by_higher


def generate_video(seed: int, index: int = 0, config: ToyWorldConfig = ToyWorldConfig()) -> Video:
    """Video `index` of the data set with base `seed`, with its full ground truth."""
    scene = _simulate(video_rng(seed, index), config)
    frames, silhouettes = _render(scene, config, with_masks=True)
    assert silhouettes is not None  # with_masks=True always paints them
    px = config.patch_px
    return Video(
        frames=frames,
        label=scene["label"],
        shapes=scene["shapes"],
        sizes_px=scene["sizes"] * px,
        colours=SPRITE_COLOURS[scene["directions"]],
        directions=scene["directions"],
        entered_at=scene["entered_at"],
        positions=scene["positions"] * px,
        velocities=scene["steps"] * px,
        background=scene["background_params"]["kind"],
        lighting=scene["lighting"],
        silhouettes=silhouettes,
        visible_masks=_visible_masks(silhouettes),
    )


def generate_videos(
    count: int, seed: int, config: ToyWorldConfig = ToyWorldConfig(), start: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Frames uint8 [count, F, H, W, 3] and labels int64 [count] of videos start..start+count-1.

    Same pixels as `generate_video(seed, i)` but without the masks, for bulk data.
    """
    frames = np.empty((count, config.num_frames, config.frame_px, config.frame_px, 3), dtype=np.uint8)
    labels = np.empty(count, dtype=np.int64)
    for i in range(count):
        scene = _simulate(video_rng(seed, start + i), config)
        frames[i], _ = _render(scene, config, with_masks=False)
        labels[i] = scene["label"]
    return frames, labels
