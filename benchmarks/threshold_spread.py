"""Benchmark: how evenly FastCar replays across toy videos, with calibrated thresholds
held fixed and with adaptive (per-frame) thresholds at the same ratio.

Calibrates per-layer thresholds to `--ratio` on `--calibration-videos` held-out videos of
the shipped toy model, then decodes `--videos` other held-out videos three ways: fixed
calibrated thresholds, adaptive thresholds (`adaptive_ratio`, the calibrated ones serve
the first decoded frame) and dense. Prints per video the replay ratio of both FastCar
runs and their token agreement with dense, and the spread over videos.

    .venv/bin/python benchmarks/threshold_spread.py [--ratio 0.5] [--videos 8]
        [--calibration-videos 6] [--frames 8]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from models.decoding.calibrate import Start, calibrate_ratio
from models.decoding.decode import decode_video
from models.decoding.session import toy_session

# Calibration videos: held-out indices far from the decoded ones. Not the session's
# CALIBRATION_VIDEO_OFFSET: the figures in docs/benchmarks.md were measured with these.
CALIBRATION_OFFSET = 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--calibration-videos", type=int, default=6)
    parser.add_argument("--frames", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()

    session = toy_session()
    model = session.model

    def start(index: int) -> Start:
        return session.start(index, args.frames)

    common = dict(frames=args.frames)
    calibration = calibrate_ratio(
        model, [start(CALIBRATION_OFFSET + i) for i in range(args.calibration_videos)], args.ratio, **common
    )
    print(
        f"calibrated to {args.ratio:.0%} on {args.calibration_videos} held-out videos "
        f"({calibration.replay_ratio:.1%} replayed there); thresholds "
        + ", ".join(f"{t:.4g}" for t in calibration.thresholds)
    )
    print(f"{'video':>5}{'class':>6}{'fixed replay':>14}{'agreement':>11}{'adaptive replay':>17}{'agreement':>11}")
    rows = []
    for index in range(args.videos):
        video = start(index)
        dense = decode_video(model, video.first_frame_codes, video.class_id, **common)
        fixed = decode_video(
            model, video.first_frame_codes, video.class_id, thresholds=calibration.thresholds, **common
        )
        adaptive = decode_video(
            model,
            video.first_frame_codes,
            video.class_id,
            thresholds=calibration.thresholds,
            adaptive_ratio=args.ratio,
            **common,
        )
        row = [
            fixed.trace.replay_ratio(),
            np.mean(fixed.codes[1:] == dense.codes[1:]),
            adaptive.trace.replay_ratio(),
            np.mean(adaptive.codes[1:] == dense.codes[1:]),
        ]
        rows.append(row)
        print(f"{index:>5}{video.class_id:>6}{row[0]:>14.1%}{row[1]:>11.4f}{row[2]:>17.1%}{row[3]:>11.4f}")
    table = np.array(rows)
    for name, column in (("fixed", 0), ("adaptive", 2)):
        replay, agreement = table[:, column], table[:, column + 1]
        print(
            f"{name:>8}: replay {replay.min():.1%}-{replay.max():.1%} (mean {replay.mean():.1%}), "
            f"agreement with dense {agreement.min():.4f}-{agreement.max():.4f}"
        )
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
