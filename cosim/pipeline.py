"""The end-to-end job (`cosim run`): decode a video with the shipped toy model and FastCar,
trace the models, simulate them on an edge design, and report.

1. Decode: a held-out toy-world video gives the first frame and the class. FastCar's
   per-layer thresholds are calibrated on other held-out videos to a target replay ratio
   (a hand-set threshold would give an arbitrary ratio on a new model; see
   models/decoding/calibrate.py) and serve the first decoded frame; after it each frame re-sets
   them from the previous frame's TAS at the same ratio (adaptive thresholds, because TAS
   scales differ from video to video; `adaptive_thresholds=False` keeps the calibrated
   ones for the whole video). The same start is decoded three ways with the same seed: FastCar,
   dense (the quality reference) and a StreamingLLM sparse-attention baseline (sink 4,
   window of one frame, FACTS.md section 2). Quality = token agreement and PSNR against
   the dense decode, and PSNR against the true frames.
2. Trace: one decode step of each model as a ComputeGraph (the toy model and the VILA-U 7B
   geometry on meta tensors); the toy decisions are mapped onto the 7B model's 32 layers
   by relative depth (`ReplayTrace.map_to_layers`).
3. Simulate each model on the design: dense, FastCar under each scheduling policy and the
   sparse-attention baseline; write one report directory per model.

Everything touching torch is imported inside the functions, so importing this module
(as the CLI does) does not import torch.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cosim.common.atomic import atomic_write_text
from cosim.common.cli_values import MAX_FRAMES, check_int, check_lockstep
from cosim.common.errors import UserError
from cosim.sim.policies import POLICIES

if TYPE_CHECKING:
    from cosim.analysis.report import Report
    from cosim.artifacts.replay_trace import ReplayTrace
    from models.decoding.decode import DecodeResult
    from models.decoding.session import RunQuality

# The CLI reads RunSettings' defaults at start-up: everything heavy is imported inside
# the functions (torch and models only while decoding and tracing).

TOY_PRESET = "toyworld"
DEFAULT_MODELS = (TOY_PRESET, "vila-u-7b-256")


@dataclass(frozen=True)
class RunSettings:
    """Knobs of the end-to-end job; the defaults are what `cosim run` does."""

    out: Path = Path("out/run")
    checkpoint: Path | None = None  # None: the shipped models/toyworld/checkpoints/toyworld.pt
    design: str = "kv260-fastcar"
    models: tuple[str, ...] = DEFAULT_MODELS
    policies: tuple[str, ...] = field(default_factory=POLICIES.names)  # every registered policy
    frames: int | None = None  # None: the model's frames (8)
    video: int = 0  # held-out toy video giving the first frame and class
    seed: int = 0
    target_replay_ratio: float = 0.7
    adaptive_thresholds: bool = True
    calibration_videos: int = 2
    calibration_rounds: int = 1
    sparse_window: int | None = 256  # StreamingLLM window of the baseline; None: no baseline
    sparse_sink: int = 4
    threads: int = 1
    progress: bool = True
    videos: int = 1  # videos simulated in lockstep (the decoded one with rotated positions, cosim.artifacts.lockstep)
    tokens_per_step: int = 1  # tokens of a frame per simulated step

    def __post_init__(self) -> None:
        if not 0.0 <= self.target_replay_ratio <= 1.0:
            raise UserError(None, "--target-replay-ratio", "a fraction in [0, 1]", self.target_replay_ratio)
        for key in ("calibration_videos", "threads"):
            if getattr(self, key) < 1:
                raise UserError(None, f"--{key.replace('_', '-')}", "an integer >= 1", getattr(self, key))
        if self.calibration_rounds < 0:
            raise UserError(None, "--calibration-rounds", "an integer >= 0", self.calibration_rounds)
        check_int("--frames", self.frames, 2, MAX_FRAMES)
        check_int("--sparse-window", self.sparse_window, 1)
        check_lockstep(self.videos, self.tokens_per_step)
        if not self.models:
            raise UserError(
                None, "--models", "at least one model (a preset or a library model)", "none", found_is_text=True
            )


@dataclass
class PipelineResult:
    """What the job produced: decode figures, one report per model, files written."""

    settings: RunSettings
    decode: dict[str, Any]
    reports: dict[str, Report]
    files: list[Path] = field(default_factory=list)
    wall_time_s: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The content of summary.json: decode quality and each model's headline figures."""
        models = {}
        for name, report in self.reports.items():
            document = report.to_dict()
            models[name] = {
                "report_dir": name,
                "comparisons": document["comparisons"],
                "runs": {
                    label: {
                        "latency_per_video_s": run["latency"]["per_video_s"],
                        "latency_per_token_s": run["latency"]["per_token_mean_s"],
                        "energy_per_video_j": run["energy"]["total_j"],
                        "mlp_share_of_latency": run["mlp_share_of_latency"],
                        "speedup_over_dense": run["speedup_over_dense"],
                        "speedup_over_sparse_attention": run["speedup_over_sparse_attention"],
                    }
                    for label, run in document["runs"].items()
                },
            }
        settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self.settings).items()}
        return {
            "schema_version": 1,
            "settings": settings,
            "decode": self.decode,
            "models": models,
            "wall_time_s": self.wall_time_s,
        }

    def summary_text(self) -> str:
        """The tables `cosim run` prints."""
        from cosim.analysis.report import Report, format_percent, format_table

        decode = self.decode
        lines = [
            f"Decode: {decode['model']} ({_display_path(decode['checkpoint'])}), {decode['frames']} frames, "
            f"{decode['steps']} decode steps, CFG rows {decode['batch_rows']}; FastCar thresholds calibrated "
            f"to a {100 * decode['target_replay_ratio']:.0f} % replay ratio"
            + (", then re-set per frame from the previous frame's TAS" if decode["adaptive_ratio"] else "")
        ]
        rows = []
        for name, run in decode["runs"].items():
            rows.append(
                [
                    name,
                    format_percent(run["replay_ratio"]),
                    _fixed(run.get("token_agreement_vs_dense"), 4),
                    _db(run.get("psnr_vs_dense_db")),
                    _db(run.get("psnr_vs_truth_db")),
                    f"{run['wall_time_s']:.2f} s",
                ]
            )
        lines.append(
            format_table(
                ["decode", "replay", "token agreement", "PSNR vs dense", "PSNR vs truth", "decode wall time"], rows
            )
        )
        table = [row for name, report in self.reports.items() for row in report.summary_rows(f"{name} ")]
        design = next(iter(self.reports.values())).design.name if self.reports else "-"
        lines.append(f"Simulated on {design}:")
        lines.append(format_table(("model run", *Report.SUMMARY_HEADER[1:]), table))
        return "\n".join(lines)


