"""Automatic per-layer FastCar thresholds, instead of the reference's hand-tuned ones.

Two targets:
  * a replay ratio: per layer, the threshold is the (1 - r) quantile of the TAS values
    seen on a few calibration videos, so a fraction r of them lies strictly above it.
    Replay changes the hidden states that later layers (and later tokens) see, so after
    the dense round the quantiles are re-taken from runs that replay with the current
    thresholds: a fixed-point iteration that converges in a couple of rounds.
  * a replay ratio under FlowCache's chunkwise rule (`models.decoding.chunk_replay`):
    the same fixed-point iteration on the accumulated-change values, one threshold per
    layer and chunk of the frame, so every chunk replays the target fraction.
  * the same replay ratio as another rule: `match_chunk_ratio` scales the chunkwise
    thresholds by one factor, searched until the runs replay that ratio.
  * a quality budget: the largest global ratio whose decoded videos still agree with the
    dense decode (same start, same seed) on at least the given fraction of tokens,
    found by bisection over the ratio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cosim.common.errors import UserError
from cosim.common.per_layer import per_layer
from models.decoding.chunk_replay import chunk_of_slots
from models.decoding.decode import DecodeResult, decode_video
from models.decoding.fastcar import threshold_for_ratio
from models.transformer import VideoTransformer


@dataclass(frozen=True)
class Start:
    """Where a run begins: the first frame's codes and the class (and, for a held-out toy
    video, its true frames, frame 1 included, for quality against the truth). With
    teacher_codes [frames, rows, cols], every run of the start is teacher forced: it feeds
    those codes instead of its own predictions (decisions made on the true video)."""

    first_frame_codes: np.ndarray
    class_id: int
    true_frames: np.ndarray | None = None
    teacher_codes: np.ndarray | None = None


@dataclass
class Calibration:
    """Thresholds found, and what the last calibration runs achieved with them."""

    thresholds: list[float]
    layer_replay_ratio: list[float]
    replay_ratio: float
    token_agreement: float | None = None
    history: list[dict] = field(default_factory=list)
    chunk_deltas: list[list[float]] | None = None  # the chunkwise rule's thresholds [layer][chunk]


def thresholds_for_ratio(tas: np.ndarray, ratio: float | Sequence[float]) -> list[float]:
    """Per-layer thresholds so that a fraction `ratio` of the samples tas [N, L] lies strictly
    above (see `threshold_for_ratio`); `ratio` may be one value or one per layer."""
    ratios = per_layer(ratio, tas.shape[1], "target_ratio")
    if not all(0 <= r <= 1 for r in ratios):
        raise UserError(None, "target_ratio", "values in [0, 1]", ratio)
    return [threshold_for_ratio(tas[:, layer].tolist(), r) for layer, r in enumerate(ratios)]


def _run_all(model: VideoTransformer, starts: Sequence[Start], thresholds, **decode_kwargs) -> list[DecodeResult]:
    return [
        decode_video(
            model,
            s.first_frame_codes,
            s.class_id,
            thresholds=thresholds,
            teacher_codes=s.teacher_codes,
            **decode_kwargs,
        )
        for s in starts
    ]


def _tas_samples(runs: Sequence[DecodeResult]) -> np.ndarray:
    """All (step, row) TAS values of the runs, [N, L]."""
    return np.concatenate([np.moveaxis(r.trace.tas, 2, 1).reshape(-1, r.trace.num_layers) for r in runs])


def _ratios(runs: Sequence[DecodeResult]) -> np.ndarray:
    return np.concatenate([r.trace.replay for r in runs]).mean(axis=(0, 2))


def calibrate_ratio(
    model: VideoTransformer,
    starts: Sequence[Start],
    target: float | Sequence[float],
    *,
    rounds: int = 2,
    **decode_kwargs,
) -> Calibration:
    """Thresholds that make each layer replay a fraction `target` of its decode steps.

    Round 0 decodes densely (thresholds +inf: TAS recorded, nothing replayed); each of
    the `rounds` further rounds decodes with the current thresholds and re-takes the
    quantiles. `decode_kwargs` go to `decode_video` (frames, tas_form, row_policy,
    cfg_scale, sampling, seed, attention_policy).
    """
    if not starts:
        raise UserError(None, "calibration videos", "at least one start", 0)
    runs = _run_all(model, starts, float("inf"), **decode_kwargs)
    thresholds = thresholds_for_ratio(_tas_samples(runs), target)
    history = [{"round": 0, "thresholds": thresholds, "layer_replay_ratio": _ratios(runs).tolist()}]
    for round_index in range(1, rounds + 1):
        runs = _run_all(model, starts, thresholds, **decode_kwargs)
        history.append({"round": round_index, "thresholds": thresholds, "layer_replay_ratio": _ratios(runs).tolist()})
        thresholds = thresholds_for_ratio(_tas_samples(runs), target)
    ratios = _ratios(runs)
    return Calibration(
        thresholds=thresholds, layer_replay_ratio=ratios.tolist(), replay_ratio=float(ratios.mean()), history=history
    )


def calibrate_chunk_ratio(
    model: VideoTransformer, starts: Sequence[Start], target: float, chunks: int, *, rounds: int = 2, **decode_kwargs
) -> Calibration:
    """Per-layer, per-chunk thresholds of the accumulated-change rule replaying a fraction
    `target` of each chunk's decode steps (round 0 never replays, so its values are the
    one-frame changes; each later round decodes with the current thresholds and re-takes
    the quantiles, as `calibrate_ratio` does)."""
    if not starts:
        raise UserError(None, "calibration videos", "at least one start", 0)
    config = model.config
    chunk = np.asarray(chunk_of_slots(config.frame_rows, config.frame_cols, chunks))
    deltas = [[0.0] * chunks for _ in range(config.num_layers)]
    history = []
    for round_index in range(rounds + 1):
        runs = _run_all(model, starts, None, chunk_deltas=deltas, **decode_kwargs)
        history.append({"round": round_index, "chunk_deltas": deltas, "layer_replay_ratio": _ratios(runs).tolist()})
        # The runs log -A as the decision value: replay when -A > -delta.
        step_chunk = np.concatenate([chunk[r.trace.row * config.frame_cols + r.trace.col] for r in runs])
        values = np.concatenate([r.trace.tas for r in runs])  # [N, L, R]
        deltas = [
            [-threshold_for_ratio(values[step_chunk == c, layer].ravel().tolist(), target) for c in range(chunks)]
            for layer in range(config.num_layers)
        ]
    ratios = _ratios(runs)
    return Calibration(
        thresholds=[float("inf")] * config.num_layers,
        layer_replay_ratio=ratios.tolist(),
        replay_ratio=float(ratios.mean()),
        history=history,
        chunk_deltas=deltas,
    )


def match_chunk_ratio(
    model: VideoTransformer,
    starts: Sequence[Start],
    calibration: Calibration,
    ratio: float,
    *,
    tolerance: float = 0.005,
    iterations: int = 8,
    **decode_kwargs,
) -> Calibration:
    """`calibration`'s chunk thresholds scaled by one factor so that the runs of `starts`
    replay `ratio` within `tolerance` (to compare rules at equal replay ratio).

    The quantile rounds of `calibrate_chunk_ratio` aim each chunk at the target but land
    a few points off, since replay changes the accumulated values it is calibrated on. A
    larger factor replays more, so the factor is bracketed and then searched by
    interpolation on its logarithm (regula falsi, halving a stuck end's error as the
    Illinois variant does), one decode of every start per try. The result is the try
    closest to `ratio` (within `tolerance` unless `iterations` ran out).
    """
    if calibration.chunk_deltas is None:
        raise UserError(None, "calibration", "chunk thresholds (calibrate_chunk_ratio)", "TAS thresholds")
    if not tolerance >= 0:
        raise UserError(None, "tolerance", "a replay-ratio difference >= 0", tolerance)
    base = calibration.chunk_deltas
    tries: list[tuple[float, Calibration]] = []

    def measure(log_factor: float) -> float:
        deltas = [[delta * float(np.exp(log_factor)) for delta in layer] for layer in base]
        ratios = _ratios(_run_all(model, starts, None, chunk_deltas=deltas, **decode_kwargs))
        tries.append(
            (
                log_factor,
                Calibration(
                    thresholds=calibration.thresholds,
                    layer_replay_ratio=ratios.tolist(),
                    replay_ratio=float(ratios.mean()),
                    history=[
                        *calibration.history,
                        {"scale": float(np.exp(log_factor)), "replay_ratio": float(ratios.mean())},
                    ],
                    chunk_deltas=deltas,
                ),
            )
        )
        return float(ratios.mean()) - ratio

    low, high = 0.0, 0.0
    error_low = error_high = measure(0.0)
    step = 0.5 if error_low < 0 else -0.5
    while _same_side(error_low, error_high) and abs(error_high) > tolerance and len(tries) < iterations:
        low, error_low = high, error_high
        high += step
        error_high = measure(high)
    side = 0
    # the kept ends' errors may have been halved: whether a try is within tolerance is read off the tries
    while min(abs(attempt[1].replay_ratio - ratio) for attempt in tries) > tolerance and len(tries) < iterations:
        middle = (low * error_high - high * error_low) / (error_high - error_low)
        error = measure(middle)
        if _same_side(error, error_high):
            high, error_high = middle, error
            error_low = error_low / 2 if side == -1 else error_low
            side = -1
        else:
            low, error_low = middle, error
            error_high = error_high / 2 if side == 1 else error_high
            side = 1
    return min(tries, key=lambda attempt: abs(attempt[1].replay_ratio - ratio))[1]


def _same_side(error: float, other: float) -> bool:
    """Both errors nonzero and on one side of the target. Their signs are compared, not their
    product: two errors below 1e-154 multiply to 0 (a target ratio that small)."""
    return bool(np.sign(error) * np.sign(other) > 0)


def token_agreement(runs: Sequence[DecodeResult], references: Sequence[DecodeResult]) -> float:
    """Fraction of generated tokens (frames 2..) equal to the reference runs' tokens."""
    same = [np.mean(r.codes[1:] == ref.codes[1:]) for r, ref in zip(runs, references, strict=True)]
    return float(np.mean(same))


