"""Decoding runs on held-out toy videos, set up the one way that `cosim run`, `cosim decode`
and the sweep's decode workloads share.

A `DecodeSession` is a model ready to decode plus what starting a run needs: the toy
world's tokenizer and world config, and the seed of its held-out videos. Held-out video
`index` gives a start (first frame, class, true frames); FastCar's thresholds are
calibrated on the held-out videos from `CALIBRATION_VIDEO_OFFSET` on, far from the
decoded ones. Weights without a toy world (random, safetensors) start from random codes.
Every run of a start is `decode_video` with the same seed, so a FastCar, a dense and a
sparse-attention run differ only in the knobs given.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cosim.common.errors import UserError
from models.decoding import quality
from models.decoding.calibrate import Calibration, Start, calibrate_ratio
from models.decoding.decode import DecodeResult, decode_video
from models.decoding.quality import QualityReport
from models.toyworld.tokenizer import PatchTokenizer
from models.toyworld.train import DEFAULT_CHECKPOINT, held_out_video, load_toy_checkpoint
from models.toyworld.world import ToyWorldConfig
from models.transformer import VideoTransformer

CALIBRATION_VIDEO_OFFSET = 1000  # calibration starts: held-out videos far from the decoded ones
GENERATED = slice(1, None)  # the decoded frames: frame 1 is the given first frame


@dataclass(frozen=True)
class RunQuality:
    """A run's codes against a dense run of the same start and against the true frames
    (None where there is no reference or no tokenizer to turn codes into pixels)."""

    versus_dense: QualityReport | None
    versus_truth: QualityReport | None


@dataclass(frozen=True)
class DecodeSession:
    """A model to decode with and where its runs start (see the module docstring)."""

    model: VideoTransformer
    tokenizer: PatchTokenizer | None = None
    world: ToyWorldConfig | None = None
    video_seed: int = 0
    source: str = "random weights"  # how the weights were obtained, for messages
    checkpoint: Path | None = None

    def start(self, index: int, frames: int, seed: int = 0, teacher_forced: bool = False) -> Start:
        """The start of held-out toy video `index`, simulated for `frames` frames if that is
        longer than the world's videos; without a toy world, random codes drawn from
        (`seed`, `index`) and class `index` modulo the classes. `teacher_forced`: runs of
        the start feed the tokenised true video (needs a toy world)."""
        config = self.model.config
        if self.tokenizer is None or self.world is None:
            rng = np.random.default_rng([seed, index])
            first = rng.integers(
                0,
                config.code_vocab,
                (config.frame_rows, config.frame_cols)
                + ((config.codes_per_position,) if config.codes_per_position > 1 else ()),
            )
            if teacher_forced:
                raise UserError(None, "--teacher-forced", "a toy-world checkpoint (it has true videos)", self.source)
            return Start(first, index % max(config.num_classes, 1))
        video = held_out_video(self.video_seed, index, self.world, frames)
        true_frames = video.frames[:frames]
        codes = self.tokenizer.encode(true_frames)
        return Start(codes[0], int(video.label), true_frames, codes if teacher_forced else None)

    def calibration_starts(self, videos: int, frames: int, seed: int = 0, teacher_forced: bool = False) -> list[Start]:
        return [self.start(CALIBRATION_VIDEO_OFFSET + i, frames, seed, teacher_forced) for i in range(videos)]

    def calibrate_to_ratio(
        self,
        target: float,
        videos: int,
        *,
        rounds: int,
        frames: int,
        seed: int = 0,
        teacher_forced: bool = False,
        **decode_kwargs: Any,
    ) -> Calibration:
        """Per-layer thresholds replaying a fraction `target` on `videos` calibration starts
        (`calibrate_ratio`), teacher forced or not like the run they serve; `decode_kwargs`
        as for `decode`."""
        starts = self.calibration_starts(videos, frames, seed, teacher_forced)
        return calibrate_ratio(self.model, starts, target, rounds=rounds, frames=frames, seed=seed, **decode_kwargs)

    def decode(self, start: Start, **decode_kwargs: Any) -> DecodeResult:
        """One run from `start` (teacher forced if it has teacher codes); `decode_kwargs` go to
        `decode_video` (frames, thresholds, adaptive_ratio, attention_policy, seed, ...)."""
        return decode_video(
            self.model, start.first_frame_codes, start.class_id, teacher_codes=start.teacher_codes, **decode_kwargs
        )

    def decode_dense(self, start: Start, **decode_kwargs: Any) -> DecodeResult:
        """The quality reference of a run with `decode_kwargs`: no FastCar, dense attention, every KV entry."""
        dense = dict(decode_kwargs, thresholds=None, adaptive_ratio=None, attention_policy=None, kv_policy=None)
        return self.decode(start, **dense)

    def quality(self, run: DecodeResult, dense: DecodeResult | None, start: Start) -> RunQuality:
        """PSNR and token agreement of the decoded frames against `dense` and the true frames."""
        if self.tokenizer is None:
            return RunQuality(None, None)
        versus_dense = (
            None
            if dense is None
            else quality.compare_runs(run.codes[GENERATED], dense.codes[GENERATED], self.tokenizer)
        )
        versus_truth = None
        if start.true_frames is not None:
            versus_truth = quality.compare_to_ground_truth(
                run.codes[GENERATED], start.true_frames[GENERATED], self.tokenizer
            )
        return RunQuality(versus_dense, versus_truth)


def toy_session(checkpoint: str | Path | None = None) -> DecodeSession:
    """A session on a `cosim train-toy` checkpoint (default: the shipped one)."""
    path = Path(checkpoint) if checkpoint is not None else DEFAULT_CHECKPOINT
    model, tokenizer, metadata = load_toy_checkpoint(path)
    world = ToyWorldConfig(**metadata["toyworld"]) if "toyworld" in metadata else ToyWorldConfig()
    return DecodeSession(model, tokenizer, world, int(metadata.get("seed", 0)), f"checkpoint {path}", path)


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run with `threads` torch CPU threads, then restore the count. Small decodes run many
    times slower with more threads on a busy machine, so the commands default to one."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
