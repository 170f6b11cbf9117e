"""Benchmark: FlowCache's chunkwise accumulated-change rule against FastCar's per-layer TAS thresholds.

Issue 17, part 2 (last item). On held-out toy videos, FastCar decides replay three ways,
each calibrated to the same target replay ratio on the evaluation videos themselves (so
that the rules are compared at matched replay ratios, not on how well thresholds carry
over from other videos; `--held-out-calibration` calibrates on other videos instead):

- TAS: today's rule, one TAS threshold per layer (`--replay-rule tas`);
- accumulated, per frame: FlowCache's rule with one chunk per frame (`--replay-rule
  accumulated --chunks 1`): replay while the MLP input's relative L1 change accumulated
  since the last computation stays below a per-layer threshold;
- accumulated, per region: the same with `--chunks` bands of rows, each with its own
  per-layer thresholds.

For each: the replay ratio measured on the evaluation videos, token agreement and the
worst video's PSNR against the dense decode of the same start, and PSNR against the true
frames (mean over videos).

    .venv/bin/python benchmarks/chunkwise_replay.py [--videos 2] [--target-ratio 0.5] [--chunks 4] [--rounds 2]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

from models.decoding.calibrate import Calibration, calibrate_chunk_ratio, calibrate_ratio
from models.decoding.session import CALIBRATION_VIDEO_OFFSET, toy_session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=2, help="evaluation videos")
    parser.add_argument("--rounds", type=int, default=2, help="replay-aware calibration rounds")
    parser.add_argument("--held-out-calibration", action="store_true", help="calibrate on other held-out videos")
    parser.add_argument("--target-ratio", type=float, default=0.5)
    parser.add_argument("--chunks", type=int, default=4, help="bands of rows of the per-region variant")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.process_time()
    session = toy_session()
    frames = session.model.config.frames
    starts = [session.start(i, frames) for i in range(args.videos)]
    fit = session.calibration_starts(args.videos, frames) if args.held_out_calibration else starts
    model, target, rounds = session.model, args.target_ratio, args.rounds
    rules: dict[str, Calibration] = {
        "TAS, per layer": calibrate_ratio(model, fit, target, rounds=rounds, frames=frames),
        "accumulated, per frame": calibrate_chunk_ratio(model, fit, target, 1, rounds=rounds, frames=frames),
        f"accumulated, {args.chunks} regions": calibrate_chunk_ratio(
            model, fit, target, args.chunks, rounds=rounds, frames=frames
        ),
    }
    dense = [session.decode_dense(start, frames=frames) for start in starts]
    print(f"{args.videos} held-out videos of {frames} frames, target replay ratio {args.target_ratio}")
    print("| rule | replay ratio | agreement vs dense | PSNR vs dense, worst video (dB) | PSNR vs truth (dB) |")
    print("| --- | --- | --- | --- | --- |")
    figures: dict[str, dict[str, Any]] = {}
    for name, calibration in rules.items():
        runs = [
            session.decode(
                start, frames=frames, thresholds=calibration.thresholds, chunk_deltas=calibration.chunk_deltas
            )
            for start in starts
        ]
        qualities = [
            session.quality(run, reference, start) for run, reference, start in zip(runs, dense, starts, strict=True)
        ]
        figures[name] = {
            "replay": float(np.mean([run.trace.replay_ratio() for run in runs])),
            "agreement": float(np.mean([q.versus_dense.token_agreement for q in qualities if q.versus_dense])),
            "psnr_dense": float(np.min([q.versus_dense.psnr_db for q in qualities if q.versus_dense])),
            "psnr_truth": float(np.mean([q.versus_truth.psnr_db for q in qualities if q.versus_truth])),
        }
        f = figures[name]
        print(f"| {name} | {f['replay']:.3f} | {f['agreement']:.4f} | {f['psnr_dense']:.2f} | {f['psnr_truth']:.2f} |")
    where = f"held-out videos from {CALIBRATION_VIDEO_OFFSET}" if args.held_out_calibration else "the evaluation videos"
    print(f"({time.process_time() - started:.0f} s CPU; calibrated on {where}, {rounds} rounds)")
    tas, best = figures["TAS, per layer"], max(figures.items(), key=lambda item: item[1]["agreement"])
    print(
        f"chunkwise against per-layer thresholds at equal replay ratio: best agreement with dense {best[0]} "
        f"({best[1]['agreement']:.4f} at replay {best[1]['replay']:.3f}; TAS per layer {tas['agreement']:.4f} "
        f"at {tas['replay']:.3f})"
    )


if __name__ == "__main__":
    main()
