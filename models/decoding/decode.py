"""Decoding runs: generate a video token by token with FastCar and sparse attention, and
record every decision as a ReplayTrace.

Conditioning is a class token followed by the first frame (one prefill); the remaining
frames are generated one position per decode step with the KV cache. With classifier-free
guidance the batch holds a conditional row (the class token) and an unconditional row
(the null class token); both rows see the same codes and their logits are combined with
the CFG scale before sampling.

Decode step k feeds the code of video position F + k (F = tokens per frame) and predicts
position F + k + 1; its TAS and replay decisions are those of position F + k, whose
frame/row/col the trace records. Frame 1 is prefilled, so every decode step can replay;
a video of N frames takes (N - 1) * F - 1 decode steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from cosim.artifacts.replay_trace import ReplayTrace
from cosim.common.errors import UserError
from cosim.common.per_layer import per_layer
from models.config import ModelConfig
from models.decoding.fastcar import FastCarRun, FastCarSettings
from models.decoding.kv_budget import FlowCacheRun, KVBudget
from models.decoding.sampling import Sampling, make_pick
from models.decoding.sparse_attention import AttentionPolicy, AttentionRun, describe
from models.transformer import VideoTransformer

DEFAULT_CFG_SCALE = 3.0  # FACTS.md section 1 (the reference's CFG scale)


@dataclass
class DecodeResult:
    """Codes of the video and the per-step record of one decoding run.

    codes: int64 [frames, rows, cols] (or [..., D] with a depth transformer); frame 1 is
    the given first frame. trace: every decode step's TAS, replay decisions and KV
    entries, with the run's settings in its ``meta``. step_cpu_s [steps] holds the process
    CPU seconds of each decode step (a benchmark can take each step's fastest of several
    identical runs, which filters out bursts of other load better than the fastest whole
    run does).
    """

    codes: np.ndarray
    trace: ReplayTrace
    wall_time_s: float
    step_cpu_s: np.ndarray


def per_layer_thresholds(thresholds: str | float | Sequence[float] | None, num_layers: int) -> tuple[float, ...] | None:
    """A single value for every layer, or one value per layer; None means no FastCar."""
    return None if thresholds is None else per_layer(thresholds, num_layers, "thresholds")


@dataclass
class _Loop:
    """What the decode loop produced: the video's codes [positions, D] and its timings."""

    video: torch.Tensor
    wall_time_s: float
    step_cpu_s: np.ndarray


