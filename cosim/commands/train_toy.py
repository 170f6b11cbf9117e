"""`cosim train-toy`: train the tiny toy-world video model and write its checkpoint.

The shipped checkpoint (models/toyworld/checkpoints/toyworld.pt) was made by this command; its
metadata records the exact command line, so `cosim train-toy` with those options
reproduces it (same machine and thread count).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields

from models.toyworld.train_config import TrainConfig  # torch-free: the defaults show in --help

NAME = "train-toy"
HELP = "train the tiny AR video model on procedurally generated toy videos and write its checkpoint"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    for item in fields(TrainConfig):
        value = getattr(defaults, item.name)
        parser.add_argument(
            f"--{item.name.replace('_', '-')}",
            dest=item.name,
            default=value,
            type=_boolean if isinstance(value, bool) else type(value),
            metavar=type(value).__name__.upper(),
            help=f"(default: {value})",
        )
    parser.add_argument(
        "--out",
        default=None,
        help="checkpoint to write (default: models/toyworld/checkpoints/toyworld.pt in the package)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _boolean(text: str) -> bool:
    """True/False as the checkpoint's recorded command writes them (any case)."""
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected True or False, found {text!r}")
    return text.lower() == "true"


def run(args: argparse.Namespace) -> int:
    from models.toyworld.train import DEFAULT_CHECKPOINT, save_toy_checkpoint, train_toy_model

    train = TrainConfig(**{item.name: getattr(args, item.name) for item in fields(TrainConfig)})
    out = args.out or DEFAULT_CHECKPOINT
    print(f"cosim train-toy: {train.command()}", file=sys.stderr)
    model, tokenizer, metadata = train_toy_model(train, progress=not args.no_progress, out=args.out)
    path = save_toy_checkpoint(out, model, tokenizer, metadata)
    heldout = metadata["heldout"]
    summary = {
        key: heldout[key]
        for key in ("loss", "loss_null_class", "accuracy", "model_accuracy_frames_2_on", "copy_accuracy_frames_2_on")
    }
    summary["accuracy_per_frame"] = [round(v, 4) for v in heldout["accuracy_per_frame"]]
    summary["loss_per_frame"] = [round(v, 4) for v in heldout["loss_per_frame"]]
    summary["loss_null_class_per_frame"] = [round(v, 4) for v in heldout["loss_null_class_per_frame"]]
    summary["free_running"] = {
        key: (round(value, 4) if isinstance(value, float) else value)
        for key, value in metadata["free_running"].items()
        if key != "psnr_per_frame_db"
    }
    summary["tokenizer_psnr_db"] = round(metadata["tokenizer_heldout_psnr_db"], 2)
    summary["train_seconds"] = round(metadata["train_seconds"], 1)
    print(json.dumps({"checkpoint": str(path), "heldout": summary}, indent=2))
    return 0
