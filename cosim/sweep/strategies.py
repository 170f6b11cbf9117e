"""Search strategies: which points to evaluate next, chosen by ``strategy.kind`` in the spec.

Every strategy speaks ask/tell, so all of them feed the same executor and results store:
`ask` proposes parameter values (None when it has nothing more to propose for now),
`tell` hands back the finished record. Grid and random sampling decide everything up
front; NSGA-II (Optuna) decides each proposal from the results told so far.

Adding a strategy: a `SearchStrategy` subclass with its `Settings` model (the keys of the
spec's ``strategy`` block) and, where the spec needs more of it, a `check`; then one
``@STRATEGIES.register("name")``. The spec's allowed kinds, the docs test and the test
parametrisation read `STRATEGIES`.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field

from cosim.common.registry import Registry
from cosim.hw.strict import StrictModel
from cosim.sweep.digests import canonical_json
from cosim.sweep.evaluate import is_number

if TYPE_CHECKING:  # the spec module reads STRATEGIES, so it is imported here for types only
    from cosim.sweep.spec import Constraint, LoadedSpec


class StrategySettings(StrictModel):
    """The spec's ``strategy`` block; each strategy adds its own keys."""

    kind: str = Field(description="Name of the strategy (a key of STRATEGIES).")


@dataclass
class Candidate:
    """Parameter values proposed by a strategy, with the strategy's own handle (a trial)."""

    params: dict[str, Any]
    handle: Any = None
    repeat: bool = False


class SearchStrategy(ABC):
    """Proposes points; `total` is how many it proposes over the whole sweep.

    Built by `make_strategy` as ``cls(loaded, settings)``, `settings` an instance of `Settings`.
    """

    Settings: ClassVar[type[StrategySettings]] = StrategySettings
    total: int

    @abstractmethod
    def __init__(self, loaded: LoadedSpec, settings: Any) -> None:
        """A strategy for `loaded`, `settings` an instance of `Settings`."""

    @classmethod
    def check(cls, loaded: LoadedSpec) -> None:
        """Raise a `UserError` (``loaded.error``) when the spec lacks what this strategy needs."""

    @abstractmethod
    def ask(self) -> Candidate | None:
        """The next point, or None when nothing more is to be proposed now."""

    def tell(self, candidate: Candidate, record: dict[str, Any]) -> None:
        """The finished record of a proposed point (ignored by fixed designs of experiments)."""

    def repeated(self, candidate: Candidate) -> None:
        """`candidate` is a point already stored or running: it costs no evaluation."""

    @abstractmethod
    def prime(self, records: list[dict[str, Any]]) -> int:
        """Results of this sweep stored before (a resumed sweep); returns how many count toward `total`."""


class _FixedList(SearchStrategy):
    def __init__(self, points: list[dict[str, Any]]) -> None:
        self.points = list({canonical_json(point): point for point in points}.values())  # a value listed twice
        self.total = len(points)
        self._next = 0

    def ask(self) -> Candidate | None:
        if self._next >= len(self.points):
            return None
        self._next += 1
        return Candidate(dict(self.points[self._next - 1]))

    def prime(self, records: list[dict[str, Any]]) -> int:
        # Stored points are met again when asked; the runner skips them by key.
        return len(records)


STRATEGIES: Registry[type[SearchStrategy]] = Registry("sweep strategy", "strategy.kind")


@STRATEGIES.register("grid")
class Grid(_FixedList):
    """Every combination, the last parameter varying fastest."""

    @classmethod
    def check(cls, loaded: LoadedSpec) -> None:
        for name, value_range in loaded.ranges.items():
            if value_range.choices() is None:
                raise loaded.error(
                    ("parameters", name, "values"),
                    "a list, or a range with step or log, for the grid strategy",
                    "a continuous range",
                    found_is_text=True,
                )

    def __init__(self, loaded: LoadedSpec, settings: StrategySettings) -> None:
        names = list(loaded.spec.parameters)
        domains = []
        for name in names:
            choices = loaded.choices(name)
            assert choices is not None, "check() rejects continuous ranges for the grid strategy"
            domains.append(choices)
        super().__init__([dict(zip(names, values, strict=True)) for values in itertools.product(*domains)])


class RandomSettings(StrategySettings):
    """`n` distinct points drawn uniformly (seeded) from the parameter domains."""

    n: int = Field(ge=1, description="Points to draw (fewer when the domain has fewer).")
    seed: int = Field(default=0, description="Seed of the draw.")


@STRATEGIES.register("random")
class RandomSampling(_FixedList):
    """`n` distinct points, uniform over each parameter's values (or interval), seeded."""

    Settings = RandomSettings

    def __init__(self, loaded: LoadedSpec, strategy: RandomSettings) -> None:
        names = list(loaded.spec.parameters)
        domains = {name: loaded.choices(name) for name in names}
        rng = np.random.default_rng(strategy.seed)
        points: dict[str, dict[str, Any]] = {}
        for _ in range(50 * strategy.n):
            if len(points) == strategy.n:
                break
            point = {}
            for name in names:
                values = domains[name]
                if values is None:
                    value_range = loaded.ranges[name]
                    point[name] = float(rng.uniform(value_range.low, value_range.high))
                else:
                    point[name] = values[int(rng.integers(len(values)))]
            points.setdefault(canonical_json(point), point)
        super().__init__(list(points.values()))


