"""Batched and multi-token decode: a one-token trace of one video mapped onto lockstep steps.

A step of a lockstep trace decodes K tokens of a frame (``tokens_per_step``) of each of N videos
(``videos``); its rows are ordered video, token, CFG row (`ReplayTrace` docstring). A decoding
run of this project writes one token of one video per step; `in_lockstep` maps it:

- **K tokens per step**: K consecutive tokens of a frame form one step, each keeping its own
  decisions and TAS (rows ``t x C .. t x C + C - 1`` for the t-th token); the step sits at its
  first token's position and its ``kv_len`` is the last token's (all K entries appended). The
  K tokens share their sequence's KV stream, which must cover what each token attended: the
  step attends ``min(kv_len, max_t(kv_attended_t + kv_len - kv_len_t))`` entries (the full
  cache under dense attention; the union of the K windows under a sliding window).
- **N videos**: a real run decodes one video, so video v takes the same run's decisions at the
  same frame with its positions rotated by ``v x tokens_per_frame / N`` (each row decides on
  its own; per-layer rates and frame-to-frame correlation stay those of the run). Its KV
  lengths are the run's (lockstep videos are at the same position).
"""

from __future__ import annotations

import numpy as np

from cosim.artifacts.replay_trace import ReplayTrace
from cosim.common.errors import UserError


def group_tokens(per_token: np.ndarray, tokens_per_step: int) -> np.ndarray:
    """(T, L, N, C) decisions of T tokens of N videos -> (T / K, L, N x K x C) rows of K-token steps."""
    t, layers, videos, cfg = per_token.shape
    k = tokens_per_step
    grouped = per_token.reshape(t // k, k, layers, videos, cfg).transpose(0, 2, 3, 1, 4)
    return grouped.reshape(t // k, layers, videos * k * cfg)


def in_lockstep(trace: ReplayTrace, *, videos: int = 1, tokens_per_step: int = 1) -> ReplayTrace:
    """`trace` (one token of one video per step) as steps of `tokens_per_step` tokens of `videos` videos."""
    if videos == 1 and tokens_per_step == 1:
        return trace
    if trace.videos != 1 or trace.tokens_per_step != 1:
        raise UserError(
            None,
            "trace.meta.tokens_per_step",
            "a trace of one token of one video per step (to map onto lockstep steps)",
            f"{trace.videos} videos x {trace.tokens_per_step} tokens per step",
            found_is_text=True,
        )
    tokens = int(trace.meta["tokens_per_frame"])
    if tokens % tokens_per_step:
        raise UserError(None, "tokens_per_step", f"a divisor of the {tokens} tokens of a frame", tokens_per_step)
    position = trace.frame.astype(np.int64) * tokens + trace.row * int(trace.meta["frame_cols"]) + trace.col
    whole_frames = trace.num_steps % tokens == 0 and bool((position == position[0] + np.arange(trace.num_steps)).all())
    if not whole_frames or position[0] % tokens:
        raise UserError(
            None,
            "trace steps",
            "consecutive tokens of whole frames (as a decoding run writes them)",
            f"{trace.num_steps} steps from position {int(position[0])}",
            found_is_text=True,
        )
    steps = np.arange(trace.num_steps)
    start_of_frame = steps - steps % tokens
    source = np.stack([start_of_frame + (steps + v * tokens // videos) % tokens for v in range(videos)], axis=1)
    replay = trace.replay[source].transpose(0, 2, 1, 3)  # (S, L, N, C)
    tas = trace.tas[source].transpose(0, 2, 1, 3)
    first, last = steps[::tokens_per_step], steps[tokens_per_step - 1 :: tokens_per_step]
    kv_len = trace.kv_len[last]
    behind = (kv_len[:, None] - trace.kv_len.reshape(-1, tokens_per_step))[:, None, :]  # (S/K, 1, K)
    attended = trace.kv_attended.reshape(-1, tokens_per_step, trace.num_layers).transpose(0, 2, 1) + behind
    meta = dict(
        trace.meta,
        videos=videos,
        tokens_per_step=tokens_per_step,
        batch_rows=trace.batch_rows * videos * tokens_per_step,
    )
    return ReplayTrace(
        tas=group_tokens(tas, tokens_per_step),
        replay=group_tokens(replay, tokens_per_step),
        frame=trace.frame[first],
        row=trace.row[first],
        col=trace.col[first],
        kv_len=kv_len,
        kv_attended=np.minimum(attended.max(axis=2), kv_len[:, None]),
        meta=meta,
    )
