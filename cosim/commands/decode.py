"""`cosim decode`: generate a video with FastCar replay (and sparse attention), print how
often each layer replayed and what it cost in quality, and write the ReplayTrace.

The model is the shipped toy-world checkpoint by default (its first frame and class come
from a held-out toy video, so PSNR against the true frames is available), a toy
checkpoint given with --checkpoint, or a folder of Hugging Face LLaMA/VILA-U safetensors.
Thresholds are a single value, one value per layer, or calibrated to a target replay
ratio or to a token-agreement budget. Quality is measured against a dense run from the
same start and seed. --device cuda runs the same code path on a GPU torch can see (a
user with VILA-U weights and a GPU gets a ReplayTrace of the real model); cpu by default.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cosim.common.cli_values import MAX_FRAMES, check_float, check_int
from cosim.common.errors import UserError
from cosim.common.output_paths import check_output_file
from cosim.common.per_layer import per_layer

if TYPE_CHECKING:  # the command imports torch and models only when it runs
    import numpy as np

    from models.decoding.calibrate import Calibration, Start
    from models.decoding.decode import DecodeResult
    from models.decoding.session import DecodeSession

NAME = "decode"
HELP = "decode a video with FastCar replay / sparse attention, report replay ratios and quality, write a ReplayTrace"

# command-line option -> knob of the policy
_ATTENTION_KNOBS = {
    "streaming": {"sink": "sink", "window": "window"},
    "window": {"window": "window"},
    "block": {"block_size": "block_size", "block_top_k": "top_k"},
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options. Long, but a flat list read top to bottom like its --help."""
    model = parser.add_argument_group("model")
    model.add_argument("--preset", default="toyworld", help="model geometry (default: toyworld)")
    model.add_argument(
        "--checkpoint",
        default=None,
        help="a `cosim train-toy` .pt file or a folder of LLaMA/VILA-U safetensors "
        "(default for toyworld: the shipped checkpoint)",
    )
    model.add_argument("--random-weights", action="store_true", help="use random weights instead of a checkpoint")
    model.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    model.add_argument(
        "--device", default="cpu", help="cpu (default) or cuda / cuda:N when torch sees a GPU: where the model runs"
    )

    video = parser.add_argument_group("video")
    video.add_argument("--frames", type=int, default=None, help="frames to produce, first one given (default: preset)")
    video.add_argument("--video", type=int, default=0, help="which held-out toy video gives the first frame and class")
    video.add_argument("--class-id", type=int, default=None, help="class to condition on (default: the video's)")
    video.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    video.add_argument(
        "--teacher-forced",
        action="store_true",
        help="feed the true (tokenised) held-out video instead of the model's own codes: decisions made on "
        "real motion whatever the model's quality (calibration runs are teacher forced too)",
    )
    video.add_argument("--no-cfg", action="store_true", help="one batch row, no classifier-free guidance")
    video.add_argument("--cfg-scale", type=float, default=3.0, help="CFG scale (default: 3.0)")
    video.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    video.add_argument("--sample-top-k", type=int, default=None, help="sample among the k most likely codes")
    video.add_argument("--sample-top-p", type=float, default=None, help="nucleus sampling mass")

    fastcar = parser.add_argument_group("FastCar")
    choice = fastcar.add_mutually_exclusive_group()
    choice.add_argument(
        "--threshold",
        default="inf",
        help="TAS threshold: one value or a comma list per layer; inf records TAS without replaying (default: inf)",
    )
    choice.add_argument(
        "--target-ratio", type=float, default=None, help="calibrate per-layer thresholds to this replay ratio"
    )
    choice.add_argument(
        "--quality-budget",
        type=float,
        default=None,
        help="calibrate to the largest ratio keeping this token agreement with dense",
    )
    fastcar.add_argument(
        "--adaptive-ratio",
        type=float,
        default=None,
        help="re-set thresholds every frame so each layer would have replayed this fraction "
        "of the previous frame (the thresholds above serve the first decoded frame)",
    )
    fastcar.add_argument("--calibration-videos", type=int, default=4, help="videos used to calibrate (default: 4)")
    fastcar.add_argument(
        "--calibration-rounds",
        type=int,
        default=2,
        help="replay-aware refinement rounds for --target-ratio (default: 2)",
    )
    fastcar.add_argument(
        "--tas-form",
        choices=("rope", "prerope"),
        default="rope",
        help="rope: query after RoPE (default); prerope: the reference code's form",
    )
    fastcar.add_argument(
        "--replay-rule",
        choices=("tas", "accumulated"),
        default="tas",
        help="tas: TAS above a per-layer threshold (default); accumulated: FlowCache's chunkwise rule, "
        "replay while the MLP input's change accumulated since the last computation stays below a "
        "per-layer, per-chunk threshold (--threshold gives it, --target-ratio calibrates it)",
    )
    fastcar.add_argument(
        "--chunks", type=int, default=1, help="accumulated rule: bands of frame rows with their own thresholds"
    )
    fastcar.add_argument(
        "--row-policy", choices=("each", "all", "any"), default="each", help="how CFG rows decide (default: each)"
    )

    attention = parser.add_argument_group("sparse attention")
    attention.add_argument("--attention", choices=("dense", "streaming", "window", "block"), default="dense")
    attention.add_argument("--sink", type=int, default=None, help="streaming: sink entries (default 4)")
    attention.add_argument(
        "--window", type=int, default=None, help="streaming/window: recent entries (default: one frame)"
    )
    attention.add_argument("--block-size", type=int, default=None, help="block: entries per block (default 64)")
    attention.add_argument(
        "--block-top-k", type=int, default=None, help="block: blocks kept besides the current (default 4)"
    )

    kv = parser.add_argument_group("KV budget")
    kv.add_argument(
        "--kv-policy",
        choices=("full", "streaming", "flowcache"),
        default="full",
        help="full keeps every KV entry (default); streaming (sinks + recent) and flowcache "
        "(FlowCache's importance-redundancy score) keep --kv-budget entries per layer and kv head",
    )
    kv.add_argument("--kv-budget", type=int, default=None, help="KV entries kept per layer and kv head")

    out = parser.add_argument_group("output")
    out.add_argument("-o", "--out", default=None, help="write the ReplayTrace here (.npz)")
    out.add_argument("--no-compare", action="store_true", help="skip the dense reference run (no quality figures)")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")


