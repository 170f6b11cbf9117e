"""Range checks of command-line numbers, run before any work (docs/limits.md lists the limits).

argparse converts ``nan`` and ``1e400`` to floats without complaint and takes any integer;
commands check their numbers here first, so a bad value fails in one line at once instead
of after minutes of decoding or with a MemoryError.
"""

from __future__ import annotations

import argparse
import math

from cosim.common.errors import UserError

# Frames one video may have: decoding cost and trace size grow with it.
MAX_FRAMES = 1024
# Decoder layers of a synthetic trace (the largest presets have under 100).
MAX_LAYERS = 1024
# Batch rows of a synthetic trace.
MAX_BATCH_ROWS = 64
# Videos decoded in lockstep (batched decode).
MAX_VIDEOS = 256
# KV entries a traced or summarised step attends to (16 M; the largest presets use a few thousand).
MAX_KV_LEN = 2**24


def check_int(option: str, value: int | None, low: int, high: int | None = None) -> None:
    """`value` (None: not given) is an integer in [low, high] (high None: no upper bound)."""
    if value is None:
        return
    if value < low or (high is not None and value > high):
        expected = f"an integer in [{low}, {high}]" if high is not None else f"an integer >= {low}"
        raise UserError(None, option, expected, value)


def check_float(option: str, value: float | None, low: float | None = None, high: float | None = None) -> None:
    """`value` (None: not given) is finite and within the given bounds."""
    if value is None:
        return
    if low is not None and high is not None:
        expected = f"a finite number in [{low:g}, {high:g}]"
    elif low is not None:
        expected = f"a finite number >= {low:g}"
    else:
        expected = "a finite number"
    if not math.isfinite(value) or (low is not None and value < low) or (high is not None and value > high):
        raise UserError(None, option, expected, value)


def check_lockstep(videos: int, tokens_per_step: int, *, tokens_per_frame: int | None = None) -> None:
    """``--videos`` and ``--tokens-per-step`` are in range; the tokens of a step divide a frame (when known)."""
    check_int("--videos", videos, 1, MAX_VIDEOS)
    check_int("--tokens-per-step", tokens_per_step, 1, tokens_per_frame)
    if tokens_per_frame is not None and tokens_per_frame % tokens_per_step:
        raise UserError(
            None, "--tokens-per-step", f"a divisor of the {tokens_per_frame} tokens of a frame", tokens_per_step
        )


def add_lockstep_arguments(parser: argparse.ArgumentParser) -> None:
    """``--videos`` and ``--tokens-per-step`` of the commands that simulate (docs/formats.md: how a trace maps)."""
    parser.add_argument(
        "--videos",
        type=int,
        default=1,
        help="videos decoded in lockstep, each with its own decisions (default: 1)",
    )
    parser.add_argument(
        "--tokens-per-step",
        type=int,
        default=1,
        help="tokens of a frame decoded in one step, each with its own decision (default: 1)",
    )