class Nsga2Settings(StrategySettings):
    """Optuna's NSGA-II multi-objective search over the objectives."""

    n_trials: int = Field(ge=1, description="Points to evaluate in total (resumed points count).")
    population: int = Field(default=20, ge=2, description="Population size of a generation.")
    seed: int = Field(default=0, description="Seed of the sampler.")


@STRATEGIES.register("nsga2")
class Nsga2(SearchStrategy):
    """NSGA-II over the spec's objectives and constraints (Optuna, ask/tell).

    A parameter with a list of values is searched by its index: ordered (an integer
    distribution) when the values are numbers, unordered (categorical) otherwise.
    Failed and invalid points are told as failed trials, so the search avoids nothing
    on their account but never learns a made-up objective value. `n_trials` counts
    distinct points: a proposal of a point already evaluated is answered from the store
    and another is asked for, until `MAX_REPEATS` proposals in a row were repeats (the
    search has converged, or the domain is exhausted).
    """

    MAX_REPEATS = 200
    Settings = Nsga2Settings

    @classmethod
    def check(cls, loaded: LoadedSpec) -> None:
        if not loaded.spec.objectives:
            raise loaded.error(
                ("objectives",), "at least one objective for the nsga2 strategy", "none", found_is_text=True
            )

    def __init__(self, loaded: LoadedSpec, strategy: Nsga2Settings) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self.total = strategy.n_trials
        self.objectives = dict(loaded.spec.objectives)
        self.constraints: list[Constraint] = loaded.constraints
        self.names = list(loaded.spec.parameters)
        self.domains = {name: loaded.choices(name) for name in self.names}
        self.ranges = loaded.ranges
        self.distributions = {name: self._distribution(loaded, name) for name in self.names}
        sampler = optuna.samplers.NSGAIISampler(population_size=strategy.population, seed=strategy.seed)
        self.study = optuna.create_study(
            directions=["minimize" if goal == "min" else "maximize" for goal in self.objectives.values()],
            sampler=sampler,
        )
        self.asked = 0
        self.repeats = 0

    def _distribution(self, loaded: LoadedSpec, name: str) -> Any:
        distributions = self._optuna.distributions
        values = self.domains[name]
        if values is None:
            value_range = loaded.ranges[name]
            return distributions.FloatDistribution(float(value_range.low), float(value_range.high))
        if all(is_number(v) for v in values) and values == sorted(values):
            return distributions.IntDistribution(0, len(values) - 1)
        return distributions.CategoricalDistribution(list(range(len(values))))

    def ask(self) -> Candidate | None:
        if self.asked >= self.total or self.repeats >= self.MAX_REPEATS:
            return None
        self.asked += 1
        trial = self.study.ask(self.distributions)
        return Candidate(self._decode(trial.params), trial)

    def tell(self, candidate: Candidate, record: dict[str, Any]) -> None:
        if not candidate.repeat:
            self.repeats = 0
        values = self._values(record)
        trial = candidate.handle
        if values is None:
            self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
            return
        for constraint in self.constraints:
            trial.set_constraint(str(constraint), constraint.violation(record["metrics"]))
        self.study.tell(trial, values)

    def repeated(self, candidate: Candidate) -> None:
        candidate.repeat = True
        self.asked -= 1
        self.repeats += 1

    def prime(self, records: list[dict[str, Any]]) -> int:
        taken = 0
        for record in records[: self.total]:
            encoded = self._encode(record["params"])
            if encoded is None:
                continue
            self.study.enqueue_trial(encoded)
            trial = self.study.ask(self.distributions)
            self.tell(Candidate(record["params"], trial), record)
            taken += 1
        self.asked += taken
        return taken

    def _values(self, record: dict[str, Any]) -> list[float] | None:
        if record["status"] != "ok":
            return None
        values = [record["metrics"].get(name) for name in self.objectives]
        if not all(is_number(v) and math.isfinite(v) for v in values):
            return None
        return [float(v) for v in values]

    def _decode(self, encoded: dict[str, Any]) -> dict[str, Any]:
        decoded = {}
        for name in self.names:
            domain = self.domains[name]
            decoded[name] = encoded[name] if domain is None else domain[int(encoded[name])]
        return decoded

    def _encode(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """Trial parameters of stored values; None when a value is outside this spec's domains."""
        encoded = {}
        for name in self.names:
            if name not in params:
                return None
            values = self.domains[name]
            if values is None:
                value_range = self.ranges[name]
                if not is_number(params[name]) or not value_range.low <= params[name] <= value_range.high:
                    return None
                encoded[name] = float(params[name])
                continue
            texts = [canonical_json(v) for v in values]
            wanted = canonical_json(params[name])
            if wanted not in texts:
                return None
            encoded[name] = texts.index(wanted)
        return encoded


def make_strategy(loaded: LoadedSpec) -> SearchStrategy:
    """The strategy the spec names, with its checked settings."""
    return STRATEGIES.get(loaded.strategy.kind, loaded.file)(loaded, loaded.strategy)
