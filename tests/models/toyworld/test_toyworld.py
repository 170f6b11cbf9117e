"""The toy world: deterministic per seed, ground truth consistent with the pixels."""

import numpy as np

from models.toyworld.world import (
    DIRECTION_STEPS,
    DIRECTIONS,
    SPRITE_COLOURS,
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
    # the longer video has more entering sprites after those of the short one
    assert np.array_equal(long.positions[:8, : len(short.shapes)], short.positions)


def test_shapes_and_dtypes():
    config = ToyWorldConfig()
    video = generate_video(0)
    assert video.frames.shape == (8, 64, 64, 3) and video.frames.dtype == np.uint8
    sprites = len(video.shapes)
    entering = len(config.entering_frames())
    assert config.min_sprites <= sprites - entering <= config.max_sprites
    assert video.positions.shape == (8, sprites, 2)
    assert video.silhouettes.shape == (8, sprites, 64, 64)
    assert config.num_classes == len(DIRECTIONS) == 8


def _silhouette_at(video, t, s):
    """Sprite s's template at its ground-truth position in frame t, clipped to the frame (pixels)."""
    px = int(video.sizes_px[s])
    canvas = np.zeros((64 + 2 * px, 64 + 2 * px), dtype=bool)
    template = shape_mask(video.shapes[s], px // 4).repeat(4, axis=0).repeat(4, axis=1)
    row, col = video.positions[t, s] + px
    if 0 <= row <= 64 + px and 0 <= col <= 64 + px:
        canvas[row : row + px, col : col + px] = template
    return canvas[px : px + 64, px : px + 64]


def test_sprites_move_one_patch_per_frame_in_their_colour_direction():
    checked = 0
    for index in range(40):
        video = generate_video(seed=1, index=index)
        for s in range(len(video.shapes)):
            step = DIRECTION_STEPS[video.directions[s]]
            assert np.array_equal(video.velocities[s], 4 * step)  # one whole patch per frame, constant
            assert np.array_equal(video.colours[s], SPRITE_COLOURS[video.directions[s]])
            assert np.array_equal(np.diff(video.positions[:, s], axis=0), np.repeat(4 * step[None], 7, axis=0))
            for t in range(8):
                expected = _silhouette_at(video, t, s) if t >= video.entered_at[s] else np.zeros((64, 64), bool)
                assert np.array_equal(video.silhouettes[t, s], expected)
                checked += 1
    assert checked > 500


def test_the_class_decides_what_enters_from_the_opposite_edge():
    config = ToyWorldConfig()
    assert config.entering_frames() == [1, 5]
    seen = set()
    for index in range(60):
        video = generate_video(seed=5, index=index)
        seen.add(video.direction)
        entering = np.nonzero(video.entered_at > 0)[0]
        assert video.entered_at[entering].tolist() == [1, 5] and entering.tolist() == [
            len(video.shapes) - 2,
            len(video.shapes) - 1,
        ]
        for s in entering:
            assert video.directions[s] == video.label and video.shapes[s] == "square"
            t = video.entered_at[s]
            assert not video.silhouettes[t - 1, s].any()
            rows, cols = np.nonzero(video.silhouettes[t, s])
            # only the leading row or column (a corner cell diagonally) is inside the frame
            step = DIRECTION_STEPS[video.label]
            for axis, extent in ((0, rows), (1, cols)):
                if step[axis] > 0:
                    assert extent.max() == 3
                elif step[axis] < 0:
                    assert extent.min() == 60
    assert seen == set(DIRECTIONS)
    north = DIRECTION_STEPS[DIRECTIONS.index("north")]
    assert north.tolist() == [-1, 0]  # rows grow downwards


def test_sprites_leave_through_the_walls():
    left = 0
    for index in range(40):
        video = generate_video(seed=3, index=index)
        for s in range(len(video.shapes)):
            if video.silhouettes[0, s].any() and not video.silhouettes[-1, s].any():
                left += 1
    assert left > 10


def test_visible_pixels_show_the_sprite_colour_and_higher_sprites_occlude():
    for index in range(20):
        video = generate_video(seed=4, index=index)
        for s in range(len(video.shapes)):
            for t in range(8):
                pixels = video.frames[t][video.visible_masks[t, s]].astype(float)
                expected = np.clip(np.rint(video.colours[s] * video.lighting[t]), 0, 255)
                assert (pixels == expected).all()
        top = len(video.shapes) - 1
        assert np.array_equal(video.visible_masks[:, top], video.silhouettes[:, top])
        assert not (video.visible_masks.sum(axis=1) > 1).any()


def test_pan_slides_the_background_and_lighting_scales_every_pixel():
    events = {"none": 0, "pan": 0, "lighting": 0}
    for index in range(80):
        video = generate_video(seed=6, index=index)
        events[video.event] += 1
        free = np.logical_not(video.silhouettes.any(axis=1))  # [F, H, W] background pixels
        if video.event == "pan":
            assert (video.lighting == 1).all()
            step = (video.pan_offsets[2] - video.pan_offsets[1]) * 4
            for t in range(7):
                assert np.array_equal(video.pan_offsets[t + 1] - video.pan_offsets[t], step // 4)
                rows, cols = np.nonzero(free[t + 1])
                source_rows, source_cols = rows + step[0], cols + step[1]
                inside = (source_rows >= 0) & (source_rows < 64) & (source_cols >= 0) & (source_cols < 64)
                inside &= free[t][source_rows.clip(0, 63), source_cols.clip(0, 63)]
                assert inside.sum() > 1000
                assert np.array_equal(
                    video.frames[t + 1][rows[inside], cols[inside]],
                    video.frames[t][source_rows[inside], source_cols[inside]],
                )
        elif video.event == "lighting":
            assert (video.pan_offsets == 0).all() and video.lighting[0] == 1
            assert len(set(np.sign(np.diff(video.lighting)))) == 1 and (np.diff(video.lighting) != 0).all()
        else:
            assert (video.pan_offsets == 0).all() and (video.lighting == 1).all()
            # a static background: every pixel free in two frames is the same in both
            both = free[1:] & free[:-1]
            assert np.array_equal(video.frames[1:][both], video.frames[:-1][both])
    assert min(events.values()) > 3


def test_bulk_generation_covers_every_class():
    _, labels = generate_videos(200, seed=0)
    assert set(np.unique(labels)) == set(range(8))
