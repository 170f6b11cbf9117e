"""Benchmark: FlowCache's chunkwise accumulated-change rule against FastCar's per-layer TAS thresholds.

Issue 17, part 2 (last item). On held-out toy videos, FastCar decides replay three ways at
equal replay ratio: the TAS rule is calibrated to the target ratio on the evaluation videos
themselves, and the two chunkwise rules are calibrated to the target and then their
thresholds scaled by one factor until they replay what the TAS rule replays on the same
videos, within `--tolerance` (`match_chunk_ratio`). `--held-out-calibration` calibrates on
other held-out videos instead (the ratios then differ on the evaluation videos):

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
                                                   [--tolerance 0.005]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from models.decoding.calibrate import Calibration, calibrate_chunk_ratio, calibrate_ratio, match_chunk_ratio
from models.decoding.session import CALIBRATION_VIDEO_OFFSET, toy_session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=2, help="evaluation videos")
    parser.add_argument("--rounds", type=int, default=2, help="replay-aware calibration rounds")
    parser.add_argument("--held-out-calibration", action="store_true", help="calibrate on other held-out videos")
    parser.add_argument("--target-ratio", type=float, default=0.5)
    parser.add_argument("--chunks", type=int, default=4, help="bands of rows of the per-region variant")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=0.005,
        help="largest replay-ratio gap to the TAS rule's (0.005: half a point)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.process_time()
    session = toy_session()
    frames = session.model.config.frames
    starts = [session.start(i, frames) for i in range(args.videos)]
    fit = session.calibration_starts(args.videos, frames) if args.held_out_calibration else starts
    model, target, rounds = session.model, args.target_ratio, args.rounds
    dense = [session.decode_dense(start, frames=frames) for start in starts]

    def evaluate(calibration: Calibration) -> dict[str, float]:
        """Replay and quality of the rule's runs on the evaluation videos."""
        runs = [
            session.decode(
                start, frames=frames, thresholds=calibration.thresholds, chunk_deltas=calibration.chunk_deltas
            )
            for start in starts
        ]
        qualities = [
            session.quality(run, reference, start) for run, reference, start in zip(runs, dense, starts, strict=True)
        ]
        return {
            "replay": float(np.mean([run.trace.replay_ratio() for run in runs])),
            "agreement": float(np.mean([q.versus_dense.token_agreement for q in qualities if q.versus_dense])),
            "psnr_dense": float(np.min([q.versus_dense.psnr_db for q in qualities if q.versus_dense])),
            "psnr_truth": float(np.mean([q.versus_truth.psnr_db for q in qualities if q.versus_truth])),
        }

    figures = {"TAS, per layer": evaluate(calibrate_ratio(model, fit, target, rounds=rounds, frames=frames))}
    scales = {}
    for name, chunks in (("accumulated, per frame", 1), (f"accumulated, {args.chunks} regions", args.chunks)):
        quantiles = calibrate_chunk_ratio(model, fit, target, chunks, rounds=rounds, frames=frames)
        matched = match_chunk_ratio(
            model, starts, quantiles, figures["TAS, per layer"]["replay"], tolerance=args.tolerance, frames=frames
        )
        scales[name] = matched.history[-1]["scale"]
        figures[name] = evaluate(matched)
    print(f"{args.videos} held-out videos of {frames} frames, target replay ratio {args.target_ratio}")
    print("| rule | replay ratio | agreement vs dense | PSNR vs dense, worst video (dB) | PSNR vs truth (dB) |")
    print("| --- | --- | --- | --- | --- |")
    for name, f in figures.items():
        print(f"| {name} | {f['replay']:.3f} | {f['agreement']:.4f} | {f['psnr_dense']:.2f} | {f['psnr_truth']:.2f} |")
    print(
        "chunkwise thresholds scaled to the TAS rule's replay ratio (within "
        f"{args.tolerance:g}): " + ", ".join(f"{name} x {scale:.3f}" for name, scale in scales.items())
    )
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
