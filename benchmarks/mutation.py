"""Benchmark: mutation testing of the modules the README's claims rest on, with mutmut.

mutmut (a dev dependency) changes one thing at a time in the source (an operator, a constant,
a comparison, an argument) and runs the tests that cover the changed function; a mutant
the tests do not notice *survives*. The score is killed / (mutants - equivalent), where
equivalent mutants (no test can see them: they do not change behaviour) are the ones listed
in docs/testing.md's table of equivalent mutants.

Each module runs separately, with only its own tests (`MODULES`), in a scratch copy of the
tracked files (mutmut 3 works from a ``mutants/`` copy beside its pyproject.toml, and the
module's test selection is written into that copy's ``[tool.mutmut]``), so a clean clone
needs nothing but the dev extra and the repository stays untouched.

    .venv/bin/python benchmarks/mutation.py [--modules energy,policies,...] [--workers 2] [--keep DIR]

Prints each module's counts and surviving mutants (with their diff), then the overall
score; the last line is ``mutation score: X %`` (the goal: X >= 85).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTMUT = str(Path(sys.executable).with_name("mutmut"))
EQUIVALENT_DOC = ROOT / "docs" / "testing.md"
KILLED = {"killed", "timeout", "caught by type check", "segfault"}


@dataclass(frozen=True)
class Module:
    """Source files mutated together, the tests that check them, and the slow ones of those
    tests left out (`slow`: node ids): mutmut runs every test that reaches a mutated
    function for each of its mutants, so one test of many seconds would dominate the run;
    each is left out only where faster tests pin what it checks."""

    sources: tuple[str, ...]
    tests: tuple[str, ...]
    slow: tuple[str, ...] = ()


MODULES = {
    "energy": Module(
        ("cosim/analysis/energy.py",),
        (
            "tests/analysis/test_energy.py",
            "tests/analysis/test_energy_designs.py",
            "tests/analysis/test_energy_breakdown.py",
        ),
    ),
    "policies": Module(
        ("cosim/sim/policies/*.py",),
        ("tests/sim/test_policies.py", "tests/sim/test_policy_hand_cases.py", "tests/sim/test_policy_rules.py"),
    ),
    "replay_trace": Module(
        ("cosim/artifacts/replay_trace.py",),
        (
            "tests/artifacts/test_replay_trace.py",
            "tests/artifacts/test_trace_input_checks.py",
            "tests/artifacts/test_replay_trace_api.py",
            "tests/artifacts/test_replay_trace_lockstep_and_budget.py",
        ),
    ),
    "graph": Module(
        ("cosim/artifacts/graph.py",),
        (
            "tests/artifacts/test_graph_format.py",
            "tests/artifacts/test_graph_input_checks.py",
            "tests/artifacts/test_graph_loader_errors.py",
            "tests/artifacts/test_graph_add_op.py",
            "tests/artifacts/test_graph_node_link_shape.py",
        ),
    ),
    "fastcar": Module(
        ("models/decoding/fastcar.py", "models/decoding/calibrate.py"),
        (
            "tests/models/decoding/test_fastcar.py",
            "tests/models/decoding/test_fastcar_tie.py",
            "tests/models/decoding/test_fastcar_settings.py",
            "tests/models/decoding/test_fastcar_tas_routes.py",
            "tests/models/decoding/test_calibrate.py",
            "tests/models/decoding/test_calibrate_by_hand.py",
            "tests/models/decoding/test_match_chunk_ratio_by_hand.py",
            "tests/models/decoding/test_match_chunk_ratio_stops.py",
            "tests/models/decoding/test_fastcar_run_by_hand.py",
            "tests/models/decoding/test_fastcar_run_survivors.py",
        ),
        slow=(  # decode a real model several times (23 s and 4 s); test_calibrate_by_hand.py checks the same arithmetic
            "tests/models/decoding/test_calibrate.py::test_ratio_calibration_holds_on_held_out_videos",
            "tests/models/decoding/test_calibrate.py::test_quality_budget_keeps_agreement_and_trades_ratio",
            # builds the 7B model on the meta device (16 s, reached by every FastCarRun mutant);
            # test_fastcar_run_by_hand.py takes the same meta-device path on the tiny model
            "tests/models/decoding/test_fastcar.py::test_fastcar_step_traces_on_meta",
        ),
    ),
    # The simulation core's formulas that the cycle and byte claims rest on: engine cycles,
    # DRAM, buffers and tiling, and the workload (trace x graph x design: segments, predictions,
    # the dense first frame). Left out to stay within the 30 minutes (docs/testing.md):
    # op_sizing, tile_pipeline and weight_stream (about 1,300 more mutants), and the segment
    # machinery (simulation, segments, assembly, segment_*, stream_*), which only runs these
    # pieces and is checked by equality with the continuous simulation (seconds per test).
    "sim_core": Module(
        (
            "cosim/sim/compute.py",
            "cosim/sim/dram.py",
            "cosim/sim/buffers.py",
            "cosim/sim/workload.py",
        ),
        (
            "tests/sim/test_compute.py",
            "tests/sim/test_compute_by_hand.py",
            "tests/sim/test_dram.py",
            "tests/sim/test_dram_by_hand.py",
            "tests/sim/test_dram_survivors.py",
            "tests/sim/test_buffers_by_hand.py",
            "tests/sim/test_buffers_survivors.py",
            "tests/sim/test_dram_cancel.py",
            "tests/sim/test_dram_latency_and_bursts.py",
            "tests/sim/test_workload.py",
            "tests/sim/test_workload_by_hand.py",
            "tests/sim/test_workload_survivors.py",
            "tests/sim/test_simulator.py",
            "tests/sim/test_first_frame_never_replays.py",
            "tests/sim/test_policy_hand_cases.py",
            "tests/sim/test_lockstep_decode.py",
        ),
        slow=tuple(  # each simulates 7B-sized graphs or long KV streams (4 to 40 s)
            f"tests/sim/test_simulator.py::{name}"
            for name in (
                "test_latency_never_beats_the_roofline",
                "test_bytes_moved_equal_the_workload",
                "test_per_class_counts_add_up_to_the_totals",
                "test_same_inputs_same_cycles",
                "test_memoised_equals_plain_and_fast_path_equals_step_by_step",
                "test_timeline_and_utilisation_shapes",
                "test_all_dense_decisions_equal_the_dense_baseline",
                "test_baselines_without_fastcar_run_no_tas_and_write_no_replay_ring",
                "test_long_kv_streams_skip_whole_periods_and_equal_the_continuous_simulation",
            )
        ),
    ),
}


def tracked_files(root: Path) -> list[Path]:
    """The repository's files as a clean clone has them, plus new files not yet added (a test being
    written): everything but ignored and generated files."""
    try:
        command = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
        listed = subprocess.run(command, cwd=root, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: every file outside caches
        skip = {".git", ".venv", "mutants", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
        return [p.relative_to(root) for p in root.rglob("*") if p.is_file() and not skip & set(p.parts)]
    return [Path(name) for name in listed.decode().split("\0") if name and (root / name).is_file()]


# mutmut gives a mutant's tests to pytest in no particular order and stops at the first failure,
# so a killed mutant costs the tests run before the one that fails: run the fastest files first
# (by the durations of mutmut's own stats run; a file's tests stay together, so module-scoped
# fixtures are built once). A mutant that makes a test loop forever would run until mutmut's
# limit for the whole mutant, (1 + the seconds of all its tests) x 30 of CPU, ten minutes for a
# simulator function: each test instead stops after 10 times its own duration + 5 s, CPU time
# (load does not count), and fails, so the mutant is killed in seconds. (mutmut's limit stays:
# lowered to x 3, it stopped surviving mutants, whose run adds pytest's start to their tests'
# seconds, and counted them as killed.)
SCRATCH_CONFTEST = """\
# Written by benchmarks/mutation.py into its scratch copy: a mutant's test files fastest first,
# and a CPU-time limit per test.

