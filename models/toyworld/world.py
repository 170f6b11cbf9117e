"""Procedural toy videos with exact ground truth, for training and checking the tiny AR model.

Weights of real video models cannot be downloaded here, so real decoding runs use a model
trained in this project on these videos. The world is built so that temporal structure is
real but learnable by a tiny model: a static textured background (identical across
frames, so most token positions repeat frame to frame, which is what FastCar replay
exploits) and 1-3 solid sprites that move by whole patches, bounce off the walls and occlude each
other in a fixed z order.

The class label of a video is the compass direction (`DIRECTIONS`, 8 classes, matching
the `toyworld` model preset) in which all its sprites start moving. Frame 1 alone does not
show which way things move, so the class token decides what frame 2 looks like: it is the
condition a model must use (and classifier-free guidance strengthens), not a tag it may
ignore.

Everything is numpy and deterministic from (seed, index): video `i` of a data set is the
same whatever the size of the data set.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

DIRECTIONS = ("east", "north-east", "north", "north-west", "west", "south-west", "south", "south-east")
# Unit step (row, col) of each direction; image rows grow downwards, so north is -1.
DIRECTION_STEPS = np.array([[0, 1], [-1, 1], [-1, 0], [-1, -1], [0, -1], [1, -1], [1, 0], [1, 1]], dtype=np.int64)
SHAPES = ("square", "disc", "triangle", "cross", "diamond", "ring")
BACKGROUNDS = ("stripes", "checker", "gradient")

# Bright sprite colours and muted background colours (RGB), so sprites stand out and a
# 256-code patch codebook can cover the world.
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


@dataclass(frozen=True)
class ToyWorldConfig:
    """Geometry of the toy world. Defaults give 64x64 frames = 16x16 patches of 4x4 px."""

    frame_px: int = 64
    num_frames: int = 8
    min_sprites: int = 1
    max_sprites: int = 3
    min_sprite_px: int = 10
    max_sprite_px: int = 16
    gradient_noise_std: float = 4.0
    motion_step_px: int = 4  # velocities are multiples of this: the tokenizer's patch size

    @property
    def num_classes(self) -> int:
        return len(DIRECTIONS)


@dataclass
class Video:
    """One video and its exact ground truth.

    positions[t, s] is the (row, col) of sprite s's top-left corner in frame t and
    velocities[t, s] the displacement applied between frames t and t+1 (before a bounce;
    velocities[0] is the class's direction times the step for every sprite);
    bounced[t, s] says a wall reflection happened on that step. Sprite s is drawn above
    sprites 0..s-1 (z order = index). silhouettes are the unoccluded shapes, visible
    masks what is left of them after occlusion.
    """

    frames: np.ndarray  # uint8 [F, H, W, 3]
    label: int
    shapes: tuple[str, ...]
    sizes_px: np.ndarray  # int [S]
    colours: np.ndarray  # uint8 [S, 3]
    positions: np.ndarray  # int [F, S, 2]
    velocities: np.ndarray  # int [F, S, 2]
    bounced: np.ndarray  # bool [F, S]
    background: str
    silhouettes: np.ndarray  # bool [F, S, H, W]
    visible_masks: np.ndarray  # bool [F, S, H, W]

    @property
    def direction(self) -> str:
        return DIRECTIONS[self.label]


@cache
def shape_mask(shape: str, size_px: int) -> np.ndarray:
    """Boolean size x size template of a shape (cached: templates are reused constantly)."""
    centre = (size_px - 1) / 2.0
    y, x = np.mgrid[0:size_px, 0:size_px].astype(np.float64)
    dy, dx = y - centre, x - centre
    radius = size_px / 2.0
    if shape == "square":
        mask = np.ones((size_px, size_px), dtype=bool)
    elif shape == "disc":
        mask = dy**2 + dx**2 <= radius**2
    elif shape == "triangle":
        mask = np.abs(dx) <= (y + 1.0) / 2.0
    elif shape == "cross":
        arm = size_px / 6.0
        mask = (np.abs(dx) <= arm) | (np.abs(dy) <= arm)
    elif shape == "diamond":
        mask = np.abs(dx) + np.abs(dy) <= radius
    elif shape == "ring":
        distance = np.sqrt(dy**2 + dx**2)
        mask = (distance <= radius) & (distance >= radius * 0.5)
    else:
        raise ValueError(f"unknown shape {shape!r}; known: {SHAPES}")
    mask.setflags(write=False)
    return mask


def video_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of video `index` of the data set with base `seed`."""
    return np.random.default_rng([int(seed), int(index)])


def _background(rng: np.random.Generator, config: ToyWorldConfig) -> tuple[str, np.ndarray]:
    size = config.frame_px
    kind = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    first, second = rng.choice(len(BACKGROUND_COLOURS), size=2, replace=False)
    colour_a = BACKGROUND_COLOURS[first].astype(np.float64)
    colour_b = BACKGROUND_COLOURS[second].astype(np.float64)
    y, x = np.mgrid[0:size, 0:size]
    if kind == "stripes":
        period = int(rng.choice([4, 8, 16]))
        coordinate = (y, x, x + y)[rng.integers(3)]
        pick = (coordinate // (period // 2)) % 2 == 1
        image = np.where(pick[..., None], colour_b, colour_a)
    elif kind == "checker":
        cell = int(rng.choice([4, 8, 16]))
        pick = ((y // cell) + (x // cell)) % 2 == 1
        image = np.where(pick[..., None], colour_b, colour_a)
    else:
        angle = rng.uniform(0.0, 2.0 * np.pi)
        ramp = (np.cos(angle) * x + np.sin(angle) * y) / size
        ramp = (ramp - ramp.min()) / max(ramp.max() - ramp.min(), 1e-9)
        image = colour_a + ramp[..., None] * (colour_b - colour_a)
        image = image + rng.normal(0.0, config.gradient_noise_std, size=image.shape)
    return kind, np.clip(np.rint(image), 0, 255).astype(np.uint8)


def class_name(label: int) -> str:
    """Human name of a class label, e.g. 2 -> "north"."""
    return DIRECTIONS[label]


def _bounce(position: np.ndarray, velocity: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Move by velocity inside [0, high] per axis, reflecting off the walls."""
    moved = position + velocity
    velocity = velocity.copy()
    bounced = False
    for axis in range(2):
        if moved[axis] < 0:
            moved[axis] = -moved[axis]
            velocity[axis] = -velocity[axis]
            bounced = True
        elif moved[axis] > high[axis]:
            moved[axis] = 2 * high[axis] - moved[axis]
            velocity[axis] = -velocity[axis]
            bounced = True
    return np.clip(moved, 0, high), velocity, bounced


def _simulate(rng: np.random.Generator, config: ToyWorldConfig) -> dict:
    """Draw one video's scene and its exact trajectories (no pixels yet)."""
    label = int(rng.integers(config.num_classes))
    count = int(rng.integers(config.min_sprites, config.max_sprites + 1))
    shapes = tuple(SHAPES[i] for i in rng.integers(len(SHAPES), size=count))
    sizes = rng.integers(config.min_sprite_px, config.max_sprite_px + 1, size=count)
    colours = SPRITE_COLOURS[rng.choice(len(SPRITE_COLOURS), size=count, replace=False)]
    high = np.stack([config.frame_px - sizes, config.frame_px - sizes], axis=1)
    position = (rng.random((count, 2)) * (high + 1)).astype(np.int64)
    # Whole patches per frame: between bounces a sprite's codes travel with it, which a
    # tiny model can learn (sub-patch steps would change every edge code every frame).
    velocity = np.repeat(DIRECTION_STEPS[label][None] * config.motion_step_px, count, axis=0)
    frames = config.num_frames
    positions = np.zeros((frames, count, 2), dtype=np.int64)
    velocities = np.zeros((frames, count, 2), dtype=np.int64)
    bounced = np.zeros((frames, count), dtype=bool)
    for t in range(frames):
        positions[t], velocities[t] = position, velocity
        if t + 1 == frames:
            break
        for s in range(count):
            position[s], velocity[s], bounced[t, s] = _bounce(position[s], velocity[s], high[s])
    background, image = _background(rng, config)
    return dict(
        label=label,
        shapes=shapes,
        sizes_px=sizes,
        colours=colours,
        positions=positions,
        velocities=velocities,
        bounced=bounced,
        background=background,
        background_image=image,
    )


def _render(scene: dict, config: ToyWorldConfig, with_masks: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Paint the sprites over the background, lowest z first; with their silhouettes
    [F, sprites, H, W] if `with_masks` (else None)."""
    size = config.frame_px
    frames = np.repeat(scene["background_image"][None], config.num_frames, axis=0)
    count = len(scene["shapes"])
    silhouettes = np.zeros((config.num_frames, count, size, size), dtype=bool) if with_masks else None
    for t in range(config.num_frames):
        for s, (shape, px) in enumerate(zip(scene["shapes"], scene["sizes_px"], strict=True)):
            mask = shape_mask(shape, int(px))
            row, col = scene["positions"][t, s]
            frames[t, row : row + px, col : col + px][mask] = scene["colours"][s]
            if silhouettes is not None:
                silhouettes[t, s, row : row + px, col : col + px] = mask
    return frames, silhouettes


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
    scene.pop("background_image")
    return Video(frames=frames, silhouettes=silhouettes, visible_masks=_visible_masks(silhouettes), **scene)


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
