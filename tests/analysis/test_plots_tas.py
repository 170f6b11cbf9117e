"""Replay aggregations behind the TAS figures, on a hand-made trace small enough to check
by eye, and the figures' axes and legends."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.analysis import plots_tas
from cosim.artifacts.replay_trace import ReplayTrace

FRAMES, ROWS, COLS, LAYERS, BATCH = 3, 2, 2, 2, 2
PER_FRAME = ROWS * COLS


def _trace() -> ReplayTrace:
    """Frames 2 and 3 of a 2x2 video, all 8 positions decoded (no missing last token, to
    keep the arithmetic simple). Layer 0 replays position (0, 0) of every frame in both
    rows; layer 1 replays everything in frame 3, row 0 only."""
    positions = np.arange(PER_FRAME, FRAMES * PER_FRAME)
    steps = len(positions)
    frame, row, col = positions // PER_FRAME, (positions % PER_FRAME) // COLS, positions % COLS
    replay = np.zeros((steps, LAYERS, BATCH), dtype=bool)
    replay[(row == 0) & (col == 0), 0, :] = True
    replay[frame == 2, 1, 0] = True
    tas = np.where(replay, 1.0, -1.0).astype(np.float32)
    meta = {
        "model": "hand",
        "num_layers": LAYERS,
        "batch_rows": BATCH,
        "tokens_per_frame": PER_FRAME,
        "frame_rows": ROWS,
        "frame_cols": COLS,
        "frames": FRAMES,
        "prompt_len": 1 + PER_FRAME,
        "source": "synthetic",
    }
    kv_len = (positions + 2).astype(np.int32)
    return ReplayTrace(
        tas=tas,
        replay=replay,
        frame=frame,
        row=row,
        col=col,
        kv_len=kv_len,
        kv_attended=np.repeat(kv_len[:, None], LAYERS, axis=1),
        meta=meta,
    )


def test_layer_frame_replay_counts_by_hand():
    ratio = plots_tas.layer_frame_replay(_trace())
    assert ratio.shape == (LAYERS, FRAMES)
    assert np.isnan(ratio[:, 0]).all()  # the prompt frame has no decode step
    # layer 0: 1 of 4 positions, both rows -> 0.25 in frames 2 and 3
    np.testing.assert_allclose(ratio[0, 1:], [0.25, 0.25])
    # layer 1: nothing in frame 2; frame 3 all positions in one of two rows -> 0.5
    np.testing.assert_allclose(ratio[1, 1:], [0.0, 0.5])


def test_spatial_replay_by_hand():
    trace = _trace()
    grid = plots_tas.spatial_replay(trace)
    assert grid.shape == (FRAMES, ROWS, COLS)
    assert np.isnan(grid[0]).all()
    # frame 2: only (0,0) replays, in layer 0 only (both rows): 2 of 4 layer-rows
    np.testing.assert_allclose(grid[1], [[0.5, 0.0], [0.0, 0.0]])
    # frame 3: (0,0) layer 0 both rows + layer 1 row 0 = 3 of 4; elsewhere 1 of 4
    np.testing.assert_allclose(grid[2], [[0.75, 0.25], [0.25, 0.25]])
    np.testing.assert_allclose(plots_tas.spatial_replay(trace, layer=1)[2], np.full((ROWS, COLS), 0.5))


def test_spatial_replay_leaves_undecoded_positions_blank():
    trace = _trace()
    keep = slice(0, trace.num_steps - 1)  # drop the last token, as a real decoding run does
    short = ReplayTrace(
        tas=trace.tas[keep],
        replay=trace.replay[keep],
        frame=trace.frame[keep],
        row=trace.row[keep],
        col=trace.col[keep],
        kv_len=trace.kv_len[keep],
        kv_attended=trace.kv_attended[keep],
        meta=trace.meta,
    )
    grid = plots_tas.spatial_replay(short)
    assert np.isnan(grid[2, 1, 1]) and np.isfinite(grid[2, 1, 0])


def test_unchanged_positions_compare_with_the_previous_frame():
    trace = _trace()
    codes = np.zeros((FRAMES, ROWS, COLS), dtype=np.int64)
    codes[1:, 0, 1] = 5  # changes in frame 2, then stays -> unchanged in frame 3
    codes[2, 1, 0] = 7  # changes in frame 3
    unchanged = plots_tas.unchanged_positions(codes, trace)
    # steps are frame 2 (0,0),(0,1),(1,0),(1,1) then frame 3 in the same order
    assert unchanged.tolist() == [True, False, True, True, True, True, False, True]


def test_figures_label_their_axes():
    trace = _trace()
    distribution = plots_tas.tas_distribution_figure(
        trace.tas, groups={"a": np.arange(8) < 4, "b": np.arange(8) >= 4}, thresholds=[0.0, float("inf")]
    )
    axes = distribution.axes[0]
    assert axes.get_xlabel() == "layer" and "TAS" in axes.get_ylabel()
    legend = axes.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == [
        "a (50 % of steps)",
        "b (50 % of steps)",
        "threshold (replay above)",
    ]
    heat = plots_tas.replay_layer_frame_figure(trace)
    assert "(%)" in heat.axes[1].get_ylabel()  # the colour bar
    points = [
        plots_tas.TradeoffPoint("dense", 0.0, 1.0, float("inf"), 20.0),
        plots_tas.TradeoffPoint("half", 0.5, 0.9, 30.0, 19.0),
    ]
    tradeoff = plots_tas.quality_tradeoff_figure(points, dense_psnr_vs_truth_db=20.0)
    assert [a.get_ylabel() for a in tradeoff.axes] == ["token agreement with dense (%)", "PSNR (dB)"]


@pytest.mark.parametrize("with_video", [False, True])
def test_spatial_figure_draws_one_map_per_frame(with_video: bool):
    trace = _trace()
    video = np.zeros((FRAMES, 8, 8, 3), dtype=np.uint8) if with_video else None
    figure = plots_tas.replay_spatial_figure(trace, video)
    images = [a for a in figure.axes if a.images]
    assert len(images) == FRAMES * (2 if with_video else 1)
