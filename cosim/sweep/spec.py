"""The sweep spec: which design and workload, which knobs take which values, how to search.

A spec is YAML checked by pydantic with unknown keys forbidden and duplicate keys
rejected (the strict reader of `cosim.hw`), so a misspelt knob stops the sweep before
hours are spent on it. Every mistake becomes one `UserError` naming the spec file and
line, the key path, what was expected and what was found. Relative paths inside a spec
are relative to the spec file.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from cosim.common.errors import UserError
from cosim.hw.describe import validation_errors
from cosim.hw.issues import ConfigErrors, KeyPath, nested_issue
from cosim.hw.strict import StrictModel
from cosim.hw.yaml_document import YamlDocument, load_yaml_value, read_yaml
from cosim.sweep.evaluate import EVALUATORS, reported_metrics, resolve_evaluator
from cosim.sweep.strategies import STRATEGIES, StrategySettings

Goal = Literal["min", "max"]
Model = TypeVar("Model", bound=BaseModel)

# --------------------------------------------------------------------------- checking


@dataclass
class _Part(YamlDocument):
    """A part of a YAML document checked on its own; errors name the full key path and line."""

    prefix: KeyPath = ()

    def error(self, key: KeyPath, expected: str, found: Any, *, found_is_text: bool = False) -> UserError:
        return super().error((*self.prefix, *key), expected, found, found_is_text=found_is_text)


def validate_part(model: type[Model], document: YamlDocument, key: KeyPath, data: Any) -> Model:
    """Check `data` (found at `key` of `document`) against `model`; errors become `ConfigErrors`."""
    part = _Part(document.path, data, document.lines, prefix=key)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigErrors(validation_errors(error, model, part)) from None


# --------------------------------------------------------------------------- parameters


# Values one range may list: a grid over more is hours of work, and listing it alone takes gigabytes.
MAX_RANGE_VALUES = 100_000


class ValueRange(StrictModel):
    """A numeric range: ``step`` gives low, low+step, ... <= high; ``log`` a factor (low,
    low*log, ... <= high); neither means a continuous interval (random and nsga2 only)."""

    low: int | float = Field(description="Smallest value.")
    high: int | float = Field(description="Largest value (included when a step lands on it).")
    step: int | float | None = Field(default=None, gt=0, description="Distance between values.")
    log: int | float | None = Field(default=None, gt=1, description="Factor between values.")

    @model_validator(mode="after")
    def _check(self) -> ValueRange:
        if self.high < self.low:
            raise nested_issue("high", f"a value >= low ({self.low})", self.high)
        if self.step is not None and self.log is not None:
            raise nested_issue("log", "either step or log, not both", self.log)
        if self.log is not None and self.low <= 0:
            raise nested_issue("low", "a value > 0 with a log factor", self.low)
        count = self.count()
        if count is not None and count > MAX_RANGE_VALUES:
            key = "step" if self.step is not None else "log"
            raise nested_issue(
                key, f"at most {MAX_RANGE_VALUES} values in the range", f"{count} values", found_is_text=True
            )
        return self

    def count(self) -> int | None:
        """How many values `choices` gives (None for a continuous interval), without listing them."""
        if self.step is not None:
            return math.floor((self.high - self.low) / self.step + 1e-9) + 1
        if self.log is not None:
            return math.floor(math.log(self.high / self.low) / math.log(self.log) + 1e-9) + 1
        return None

    def choices(self) -> list[int | float] | None:
        """The finite list of values, or None for a continuous interval."""
        integral = all(isinstance(v, int) for v in (self.low, self.high, self.step or 1, self.log or 2))
        count = self.count()
        if count is None:
            return None
        if self.step is not None:
            values = [self.low + k * self.step for k in range(count)]
        else:
            values = [self.low * (self.log or 1) ** k for k in range(count)]
        return [int(v) if integral else round(float(v), 12) for v in values]


class Parameter(StrictModel):
    """One swept knob and its values."""

    path: str = Field(
        min_length=1,
        description="A dotted path into the base design (engines.matrix.arrays, buffers[name=weights].bytes) "
        "or into the workload recipe (workload.decode.thresholds, workload.synthetic.layer_rates).",
    )
    values: Any = Field(
        default=None,
        description="A non-empty list of values, or a range {low, high, step | log} (without step or log: a "
        "continuous interval, for random and nsga2).",
    )


# --------------------------------------------------------------------------- workloads


class AttentionRecipe(StrictModel):
    """Attention policy of a decoding run: dense, or a sparse policy with its window."""

    policy: str = Field(default="dense", description="Attention policy name (models.decoding.sparse_attention).")
    window: int | None = Field(default=None, ge=1, description="Recent KV entries a sparse policy keeps.")
    sink: int | None = Field(default=None, ge=0, description="First KV entries a streaming policy keeps.")


class DecodeRecipe(StrictModel):
    """A decoding run that produces the replay trace; cached by the hash of this recipe."""

    preset: str | None = Field(default=None, description="Model preset with a shipped checkpoint (e.g. toyworld).")
    checkpoint: str | None = Field(default=None, description="Checkpoint file of a trained model (instead of preset).")
    thresholds: float | list[float] | None = Field(default=None, description="TAS thresholds, one or one per layer.")
    target_replay_ratio: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Calibrate one threshold to reach this replay ratio (instead of thresholds).",
    )
    attention: AttentionRecipe = Field(default_factory=AttentionRecipe)
    frames: int = Field(default=8, ge=2, description="Frames per generated video.")
    videos: int = Field(default=1, ge=1, description="Videos decoded (quality is their mean).")
    seed: int = Field(default=0, description="Sampling seed.")

    @model_validator(mode="after")
    def _check(self) -> DecodeRecipe:
        if (self.preset is None) == (self.checkpoint is None):
            raise nested_issue("preset", "exactly one of preset or checkpoint", self.preset)
        if self.thresholds is not None and self.target_replay_ratio is not None:
            raise nested_issue(
                "target_replay_ratio", "either thresholds or target_replay_ratio, not both", self.target_replay_ratio
            )
        return self


class SyntheticRecipe(StrictModel):
    """A synthetic replay trace over the graph's geometry (`cosim.artifacts.synthetic_trace`)."""

    layer_rates: float | list[float] = Field(description="Replay rate, one or one per layer, in [0, 1].")
    correlation: float = Field(
        default=0.0, ge=0, le=1, description="Chance a position repeats its previous-frame decision."
    )
    frames: int | None = Field(default=None, ge=2, description="Frames per video. Default: the graph's frames.")
    conditioning_frames: int = Field(default=1, ge=0, description="Frames given in the prompt (not generated).")
    rows_agree: bool = Field(default=True, description="All batch rows take the same decision.")
    seed: int = Field(default=0, ge=0, description="Seed of the draw.")
    videos: int = Field(default=1, ge=1, le=256, description="Videos decoded in lockstep, each with its own decisions.")
    tokens_per_step: int = Field(
        default=1, ge=1, description="Tokens of a frame decoded in one step (a divisor of the frame's tokens)."
    )

    @model_validator(mode="after")
    def _rates(self) -> SyntheticRecipe:
        rates = self.layer_rates if isinstance(self.layer_rates, list) else [self.layer_rates]
        if not rates or any(not 0 <= rate <= 1 for rate in rates):
            raise nested_issue("layer_rates", "rates in [0, 1]", self.layer_rates)
        return self


