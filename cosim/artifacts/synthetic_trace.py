"""Synthetic replay traces for design sweeps where no decoding run exists.

Decisions are drawn per layer at a given rate, either independently or as a two-state
Markov chain over frames at each spatial position (``correlation`` = probability that a
position repeats its previous-frame decision instead of drawing afresh), which keeps the
per-layer rate while giving the temporal structure real runs show. Traces are marked
``source: synthetic`` so no report can pass them off as decoded. With ``videos`` N and
``tokens_per_step`` K, each video draws its own decisions and a step holds K tokens of a frame
of every video (rows ordered as `cosim.artifacts.lockstep` says).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cosim.artifacts.lockstep import group_tokens
from cosim.artifacts.replay_trace import ReplayTrace
from cosim.common.errors import UserError

# Decisions (steps x layers x rows) of one trace: its arrays take about 20 bytes each in memory.
MAX_DECISIONS = 50_000_000
FRAME_SIDE = 16  # tokens per frame row and column by default (VILA-U's 16 x 16 latent frame)


def synthetic_trace(
    *,
    num_layers: int,
    layer_rates: float | Sequence[float],
    frames: int = 8,
    frame_rows: int = FRAME_SIDE,
    frame_cols: int = FRAME_SIDE,
    batch_rows: int = 2,
    conditioning_frames: int = 1,
    correlation: float = 0.0,
    rows_agree: bool = True,
    seed: int = 0,
    model: str = "synthetic",
    videos: int = 1,
    tokens_per_step: int = 1,
) -> ReplayTrace:
    """A trace of every position of frames ``conditioning_frames .. frames-1``.

    The prompt is one class token plus the conditioning frames; the first token processed at
    step s sits at sequence index ``prompt_len + s x tokens_per_step``. The first generated
    frame replays only if a previous frame exists (always true when ``conditioning_frames >= 1``).
    `batch_rows` are the rows of one token of one video (2 with CFG); `rows_agree` applies to them.
    """
    rates = np.broadcast_to(np.asarray(layer_rates, dtype=float), (num_layers,)).copy()
    if ((rates < 0) | (rates > 1)).any():
        raise UserError(None, "layer_rates", "rates in [0, 1]", rates.tolist())
    if not 0.0 <= correlation <= 1.0:
        raise UserError(None, "correlation", "a value in [0, 1]", correlation)
    if not 0 <= conditioning_frames < frames:
        raise UserError(None, "conditioning_frames", f"an integer in [0, {frames - 1}]", conditioning_frames)
    tokens_per_frame = frame_rows * frame_cols
    if videos < 1:
        raise UserError(None, "videos", "an integer >= 1", videos)
    if tokens_per_step < 1 or tokens_per_frame % tokens_per_step:
        raise UserError(
            None, "tokens_per_step", f"a divisor of the {tokens_per_frame} tokens of a frame", tokens_per_step
        )
    generated = frames - conditioning_frames
    decisions_wanted = generated * tokens_per_frame * num_layers * batch_rows * videos
    if decisions_wanted > MAX_DECISIONS:
        raise UserError(
            None,
            "trace size",
            f"at most {MAX_DECISIONS} decisions (tokens x layers x rows x videos; fewer of one of them)",
            f"{generated * tokens_per_frame} tokens x {num_layers} x {batch_rows} x {videos} = {decisions_wanted}",
            found_is_text=True,
        )
    rng = np.random.default_rng(seed)
    draw_rows = videos * (1 if rows_agree else batch_rows)  # columns: video-major
    fresh = rng.random((generated, tokens_per_frame, num_layers, draw_rows)) < rates[None, None, :, None]
    keep = rng.random((generated, tokens_per_frame, num_layers, draw_rows)) < correlation
    decisions = np.empty_like(fresh)
    previous = np.zeros(fresh.shape[1:], dtype=bool)
    for f in range(generated):
        decisions[f] = np.where(keep[f], previous, fresh[f]) if f else fresh[f]
        previous = decisions[f]
    if conditioning_frames == 0:
        decisions[0] = False
    per_video = decisions.reshape(*decisions.shape[:3], videos, draw_rows // videos)
    per_token = np.broadcast_to(per_video, (*per_video.shape[:4], batch_rows)).reshape(
        -1, num_layers, videos, batch_rows
    )
    replay = group_tokens(per_token, tokens_per_step)
    steps = replay.shape[0]
    prompt_len = 1 + conditioning_frames * tokens_per_frame
    video_pos = conditioning_frames * tokens_per_frame + np.arange(steps) * tokens_per_step
    kv_len = prompt_len + (np.arange(steps) + 1) * tokens_per_step
    lockstep = {"videos": videos, "tokens_per_step": tokens_per_step} if videos * tokens_per_step > 1 else {}
    return ReplayTrace(
        tas=np.full(replay.shape, np.nan, dtype=np.float32),
        replay=replay,
        frame=video_pos // tokens_per_frame,
        row=(video_pos % tokens_per_frame) // frame_cols,
        col=video_pos % frame_cols,
        kv_len=kv_len,
        kv_attended=np.repeat(kv_len[:, None], num_layers, axis=1),
        meta={
            "model": model,
            "num_layers": num_layers,
            "batch_rows": batch_rows * videos * tokens_per_step,
            "tokens_per_frame": tokens_per_frame,
            "frame_rows": frame_rows,
            "frame_cols": frame_cols,
            "frames": frames,
            "prompt_len": prompt_len,
            "source": "synthetic",
            "thresholds": None,
            "row_policy": "all" if rows_agree else "each",
            "attention": {"policy": "dense"},
            "seed": seed,
            "synthetic": {"layer_rates": rates.tolist(), "correlation": correlation},
            "mapped_from": None,
            **lockstep,
        },
    )