@torch.inference_mode()
def decode_video(
    model: VideoTransformer,
    first_frame_codes: np.ndarray | torch.Tensor,
    class_id: int,
    *,
    frames: int | None = None,
    thresholds: float | Sequence[float] | None = None,
    tas_form: str = "rope",
    row_policy: str = "each",
    adaptive_ratio: float | None = None,
    chunk_deltas: Sequence[Sequence[float]] | None = None,
    attention_policy: AttentionPolicy | None = None,
    kv_policy: KVBudget | None = None,
    cfg_scale: float | None = DEFAULT_CFG_SCALE,
    sampling: Sampling = Sampling(),
    seed: int = 0,
    teacher_codes: np.ndarray | torch.Tensor | None = None,
    progress: bool = False,
) -> DecodeResult:
    """Generate `frames` frames after `first_frame_codes` [rows, cols(, D)] for `class_id`.

    thresholds: None runs without FastCar (no TAS computed); a number or per-layer list
    enables it (``float("inf")`` records TAS but never replays). adaptive_ratio: re-set
    the thresholds every frame from the previous frame's TAS (see `FastCarSettings`);
    the thresholds given (+inf if None) then serve the first decoded frame only. chunk_deltas
    [layer][chunk]: replay by FlowCache's accumulated change per chunk of the frame
    (`models.decoding.chunk_replay`) instead of by TAS thresholds. kv_policy:
    a fixed budget of resident KV entries (`models.decoding.kv_budget`; None keeps every
    entry); it replaces sparse attention, so not both. cfg_scale None runs one
    row without guidance. teacher_codes [frames, rows, cols(, D)] feeds the given video
    instead of the sampled codes (predictions are still recorded in `codes`).
    """
    config = model.config
    frames = config.frames if frames is None else frames
    if frames < 2:
        raise UserError(None, "frames", "an integer >= 2 (frame 1 is the given first frame)", frames)
    depth = config.codes_per_position
    first = _as_codes(
        first_frame_codes, (config.frame_rows, config.frame_cols), depth, config.code_vocab, "first_frame_codes"
    )
    teacher = None
    if teacher_codes is not None:
        teacher = _as_codes(
            teacher_codes, (frames, config.frame_rows, config.frame_cols), depth, config.code_vocab, "teacher_codes"
        )
    device = model.embed_tokens.weight.device
    rows = 1 if cfg_scale is None else 2
    steps = (frames - 1) * config.tokens_per_frame - 1
    if (adaptive_ratio is not None or chunk_deltas is not None) and thresholds is None:
        thresholds = float("inf")
    layer_thresholds = per_layer_thresholds(thresholds, config.num_layers)
    fastcar = None
    if layer_thresholds is not None:
        settings = FastCarSettings(
            layer_thresholds,
            tas_form=tas_form,
            row_policy=row_policy,
            adaptive_ratio=adaptive_ratio,
            chunk_deltas=None if chunk_deltas is None else tuple(tuple(layer) for layer in chunk_deltas),
        )
        fastcar = FastCarRun(
            settings, config, rows, prefix_len=1, max_steps=steps, device=device, dtype=model.embed_tokens.weight.dtype
        )
    if attention_policy is not None and kv_policy is not None:
        raise UserError(None, "attention", "dense attention with a KV budget (the budget chooses the entries)", "both")
    attention: AttentionRun | FlowCacheRun | None = None
    if kv_policy is not None:
        attention = kv_policy.run(config, steps)
    elif attention_policy is not None:
        attention = AttentionRun(attention_policy, config.num_layers, steps)
    pick = make_pick(sampling, torch.Generator(device=device).manual_seed(seed), cfg_scale)
    loop = _decode_loop(model, class_id, rows, frames, first, teacher, fastcar, attention, pick, progress)

    meta = _meta(
        config,
        frames,
        rows,
        layer_thresholds,
        fastcar,
        attention_policy,
        kv_policy,
        tas_form=tas_form,
        row_policy=row_policy,
        adaptive_ratio=adaptive_ratio,
        seed=seed,
        class_id=class_id,
        cfg_scale=cfg_scale,
        sampling=sampling,
        teacher_forced=teacher is not None,
    )
    shape = (frames, config.frame_rows, config.frame_cols) + ((depth,) if depth > 1 else ())
    return DecodeResult(
        codes=loop.video.cpu().numpy().reshape(shape),
        trace=_trace(config, steps, rows, fastcar, attention, kv_policy is not None, meta),
        wall_time_s=loop.wall_time_s,
        step_cpu_s=loop.step_cpu_s,
    )


def _decode_loop(
    model: VideoTransformer,
    class_id: int,
    rows: int,
    frames: int,
    first: torch.Tensor,
    teacher: torch.Tensor | None,
    fastcar: FastCarRun | None,
    attention: AttentionRun | FlowCacheRun | None,
    pick: Callable[[torch.Tensor], torch.Tensor],
    progress: bool,
) -> _Loop:
    """Prefill the class token(s) and the first frame, then decode one position per step."""
    config = model.config
    per_frame, depth = config.tokens_per_frame, config.codes_per_position
    device = model.embed_tokens.weight.device
    prefix = [config.class_token(class_id)] + ([config.null_token] if rows == 2 else [])
    prefix_ids = torch.tensor(prefix, device=device).view(rows, 1)
    steps = (frames - 1) * per_frame - 1
    cache = model.new_cache(rows, 1 + frames * per_frame)
    video = torch.zeros(frames * per_frame, depth, dtype=torch.long, device=device)
    video[:per_frame] = first.reshape(per_frame, depth).to(device)
    forced = None if teacher is None else teacher.reshape(frames * per_frame, depth).to(device)

    started = time.perf_counter()
    embeds = torch.cat(
        (model.embed_tokens(prefix_ids), model.embed_codes(video[:per_frame].unsqueeze(0).expand(rows, -1, -1))), dim=1
    )
    hidden = model.prefill(embeds, cache, fastcar)
    codes = model.predict_codes(hidden[:, -1], pick)
    video[per_frame] = codes[0]
    step_cpu_s = []
    last = time.process_time()
    for k in tqdm(range(steps), desc="decode", unit="tok", disable=not progress, leave=False):
        if fastcar is not None:
            fastcar.step = k
        if attention is not None:
            attention.step = k
        feed = codes if forced is None else forced[per_frame + k].expand(rows, -1)
        codes = model.step(feed, cache, fastcar, attention, pick)
        video[per_frame + k + 1] = codes[0]
        now = time.process_time()
        step_cpu_s.append(now - last)
        last = now
    return _Loop(video, time.perf_counter() - started, np.array(step_cpu_s))