class WorkloadSpec(StrictModel):
    """What each point simulates: a compute graph and a replay trace.

    The graph is a file (`graph`) or traced from a preset or library model (`model`); the trace is a
    file (`trace`), a `synthetic` recipe or a `decode` recipe. Without `graph` or `model`,
    a decode recipe simulates the decoded model itself; with one of a different depth, the
    decisions are mapped onto its layers by relative depth.
    """

    graph: str | None = Field(default=None, description="ComputeGraph file (.json).")
    model: str | None = Field(
        default=None,
        description="Preset or library model (cosim models) whose decode step is traced (e.g. llamagen-b).",
    )
    trace: str | None = Field(default=None, description="ReplayTrace file (.npz).")
    synthetic: SyntheticRecipe | None = None
    decode: DecodeRecipe | None = None

    @model_validator(mode="after")
    def _one_form(self) -> WorkloadSpec:
        sources = [name for name in ("trace", "synthetic", "decode") if getattr(self, name) is not None]
        if len(sources) != 1:
            key = sources[1] if sources else "trace"
            raise nested_issue(
                key, "exactly one of trace, synthetic or decode", ", ".join(sources) or "none", found_is_text=True
            )
        if self.graph is not None and self.model is not None:
            raise nested_issue("model", "either graph or model, not both", self.model)
        if self.decode is None and self.graph is None and self.model is None:
            raise nested_issue(
                "graph", f"a graph file (or a model to trace) with {sources[0]}", "nothing", found_is_text=True
            )
        return self

    @property
    def kind(self) -> str:
        return "files" if self.trace is not None else ("synthetic" if self.synthetic is not None else "decode")


