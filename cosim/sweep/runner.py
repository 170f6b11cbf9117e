"""Running a sweep: ask the strategy, run points on the executor, store each result at once.

The runner is the only writer of the sweep folder, and holds its lock while it runs
(`cosim.sweep.lock`), so two runs on one folder never evaluate a point twice. It keeps just enough points in
flight to fill the executor, prepares each workload recipe once before the points that
need it, writes each record the moment it arrives, and tells the strategy. Points whose
key is already stored are not evaluated again, so an interrupted sweep resumes where it
stopped and re-running a spec into its folder costs nothing.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from cosim.common.errors import UserError
from cosim.sweep.evaluate import run_point
from cosim.sweep.executor import Finished, PointExecutor, make_executor
from cosim.sweep.lock import hold_sweep_folder
from cosim.sweep.plan import Point, SweepPlan
from cosim.sweep.results import write_table
from cosim.sweep.shipping import (
    bundle_files,
    bundle_inputs,
    prepare_from_bundle,
    run_point_from_bundles,
    store_prepared,
)
from cosim.sweep.spec import LoadedSpec
from cosim.sweep.store import ResultStore
from cosim.sweep.strategies import Candidate, SearchStrategy, make_strategy
from cosim.sweep.workloads import prepare_workload

STATUSES = ("ok", "invalid", "failed")


@dataclass
class SweepSummary:
    """What a run of `run_sweep` did."""

    out_dir: Path
    total: int
    reused: int
    recorded: int
    counts: dict[str, int]
    executor: str
    interrupted: bool = False
    tables: list[Path] = field(default_factory=list)


def run_sweep(
    loaded: LoadedSpec,
    out_dir: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    retry_failed: bool = False,
    progress: bool = True,
    lock_wait_s: float | None = None,
) -> SweepSummary:
    """Run (or resume) `loaded`'s sweep into `out_dir`; see the module docstring.

    `scheduler` (an address) or `client` (a `distributed.Client`) run the points on Dask;
    otherwise `workers` local processes do (default: one per core). Ctrl-C stops at once,
    keeps every finished point, writes the table and returns with ``interrupted`` set.
    Another run on the same folder is waited for (`lock_wait_s`: None waits as long as it
    takes, 0 refuses at once), so each point is evaluated once (`cosim.sweep.lock`).
    """
    plan = SweepPlan(loaded)  # its checks refuse a broken spec before the folder is created
    with hold_sweep_folder(
        out_dir, wait_s=lock_wait_s, on_wait=lambda text: print(f"cosim sweep: {text}", file=sys.stderr)
    ):
        return _run_holding_folder(plan, Path(out_dir), workers, scheduler, client, retry_failed, progress)


def _run_holding_folder(
    plan: SweepPlan,
    out_dir: Path,
    workers: int | None,
    scheduler: str | None,
    client: Any,
    retry_failed: bool,
    progress: bool,
) -> SweepSummary:
    loaded = plan.loaded
    store = ResultStore.create(out_dir, loaded)
    strategy = make_strategy(loaded)
    done = _records_of_sweep(plan, store, retry_failed)
    initial = strategy.prime(list(done.values()))
    executor = make_executor(workers=workers, scheduler=scheduler, client=client)
    run = _Run(plan, store, strategy, executor, done)
    bar = tqdm(
        total=strategy.total,
        initial=min(initial, strategy.total),
        unit="point",
        desc="sweep",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    interrupted = False
    try:
        for record in done.values():
            check_metric_names(loaded, record)
        run.loop(bar)
        executor.close()
    except KeyboardInterrupt:
        interrupted = True
        executor.close(cancel=True)
    except UserError:  # an objective or constraint the evaluator does not report: stop at once
        executor.close(cancel=True)
        raise
    finally:
        bar.close()
    records = list(run.records.values())
    tables = write_table(records, loaded, out_dir)
    counts = {status: sum(r["status"] == status for r in records) for status in STATUSES}
    return SweepSummary(
        out_dir, strategy.total, len(done), run.recorded, counts, executor.description, interrupted, tables
    )


def _records_of_sweep(plan: SweepPlan, store: ResultStore, retry_failed: bool) -> dict[str, dict[str, Any]]:
    """Stored records that are points of this sweep under the current code (by recomputed key)."""
    found = {}
    for record in store.records():
        if retry_failed and record["status"] == "failed":
            continue
        try:
            key = plan.resolve(record["params"]).key
        except (KeyError, ValueError):
            continue
        if key == record["key"]:
            found[key] = record
    return found


class _Run:
    """The state of one run: what is in flight, parked behind a workload, or finished."""

    def __init__(
        self,
        plan: SweepPlan,
        store: ResultStore,
        strategy: SearchStrategy,
        executor: PointExecutor,
        done: dict[str, dict[str, Any]],
    ) -> None:
        self.plan, self.store, self.strategy, self.executor = plan, store, strategy, executor
        self.records = dict(done)
        self.points: dict[str, Point] = {}
        self.waiting: dict[str, list[Candidate]] = {}
        self.parked: dict[str, list[tuple[Candidate, Point]]] = {}
        self.prepared: dict[str, dict[str, Any]] = {}
        self.in_flight = 0
        self.recorded = 0
        self.exhausted = False
        # Workers without the driver's files get them as data, sent once: the inputs now, each recipe when ready.
        self.shared_inputs = (
            executor.share(bundle_inputs(plan.design_file, plan.inputs)) if executor.ships_inputs else None
        )
        self.shared_recipes: dict[str, Any] = {}

    def loop(self, bar: tqdm) -> None:
        self.bar = bar
        while True:
            self._fill()
            parked = sum(len(v) for v in self.parked.values())
            if self.exhausted and self.in_flight == 0 and parked == 0:
                return
            for finished in self.executor.wait(timeout=0.5):
                self.in_flight -= 1
                kind, key = finished.tag
                if kind == "prepare":
                    self._prepared(key, finished)
                else:
                    self._finished(key, finished)

    # ---- proposing ---------------------------------------------------------------------

    def _fill(self) -> None:
        while not self.exhausted:
            parked = sum(len(v) for v in self.parked.values())
            if self.in_flight + parked >= self.executor.slots:
                return
            candidate = self.strategy.ask()
            if candidate is None:
                self.exhausted = True
                return
            self._offer(candidate, self.plan.resolve(candidate.params))

    def _offer(self, candidate: Candidate, point: Point) -> None:
        record = self.records.get(point.key)
        if record is not None:
            self.strategy.repeated(candidate)
            self.strategy.tell(candidate, record)
            return
        if point.key in self.waiting:
            self.waiting[point.key].append(candidate)
            self.strategy.repeated(candidate)
            return
        recipe = point.recipe_key
        if recipe is None or self._ready(recipe):
            self._submit(candidate, point)
            return
        if recipe not in self.parked:
            self.parked[recipe] = []
            workload = point.config["workload"]
            if self.executor.ships_inputs:
                self.executor.submit(("prepare", recipe), prepare_from_bundle, workload, self.shared_inputs)
            else:
                out_dir = self.store.workload_dir(recipe)
                out_dir.mkdir(parents=True, exist_ok=True)
                self.executor.submit(("prepare", recipe), prepare_workload, workload, self.plan.inputs, str(out_dir))
            self.in_flight += 1
        self.parked[recipe].append((candidate, point))

    def _ready(self, recipe: str) -> bool:
        if recipe not in self.prepared:
            info = self.store.prepared(recipe)
            if info is None:
                return False
            self.prepared[recipe] = info
        return True

    def _submit(self, candidate: Candidate, point: Point) -> None:
        recipe = point.recipe_key
        files = self.prepared[recipe]["files"] if recipe else None
        self.points[point.key] = point
        self.waiting[point.key] = [candidate]
        context = self.plan.context(point, files)
        if self.executor.ships_inputs:
            bundles = [self.shared_inputs]
            if recipe is not None and files:
                if recipe not in self.shared_recipes:
                    self.shared_recipes[recipe] = self.executor.share(bundle_files(files))
                bundles.append(self.shared_recipes[recipe])
            self.executor.submit(("point", point.key), run_point_from_bundles, point.config, context, bundles)
        else:
            self.executor.submit(("point", point.key), run_point, point.config, context)
        self.in_flight += 1

    # ---- results -----------------------------------------------------------------------

    def _prepared(self, recipe: str, finished: Finished) -> None:
        info = finished.value if finished.error is None else {"error": finished.error}
        parked = self.parked.pop(recipe)
        if "contents" in info:  # prepared by a worker without the sweep folder: the driver stores it
            info = store_prepared(info, self.store.workload_dir(recipe))
        if "error" not in info:
            self.store.save_prepared(recipe, info)
            self.prepared[recipe] = info
            for candidate, point in parked:
                self._offer(candidate, point)
            return
        for candidate, point in parked:
            self.points[point.key] = point
            self.waiting.setdefault(point.key, []).append(candidate)
            self._record(point, _failure(f"preparing the workload failed: {info['error']}"))

    def _finished(self, key: str, finished: Finished) -> None:
        outcome = finished.value if finished.error is None else _failure(finished.error)
        self._record(self.points[key], outcome)

    def _record(self, point: Point, outcome: dict[str, Any]) -> None:
        workload_metrics = self.prepared.get(point.recipe_key, {}).get("metrics", {}) if point.recipe_key else {}
        record = {
            "key": point.key,
            "params": point.params,
            "status": outcome["status"],
            "metrics": {**workload_metrics, **outcome["metrics"]},
            "error": outcome["error"],
            "elapsed_s": outcome["elapsed_s"],
            "host": outcome.get("host"),
            "pid": outcome.get("pid"),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "recipe_key": point.recipe_key,
            "config": point.config,
        }
        self.store.write(record)
        check_metric_names(self.plan.loaded, record)
        self.records[point.key] = record
        self.recorded += 1
        self.points.pop(point.key, None)
        for candidate in self.waiting.pop(point.key, []):
            self.strategy.tell(candidate, record)
        self.bar.update(1)


def check_metric_names(loaded: LoadedSpec, record: dict[str, Any]) -> None:
    """The spec's objectives and constraints name metrics the evaluator reports.

    Known only once a point has run (a custom evaluator's metrics are its own), so this runs
    on the first finished point, not after all of them.
    """
    if record["status"] != "ok":
        return
    metrics = record["metrics"]
    named = [("objectives", name) for name in loaded.spec.objectives]
    named += [("constraints", constraint.metric) for constraint in loaded.constraints]
    for section, name in named:
        if name not in metrics:
            raise loaded.error((section, name), f"a metric the evaluator reports ({', '.join(sorted(metrics))})", name)


def _failure(error: str) -> dict[str, Any]:
    return {"status": "failed", "metrics": {}, "error": error, "elapsed_s": None}