def run_pipeline(settings: RunSettings = RunSettings()) -> PipelineResult:
    """Decode, trace, simulate and report; write everything under ``settings.out``."""
    from cosim.analysis.comparison import check_sparse_baseline, simulate_runs
    from cosim.analysis.report import build_report
    from cosim.artifacts.graph import save_graph
    from cosim.artifacts.lockstep import in_lockstep
    from cosim.hw import load_design
    from models.library import check_model_name, trace_named_model

    started = time.perf_counter()
    out = Path(settings.out)
    design = load_design(settings.design)  # bad names fail before any decoding
    for name in settings.models:
        check_model_name(name, "--models")
    decode, traces = decode_runs(settings)
    timings = {"decode": time.perf_counter() - started}
    files = [traces["fastcar"].save(out / "trace.npz")]
    if "sparse-attention" in traces:
        files.append(traces["sparse-attention"].save(out / "trace_sparse_attention.npz"))
    files.append(_write_json(out / "decode.json", decode))

    reports: dict[str, Report] = {}
    for name in settings.models:
        step_started = time.perf_counter()
        _say(f"tracing {name}", settings)
        graph = trace_named_model(name, phase="decode", batch_rows=traces["fastcar"].batch_rows)
        files.append(save_graph(graph, out / "graphs" / f"{name}.json"))
        layers = int(graph.graph["num_layers"])
        trace = traces["fastcar"]
        sparse = traces.get("sparse-attention")
        if trace.num_layers != layers:
            trace = trace.map_to_layers(layers)
            sparse = sparse.map_to_layers(layers) if sparse is not None else None
        lockstep = {"videos": settings.videos, "tokens_per_step": settings.tokens_per_step}
        trace = in_lockstep(trace, **lockstep)
        sparse = in_lockstep(sparse, **lockstep) if sparse is not None else None
        if sparse is not None:
            check_sparse_baseline(sparse, trace, out / "trace_sparse_attention.npz")
        runs = simulate_runs(
            graph, trace, design, policies=settings.policies, sparse_trace=sparse, progress=settings.progress
        )
        report = build_report(
            runs,
            design,
            quality=decode,
            inputs={
                "graph": f"graphs/{name}.json",
                "trace": "trace.npz",
                "design": settings.design,
                "mapped_from": trace.meta.get("mapped_from"),
            },
        )
        files += report.write(out / name)
        reports[name] = report
        timings[f"trace_and_simulate_{name}"] = time.perf_counter() - step_started
    timings["total"] = time.perf_counter() - started
    result = PipelineResult(settings=settings, decode=decode, reports=reports, files=files, wall_time_s=timings)
    files.append(_write_json(out / "summary.json", result.summary()))
    atomic_write_text(out / "summary.txt", result.summary_text())
    files.append(out / "summary.txt")
    return result


