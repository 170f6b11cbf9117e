"""Benchmark: FastCar where tokens change - replay against quality, how well TAS spots
change, and whether FastCar alleviates the drift of sparse attention.

On held-out videos of the shipped toy model (greedy, CFG 3, the settings of `cosim decode`):

1. the replay / quality curve: per target ratio, thresholds calibrated on
   `--calibration-videos` other held-out videos, then FastCar runs against dense runs of
   the same starts: replay ratio, code agreement with dense on all generated codes and on
   the codes that change (the dense run's code differs from its code one frame earlier),
   PSNR against dense and against the true frames;
2. per layer, the ROC AUC of TAS (conditional row, dense runs) as a score of "this
   position's code is unchanged from the previous frame" (1.0: TAS separates perfectly;
   0.5: chance);
3. the drift test over `--drift-frames` frames: sparse attention alone (streaming: 4 sink
   entries and one frame of recent ones) against FastCar + the same sparse attention
   (thresholds of the 0.5 row), per frame code agreement and PSNR against dense and truth.

The last line is the issue's goal: at 50 % replay or more, >= 95 % agreement with dense on
all codes and >= 90 % on changed codes.

    .venv/bin/python benchmarks/fastcar_motion.py [--videos 4] [--ratios 0.3,0.5,0.7,0.9]
        [--calibration-videos 2] [--drift-videos 1] [--drift-frames 32] [--checkpoint PATH]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from models.decoding import quality
from models.decoding.decode import DecodeResult
from models.decoding.session import GENERATED, DecodeSession, toy_session
from models.decoding.sparse_attention import make_policy


def changed_codes(codes: np.ndarray) -> np.ndarray:
    """Mask [F-1, rows, cols] of generated codes that differ from the same position one frame earlier."""
    return codes[1:] != codes[:-1]


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a positive sample scores above a negative one (ties count half)."""
    negative_scores = np.sort(scores[~positive])
    below = np.searchsorted(negative_scores, scores[positive], side="left")
    not_above = np.searchsorted(negative_scores, scores[positive], side="right")
    return float((below + not_above).sum() / 2 / (positive.sum() * len(negative_scores)))


def tas_auc_per_layer(dense_runs: list[DecodeResult], tokens_per_frame: int) -> list[float]:
    """ROC AUC of each layer's TAS (row 0) for "unchanged": decode step k records position F + k."""
    tas, unchanged = [], []
    for run in dense_runs:
        flat = run.codes.reshape(len(run.codes), -1).reshape(-1)
        positions = np.arange(tokens_per_frame, tokens_per_frame + run.trace.num_steps)
        unchanged.append(flat[positions] == flat[positions - tokens_per_frame])
        tas.append(run.trace.tas[:, :, 0])
    scores, labels = np.concatenate(tas), np.concatenate(unchanged)
    return [roc_auc(scores[:, layer], labels) for layer in range(scores.shape[1])]


def replay_quality_curve(session: DecodeSession, args: argparse.Namespace, starts, dense_runs) -> dict[float, list]:
    """Print and return per target ratio: thresholds and the mean figures over the videos."""
    print("target  replay  agree_all  agree_changed  psnr_vs_dense_db  psnr_vs_truth_db  (dense vs truth)")
    rows = {}
    for ratio in args.ratios:
        calibration = session.calibrate_to_ratio(ratio, args.calibration_videos, rounds=1, frames=8)
        figures = []
        for start, dense in zip(starts, dense_runs, strict=True):
            run = session.decode(start, frames=8, thresholds=calibration.thresholds)
            changed = changed_codes(dense.codes)
            same = run.codes[GENERATED] == dense.codes[GENERATED]
            report = session.quality(run, dense, start)
            base = session.quality(dense, None, start)
            assert report.versus_dense is not None and report.versus_truth is not None
            assert base.versus_truth is not None
            figures.append(
                [
                    run.trace.replay_ratio(),
                    same.mean(),
                    same[changed].mean() if changed.any() else np.nan,
                    min(report.versus_dense.psnr_db, 99.0),
                    report.versus_truth.psnr_db,
                    base.versus_truth.psnr_db,
                ]
            )
        mean = np.nanmean(np.array(figures), axis=0)
        rows[ratio] = [calibration.thresholds, *mean.tolist()]
        print(
            f"{ratio:6.2f}  {mean[0]:6.3f}  {mean[1]:9.4f}  {mean[2]:13.4f}  {mean[3]:16.2f}  {mean[4]:16.2f}"
            f"  ({mean[5]:.2f})"
        )
    return rows


