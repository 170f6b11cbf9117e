"""Procedural toy videos with exact ground truth, for training and checking the tiny AR model.

Weights of real video models cannot be downloaded here, so real decoding runs use a model
trained in this project on these videos. The world (fourth version, docs/toyworld.md) is
built so that the next frame follows from what is visible, which a tiny model can learn:

- everything sits on the tokenizer's patch grid (sprites are drawn in whole patches and
  move by one patch per frame, backgrounds are constant inside a patch), so a moving
  sprite's codes travel with it unchanged;
- a sprite's colour is its direction of motion (`SPRITE_COLOURS[d]` moves along
  `DIRECTION_STEPS[d]`), velocities are constant, and sprites leave the frame at the
  walls, so frame t+1 follows from frame t;
- the class label (a compass direction) decides what enters the scene: a square of the
  class's colour slides in from the edge opposite its direction, one patch per frame, in
  frame 2 and again whenever the previous one has cleared the edge cells where squares
  appear (a rule read off the last frame, so windows of a video teach it as well as
  whole videos). The condition token matters wherever one enters.

Content that FastCar must not replay blindly, on some videos: a camera pan (the
background slides by one patch per frame) or a global lighting change (the whole frame
brightens or darkens a step per frame); both start at frame 2, so their first step is
news and the later ones follow from what is visible.

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
BACKGROUNDS = ("stripes", "checker", "gradient")
EVENTS = ("none", "pan", "lighting")

# Bright sprite colours, one per direction of motion (index = direction), and muted
# background colours (RGB), so sprites stand out and a 256-code codebook covers the world.
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
GRADIENT_BANDS = 8  # a gradient background takes this many levels, so its codes are few and regular


@dataclass(frozen=True)
class ToyWorldConfig:
    """Geometry of the toy world. Defaults give 64x64 frames = 16x16 patches of 4x4 px.

    Sprite sizes are whole patches between the pixel bounds; the entering squares take
    the largest size; a video pans or changes lighting with the given probabilities
    (exclusive), by `lighting_step` of brightness per frame."""

    frame_px: int = 64
    num_frames: int = 8
    min_sprites: int = 1
    max_sprites: int = 3
    min_sprite_px: int = 8
    max_sprite_px: int = 12
    patch_px: int = 4  # the tokenizer's patch: sprites, steps and background cells are whole patches
    pan_probability: float = 0.125
    lighting_probability: float = 0.125
    lighting_step: float = 0.08

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

    def entering_frames(self) -> list[int]:
        """Frame indices at which a class-coloured square enters: 1, then every size + 1
        frames (the previous square, moving one patch per frame, has just cleared the
        edge cells where it appeared)."""
        return list(range(1, self.num_frames, int(self.sprite_patch_sizes()[-1]) + 1))


@dataclass
class Video:
    """One video and its exact ground truth (positions and sizes in pixels).

    positions[t, s] is the (row, col) of sprite s's top-left corner in frame t (outside
    the frame before it enters and after it left), velocities[s] its constant step per
    frame and directions[s] its direction index (= its colour). Sprites 0..initial-1 are
    in frame 1; the others enter at entered_at[s]. Sprite s is drawn above sprites
    0..s-1; silhouettes are the unoccluded shapes (clipped to the frame), visible masks
    what is left of them after occlusion. event is "none", "pan" (background offset
    pan_offsets[t] patches) or "lighting" (brightness factor lighting[t])."""

    frames: np.ndarray  # uint8 [F, H, W, 3]
    label: int
    shapes: tuple[str, ...]
    sizes_px: np.ndarray  # int [S]
    colours: np.ndarray  # uint8 [S, 3]
    directions: np.ndarray  # int [S]
    entered_at: np.ndarray  # int [S], 0 for the sprites of frame 1
    positions: np.ndarray  # int [F, S, 2]
    velocities: np.ndarray  # int [S, 2]
    background: str
    event: str
    pan_offsets: np.ndarray  # int [F, 2] (patches)
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
    """The background's kind and parameters (a function of patch coordinates, so it can pan)."""
    kind = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    first, second = rng.choice(len(BACKGROUND_COLOURS), size=2, replace=False)
    return dict(
        kind=kind,
        colours=(BACKGROUND_COLOURS[first].astype(np.float64), BACKGROUND_COLOURS[second].astype(np.float64)),
        cells=int(rng.choice([1, 2, 4])),
        axis=int(rng.integers(3)),
        angle=float(rng.uniform(0.0, 2.0 * np.pi)),
    )