def _meta(
    config: ModelConfig,
    frames: int,
    rows: int,
    layer_thresholds: tuple[float, ...] | None,
    fastcar: FastCarRun | None,
    attention_policy: AttentionPolicy | None,
    kv_policy: KVBudget | None,
    *,
    tas_form: str,
    row_policy: str,
    adaptive_ratio: float | None,
    seed: int,
    class_id: int,
    cfg_scale: float | None,
    sampling: Sampling,
    teacher_forced: bool,
) -> dict[str, Any]:
    """The run's settings, as the trace's metadata."""
    return {
        "model": config.name,
        "num_layers": config.num_layers,
        "batch_rows": rows,
        "tokens_per_frame": config.tokens_per_frame,
        "frame_rows": config.frame_rows,
        "frame_cols": config.frame_cols,
        "frames": frames,
        "prompt_len": 1 + config.tokens_per_frame,
        "source": "decoded",
        "thresholds": list(layer_thresholds) if layer_thresholds is not None else None,
        "row_policy": row_policy,
        "adaptive_ratio": adaptive_ratio,
        "frame_thresholds": (
            {str(f): t for f, t in fastcar.frame_thresholds.items()}
            if fastcar is not None and adaptive_ratio is not None
            else None
        ),
        "tas_form": tas_form,
        "replay_rule": (
            {"rule": "accumulated", "chunk_deltas": [list(layer) for layer in fastcar.settings.chunk_deltas]}
            if fastcar is not None and fastcar.settings.chunk_deltas is not None
            else {"rule": "tas"}
        ),
        "attention": describe(attention_policy) if attention_policy else {"policy": "dense"},
        "kv_policy": kv_policy.describe() if kv_policy else {"policy": "full"},
        "seed": seed,
        "class_id": class_id,
        "cfg_scale": cfg_scale,
        "sampling": {"temperature": sampling.temperature, "top_k": sampling.top_k, "top_p": sampling.top_p},
        "teacher_forced": teacher_forced,
    }


def _trace(
    config: ModelConfig,
    steps: int,
    rows: int,
    fastcar: FastCarRun | None,
    attention: AttentionRun | FlowCacheRun | None,
    budgeted: bool,
    meta: dict[str, Any],
) -> ReplayTrace:
    """The run's ReplayTrace: decode step k records video position F + k (see the module docstring).

    With a KV budget every resident entry is read, so the entries kept are those attended.
    """
    per_frame = config.tokens_per_frame
    positions = np.arange(per_frame, per_frame + steps)
    kv_len = (1 + positions + 1).astype(np.int32)
    if fastcar is not None:
        tas, replay = fastcar.tas.cpu().numpy(), fastcar.replay.cpu().numpy()
    else:
        tas = np.full((steps, config.num_layers, rows), np.nan, dtype=np.float32)
        replay = np.zeros((steps, config.num_layers, rows), dtype=bool)
    if attention is not None:
        kv_attended = attention.attended.numpy()
    else:
        kv_attended = np.repeat(kv_len[:, None], config.num_layers, axis=1)
    return ReplayTrace(
        tas=tas.astype(np.float32),
        replay=replay,
        frame=(positions // per_frame).astype(np.int32),
        row=((positions % per_frame) // config.frame_cols).astype(np.int32),
        col=(positions % config.frame_cols).astype(np.int32),
        kv_len=kv_len,
        kv_attended=kv_attended.astype(np.int32),
        kv_kept=kv_attended if budgeted else np.repeat(kv_len[:, None], config.num_layers, axis=1),
        meta=meta,
    )


def _as_codes(codes, lead_shape: tuple[int, ...], depth: int, vocab: int, key: str) -> torch.Tensor:
    """Check a code array's shape and range; return it as long [*lead_shape, depth]."""
    tensor = torch.as_tensor(codes).long()
    expected = lead_shape + ((depth,) if depth > 1 else ())
    if tuple(tensor.shape) != expected:
        raise UserError(None, key, f"codes of shape {expected}", tuple(tensor.shape))
    if tensor.numel() and (int(tensor.min()) < 0 or int(tensor.max()) >= vocab):
        raise UserError(
            None, key, f"codes in [0, {vocab})", f"{int(tensor.min())}..{int(tensor.max())}", found_is_text=True
        )
    return tensor.reshape(*lead_shape, depth)