# --------------------------------------------------------------------------- constraints

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
    "!=": operator.ne,
}
_COMPARISON = re.compile(r"^\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Constraint:
    """``metric op value``; a point is feasible when all of the spec's constraints hold."""

    metric: str
    op: str
    value: Any

    def holds(self, metrics: dict[str, Any]) -> bool:
        found = metrics.get(self.metric)
        if found is None or (isinstance(found, float) and math.isnan(found)):
            return False
        try:
            return bool(_COMPARISONS[self.op](found, self.value))
        except TypeError:
            return False

    def violation(self, metrics: dict[str, Any]) -> float:
        """How far the point is from meeting it (<= 0: met), the form NSGA-II wants."""
        found = metrics.get(self.metric)
        if (
            self.op in ("==", "!=")
            or isinstance(found, bool)
            or not isinstance(found, (int, float))
            or math.isnan(found)
        ):
            return 0.0 if self.holds(metrics) else 1.0
        gap = float(found) - float(self.value)
        return gap if self.op in ("<=", "<") else -gap

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value}"


def parse_constraint(document: YamlDocument, metric: str, raw: Any) -> Constraint:
    """``fits_device: true`` means equality; ``dsp_util: "<= 0.9"`` a comparison."""
    key = ("constraints", metric)
    if isinstance(raw, (bool, int, float)):
        return Constraint(metric, "==", raw)
    if isinstance(raw, str):
        match = _COMPARISON.match(raw)
        if match:
            op, text = match.groups()
            value = load_yaml_value(text)
            if op in ("==", "!=") or (isinstance(value, (int, float)) and not isinstance(value, bool)):
                return Constraint(metric, op, value)
    raise document.error(key, 'a value, or a comparison like "<= 0.9"', raw)


# --------------------------------------------------------------------------- the spec


class SweepSpec(StrictModel):
    """A whole sweep file."""

    base_design: str = Field(description="Design file the parameters modify.")
    workload: WorkloadSpec
    parameters: dict[str, Parameter] = Field(min_length=1, description="Swept knobs by name.")
    strategy: dict[str, Any] = Field(
        description=f"{{kind: NAME, ...}}: NAME one of {', '.join(STRATEGIES)}, with that strategy's settings."
    )
    objectives: dict[str, Goal] = Field(default_factory=dict, description="Metric name -> min or max.")
    constraints: dict[str, int | float | bool | str] = Field(
        default_factory=dict, description='Metric name -> required value, or a comparison like "<= 0.9".'
    )
    evaluator: str = Field(
        default="design",
        description=f"One of {', '.join(EVALUATORS)} (built in), or package.module:function taking the point config.",
    )

    @field_validator("parameters")
    @classmethod
    def _names(cls, value: dict[str, Parameter]) -> dict[str, Parameter]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise nested_issue(name, "a parameter name of letters, digits and _", name)
        return value