def background_patches(params: dict, grid: int, offset: np.ndarray) -> np.ndarray:
    """Background colour [grid, grid, 3] per patch, seen with the camera shifted by `offset` patches."""
    y, x = np.mgrid[0:grid, 0:grid]
    y, x = y + offset[0], x + offset[1]
    colour_a, colour_b = params["colours"]
    if params["kind"] == "stripes":
        coordinate = (y, x, x + y)[params["axis"]]
        weight = ((coordinate // params["cells"]) % 2).astype(np.float64)
    elif params["kind"] == "checker":
        weight = (((y // params["cells"]) + (x // params["cells"])) % 2).astype(np.float64)
    else:
        ramp = (np.cos(params["angle"]) * x + np.sin(params["angle"]) * y) / grid
        weight = np.clip(np.floor((ramp + 1.0) / 2.0 * GRADIENT_BANDS), 0, GRADIENT_BANDS - 1) / (GRADIENT_BANDS - 1)
    return colour_a + weight[..., None] * (colour_b - colour_a)


def _entry_position(direction: int, size: int, grid: int) -> np.ndarray:
    """Top-left (patches) of a square of `size` entering along `direction`: only its
    leading row / column (corner, diagonally) inside the frame."""
    position = np.empty(2, dtype=np.int64)
    for axis, step in enumerate(DIRECTION_STEPS[direction]):
        position[axis] = -(size - 1) if step > 0 else grid - 1 if step < 0 else (grid - size) // 2
    return position


def _simulate(rng: np.random.Generator, config: ToyWorldConfig) -> dict:
    """Draw one video's scene and its exact trajectories in patches (no pixels yet).

    Everything random is drawn before the frame count matters."""
    grid, frames = config.grid, config.num_frames
    label = int(rng.integers(config.num_classes))
    count = int(rng.integers(config.min_sprites, config.max_sprites + 1))
    sizes = rng.choice(config.sprite_patch_sizes(), size=count)
    shapes = [SHAPES[i] for i in rng.integers(len(SHAPES), size=count)]
    directions = list(rng.integers(config.num_classes, size=count))
    starts = [rng.integers(0, grid - size + 1, size=2) for size in sizes]
    background = _draw_background(rng)
    event = EVENTS[
        rng.choice(
            3,
            p=[
                1 - config.pan_probability - config.lighting_probability,
                config.pan_probability,
                config.lighting_probability,
            ],
        )
    ]
    pan_direction = DIRECTION_STEPS[2 * int(rng.integers(4))]  # east, north, west or south
    brighter = bool(rng.integers(2))

    entered_at = [0] * count
    entry_size = int(config.sprite_patch_sizes()[-1])
    for frame in config.entering_frames():
        sizes = np.append(sizes, entry_size)
        shapes.append("square")
        directions.append(label)
        starts.append(_entry_position(label, entry_size, grid) - frame * DIRECTION_STEPS[label])
        entered_at.append(frame)
    directions_array = np.array(directions, dtype=np.int64)
    steps = DIRECTION_STEPS[directions_array]  # [S, 2]
    time = np.arange(frames)[:, None, None]
    positions = np.array(starts, dtype=np.int64)[None] + time * steps[None]  # [F, S, 2]
    pan = pan_direction[None] * np.arange(frames)[:, None] if event == "pan" else np.zeros((frames, 2), np.int64)
    sign = 1.0 if brighter else -1.0
    lighting = 1.0 + sign * config.lighting_step * np.arange(frames) if event == "lighting" else np.ones(frames)
    return dict(
        label=label,
        shapes=tuple(shapes),
        sizes=np.asarray(sizes, dtype=np.int64),
        directions=directions_array,
        entered_at=np.array(entered_at, dtype=np.int64),
        positions=positions,
        steps=steps,
        background_params=background,
        event=event,
        pan_offsets=pan,
        lighting=np.clip(lighting, 0.3, 1.7),
    )


def _render(scene: dict, config: ToyWorldConfig, with_masks: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Paint the frames at patch resolution, then blow each patch up to patch_px pixels;
    with the sprites' silhouettes [F, S, H, W] (clipped to the frame) if `with_masks`."""
    grid, px, frames = config.grid, config.patch_px, config.num_frames
    count = len(scene["shapes"])
    image = np.empty((frames, grid, grid, 3))
    masks = np.zeros((frames, count, grid, grid), dtype=bool)
    for t in range(frames):
        image[t] = background_patches(scene["background_params"], grid, scene["pan_offsets"][t])
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
        event=scene["event"],
        pan_offsets=scene["pan_offsets"],
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
