"""Benchmark: what a `cosim train-toy` run spends its time on, on this CPU.

Prints the time to generate and to tokenise toy-world videos, and the time of one
training step of the `toyworld` preset for the two kinds of step of the default recipe
(window steps: 8 x 3-frame windows; whole-video steps: 4 x 8 frames), at 1 and 2 threads,
and from those the training time the default recipe predicts.

    .venv/bin/python benchmarks/train_toy.py [--videos 1000] [--repeats 10]

Step times are the median of `repeats` steps after 3 warm-up steps, on random codes (a
step's cost does not depend on the values). Run it with the machine otherwise idle.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from models.config import get_preset
from models.toyworld.tokenizer import fit_tokenizer
from models.toyworld.train import optimizer_for, train_step
from models.toyworld.train_config import TrainConfig
from models.toyworld.world import generate_videos
from models.transformer import VideoTransformer


def step_seconds(batch: int, frames: int, threads: int, repeats: int, train: TrainConfig) -> float:
    """Median seconds of one training step (forward under the recipe's autocast, backward, AdamW)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = get_preset("toyworld")
    model = VideoTransformer(config).train()
    optimizer = optimizer_for(model, train)
    tokens = torch.randint(0, config.codebook_size, (batch, 1 + frames * config.tokens_per_frame))
    times = []
    for index in range(3 + repeats):
        started = time.perf_counter()
        train_step(model, optimizer, tokens, None, train)
        if index >= 3:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=1000, help="videos to generate and tokenise")
    parser.add_argument("--repeats", type=int, default=10, help="timed training steps per setting")
    args = parser.parse_args()
    train = TrainConfig()

    started = time.perf_counter()
    frames, _ = generate_videos(args.videos, train.seed)
    generate_s = time.perf_counter() - started
    tokenizer = fit_tokenizer(frames[: train.tokenizer_videos], num_codes=256, patch_px=4, seed=train.seed)
    started = time.perf_counter()
    tokenizer.encode(frames)
    encode_s = time.perf_counter() - started
    print(
        f"toy world: {args.videos} videos of {frames.shape[1]} frames generated in {generate_s:.2f} s, "
        f"tokenised in {encode_s:.2f} s (1 process)"
    )

    window_steps = train.steps - train.full_sequence_steps
    print(f"{'threads':>7}{'window step':>13}{'whole-video step':>18}{'recipe (training only)':>24}")
    for threads in (1, 2):
        window = step_seconds(train.batch_size, train.window_frames, threads, args.repeats, train)
        whole = step_seconds(train.full_sequence_batch_size, frames.shape[1], threads, args.repeats, train)
        total = window_steps * window + train.full_sequence_steps * whole
        print(
            f"{threads:>7}{window:>12.3f}s{whole:>17.3f}s{total / 60:>19.1f} min"
            f"  ({window_steps} x window + {train.full_sequence_steps} x whole)"
        )


if __name__ == "__main__":
    main()