def calibrate_quality(
    model: VideoTransformer, starts: Sequence[Start], min_agreement: float, *, iterations: int = 6, **decode_kwargs
) -> Calibration:
    """The largest global replay ratio whose runs agree with dense decoding on >= `min_agreement`.

    Thresholds for a ratio are the quantiles of the dense runs' TAS (one round); each
    bisection step decodes every start with them and compares with the dense codes.
    """
    if not 0 <= min_agreement <= 1:
        raise UserError(None, "quality_budget", "a token agreement in [0, 1]", min_agreement)
    if not starts:
        raise UserError(None, "calibration videos", "at least one start", 0)
    dense = _run_all(model, starts, float("inf"), **decode_kwargs)
    tas = _tas_samples(dense)
    best = Calibration(
        thresholds=[float("inf")] * tas.shape[1],
        layer_replay_ratio=[0.0] * tas.shape[1],
        replay_ratio=0.0,
        token_agreement=1.0,
    )
    low, high = 0.0, 1.0
    for _ in range(iterations):
        ratio = (low + high) / 2
        thresholds = thresholds_for_ratio(tas, ratio)
        runs = _run_all(model, starts, thresholds, **decode_kwargs)
        agreement = token_agreement(runs, dense)
        ratios = _ratios(runs)
        best.history.append(
            {
                "target_ratio": ratio,
                "thresholds": thresholds,
                "token_agreement": agreement,
                "layer_replay_ratio": ratios.tolist(),
            }
        )
        if agreement >= min_agreement:
            low = ratio
            best.thresholds, best.layer_replay_ratio = thresholds, ratios.tolist()
            best.replay_ratio, best.token_agreement = float(ratios.mean()), agreement
        else:
            high = ratio
    return best
