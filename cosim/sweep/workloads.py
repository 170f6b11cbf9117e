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

from cosim.graph import load_graph
from cosim.replay_trace import ReplayTrace
from cosim.sweep.evaluate import describe_failure, plain_metrics
from cosim.synthetic_trace import synthetic_trace


def prepare_workload(workload: dict[str, Any], inputs: dict[str, str], out_dir: str) -> dict[str, Any]:
    """Produce a recipe's files in `out_dir` (runs in a worker).

    Returns ``{"files": {name: path}, "metrics": {...}}`` on success and
    ``{"error": text}`` otherwise; it never raises, so any failure reaches the runner.
    """
    try:
        preparer = _PREPARERS[workload["kind"]]
        files, metrics = preparer(workload, inputs, Path(out_dir))
        return {"files": files, "metrics": plain_metrics(metrics)}
    except Exception as failure:  # reported to the runner, which fails the recipe's points
        return {"error": describe_failure(failure)}


def _prepare_synthetic(workload: dict[str, Any], inputs: dict[str, str], out_dir: Path) -> tuple[dict, dict]:
    recipe = workload["synthetic"]
    graph = load_cached_graph(inputs["graph"])
    attrs = graph.graph
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
    )
    path = trace.save(out_dir / "trace.npz")
    return {"trace": str(path)}, {"workload_replay_ratio": trace.replay_ratio()}


_PREPARERS = {"synthetic": _prepare_synthetic}


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
