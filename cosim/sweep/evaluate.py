"""Evaluating one point, inside a worker: the small interface every evaluator meets.

An evaluator is a function ``evaluate(config: dict) -> dict`` from a point's resolved
config (design after overrides, workload, knobs) to its metrics (objectives, resource
use, ...). It raises `InvalidPoint` for a design that fails validation, which is recorded
as ``invalid`` without simulating. `run_point` wraps any evaluator so that nothing it
raises escapes the worker: the sweep records the error and goes on. An evaluator that
declares its metric names (`reports`) has the spec's objectives and constraints checked
against them before any point runs; otherwise they are checked at the first finished point.
"""

from __future__ import annotations

import importlib
import math
import os
import socket
import time
import traceback
from collections.abc import Callable
from typing import Any

from cosim.common.errors import UserError
from cosim.common.registry import Registry

Evaluator = Callable[[dict[str, Any]], dict[str, Any]]

# Built-in evaluators: name -> "package.module:function".
EVALUATORS: Registry[str] = Registry("sweep evaluator", "evaluator")
EVALUATORS.add("design", "cosim.sweep.design_evaluator:evaluate_design")


class InvalidPoint(Exception):
    """The point's design is rejected before simulation (schema or device limits).

    `metrics` may carry what is known without simulating (e.g. resource utilisation),
    so the table still shows how far over budget an invalid design is.
    """

    def __init__(self, reason: str, metrics: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.metrics = metrics or {}


def reports(*names: str) -> Callable[[Evaluator], Evaluator]:
    """Declare the metrics an evaluator returns: ``@reports("latency_s", "energy_j")``."""

    def declare(function: Evaluator) -> Evaluator:
        function.reported_metrics = frozenset(names)  # type: ignore[attr-defined]
        return function

    return declare


def reported_metrics(evaluator: Evaluator) -> frozenset[str] | None:
    """The metric names `evaluator` declared with `reports`, or None if it did not."""
    names = getattr(evaluator, "reported_metrics", None)
    return names if isinstance(names, frozenset) else None


def resolve_evaluator(name: str) -> Evaluator:
    """The evaluator function named `name` (a registered name or ``package.module:function``)."""
    target = EVALUATORS.get(name) if name in EVALUATORS else name
    module_name, _, attribute = target.partition(":")
    if not attribute:
        raise UserError(None, "evaluator", f"one of {', '.join(EVALUATORS)} or package.module:function", name)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UserError(
            None, "evaluator", "an importable module", f"{module_name} ({error})", found_is_text=True
        ) from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise UserError(
            None, "evaluator", f"a function {attribute} in {module_name}", "nothing callable", found_is_text=True
        )
    return function


def run_point(config: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Evaluate one point and describe the outcome; never raises for the point's own faults.

    `config` is what the point's key hashes; `context` holds where things are on disk
    (graph and trace paths, the base design file) and does not change the result.
    """
    start = time.perf_counter()
    metrics: dict[str, Any] = {}
    error = None
    try:
        try:
            evaluator = resolve_evaluator(config["evaluator"])
            metrics = plain_metrics(evaluator({**config, "context": context}))
            status = "ok"
        except InvalidPoint as invalid:
            status, error = "invalid", str(invalid)
            metrics = plain_metrics(invalid.metrics)
    except Exception as failure:  # the point failed, the sweep goes on
        status, error, metrics = "failed", describe_failure(failure), {}
    return {
        "status": status,
        "metrics": plain_metrics(metrics),
        "error": error,
        "elapsed_s": round(time.perf_counter() - start, 6),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }


def describe_failure(failure: BaseException) -> str:
    """``Type: message (at file:line in function)`` of the innermost frame."""
    frames = traceback.extract_tb(failure.__traceback__)
    where = f" (at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    return f"{type(failure).__name__}: {failure}{where}"


def plain_metrics(metrics: Any) -> dict[str, Any]:
    """Metrics as JSON-ready scalars (numpy scalars unwrapped); anything else is an error."""
    if not isinstance(metrics, dict):
        raise TypeError(f"an evaluator must return a dict of metrics, not {type(metrics).__name__}")
    plain: dict[str, Any] = {}
    for name, value in metrics.items():
        if hasattr(value, "item") and callable(value.item):
            value = value.item()
        if value is not None and not isinstance(value, (bool, int, float, str)):
            raise TypeError(f"metric {name!r} must be a number, bool or string, not {type(value).__name__}")
        plain[str(name)] = value
    return plain


def is_number(value: Any) -> bool:
    """A finite-or-infinite real that can be an objective (bools and NaN are not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