def decode_runs(settings: RunSettings) -> tuple[dict[str, Any], dict[str, ReplayTrace]]:
    """Calibrate FastCar, decode FastCar / dense / sparse-attention runs; measure quality.

    Returns the decode figures (for decode.json and the reports' ``quality``) and the
    ReplayTraces of the FastCar run and of the sparse-attention baseline. Runs with
    ``settings.threads`` torch threads (one by default: on a busy machine more threads
    make these small decodes many times slower).
    """
    from models.decoding.session import torch_threads, toy_session

    with torch_threads(settings.threads):
        session = toy_session(settings.checkpoint)
        frames = settings.frames or session.model.config.frames
        _say(
            f"calibrating FastCar thresholds to a {settings.target_replay_ratio:.0%} replay ratio on "
            f"{settings.calibration_videos} held-out videos",
            settings,
        )
        calibration = session.calibrate_to_ratio(
            settings.target_replay_ratio,
            settings.calibration_videos,
            rounds=settings.calibration_rounds,
            frames=frames,
            seed=settings.seed,
            progress=settings.progress,
        )
        start = session.start(settings.video, frames)
        adaptive_ratio = settings.target_replay_ratio if settings.adaptive_thresholds else None
        results = {}
        for name, options in _decode_plan(settings, calibration.thresholds, adaptive_ratio).items():
            _say(f"decoding {name}", settings)
            results[name] = session.decode(
                start, frames=frames, seed=settings.seed, progress=settings.progress, **options
            )
        runs = {
            name: _run_figures(result, session.quality(result, None if name == "dense" else results["dense"], start))
            for name, result in results.items()
        }
    fastcar = results["fastcar"].trace
    decode = {
        "model": session.model.config.name,
        "checkpoint": str(session.checkpoint),
        "frames": frames,
        "steps": fastcar.num_steps,
        "batch_rows": fastcar.batch_rows,
        "video": settings.video,
        "class_id": start.class_id,
        "seed": settings.seed,
        "target_replay_ratio": settings.target_replay_ratio,
        "thresholds": calibration.thresholds,
        "adaptive_ratio": adaptive_ratio,
        "frame_thresholds": fastcar.meta.get("frame_thresholds"),
        "calibration": {
            "videos": settings.calibration_videos,
            "rounds": settings.calibration_rounds,
            "replay_ratio": calibration.replay_ratio,
        },
        "sparse_attention": (
            {"policy": "streaming", "sink": settings.sparse_sink, "window": settings.sparse_window}
            if settings.sparse_window is not None
            else None
        ),
        "runs": runs,
    }
    return decode, {name: results[name].trace for name in ("fastcar", "sparse-attention") if name in results}


def _decode_plan(settings: RunSettings, thresholds: list[float], adaptive_ratio: float | None) -> dict[str, dict]:
    """The runs of the decoded video and their knobs: FastCar, dense, and the sparse-attention baseline."""
    from models.decoding.sparse_attention import make_policy

    plan: dict[str, dict] = {"fastcar": dict(thresholds=thresholds, adaptive_ratio=adaptive_ratio), "dense": {}}
    if settings.sparse_window is not None:
        policy = make_policy("streaming", sink=settings.sparse_sink, window=settings.sparse_window)
        plan["sparse-attention"] = dict(attention_policy=policy)
    return plan


def _run_figures(result: DecodeResult, measured: RunQuality) -> dict[str, Any]:
    """decode.json's figures of one run: replay, wall time, quality against the truth and
    (for all but the dense run) against the dense run."""
    trace = result.trace
    figures = {
        "replay_ratio": trace.replay_ratio(),
        "wall_time_s": result.wall_time_s,
        "layer_replay_ratio": trace.layer_replay_ratio().tolist(),
    }
    if measured.versus_truth is not None:
        figures["psnr_vs_truth_db"] = measured.versus_truth.psnr_db
        figures["token_agreement_vs_truth"] = measured.versus_truth.token_agreement
    if measured.versus_dense is not None:
        versus_dense = measured.versus_dense
        figures.update(
            token_agreement_vs_dense=versus_dense.token_agreement,
            psnr_vs_dense_db=versus_dense.psnr_db,
            agreement_per_frame_vs_dense=versus_dense.agreement_per_frame,
            psnr_per_frame_vs_dense_db=versus_dense.psnr_per_frame_db,
        )
    return figures


def _write_json(path: Path, document: dict[str, Any]) -> Path:
    from cosim.common.jsonable import to_jsonable

    atomic_write_text(path, json.dumps(to_jsonable(document), indent=2, allow_nan=False))
    return path


def _display_path(path: str) -> str:
    """`path` relative to the working directory when it lies below it, else its file name:
    printed tables must not show one machine's absolute paths."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return resolved.name


def _say(message: str, settings: RunSettings) -> None:
    if settings.progress:
        print(f"cosim run: {message}", file=sys.stderr, flush=True)


def _fixed(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _db(value: float | None) -> str:
    return "-" if value is None else ("inf" if value == float("inf") else f"{value:.2f} dB")
