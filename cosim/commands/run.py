"""`cosim run`: the end-to-end job on shipped defaults (cosim/pipeline.py): decode a toy-world
video with FastCar, trace the toy model and VILA-U 7B, simulate both on the KV260 design
(dense, each scheduling policy, a sparse-attention baseline), print a summary, write
everything to out/run/."""

from __future__ import annotations

import argparse
from pathlib import Path

from cosim.common.cli_values import add_lockstep_arguments
from cosim.sim.policies import POLICIES

NAME = "run"
HELP = "end to end: decode with FastCar, trace, simulate on the edge design, report (to out/run/)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options. Long, but a flat list read top to bottom like its --help."""
    from cosim.pipeline import DEFAULT_MODELS, RunSettings

    defaults = RunSettings()
    parser.add_argument("-o", "--out", default=str(defaults.out), help="output directory (default: %(default)s)")
    parser.add_argument(
        "--design", default=defaults.design, help="design YAML file or shipped design name (default: %(default)s)"
    )
    parser.add_argument(
        "--models",
        default=",".join(DEFAULT_MODELS),
        help="comma list of presets or library models (cosim models) to trace and simulate (default: %(default)s)",
    )
    parser.add_argument(
        "--policy",
        action="append",
        choices=POLICIES,
        help="scheduling policy for the FastCar runs; repeat for several (default: every registered policy)",
    )
    parser.add_argument("--checkpoint", default=None, help="toy-world checkpoint (default: the shipped one)")
    parser.add_argument("--frames", type=int, default=None, help="frames per video, the first one given (default: 8)")
    parser.add_argument(
        "--video",
        type=int,
        default=defaults.video,
        help="held-out toy video giving the first frame and class (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="sampling seed (default: %(default)s)")
    parser.add_argument(
        "--target-replay-ratio",
        type=float,
        default=defaults.target_replay_ratio,
        help="replay ratio FastCar's thresholds are calibrated to (default: %(default)s)",
    )
    parser.add_argument(
        "--fixed-thresholds",
        action="store_true",
        help="keep the calibrated thresholds for the whole video (default: re-set them per frame "
        "from the previous frame's TAS at the target ratio)",
    )
    parser.add_argument(
        "--calibration-videos",
        type=int,
        default=defaults.calibration_videos,
        help="held-out videos used to calibrate (default: %(default)s)",
    )
    parser.add_argument(
        "--calibration-rounds",
        type=int,
        default=defaults.calibration_rounds,
        help="replay-aware calibration rounds (default: %(default)s)",
    )
    parser.add_argument(
        "--sparse-window",
        type=int,
        default=defaults.sparse_window,
        help="StreamingLLM window of the sparse-attention baseline (default: %(default)s)",
    )
    parser.add_argument("--no-sparse-baseline", action="store_true", help="skip the sparse-attention baseline")
    add_lockstep_arguments(parser)
    parser.add_argument(
        "--threads", type=int, default=defaults.threads, help="torch CPU threads (default: %(default)s)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars or stage messages")


def run(args: argparse.Namespace) -> int:
    from cosim.common.output_paths import check_output_dir
    from cosim.pipeline import RunSettings, run_pipeline

    check_output_dir(args.out, "-o")
    settings = RunSettings(
        out=Path(args.out),
        checkpoint=Path(args.checkpoint) if args.checkpoint else None,
        design=args.design,
        models=tuple(m.strip() for m in args.models.split(",") if m.strip()),
        policies=tuple(args.policy or POLICIES),
        frames=args.frames,
        video=args.video,
        seed=args.seed,
        target_replay_ratio=args.target_replay_ratio,
        adaptive_thresholds=not args.fixed_thresholds,
        calibration_videos=args.calibration_videos,
        calibration_rounds=args.calibration_rounds,
        sparse_window=None if args.no_sparse_baseline else args.sparse_window,
        threads=args.threads,
        progress=not args.no_progress,
        videos=args.videos,
        tokens_per_step=args.tokens_per_step,
    )
    result = run_pipeline(settings)
    print(result.summary_text(), end="")
    print(
        f"wrote {len(result.files)} files to {settings.out}/ (summary.json, decode.json, trace.npz, graphs/, "
        f"one report directory per model; open <model>/timeline.json in ui.perfetto.dev)"
    )
    return 0