def _attention_policy(args: argparse.Namespace, tokens_per_frame: int):
    """The sparse-attention policy of the options; a knob given to a policy without it is an error."""
    from models.decoding.sparse_attention import make_policy

    knobs = _ATTENTION_KNOBS.get(args.attention, {})
    for option in ("sink", "window", "block_size", "block_top_k"):
        if getattr(args, option) is not None and option not in knobs:
            raise UserError(
                None,
                f"--{option.replace('_', '-')}",
                f"no value with --attention {args.attention}",
                getattr(args, option),
            )
    if args.attention == "dense":
        return None
    chosen = {name: getattr(args, option) for option, name in knobs.items() if getattr(args, option) is not None}
    if "window" in knobs and "window" not in chosen:
        chosen["window"] = tokens_per_frame
    return make_policy(args.attention, **chosen)


def _kv_policy(args: argparse.Namespace, tokens_per_frame: int):
    """The KV budget of the options (None for full); the budget is checked against the frame size."""
    from models.decoding.kv_budget import KVBudget

    if args.kv_policy == "full":
        if args.kv_budget is not None:
            raise UserError(None, "--kv-budget", "no value with --kv-policy full", args.kv_budget)
        return None
    if args.kv_budget is None:
        raise UserError(None, "--kv-budget", f"a budget of KV entries with --kv-policy {args.kv_policy}", "nothing")
    if args.attention != "dense":
        raise UserError(None, "--attention", f"dense with --kv-policy {args.kv_policy}", args.attention)
    policy = KVBudget(args.kv_policy, args.kv_budget)
    policy.check(tokens_per_frame)
    return policy


def _load(args: argparse.Namespace) -> DecodeSession:
    """The DecodeSession of the options: random weights, a safetensors folder or a toy checkpoint."""
    import torch

    from models.decoding.session import DecodeSession, toy_session
    from models.library import preset_config
    from models.toyworld.train import DEFAULT_CHECKPOINT
    from models.transformer import VideoTransformer

    preset = preset_config(args.preset)
    device = _device(args.device)
    if args.random_weights:
        if args.checkpoint:
            raise UserError(None, "--random-weights", "no --checkpoint with it", args.checkpoint)
        torch.manual_seed(args.seed)
        return DecodeSession(VideoTransformer(preset).eval().to(device))
    path = Path(args.checkpoint) if args.checkpoint else None
    if path is None:
        if preset.name != "toyworld":
            raise UserError(
                None,
                "--checkpoint",
                f"a safetensors folder for {preset.name} (or --random-weights)",
                "nothing",
                found_is_text=True,
            )
        path = DEFAULT_CHECKPOINT
    if path.is_dir():
        from models.weights import load_weights

        model, random_init = load_weights(path, preset, device=device)
        note = f" ({len(random_init)} depth tensors random)" if random_init else ""
        return DecodeSession(model, source=f"safetensors {path}{note}", checkpoint=path)
    session = toy_session(path)
    session.model.to(device)
    return session


