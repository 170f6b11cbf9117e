"""The toy world: deterministic per seed, ground truth consistent with the pixels."""

import numpy as np

from models.toyworld.world import (
    DIRECTION_STEPS,
    DIRECTIONS,
    ToyWorldConfig,
    generate_video,
    generate_videos,
    shape_mask,
)


def test_same_seed_same_video_and_other_seed_differs():
    a, b = generate_video(seed=7, index=3), generate_video(seed=7, index=3)
    assert np.array_equal(a.frames, b.frames) and a.label == b.label
    assert np.array_equal(a.positions, b.positions)
    c = generate_video(seed=8, index=3)
    assert not np.array_equal(a.frames, c.frames)


def test_bulk_generation_matches_single_videos_whatever_the_count():
    frames, labels = generate_videos(6, seed=2)
    later, later_labels = generate_videos(2, seed=2, start=4)
    assert np.array_equal(frames[4:], later) and np.array_equal(labels[4:], later_labels)
    for i in (0, 5):
        video = generate_video(seed=2, index=i)
        assert np.array_equal(frames[i], video.frames) and labels[i] == video.label


def test_a_longer_video_starts_with_the_same_frames():
    # `cosim decode --frames 32` compares with the truth of the same video run for longer.
    short = generate_video(seed=3, index=11)
    long = generate_video(seed=3, index=11, config=ToyWorldConfig(num_frames=32))
    assert long.frames.shape[0] == 32 and long.label == short.label
    assert np.array_equal(long.frames[:8], short.frames)
    assert np.array_equal(long.positions[:8], short.positions)


def test_shapes_and_dtypes():
    config = ToyWorldConfig()
    video = generate_video(0)
    assert video.frames.shape == (8, 64, 64, 3) and video.frames.dtype == np.uint8
    sprites = len(video.shapes)
    assert config.min_sprites <= sprites <= config.max_sprites
    assert video.positions.shape == (8, sprites, 2)
    assert video.silhouettes.shape == (8, sprites, 64, 64)
    assert config.num_classes == len(DIRECTIONS) == 8


def test_silhouette_moves_by_velocity_unless_it_bounced():
    checked_moves = checked_bounces = 0
    for index in range(40):
        video = generate_video(seed=1, index=index)
        for t in range(7):
            for s in range(len(video.shapes)):
                rows, cols = np.nonzero(video.silhouettes[t, s])
                rows_next, cols_next = np.nonzero(video.silhouettes[t + 1, s])
                shift = np.array([rows_next.min() - rows.min(), cols_next.min() - cols.min()])
                if video.bounced[t, s]:
                    checked_bounces += 1
                else:
                    assert np.array_equal(shift, video.velocities[t, s])
                    checked_moves += 1
                # The silhouette is the shape's template at the ground-truth position.
                row, col = video.positions[t, s]
                px = int(video.sizes_px[s])
                template = shape_mask(video.shapes[s], px)
                assert np.array_equal(video.silhouettes[t, s, row : row + px, col : col + px], template)
                assert video.silhouettes[t, s].sum() == template.sum()
    assert checked_moves > 100 and checked_bounces > 5


def test_bounces_keep_every_sprite_fully_inside_the_frame():
    for index in range(40):
        video = generate_video(seed=3, index=index)
        size = video.sizes_px[None, :, None]
        assert (video.positions >= 0).all() and (video.positions + size <= 64).all()
        # Nothing of a sprite is ever cut off: its silhouette keeps its template's area.
        areas = video.silhouettes.sum(axis=(2, 3))
        for s, (shape, px) in enumerate(zip(video.shapes, video.sizes_px, strict=True)):
            assert (areas[:, s] == shape_mask(shape, int(px)).sum()).all()


def test_visible_pixels_show_the_sprite_colour_and_higher_sprites_occlude():
    for index in range(20):
        video = generate_video(seed=4, index=index)
        for s in range(len(video.shapes)):
            pixels = video.frames[video.visible_masks[:, s]]
            assert (pixels == video.colours[s]).all()
        top = len(video.shapes) - 1
        assert np.array_equal(video.visible_masks[:, top], video.silhouettes[:, top])
        assert not (video.visible_masks.sum(axis=1) > 1).any()


def test_every_sprite_starts_in_the_class_direction_and_only_bounces_change_it():
    seen = set()
    for index in range(60):
        video = generate_video(seed=5, index=index)
        step = DIRECTION_STEPS[video.label]
        seen.add(video.direction)
        # One whole 4 px patch per frame along each moving axis, in the class's direction.
        assert (video.velocities[0] == 4 * step).all()
        # Bounces flip the sign of an axis, nothing else changes the motion.
        assert (np.abs(video.velocities) == 4 * np.abs(step)).all()
        flipped = (video.velocities[1:] != video.velocities[:-1]).any(axis=2)
        assert not (flipped & ~video.bounced[:-1]).any()
    assert video.direction == DIRECTIONS[video.label]
    assert seen == set(DIRECTIONS)
    north = DIRECTION_STEPS[DIRECTIONS.index("north")]
    assert north.tolist() == [-1, 0]  # rows grow downwards


def test_bulk_generation_covers_every_class():
    _, labels = generate_videos(200, seed=0)
    assert set(np.unique(labels)) == set(range(8))
