"""Benchmark: a long video on the toy model with FastCar, FlowCache's KV compression and StreamingLLM.

Issue 17, part 3. One held-out toy video (the toy world simulates it for as many frames as
asked) is decoded from its first frame five ways: dense; FastCar; FlowCache's KV
compression with a fixed budget; FastCar with FlowCache's compression; FastCar with a
StreamingLLM cache of the same budget. For each: per-frame token agreement and PSNR
against the dense decode and against the true frames, the replay ratio, the KV memory,
and the simulated latency and energy per frame on the shipped KV260 and U280 designs.
FastCar's per-layer thresholds are calibrated once to the target replay ratio on
eight-frame calibration videos (full KV) and serve the first decoded frame; every later
frame re-sets them to replay a fraction `--adaptive-ratio` of the previous frame (default
0.5: calibrated thresholds replay far less than targeted on some videos; 'none' keeps them).

    .venv/bin/python benchmarks/long_video.py [--frames 64] [--budget 512] [--target-ratio 0.5] [--video 0]
                                              [--adaptive-ratio 0.5] [--cache-dir out/long-video-cache]

Writes docs/long_video.json (the table and the per-frame series that
notebooks/06_long_video.ipynb plots) and prints the table in markdown. The calibration and
every finished decode are kept in the cache directory, keyed by the checkpoint's contents
and the run's settings, so an interrupted run resumes where it stopped (delete the
directory to recompute everything).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cosim.analysis.energy import compute_energy
from cosim.artifacts.replay_trace import ReplayTrace
from cosim.common.atomic import atomic_open, atomic_write_text
from cosim.hw import load_design
from cosim.hw.schema import Design
from cosim.sim.simulator import simulate
from cosim.sweep.digests import file_sha256, sha256_of
from models.decoding.decode import DecodeResult
from models.decoding.kv_budget import KVBudget
from models.decoding.session import DecodeSession, toy_session
from models.tracing.graph_trace import trace_model

REPO = Path(__file__).resolve().parents[1]
DESIGNS = ("kv260-fastcar", "u280-fastcar")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--budget", type=int, default=512, help="KV entries kept per layer and kv head")
    parser.add_argument("--target-ratio", type=float, default=0.5, help="FastCar replay ratio to calibrate for")
    parser.add_argument(
        "--adaptive-ratio",
        type=_ratio_or_none,
        default=0.5,
        help="FastCar runs re-set their thresholds every frame to replay this fraction of the previous frame "
        "('none': the calibrated thresholds throughout)",
    )
    parser.add_argument("--video", type=int, default=0, help="held-out toy video")
    parser.add_argument("--calibration-videos", type=int, default=2)
    parser.add_argument("--calibration-frames", type=int, default=8)
    parser.add_argument("--out", default=str(REPO / "docs" / "long_video.json"))
    parser.add_argument("--cache-dir", default=str(REPO / "out" / "long-video-cache"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.process_time()
    session = toy_session()
    assert session.checkpoint is not None  # toy_session always names its checkpoint
    cache = RunCache(Path(args.cache_dir), session.checkpoint)
    config = session.model.config
    start = session.start(args.video, args.frames)
    calibration_knobs = {
        "target": args.target_ratio,
        "videos": args.calibration_videos,
        "frames": args.calibration_frames,
    }
    calibration = cache.json(
        {"calibration": calibration_knobs},
        lambda: vars(
            session.calibrate_to_ratio(
                args.target_ratio, args.calibration_videos, rounds=1, frames=args.calibration_frames, seed=0
            )
        ),
    )
    fastcar: dict[str, Any] = {"thresholds": calibration["thresholds"], "adaptive_ratio": args.adaptive_ratio}
    runs: dict[str, dict[str, Any]] = {
        "dense": {},
        "FastCar": fastcar,
        "FlowCache": {"kv_policy": KVBudget("flowcache", args.budget)},
        "FastCar + FlowCache": {**fastcar, "kv_policy": KVBudget("flowcache", args.budget)},
        "FastCar + StreamingLLM": {**fastcar, "kv_policy": KVBudget("streaming", args.budget)},
    }
    results: dict[str, DecodeResult] = {}
    settings: dict[str, dict[str, Any]] = {}
    # Full-KV and streaming runs first: the FlowCache runs cost the most per step.
    for name in ("dense", "FastCar", "FastCar + StreamingLLM", "FlowCache", "FastCar + FlowCache"):
        knobs = runs[name]
        settings[name] = {"video": args.video, "frames": args.frames, **knobs}
        settings[name]["kv_policy"] = knobs["kv_policy"].describe() if "kv_policy" in knobs else None
        results[name] = cache.decode(settings[name], partial(_decode, session, start, args.frames, name, knobs))
    graph = trace_model(config, phase="decode", batch_rows=results["dense"].trace.batch_rows)
    designs = {name: load_design(name) for name in DESIGNS}
    rows = []
    for name in runs:
        row = _row(name, results[name], results["dense"], session, start)
        for design_name, design in designs.items():
            simulated = cache.json(
                {"simulate": settings[name], "design": design.model_dump(mode="json")},
                partial(_simulated, name, graph, results[name].trace, design, config),
            )
            row.update({f"{key}_{design_name}": value for key, value in simulated["totals"].items()})
            row["per_frame"].update({f"{key}_{design_name}": value for key, value in simulated["per_frame"].items()})
        rows.append(row)
    document = {
        "command": "python benchmarks/long_video.py "
        + f"--frames {args.frames} --budget {args.budget} --target-ratio {args.target_ratio} --video {args.video}"
        + f" --adaptive-ratio {args.adaptive_ratio}".lower(),
        "frames": args.frames,
        "budget": args.budget,
        "video": args.video,
        "class_id": start.class_id,
        "thresholds": calibration["thresholds"],
        "calibration_replay_ratio": calibration["replay_ratio"],
        "cpu_s": time.process_time() - started,
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(args.out), json.dumps(document, indent=1) + "\n")
    print(markdown_table(rows))
    print(f"wrote {args.out} ({document['cpu_s']:.0f} s CPU)")
    print(_verdict(rows))


def _ratio_or_none(text: str) -> float | None:
    return None if text.lower() == "none" else float(text)


def _decode(session: DecodeSession, start: Any, frames: int, name: str, knobs: dict[str, Any]) -> DecodeResult:
    print(f"decoding {name} ({frames} frames)", flush=True)
    return session.decode(start, frames=frames, seed=0, **knobs)


class RunCache:
    """The experiment's calibration and decodes on disk, each under a digest of the
    checkpoint's bytes and the settings that made it (so a new checkpoint misses)."""

    def __init__(self, directory: Path, checkpoint: Path) -> None:
        self.directory = directory
        self.checkpoint_digest = file_sha256(checkpoint)

    def _path(self, settings: dict[str, Any], suffix: str) -> Path:
        return self.directory / (sha256_of({"checkpoint": self.checkpoint_digest, **settings})[:24] + suffix)

    def json(self, settings: dict[str, Any], make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The JSON document made with `settings`, made and stored if absent."""
        path = self._path(settings, ".json")
        if path.is_file():
            return json.loads(path.read_text())
        document = make()
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(document, indent=1) + "\n")
        return document

    def decode(self, settings: dict[str, Any], make: Callable[[], DecodeResult]) -> DecodeResult:
        """The decode made with `settings` (codes, trace and CPU time), made and stored if absent."""
        codes_path, trace_path = self._path(settings, ".codes.npz"), self._path(settings, ".trace.npz")
        if codes_path.is_file() and trace_path.is_file():
            with np.load(codes_path) as stored:
                return DecodeResult(
                    stored["codes"], ReplayTrace.load(trace_path), float(stored["wall_s"]), stored["cpu_s"]
                )
        result = make()
        codes_path.parent.mkdir(parents=True, exist_ok=True)
        result.trace.save(trace_path)
        with atomic_open(codes_path, "wb") as handle:
            np.savez(handle, codes=result.codes, wall_s=result.wall_time_s, cpu_s=result.step_cpu_s)
        return result


def _row(name: str, result: DecodeResult, dense: DecodeResult, session: DecodeSession, start: Any) -> dict[str, Any]:
    """One configuration's quality and replay, in total and per frame (`_simulated` adds the cost)."""
    quality = session.quality(result, dense, start)
    trace = result.trace
    assert quality.versus_dense is not None and quality.versus_truth is not None  # the toy world has both
    row: dict[str, Any] = {
        "run": name,
        "decode_cpu_s": float(result.step_cpu_s.sum()),
        "replay_ratio": trace.replay_ratio(),
        "kv_entries_max": trace.kv_resident_max,
        "mean_kv_attended": float(trace.kv_attended.mean()),
        "agreement_vs_dense": quality.versus_dense.token_agreement,
        "psnr_vs_dense_db": quality.versus_dense.psnr_db,
        "agreement_vs_truth": quality.versus_truth.token_agreement,
        "psnr_vs_truth_db": quality.versus_truth.psnr_db,
        "per_frame": {
            "frame": list(range(2, trace.meta["frames"] + 1)),
            "agreement_vs_dense": quality.versus_dense.agreement_per_frame,
            "psnr_vs_dense_db": quality.versus_dense.psnr_per_frame_db,
            "agreement_vs_truth": quality.versus_truth.agreement_per_frame,
            "psnr_vs_truth_db": quality.versus_truth.psnr_per_frame_db,
            "replay_ratio": [float(trace.replay[trace.frame == f].mean()) for f in range(1, trace.meta["frames"])],
            "kv_entries": [int(trace.kv_kept[trace.frame == f].max()) for f in range(1, trace.meta["frames"])],
        },
    }
    return row


def _simulated(name: str, graph: Any, trace: ReplayTrace, design: Design, config: Any) -> dict[str, Any]:
    """A run's trace on one design: KV memory, latency and energy per frame (mean and frame by frame).

    The simulator's counters are totals of the video, so each frame's energy comes from
    simulating that frame's steps as a trace of their own; `frame_energy_share` says how
    far their sum is from the whole video's energy (pipeline and predictor state that
    crosses a frame boundary).
    """
    print(f"  simulating {name} on {design.name}", flush=True)
    sim = simulate(graph, trace, design, progress=False)
    cycles = sim.frame_cycles()
    frames = sorted(cycles)
    frame_mj = [
        1e3 * compute_energy(simulate(graph, _frame_steps(trace, f), design, progress=False), design).total_j
        for f in frames
    ]
    total_mj = 1e3 * compute_energy(sim, design).total_j
    entry_elems = config.num_layers * config.num_kv_heads * config.head_dim * 2 * trace.batch_rows  # K and V
    return {
        "totals": {
            "kv_mib": trace.kv_resident_max * entry_elems * design.bytes_per_element("kv_cache") / 2**20,
            "ms_per_frame": 1e3 * sim.latency_s / len(frames),
            "mj_per_frame": total_mj / len(frames),
            "frame_energy_share": sum(frame_mj) / total_mj,
        },
        "per_frame": {"ms": [1e3 * cycles[f] / (sim.clock_mhz * 1e6) for f in frames], "mj": frame_mj},
    }


def _frame_steps(trace: ReplayTrace, frame: int) -> ReplayTrace:
    """The decode steps of one frame as a trace of their own."""
    at = trace.frame == frame
    steps = ("tas", "replay", "frame", "row", "col", "kv_len", "kv_attended", "kv_kept")
    return replace(trace, **{name: getattr(trace, name)[at] for name in steps})


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The long-video table: one line per run."""
    header = (
        "| run | replay | KV entries (max) | agreement vs dense | PSNR vs dense (dB) | agreement vs truth "
        "| PSNR vs truth (dB) | KV MiB (KV260 / U280) | ms/frame KV260 | mJ/frame KV260 | ms/frame U280 "
        "| mJ/frame U280 |\n" + "|" + " --- |" * 12 + "\n"
    )
    lines = [
        f"| {r['run']} | {r['replay_ratio']:.3f} | {r['kv_entries_max']} | {r['agreement_vs_dense']:.4f} "
        f"| {r['psnr_vs_dense_db']:.2f} | {r['agreement_vs_truth']:.4f} | {r['psnr_vs_truth_db']:.2f} "
        f"| {r['kv_mib_kv260-fastcar']:.2f} / {r['kv_mib_u280-fastcar']:.2f} "
        f"| {r['ms_per_frame_kv260-fastcar']:.3f} | {r['mj_per_frame_kv260-fastcar']:.3f} "
        f"| {r['ms_per_frame_u280-fastcar']:.3f} | {r['mj_per_frame_u280-fastcar']:.3f} |"
        for r in rows
    ]
    return header + "\n".join(lines)


def _verdict(rows: list[dict[str, Any]]) -> str:
    """The issue's goal: per-frame quality and cost of the five runs over the long video."""
    by_name = {r["run"]: r for r in rows}
    dense, bounded = by_name["dense"], by_name["FastCar + FlowCache"]
    last = {r["run"]: r["per_frame"]["agreement_vs_dense"][-1] for r in rows if r["run"] != "dense"}
    return (
        f"long-video experiment: {len(rows)} runs over {len(dense['per_frame']['frame']) + 1} frames; "
        f"FastCar + FlowCache holds {bounded['kv_entries_max']} KV entries instead of {dense['kv_entries_max']} "
        f"at {bounded['ms_per_frame_kv260-fastcar'] / dense['ms_per_frame_kv260-fastcar']:.2f}x the dense KV260 "
        f"latency per frame; last-frame agreement with dense: "
        + ", ".join(f"{name} {value:.3f}" for name, value in last.items())
    )


if __name__ == "__main__":
    main()