def _device(name: str) -> Any:
    """The torch device of --device: cpu, or a GPU torch can see (a user error otherwise)."""
    import torch

    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise UserError(None, "--device", "cpu (torch sees no GPU on this machine)", name)
        try:
            device = torch.device(name)
        except RuntimeError:
            raise UserError(None, "--device", "cuda or cuda:N", name) from None
        if (device.index or 0) >= torch.cuda.device_count():
            raise UserError(None, "--device", f"a GPU index below {torch.cuda.device_count()}", name)
        return device
    raise UserError(None, "--device", "cpu, cuda or cuda:N", name)


def _check_arguments(args: argparse.Namespace) -> None:
    """Numbers and the output path, before the model is loaded."""
    check_int("--threads", args.threads, 1)
    check_int("--frames", args.frames, 2, MAX_FRAMES)
    check_int("--calibration-videos", args.calibration_videos, 1)
    check_int("--calibration-rounds", args.calibration_rounds, 0)
    check_int("--kv-budget", args.kv_budget, 1)
    check_int("--chunks", args.chunks, 1)
    if args.replay_rule == "tas" and args.chunks != 1:
        raise UserError(
            None, "--chunks", "1 with --replay-rule tas (chunks belong to the accumulated rule)", args.chunks
        )
    if args.replay_rule == "accumulated" and args.adaptive_ratio is not None:
        raise UserError(None, "--adaptive-ratio", "none with --replay-rule accumulated", args.adaptive_ratio)
    check_float("--cfg-scale", args.cfg_scale)
    check_float("--temperature", args.temperature, 0)
    check_float("--sample-top-p", args.sample_top_p, 0, 1)
    for option in ("target_ratio", "quality_budget", "adaptive_ratio"):
        check_float(f"--{option.replace('_', '-')}", getattr(args, option), 0, 1)
    per_layer(args.threshold, args.threshold.count(",") + 1, "--threshold")  # the count is checked with the model
    if args.out:
        check_output_file(args.out, "-o")


def run(args: argparse.Namespace) -> int:
    _check_arguments(args)
    import torch

    from models.decoding.sampling import Sampling

    torch.set_num_threads(args.threads)
    session = _load(args)
    config = session.model.config
    if config.num_classes == 0:
        raise UserError(None, "--preset", "a model with class tokens (decode conditions on a class)", config.name)
    frames = args.frames if args.frames is not None else config.frames
    start = session.start(args.video, frames, args.seed, args.teacher_forced)
    if args.class_id is not None:
        start = replace(start, class_id=args.class_id)
    common = dict(
        frames=frames,
        tas_form=args.tas_form,
        row_policy=args.row_policy,
        attention_policy=_attention_policy(args, config.tokens_per_frame),
        kv_policy=_kv_policy(args, config.tokens_per_frame),
        cfg_scale=None if args.no_cfg else args.cfg_scale,
        sampling=Sampling(args.temperature, args.sample_top_k, args.sample_top_p),
        seed=args.seed,
        progress=not args.no_progress,
    )
    forced = ", teacher forced" if args.teacher_forced else ""
    print(
        f"cosim decode: {config.name}, {session.source}, {frames} frames, class {start.class_id}{forced}",
        file=sys.stderr,
    )

    thresholds: Sequence[float] = per_layer(args.threshold, config.num_layers, "--threshold")
    chunk_deltas = None
    if args.replay_rule == "accumulated":
        chunk_deltas = [[t] * args.chunks for t in thresholds]
    calibration = _calibrate(args, session, common)
    if calibration is not None:
        thresholds = calibration.thresholds
        chunk_deltas = calibration.chunk_deltas
    result = session.decode(
        start, thresholds=thresholds, adaptive_ratio=args.adaptive_ratio, chunk_deltas=chunk_deltas, **common
    )
    _print_run(result, calibration, args.adaptive_ratio)
    if not args.no_compare:
        _compare_with_dense(session, start, result, common)
    if args.out:
        print(f"wrote {result.trace.save(args.out)}")
    return 0


def _calibrate(args: argparse.Namespace, session: DecodeSession, common: dict[str, Any]) -> Calibration | None:
    """Thresholds calibrated to --target-ratio or --quality-budget, or None without either."""
    from models.decoding.calibrate import calibrate_chunk_ratio, calibrate_quality

    if args.target_ratio is None and args.quality_budget is None:
        return None
    if args.calibration_videos < 1:
        raise UserError(None, "--calibration-videos", "an integer >= 1", args.calibration_videos)
    print(f"cosim decode: calibrating on {args.calibration_videos} videos", file=sys.stderr)
    if args.replay_rule == "accumulated":
        if args.target_ratio is None:
            raise UserError(None, "--replay-rule", "tas with --quality-budget", "accumulated")
        starts = session.calibration_starts(
            args.calibration_videos, common["frames"], common["seed"], teacher_forced=args.teacher_forced
        )
        return calibrate_chunk_ratio(
            session.model, starts, args.target_ratio, args.chunks, rounds=args.calibration_rounds, **common
        )
    if args.target_ratio is not None:
        return session.calibrate_to_ratio(
            args.target_ratio,
            args.calibration_videos,
            rounds=args.calibration_rounds,
            teacher_forced=args.teacher_forced,
            **common,
        )
    starts = session.calibration_starts(args.calibration_videos, common["frames"], common["seed"], args.teacher_forced)
    return calibrate_quality(session.model, starts, args.quality_budget, **common)