import json
import signal
from collections import Counter
from pathlib import Path

import pytest

CPU_LIMIT_FACTOR, CPU_LIMIT_SLACK_S = 10.0, 5.0
_seconds: dict[str, float] = {}


def pytest_collection_modifyitems(items):
    stats = Path("mutmut-stats.json")
    if not stats.is_file():  # mutmut's stats run itself
        return
    _seconds.update(json.loads(stats.read_text())["duration_by_test"])
    file_time = Counter()
    for test, seconds in _seconds.items():
        file_time[test.partition("::")[0]] += seconds
    order = {id(item): index for index, item in enumerate(items)}
    items.sort(key=lambda item: (file_time[item.nodeid.partition("::")[0]], order[id(item)]))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    if item.nodeid not in _seconds:
        yield
        return
    limit = CPU_LIMIT_FACTOR * _seconds[item.nodeid] + CPU_LIMIT_SLACK_S

    def stop(signum, frame):
        raise TimeoutError(f"{item.nodeid}: over {limit:.1f} s of CPU (stats run: {_seconds[item.nodeid]:.2f} s)")

    previous = signal.signal(signal.SIGPROF, stop)
    signal.setitimer(signal.ITIMER_PROF, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
"""


def prepare(work: Path, module: Module) -> None:
    """A copy of the repository in `work` whose ``[tool.mutmut]`` mutates `module` with its tests."""
    for relative in tracked_files(ROOT):
        target = work / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target)
    pyproject = work / "pyproject.toml"
    text = pyproject.read_text()
    text = _set_list(text, "only_mutate", module.sources)
    deselected = tuple(arg for test in module.slow for arg in ("--deselect", test))
    text = _set_list(text, "pytest_add_cli_args_test_selection", module.tests + deselected)
    also_copy = tuple(tomllib.loads(text)["tool"]["mutmut"].get("also_copy", []))
    text = _set_list(text, "also_copy", (*also_copy, "conftest.py"))
    pyproject.write_text(text)
    assert tomllib.loads(text)["tool"]["mutmut"]["only_mutate"] == list(module.sources)
    assert not (work / "conftest.py").exists(), "the repository has a root conftest.py: merge SCRATCH_CONFTEST"
    (work / "conftest.py").write_text(SCRATCH_CONFTEST)


def _set_list(text: str, key: str, values: tuple[str, ...]) -> str:
    """`text` (a pyproject.toml) with the list `key` of its ``[tool.mutmut]`` section replaced."""
    pattern = re.compile(rf"^{key} = \[.*?\]$", re.MULTILINE | re.DOTALL)
    assert pattern.search(text), f"[tool.mutmut] in pyproject.toml has no {key} list"
    return pattern.sub(f"{key} = [{', '.join(repr(v).replace(chr(39), chr(34)) for v in values)}]", text, count=1)


def run_module(name: str, module: Module, work: Path, workers: int) -> dict[str, str]:
    """Mutation-test one module in `work`; returns {mutant: status}."""
    prepare(work, module)
    run = subprocess.run([MUTMUT, "run", "--max-children", str(workers)], cwd=work, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"mutmut run failed for {name} (exit {run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    listing = subprocess.run([MUTMUT, "results", "--all", "true"], cwd=work, capture_output=True, text=True, check=True)
    statuses = {}
    for line in listing.stdout.splitlines():
        mutant, _, status = line.strip().rpartition(": ")
        if mutant:
            statuses[mutant] = status
    return statuses


def show(work: Path, mutant: str) -> str:
    """The lines one mutant removes and adds (from its diff, as mutmut shows it)."""
    diff = subprocess.run([MUTMUT, "show", mutant], cwd=work, capture_output=True, text=True).stdout
    changed = [line for line in diff.splitlines() if line[:1] in "-+" and line[:3] not in ("---", "+++")]
    return "\n".join(f"     {line}" for line in changed)


def equivalent_mutants(doc: Path = EQUIVALENT_DOC) -> set[str]:
    """Mutant names in the first column of docs/testing.md's table rows (`` | `name` | reason | ``)."""
    if not doc.is_file():
        return set()
    return set(re.findall(r"^\| `([\w.ǁ]+__mutmut_\d+)` \|", doc.read_text(), re.MULTILINE))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", default=",".join(MODULES), help=f"comma-separated, of {', '.join(MODULES)}")
    parser.add_argument("--workers", type=int, default=2, help="mutants tested at once (mutmut --max-children)")
    parser.add_argument("--keep", type=Path, help="keep each module's scratch copy under this folder")
    args = parser.parse_args()
    names = [n for n in args.modules.split(",") if n]
    unknown = sorted(set(names) - set(MODULES))
    if unknown:
        parser.error(f"unknown modules {unknown}; known: {', '.join(MODULES)}")
    if args.keep is not None:
        if args.keep.exists() and not args.keep.is_dir():
            parser.error(f"--keep {args.keep} is a file, not a folder")
        args.keep.mkdir(parents=True, exist_ok=True)
    equivalent = equivalent_mutants()
    killed = counted = 0
    for name in names:
        started = time.monotonic()
        scratch = Path(tempfile.mkdtemp(prefix=f"mutation-{name}-", dir=args.keep))
        statuses = run_module(name, MODULES[name], scratch, args.workers)
        listed = equivalent & statuses.keys()
        stale = sorted(m for m in listed if statuses[m] in KILLED)  # killed since, or renumbered: revise the table
        survivors = [m for m, s in statuses.items() if s not in KILLED and m not in listed]
        module_killed = sum(s in KILLED for s in statuses.values())
        module_counted = len(statuses) - len(listed) + len(stale)
        killed, counted = killed + module_killed, counted + module_counted
        print(f"== {name}: {len(statuses)} mutants, {dict(Counter(statuses.values()))}, ", end="")
        print(f"{len(listed) - len(stale)} equivalent; ", end="")
        print(f"score {100 * module_killed / max(module_counted, 1):.1f} % in {time.monotonic() - started:.0f} s")
        for mutant in stale:
            print(f"-- killed, but listed as equivalent in docs/testing.md: {mutant}")
        for mutant in survivors:
            print(f"-- {statuses[mutant]}: {mutant}\n{show(scratch, mutant)}")
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"mutation score: {100 * killed / max(counted, 1):.1f} %")


if __name__ == "__main__":
    main()
