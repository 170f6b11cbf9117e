"""The toy world: deterministic per seed, ground truth consistent with the pixels, and every
code of a frame predictable from the frames before it and the class (the oracle)."""

import numpy as np

from models.toyworld.oracle import oracle_changed_recall
from models.toyworld.tokenizer import fit_tokenizer
from models.toyworld.world import (
    DIRECTION_STEPS,
    DIRECTIONS,
    SPRITE_COLOURS,
    ToyWorldConfig,
    entering_frames,
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
    # the longer video may have more entering squares after those of the short one
    assert np.array_equal(long.positions[:8, : len(short.shapes)], short.positions)
    assert (long.entered_at > 0).sum() >= 2  # a square enters again once the first has left


def test_shapes_and_dtypes():
    config = ToyWorldConfig()
    video = generate_video(0)
    assert video.frames.shape == (8, 64, 64, 3) and video.frames.dtype == np.uint8
    sprites = len(video.shapes)
    initial = int((video.entered_at == 0).sum())
    assert 1 <= initial <= config.max_sprites and sprites == initial + 1  # one class square enters in 8 frames
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


def test_sprites_move_one_patch_per_frame_in_their_colour_direction_and_never_overlap():
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
                pixels = video.frames[t][video.silhouettes[t, s]].astype(float)
                assert (pixels == np.clip(np.rint(video.colours[s] * video.lighting[t]), 0, 255)).all()
                checked += 1
        assert not (video.silhouettes.sum(axis=1) > 1).any()
        assert np.array_equal(video.visible_masks, video.silhouettes)
    assert checked > 500


def test_the_class_decides_what_enters_and_frame_1_sprites_never_have_its_colour():
    seen = set()
    for index in range(60):
        video = generate_video(seed=5, index=index)
        seen.add(video.direction)
        assert (video.directions[video.entered_at == 0] != video.label).all()
        entering = np.nonzero(video.entered_at > 0)[0]
        assert video.entered_at[entering].tolist() == [1]
        (s,) = entering
        assert video.directions[s] == video.label and video.shapes[s] == "square"
        assert not video.silhouettes[0, s].any()
        rows, cols = np.nonzero(video.silhouettes[1, s])
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
    # the next square enters when the previous one has left: 3 patches wide, 1 patch per frame
    assert entering_frames(0, 3, 16, 40) == [1, 19, 37]


def test_sprites_leave_through_the_walls():
    left = 0
    for index in range(40):
        video = generate_video(seed=3, index=index)
        for s in range(len(video.shapes)):
            if video.silhouettes[0, s].any() and not video.silhouettes[-1, s].any():
                left += 1
    assert left > 10


def test_lighting_drops_at_frame_2_in_the_lighting_classes_only():
    config = ToyWorldConfig(lighting_classes=(4,))
    assert (ToyWorldConfig().lighting(4, 8) == 1).all()  # off by default
    for index in range(40):
        video = generate_video(seed=6, index=index, config=config)
        if video.label in config.lighting_classes:
            assert video.lighting[0] == 1 and (video.lighting[1:] == config.lighting_factor).all()
        else:
            assert (video.lighting == 1).all()
            # a static background: every pixel free of sprites in two frames is the same in both
            free = np.logical_not(video.silhouettes.any(axis=1))
            both = free[1:] & free[:-1]
            assert np.array_equal(video.frames[1:][both], video.frames[:-1][both])


def test_bulk_generation_covers_every_class():
    _, labels = generate_videos(200, seed=0)
    assert set(np.unique(labels)) == set(range(8))


def test_the_oracle_predicts_every_changed_code_from_the_frames_before_it():
    # Nothing a model must predict is hidden: the world's rule applied to the codes of
    # frames <= t and the class gives frame t+1 exactly.
    config = ToyWorldConfig(lighting_classes=(4,))
    frames, _ = generate_videos(24, seed=0, config=config)
    tokenizer = fit_tokenizer(frames, seed=0, iterations=2, sample_patches=10_000)
    held, labels = generate_videos(6, seed=1, config=config)
    result = oracle_changed_recall(tokenizer, config, tokenizer.encode(held), labels)
    assert result["changed_codes"] > 400
    assert result["changed_recall"] == 1.0 and result["unchanged_accuracy"] == 1.0
