"""The settings of a toy-model training run, kept free of torch so that the `cosim`
command line can show them (and their defaults) without importing torch."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from cosim.common.errors import UserError


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (recorded in the checkpoint)."""

    seed: int = 0
    steps: int = 1700
    batch_size: int = 8
    window_frames: int = 3
    full_sequence_steps: int = 140
    full_sequence_batch_size: int = 4
    learning_rate: float = 3e-3
    min_learning_rate: float = 3e-4
    warmup_steps: int = 50
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    class_dropout: float = 0.1
    changed_code_weight: float = 6.0
    self_context_fraction: float = 0.0  # windows whose next-to-last frame is the model's own (scheduled sampling)
    bf16_autocast: bool = False  # 5-9x slower than fp32 on CPUs without AVX512-BF16 (docs/toyworld.md)
    train_videos: int = 4000
    heldout_videos: int = 64
    tokenizer_videos: int = 300
    threads: int = 1

    def __post_init__(self) -> None:
        positive = (
            "steps",
            "batch_size",
            "window_frames",
            "full_sequence_batch_size",
            "train_videos",
            "heldout_videos",
            "tokenizer_videos",
            "threads",
        )
        for key in positive:
            if getattr(self, key) < 1:
                raise UserError(None, key, "an integer >= 1", getattr(self, key))
        if not 0 <= self.full_sequence_steps <= self.steps:
            raise UserError(
                None, "full_sequence_steps", f"an integer in [0, steps = {self.steps}]", self.full_sequence_steps
            )
        for key in ("warmup_steps", "weight_decay"):
            if getattr(self, key) < 0:
                raise UserError(None, key, "a value >= 0", getattr(self, key))
        if not self.grad_clip > 0:
            raise UserError(None, "grad_clip", "a value > 0", self.grad_clip)
        if not self.changed_code_weight > 0:
            raise UserError(None, "changed_code_weight", "a value > 0", self.changed_code_weight)
        if not 0.0 <= self.self_context_fraction <= 1.0:
            raise UserError(None, "self_context_fraction", "a fraction in [0, 1]", self.self_context_fraction)
        if self.self_context_fraction > 0 and self.window_frames < 3:
            raise UserError(
                None,
                "window_frames",
                "at least 3 when self_context_fraction > 0 (a frame to predict from)",
                self.window_frames,
            )
        if not 0.0 <= self.class_dropout < 1.0:
            raise UserError(None, "class_dropout", "a fraction in [0, 1)", self.class_dropout)
        if not self.learning_rate > 0.0 or not 0.0 <= self.min_learning_rate <= self.learning_rate:
            raise UserError(
                None,
                "learning_rate",
                "0 < min_learning_rate <= learning_rate",
                (self.min_learning_rate, self.learning_rate),
            )

    def command(self, out: str | Path | None = None) -> str:
        """The `cosim train-toy` command line that reproduces this run."""
        parts = ["cosim train-toy"]
        for item in fields(self):
            parts.append(f"--{item.name.replace('_', '-')} {getattr(self, item.name)}")
        if out is not None:
            parts.append(f"--out {out}")
        return " ".join(parts)
