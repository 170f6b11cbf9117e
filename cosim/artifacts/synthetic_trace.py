"""Synthetic replay traces for design sweeps where no decoding run exists.

Decisions are drawn per layer at a given rate, either independently or as a two-state
Markov chain over frames at each spatial position (``correlation`` = probability that a
position repeats its previous-frame decision instead of drawing afresh), which keeps the
per-layer rate while giving the temporal structure real runs show. Traces are marked
``source: synthetic`` so no report can pass them off as decoded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cosim.artifacts.replay_trace import ReplayTrace
from cosim.common.errors import UserError

# Decisions (steps x layers x rows) of one trace: its arrays take about 20 bytes each in memory.
MAX_DECISIONS = 50_000_000


def synthetic_trace(
    *,
    num_layers: int,
    layer_rates: float | Sequence[float],
    frames: int = 8,
    frame_rows: int = 16,
    frame_cols: int = 16,
    batch_rows: int = 2,
    conditioning_frames: int = 1,
    correlation: float = 0.0,
    rows_agree: bool = True,
    seed: int = 0,
    model: str = "synthetic",
) -> ReplayTrace:
    """A trace of every position of frames ``conditioning_frames .. frames-1``.

    The prompt is one class token plus the conditioning frames; the token processed at
    step s sits at sequence index ``prompt_len + s``. The first generated frame replays
    only if a previous frame exists (always true when ``conditioning_frames >= 1``).
    """
    rates = np.broadcast_to(np.asarray(layer_rates, dtype=float), (num_layers,)).copy()
    if ((rates < 0) | (rates > 1)).any():
        raise UserError(None, "layer_rates", "rates in [0, 1]", rates.tolist())
    if not 0.0 <= correlation <= 1.0:
        raise UserError(None, "correlation", "a value in [0, 1]", correlation)
    if not 0 <= conditioning_frames < frames:
        raise UserError(None, "conditioning_frames", f"an integer in [0, {frames - 1}]", conditioning_frames)
    tokens_per_frame = frame_rows * frame_cols
    generated = frames - conditioning_frames
    decisions_wanted = generated * tokens_per_frame * num_layers * batch_rows
    if decisions_wanted > MAX_DECISIONS:
        raise UserError(
            None,
            "trace size",
            f"at most {MAX_DECISIONS} decisions (steps x layers x rows; fewer frames, layers or rows)",
            f"{generated * tokens_per_frame} steps x {num_layers} x {batch_rows} = {decisions_wanted}",
            found_is_text=True,
        )
    rng = np.random.default_rng(seed)
    draw_rows = 1 if rows_agree else batch_rows
    fresh = rng.random((generated, tokens_per_frame, num_layers, draw_rows)) < rates[None, None, :, None]
    keep = rng.random((generated, tokens_per_frame, num_layers, draw_rows)) < correlation
    decisions = np.empty_like(fresh)
    previous = np.zeros(fresh.shape[1:], dtype=bool)
    for f in range(generated):
        decisions[f] = np.where(keep[f], previous, fresh[f]) if f else fresh[f]
        previous = decisions[f]
    if conditioning_frames == 0:
        decisions[0] = False
    replay = np.broadcast_to(decisions, (*decisions.shape[:3], batch_rows)).reshape(-1, num_layers, batch_rows)
    steps = replay.shape[0]
    prompt_len = 1 + conditioning_frames * tokens_per_frame
    video_pos = conditioning_frames * tokens_per_frame + np.arange(steps)
    kv_len = prompt_len + np.arange(steps) + 1
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
            "batch_rows": batch_rows,
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
        },
    )