@dataclass
class LoadedSpec:
    """A checked spec: the raw data (kept in the sweep folder), the models and where it came from."""

    file: str
    data: dict[str, Any]
    spec: SweepSpec
    strategy: StrategySettings
    ranges: dict[str, ValueRange]
    constraints: list[Constraint]
    document: YamlDocument

    def choices(self, name: str) -> list[Any] | None:
        """Finite values of parameter `name`, or None for a continuous interval."""
        values = self.spec.parameters[name].values
        return list(values) if isinstance(values, list) else self.ranges[name].choices()

    def resolve(self, relative: str) -> Path:
        """A path named in the spec, relative to the spec file's folder."""
        path = Path(relative).expanduser()
        return path if path.is_absolute() else (Path(self.file).parent / path).resolve()

    def error(self, key: KeyPath, expected: str, found: Any, *, found_is_text: bool = False) -> UserError:
        """A `UserError` at `key` of the spec file."""
        return self.document.error(key, expected, found, found_is_text=found_is_text)


def load_spec(path: str | Path) -> LoadedSpec:
    """Read and check a sweep spec; every mistake is a `UserError` naming file, line and key."""
    path = Path(path).resolve()
    return check_spec(read_yaml(path))


def check_spec(document: YamlDocument) -> LoadedSpec:
    """Check a parsed spec (a file, or the copy a sweep folder keeps)."""
    data = document.data
    spec = validate_part(SweepSpec, document, (), data)
    kind = spec.strategy.get("kind")
    if not isinstance(kind, str) or kind not in STRATEGIES:
        raise document.error(("strategy", "kind"), "one of " + ", ".join(map(repr, STRATEGIES)), kind)
    strategy = STRATEGIES.get(str(kind))
    settings = validate_part(strategy.Settings, document, ("strategy",), spec.strategy)
    _check_parameters(document, spec)
    ranges = {
        name: validate_part(ValueRange, document, ("parameters", name, "values"), parameter.values)
        for name, parameter in spec.parameters.items()
        if isinstance(parameter.values, dict)
    }
    loaded = LoadedSpec(str(document.path), data, spec, settings, ranges, [], document)
    strategy.check(loaded)
    loaded.constraints = [parse_constraint(document, name, raw) for name, raw in spec.constraints.items()]
    _check_names(document, spec)
    return loaded


def _check_parameters(document: YamlDocument, spec: SweepSpec) -> None:
    """Values listed or ranged, finite, and each path swept by one parameter only."""
    first_of_path: dict[str, str] = {}
    for name, parameter in spec.parameters.items():
        key = ("parameters", name)
        if not isinstance(parameter.values, (list, dict)) or parameter.values == []:
            raise document.error(
                (*key, "values"),
                "a non-empty list of values or a range {low, high, step | log}",
                "nothing" if parameter.values is None else repr(parameter.values),
                found_is_text=True,
            )
        for index, value in enumerate(parameter.values if isinstance(parameter.values, list) else []):
            if isinstance(value, float) and not math.isfinite(value):
                raise document.error((*key, "values", index), "a finite number", value)
        if parameter.path in first_of_path:
            raise document.error(
                (*key, "path"),
                f"a path no other parameter sweeps (parameter {first_of_path[parameter.path]!r} does)",
                parameter.path,
            )
        first_of_path[parameter.path] = name


def _check_names(document: YamlDocument, spec: SweepSpec) -> None:
    """The evaluator, the model (preset or library) and (if the evaluator declares its metrics) the metric names exist,
    so that no point runs with a name that cannot work."""
    try:
        evaluator = resolve_evaluator(spec.evaluator)
    except UserError as error:
        raise document.error(("evaluator",), error.expected, error.found, found_is_text=True) from None
    declared = reported_metrics(evaluator)
    if declared is not None:
        from cosim.sweep.workloads import workload_metrics

        known = declared | workload_metrics(spec.workload.kind, spec.workload.model)
        named = [("objectives", name) for name in spec.objectives]
        named += [("constraints", name) for name in spec.constraints]
        for section, name in named:
            if name not in known:
                expected = f"a metric the evaluator reports ({', '.join(sorted(known))})"
                raise document.error((section, name), expected, name)
    if spec.workload.model is not None:
        from models.library import check_model_name  # torch-free: the presets and library models a graph traces from

        try:
            check_model_name(spec.workload.model)
        except UserError as error:
            raise document.error(("workload", "model"), error.expected, error.found) from None