def drift_test(session: DecodeSession, args: argparse.Namespace, thresholds: list[float]) -> None:
    """Sparse attention alone against FastCar + sparse attention, per frame, against dense and truth."""
    policy = make_policy("streaming", sink=4, window=session.model.config.tokens_per_frame)
    tokenizer = session.tokenizer
    assert tokenizer is not None  # a toy session has one
    frames = args.drift_frames
    columns: dict[str, list[np.ndarray]] = {}

    def add(name: str, values: np.ndarray) -> None:
        columns.setdefault(name, []).append(values)

    for index in range(args.drift_videos):
        start = session.start(index, frames)
        dense = session.decode(start, frames=frames)
        sparse = session.decode(start, frames=frames, attention_policy=policy)
        both = session.decode(start, frames=frames, attention_policy=policy, thresholds=thresholds)
        assert start.true_frames is not None  # a held-out toy video
        for name, run in (("sparse", sparse), ("+fastcar", both)):
            pixels = tokenizer.decode(run.codes)
            dense_pixels = tokenizer.decode(dense.codes)
            add(f"{name} agree", quality.agreement_per_frame(run.codes, dense.codes))
            add(f"{name} dB dense", np.minimum(quality.psnr_per_frame(pixels, dense_pixels), 99.0))
            add(f"{name} dB truth", quality.psnr_per_frame(pixels, start.true_frames))
        add("dense dB truth", quality.psnr_per_frame(tokenizer.decode(dense.codes), start.true_frames))
        add(
            "+fastcar replay",
            np.r_[np.nan, [both.trace.replay[both.trace.frame == f].mean() for f in range(1, frames)]],
        )
    means = {name: np.mean(values, axis=0) for name, values in columns.items()}
    print(f"drift over {frames} frames, {args.drift_videos} video(s), streaming attention (4 sink + 1 frame):")
    print("(agree: code agreement with dense; dB: PSNR against dense / truth; +fastcar: FastCar + the same sparse)")
    print("frame" + "".join(f"  {name:>15}" for name in means))
    for frame in range(1, frames):
        print(f"{frame + 1:5d}" + "".join(f"  {values[frame]:15.4f}" for values in means.values()))
    late = slice(frames // 2, frames)
    for what in ("agree", "dB dense", "dB truth"):
        alone, with_fastcar = means[f"sparse {what}"][late].mean(), means[f"+fastcar {what}"][late].mean()
        print(
            f"frames {frames // 2 + 1}-{frames}, {what}: sparse alone {alone:.4f}, FastCar + sparse {with_fastcar:.4f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--ratios", type=lambda text: [float(v) for v in text.split(",")], default=[0.3, 0.5, 0.7, 0.9])
    parser.add_argument("--calibration-videos", type=int, default=2)
    parser.add_argument("--drift-videos", type=int, default=1)
    parser.add_argument("--drift-frames", type=int, default=32)
    parser.add_argument("--checkpoint", default=None, help="a `cosim train-toy` checkpoint (default: the shipped one)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.process_time()
    session = toy_session(args.checkpoint)
    starts = [session.start(index, 8) for index in range(args.videos)]
    dense_runs = [session.decode(start, frames=8, thresholds=float("inf")) for start in starts]
    rows = replay_quality_curve(session, args, starts, dense_runs)
    auc = tas_auc_per_layer(dense_runs, session.model.config.tokens_per_frame)
    print("TAS ROC AUC per layer (unchanged vs changed codes): " + ", ".join(f"{v:.3f}" for v in auc))
    half = min((r for r in rows if r >= 0.5), default=max(rows))
    drift_test(session, args, rows[half][0])
    print(f"CPU time {time.process_time() - started:.0f} s")
    # the goal's rows: runs that replayed 50 % or more (calibration lands within half a point of
    # its target); the verdict names the highest-replay row that meets it
    candidates = [r for r in rows if rows[r][1] >= 0.495]
    meeting = [r for r in candidates if rows[r][2] >= 0.95 and rows[r][3] >= 0.90]
    goal = bool(meeting)
    if candidates:
        best = max(meeting) if meeting else min(candidates)
        verdict = (
            f"at target {best:.0%} ({rows[best][1]:.1%} replayed): {rows[best][2]:.1%} agreement with dense on "
            f"all tokens, {rows[best][3]:.1%} on changed tokens"
        )
    else:
        most = max(rows, key=lambda r: rows[r][1])
        verdict = f"no run replayed 50 % (most: {rows[most][1]:.1%} at target {most:.0%})"
    goal_text = "goal >= 95 % / >= 90 % at >= 50 % replay"
    print(f"FastCar where tokens change ({goal_text}): {verdict} - {'met' if goal else 'not met'}")


if __name__ == "__main__":
    main()