def _print_run(result: DecodeResult, calibration: Calibration | None, adaptive_ratio: float | None) -> None:
    """Steps and wall time, each layer's threshold, replay ratio and KV entries attended."""
    trace = result.trace
    steps = trace.num_steps
    print(
        f"decoded {steps} steps in {result.wall_time_s:.2f} s ({1e3 * result.wall_time_s / max(steps, 1):.2f} ms/step)"
    )
    print("layer  threshold    replay_ratio  mean_kv_attended  max_kv_kept")
    for layer, ratio in enumerate(trace.layer_replay_ratio()):
        tau = trace.meta["thresholds"][layer] if trace.meta["thresholds"] else math.inf
        print(
            f"{layer:5d}  {tau:9.4g}  {ratio:14.3f}  {trace.kv_attended[:, layer].mean():16.1f}"
            f"  {trace.kv_kept[:, layer].max():11d}"
        )
    print(f"overall replay ratio {trace.replay_ratio():.3f}")
    rule = trace.meta["replay_rule"]
    if rule["rule"] == "accumulated":
        for layer, deltas in enumerate(rule["chunk_deltas"]):
            print(f"layer {layer} accumulated-change thresholds per chunk: " + ", ".join(f"{d:.4g}" for d in deltas))
    if adaptive_ratio is not None:
        last = max(trace.meta["frame_thresholds"], key=int)
        print(
            f"adaptive thresholds (first decoded frame above); frame {last}: "
            + ", ".join(f"{t:.4g}" for t in trace.meta["frame_thresholds"][last])
        )
    if calibration is not None:
        print(
            f"calibration runs replayed {calibration.replay_ratio:.3f}"
            + (
                f", token agreement {calibration.token_agreement:.3f}"
                if calibration.token_agreement is not None
                else ""
            )
        )


def _compare_with_dense(session: DecodeSession, start: Start, result: DecodeResult, common: dict[str, Any]) -> None:
    """Decode `start` densely and print agreement, PSNR and the drift per frame against it
    (and against the true frames when the start has them)."""
    from models.decoding import quality
    from models.decoding.session import GENERATED

    dense = session.decode_dense(start, **common)
    agreement = quality.token_agreement(result.codes[GENERATED], dense.codes[GENERATED])
    print(
        f"token agreement with dense decoding: {agreement:.4f}"
        f"  (wall time of single runs, first run includes warm-up: this {result.wall_time_s:.2f} s, "
        f"dense {dense.wall_time_s:.2f} s)"
    )
    drift: dict[str, tuple[np.ndarray | list[float], str]] = {
        "agreement with dense": (quality.agreement_per_frame(result.codes, dense.codes), ".4f")
    }
    ours, base = session.quality(result, dense, start), session.quality(dense, None, start)
    if ours.versus_dense is not None:
        print(f"PSNR vs dense decoding: {ours.versus_dense.psnr_db:.2f} dB")
        drift["PSNR vs dense"] = ([math.inf, *ours.versus_dense.psnr_per_frame_db], ".2f")
    if ours.versus_truth is not None and base.versus_truth is not None:
        print(
            f"PSNR vs ground truth: {ours.versus_truth.psnr_db:.2f} dB (dense {base.versus_truth.psnr_db:.2f} dB); "
            f"token agreement vs tokenised truth {ours.versus_truth.token_agreement:.4f} "
            f"(dense {base.versus_truth.token_agreement:.4f})"
        )
        drift["PSNR vs truth"] = ([math.nan, *ours.versus_truth.psnr_per_frame_db], ".2f")
        drift["dense vs truth"] = ([math.nan, *base.versus_truth.psnr_per_frame_db], ".2f")
    _print_drift(drift)


def _print_drift(columns: dict[str, tuple[np.ndarray | list[float], str]]) -> None:
    """Per generated frame (2..N) the figures that show AR drift: errors accumulate, so a
    run that agrees with dense on average may still diverge in its last frames.
    `columns`: name -> (value per frame 1..N, format)."""
    print("drift per frame: " + ", ".join(columns) + (" (PSNR in dB)" if len(columns) > 1 else ""))
    print("frame" + "".join(f"  {name:>20}" for name in columns))
    frames = len(next(iter(columns.values()))[0])
    for frame in range(1, frames):
        print(f"{frame + 1:5d}" + "".join(f"  {float(values[frame]):>20{spec}}" for values, spec in columns.values()))
