"""Benchmark: what the shipped toy model gets right where the video changes.

Nine codes in ten repeat the previous frame, so overall accuracy hides whether the model
moves anything. This prints, on held-out videos of the shipped checkpoint:

- teacher forced (the true video fed in): accuracy on codes equal to the same position
  one frame earlier and on codes that changed;
- decoding on its own from frame 1 (greedy, CFG, the settings of `cosim decode`): of the
  codes that changed in the true video, accuracy where the true frame shows a sprite and
  where it shows background that a sprite uncovered (sprite = any visible sprite pixel in
  the 4 x 4 patch).

    .venv/bin/python benchmarks/toy_motion.py [--teacher-videos 16] [--free-videos 4]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from models.decoding.decode import decode_video
from models.toyworld.train import (
    HELDOUT_START,
    class_tokens,
    held_out_video,
    load_toy_checkpoint,
    sequences,
    tokenise_videos,
)
from models.toyworld.world import ToyWorldConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher-videos", type=int, default=16)
    parser.add_argument("--free-videos", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, tokenizer, metadata = load_toy_checkpoint()
    config = model.config
    world = ToyWorldConfig(**metadata["toyworld"])
    seed = int(metadata["seed"])

    codes, labels = tokenise_videos(tokenizer, args.teacher_videos, seed, world, HELDOUT_START)
    with torch.no_grad():
        logits = model(sequences(codes, class_tokens(config, labels))[:, :-1])
    predicted = logits[..., : config.codebook_size].argmax(-1).view(codes.shape).numpy()
    changed = codes[:, 1:] != codes[:, :-1]
    hits = predicted[:, 1:] == codes[:, 1:]
    print(
        f"teacher forced, {args.teacher_videos} held-out videos, frames 2-{codes.shape[1]}: "
        f"unchanged codes {hits[~changed].mean():.3f} right ({(~changed).sum()}), "
        f"changed codes {hits[changed].mean():.3f} right ({changed.sum()})"
    )

    patch = tokenizer.patch_px
    right = {"sprite": 0, "uncovered background": 0}
    total = dict.fromkeys(right, 0)
    for index in range(args.free_videos):
        video = held_out_video(seed, index, world)
        truth = tokenizer.encode(video.frames)  # [F, rows, cols]
        decoded = decode_video(model, truth[0], int(video.label)).codes
        frames, height, width = video.visible_masks.shape[0], *video.visible_masks.shape[2:]
        sprite = video.visible_masks.any(axis=1).reshape(frames, height // patch, patch, width // patch, patch)
        sprite = np.any(sprite, axis=(2, 4))[1:]
        moved = truth[1:] != truth[:-1]
        correct = decoded[1:] == truth[1:]
        for name, where in (("sprite", moved & sprite), ("uncovered background", moved & ~sprite)):
            right[name] += int(correct[where].sum())
            total[name] += int(where.sum())
    print(
        f"decoding on its own, {args.free_videos} held-out videos, changed codes: "
        + ", ".join(f"{name} {right[name] / max(total[name], 1):.3f} right ({total[name]})" for name in right)
    )


if __name__ == "__main__":
    main()
