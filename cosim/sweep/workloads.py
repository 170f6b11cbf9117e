"""Workloads of a sweep: the graph and replay trace each point simulates.

A workload given as files is used as is. A recipe (a synthetic trace, or a decoding run
of the model) is prepared once per distinct recipe, in a worker, into the sweep folder's
``workloads/<recipe hash>/``; every hardware point with that recipe reuses it, so a
sweep over hardware knobs decodes once, not once per point. Workers keep the graphs and
traces they have loaded, so a run of points over one workload parses its files once.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from cosim.artifacts.graph import load_graph, save_graph
from cosim.artifacts.replay_trace import ReplayTrace
from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.common.errors import UserError
from cosim.sweep.evaluate import describe_failure, plain_metrics

# Metrics a prepared workload adds to each of its points (`prepare_workload`, `_decode`).
DECODE_METRICS = (
    "decode_replay_ratio",
    "token_agreement_vs_dense",
    "psnr_vs_dense_db",
    "psnr_vs_truth_db",
    "decode_wall_time_s",
)
CALIBRATION_VIDEOS = 2  # held-out toy videos the thresholds of a target replay ratio are calibrated on


def prepare_workload(workload: dict[str, Any], inputs: dict[str, str], out_dir: str) -> dict[str, Any]:
    """Produce a recipe's files in `out_dir` (runs in a worker).

    Traces the `model`'s graph (a preset or library model) if one is named, then makes the trace of a
    synthetic or decode recipe. Returns ``{"files": {"graph"|"trace": path},
    "metrics": {...}}`` on success and ``{"error": text}`` otherwise; it never raises,
    so any failure reaches the runner.
    """
    try:
        folder = Path(out_dir)
        files: dict[str, str] = {}
        if workload.get("model") is not None:
            files["graph"] = _trace_graph(workload["model"], folder)
        metrics: dict[str, Any] = {}
        if workload["kind"] == "synthetic":
            files["trace"] = _synthetic(workload["synthetic"], files.get("graph") or inputs["graph"], folder)
        elif workload["kind"] == "decode":
            trace_file, metrics, model_config = _decode(workload["decode"], inputs, folder)
            files["trace"] = trace_file
            if "graph" not in files and "graph" not in inputs:
                files["graph"] = _trace_graph(model_config, folder)
        trace = load_cached_trace(files.get("trace") or inputs["trace"])
        metrics.setdefault("workload_replay_ratio", trace.replay_ratio())
        return {"files": files, "metrics": plain_metrics(metrics)}
    except Exception as failure:  # reported to the runner, which fails the recipe's points
        return {"error": describe_failure(failure)}


def workload_metrics(kind: str, model: str | None) -> frozenset[str]:
    """Names of the metrics preparing a workload of this kind adds (none for plain files)."""
    if kind == "files" and model is None:
        return frozenset()
    return frozenset(("workload_replay_ratio", *(DECODE_METRICS if kind == "decode" else ())))


def _trace_graph(model: Any, folder: Path) -> str:
    """One decode step of a model (a preset or library model by name, or a config) as a graph file (meta
    tensors: no weights)."""
    from models.library import trace_named_model
    from models.tracing.graph_trace import trace_model

    graph = trace_named_model(model, phase="decode") if isinstance(model, str) else trace_model(model, phase="decode")
    return str(save_graph(graph, folder / "graph.json"))


def _synthetic(recipe: dict[str, Any], graph_path: str, folder: Path) -> str:
    attrs = load_cached_graph(graph_path).graph
    tokens = int(attrs["tokens_per_frame"])
    side = math.isqrt(tokens)
    frame_rows, frame_cols = (side, side) if side * side == tokens else (1, tokens)
    trace = synthetic_trace(
        num_layers=int(attrs["num_layers"]),
        layer_rates=recipe["layer_rates"],
        frames=recipe["frames"] or int(attrs["frames"]),
        frame_rows=frame_rows,
        frame_cols=frame_cols,
        batch_rows=int(attrs["batch_rows"]),
        conditioning_frames=recipe["conditioning_frames"],
        correlation=recipe["correlation"],
        rows_agree=recipe["rows_agree"],
        seed=recipe["seed"],
        model=str(attrs["model"]),
        videos=recipe["videos"],
        tokens_per_step=recipe["tokens_per_step"],
    )
    return str(trace.save(folder / "trace.npz"))


def _decode(recipe: dict[str, Any], inputs: dict[str, str], folder: Path) -> tuple[str, dict[str, Any], Any]:
    """Decode held-out toy-world videos with FastCar (and the recipe's attention policy).

    Quality is measured against a dense decode of the same start and seed (token
    agreement, PSNR) and against the true frames (PSNR), averaged over the videos; the
    first video's decisions become the trace. Returns (trace path, metrics, model config).
    """
    from models.decoding.session import torch_threads, toy_session
    from models.decoding.sparse_attention import make_policy

    session = toy_session(_decode_checkpoint(recipe, inputs))
    frames, seed = recipe["frames"], recipe["seed"]
    attention = recipe["attention"]
    knobs = {k: attention[k] for k in ("window", "sink") if attention[k] is not None}
    policy = make_policy(attention["policy"], **knobs) if attention["policy"] != "dense" else None
    figures: dict[str, list[float]] = {k: [] for k in ("ratio", "agree", "psnr_dense", "psnr_truth", "time")}
    first_trace = None
    with torch_threads(1):  # workers run side by side, one per core
        thresholds = recipe["thresholds"]
        if recipe["target_replay_ratio"] is not None:
            thresholds = session.calibrate_to_ratio(
                recipe["target_replay_ratio"],
                CALIBRATION_VIDEOS,
                rounds=1,
                frames=frames,
                seed=seed,
                attention_policy=policy,
            ).thresholds
        for video in range(recipe["videos"]):
            start = session.start(video, frames)
            run = session.decode(start, thresholds=thresholds, frames=frames, seed=seed, attention_policy=policy)
            measured = session.quality(run, session.decode_dense(start, frames=frames, seed=seed), start)
            versus_dense, versus_truth = measured.versus_dense, measured.versus_truth
            assert versus_dense is not None and versus_truth is not None, (
                "toy sessions have a tokenizer and true frames"
            )
            figures["ratio"].append(run.trace.replay_ratio())
            figures["agree"].append(versus_dense.token_agreement)
            figures["psnr_dense"].append(versus_dense.psnr_db)
            figures["psnr_truth"].append(versus_truth.psnr_db)
            figures["time"].append(run.wall_time_s)
            if first_trace is None:
                first_trace = run.trace
    metrics = {
        "decode_replay_ratio": float(np.mean(figures["ratio"])),
        "token_agreement_vs_dense": float(np.mean(figures["agree"])),
        "psnr_vs_dense_db": float(np.mean(figures["psnr_dense"])),
        "psnr_vs_truth_db": float(np.mean(figures["psnr_truth"])),
        "decode_wall_time_s": float(np.sum(figures["time"])),
    }
    assert first_trace is not None, "the recipe decodes at least one video"
    return str(first_trace.save(folder / "trace.npz")), metrics, session.model.config


def _decode_checkpoint(recipe: dict[str, Any], inputs: dict[str, str]) -> Path:
    """The recipe's toy checkpoint: its file, or the shipped one for the preset that has one."""
    from models.toyworld.train import DEFAULT_CHECKPOINT

    if recipe["checkpoint"] is not None:
        return Path(inputs["checkpoint"])
    if recipe["preset"] == DEFAULT_CHECKPOINT.stem:
        return DEFAULT_CHECKPOINT
    raise UserError(
        None,
        "workload.decode.preset",
        f"a preset with a shipped checkpoint ({DEFAULT_CHECKPOINT.stem}) or a checkpoint file",
        recipe["preset"],
    )


def load_cached_graph(path: str) -> nx.DiGraph:
    """A graph file, parsed once per worker process while it is unchanged (do not modify it)."""
    return _graph(path, *_stamp(path))


def load_cached_trace(path: str) -> ReplayTrace:
    """A trace file, read once per worker process while it is unchanged (do not modify it)."""
    return _trace(path, *_stamp(path))


def _stamp(path: str) -> tuple[int, int]:
    """Modification time and size: a rewritten file is read again by long-lived workers."""
    try:
        status = Path(path).stat()
    except OSError:
        return (0, 0)  # the loader reports the missing file
    return status.st_mtime_ns, status.st_size


@lru_cache(maxsize=8)
def _graph(path: str, _mtime_ns: int, _size: int) -> nx.DiGraph:
    return load_graph(path)


@lru_cache(maxsize=32)
def _trace(path: str, _mtime_ns: int, _size: int) -> ReplayTrace:
    return ReplayTrace.load(path)
