"""Benchmark: FastCar decode on the shipped toy model, measured on this CPU.

For 8-frame toy-world videos it prints the replay ratio, quality against the dense run
from the same start and seed, and the measured decode wall-time speedup against the ideal
speedup implied by the replay ratio and the MLP's share of dense decode time:

    ideal = 1 / (1 - replay_ratio * mlp_share)

    .venv/bin/python benchmarks/decode_speedup.py [--videos 2] [--targets 0.5,0.7] [--rounds 2]

Thresholds are set per frame from the previous frame's TAS at the target ratio
(`adaptive_ratio`), since fixed calibrated thresholds do not carry over between toy
videos (docs/model.md). Times are process CPU seconds of single-threaded decodes, the
minimum over interleaved rounds, so other load on the machine does not distort them. The
MLP share is timed with forward hooks on every layer's MLP in a separate dense run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from models.calibrate import Start
from models.decode import decode_video
from models.toyworld import ToyWorldConfig, generate_video
from models.train import HELDOUT_START, load_toy_checkpoint



def timed_decode(model, start: Start, frames: int, **kwargs):
    """A decode and the process CPU seconds it took."""
    began = time.process_time()
    result = decode_video(model, start.first_frame_codes, start.class_id, frames=frames, **kwargs)
    return result, time.process_time() - began


def mlp_time_share(model, start: Start, frames: int) -> float:
    """Fraction of a dense decode's wall time spent inside the layers' MLPs."""
    spent = [0.0]
    began: list[float] = []
    hooks = []
    for layer in model.layers:
        hooks.append(layer.mlp.register_forward_pre_hook(lambda *_: began.append(time.perf_counter())))
        hooks.append(layer.mlp.register_forward_hook(
            lambda *_: spent.__setitem__(0, spent[0] + time.perf_counter() - began.pop())))
    try:
        result = decode_video(model, start.first_frame_codes, start.class_id, frames=frames)
    finally:
        for hook in hooks:
            hook.remove()
    return spent[0] / result.wall_time_s  # both wall clock, one thread, one short window


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=2, help="held-out videos to decode per setting")
    parser.add_argument("--targets", default="0.5,0.7", help="per-frame adaptive replay ratios")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved timing rounds (minimum kept)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    model, tokenizer, metadata = load_toy_checkpoint()
    world = ToyWorldConfig(**metadata["toyworld"]) if "toyworld" in metadata else ToyWorldConfig()
    seed = int(metadata.get("seed", 0))
    frames = model.config.frames

    def start(index: int) -> Start:
        video = generate_video(seed, HELDOUT_START + index, world)
        return Start(tokenizer.encode(video.frames[:1])[0], int(video.label))

    videos = [start(i) for i in range(args.videos)]
    share = mlp_time_share(model, videos[0], frames)  # also warms up the kernels before timing
    targets = [float(t) for t in args.targets.split(",")]
    print(f"toy model {model.config.name}: {model.config.num_layers} layers, hidden {model.config.hidden}, "
          f"{frames} frames, CFG (2 rows), 1 thread, {args.videos} videos, best of {args.rounds} rounds")
    print(f"MLP share of dense decode time (hooks on a dense run): {share:.1%}")

    settings = {"dense": {}} | {t: {"adaptive_ratio": t} for t in targets}
    best = {key: [float("inf")] * len(videos) for key in settings}
    results = {}
    for _ in range(args.rounds):
        for index, video in enumerate(videos):
            for key, kwargs in settings.items():
                result, seconds = timed_decode(model, video, frames, **kwargs)
                results[key, index] = result
                best[key][index] = min(best[key][index], seconds)
    dense_time = sum(best["dense"])
    print(f"dense: {dense_time / len(videos):.2f} CPU s per video")
    print(f"{'target':>7}{'replay':>8}{'all rows':>9}{'agreement':>10}{'psnr dB':>9}{'CPU s':>7}{'speedup':>9}"
          f"{'ideal':>7}{'realised':>9}")
    for target in targets:
        runs = [results[target, i] for i in range(len(videos))]
        dense = [results["dense", i] for i in range(len(videos))]
        fast_time = sum(best[target])
        replay = float(np.mean([r.replay_ratio for r in runs]))
        all_rows = float(np.mean([r.replay.all(axis=2).mean() for r in runs]))
        agreement = float(np.mean([np.mean(r.codes[1:] == d.codes[1:]) for r, d in zip(runs, dense)]))
        psnr = _psnr(tokenizer, np.concatenate([r.codes[1:] for r in runs]),
                     np.concatenate([d.codes[1:] for d in dense]))  # MSE pooled over all videos
        speedup = dense_time / fast_time
        ideal = 1 / (1 - replay * share)
        print(f"{target:>7.2f}{replay:>8.1%}{all_rows:>9.1%}{agreement:>10.1%}{psnr:>9.1f}"
              f"{fast_time / len(videos):>7.2f}{speedup:>8.2f}x{ideal:>6.2f}x{(speedup - 1) / (ideal - 1):>9.0%}")


def _psnr(tokenizer, codes: np.ndarray, reference: np.ndarray) -> float:
    from models.quality import psnr

    return psnr(tokenizer.decode(codes), tokenizer.decode(reference))


if __name__ == "__main__":
    main()
