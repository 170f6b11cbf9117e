"""benchmarks/mutation.py: its command line with mutmut stubbed (a real run takes minutes), and the conftest it
writes into its scratch copy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from benchmark_scripts import load_benchmark


@pytest.fixture
def mutation(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The script with each module's mutmut run stubbed: one killed and one surviving mutant."""
    module = load_benchmark("mutation")

    def run_module(name: str, _module: object, work: Path, _workers: int) -> dict[str, str]:
        (work / "ran").write_text(name)
        return {f"{name}.x_f__mutmut_1": "killed", f"{name}.x_f__mutmut_2": "survived"}

    monkeypatch.setattr(module, "run_module", run_module)
    monkeypatch.setattr(module, "show", lambda _work, _mutant: "")
    monkeypatch.setattr(module, "equivalent_mutants", lambda: set())
    return module


def run(mutation: ModuleType, monkeypatch: pytest.MonkeyPatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", ["mutation.py", *args])
    mutation.main()


def test_keep_creates_a_folder_that_does_not_exist(mutation, monkeypatch, tmp_path, capsys):
    keep = tmp_path / "not" / "yet"
    run(mutation, monkeypatch, "--modules", "energy", "--keep", str(keep))
    (scratch,) = keep.iterdir()
    assert scratch.name.startswith("mutation-energy-")
    assert (scratch / "ran").read_text() == "energy"
    assert capsys.readouterr().out.splitlines()[-1] == "mutation score: 50.0 %"


def test_keep_naming_a_file_is_a_usage_error(mutation, monkeypatch, tmp_path, capsys):
    keep = tmp_path / "a_file"
    keep.write_text("")
    with pytest.raises(SystemExit) as exit_:
        run(mutation, monkeypatch, "--modules", "energy", "--keep", str(keep))
    assert exit_.value.code == 2
    assert "--keep" in capsys.readouterr().err


def test_a_killed_mutant_listed_as_equivalent_is_reported_and_not_discounted(mutation, monkeypatch, capsys):
    # docs/testing.md names a mutant that the tests now kill (or a renumbered one): the table needs revising,
    # and the score counts it as killed, not as left out
    monkeypatch.setattr(mutation, "equivalent_mutants", lambda: {"energy.x_f__mutmut_1"})
    run(mutation, monkeypatch, "--modules", "energy")
    out = capsys.readouterr().out.splitlines()
    assert "-- killed, but listed as equivalent in docs/testing.md: energy.x_f__mutmut_1" in out
    assert out[-1] == "mutation score: 50.0 %"


def test_a_test_that_loops_forever_under_a_mutant_fails_within_its_cpu_limit(tmp_path):
    # the scratch copy's conftest gives each test a multiple of its stats-run seconds + some slack of CPU time
    # (10 x + 5 s; here + 0.5 s to keep the test short): a test measured at 0.01 s that now loops forever fails
    # after 0.6 s of CPU (a TimeoutError), and the mutant counts as killed
    mutation = load_benchmark("mutation")
    limits = "CPU_LIMIT_FACTOR, CPU_LIMIT_SLACK_S = 10.0, 5.0"
    assert limits in mutation.SCRATCH_CONFTEST
    conftest = mutation.SCRATCH_CONFTEST.replace(limits, "CPU_LIMIT_FACTOR, CPU_LIMIT_SLACK_S = 10.0, 0.5")
    (tmp_path / "conftest.py").write_text(conftest)
    (tmp_path / "test_loop.py").write_text(
        "def test_loops():\n    while True:\n        pass\n\n\ndef test_ends():\n    pass\n"
    )
    stats = {"duration_by_test": {"test_loop.py::test_loops": 0.01, "test_loop.py::test_ends": 0.01}}
    (tmp_path / "mutmut-stats.json").write_text(json.dumps(stats))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_loop.py"]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout
    assert "TimeoutError: test_loop.py::test_loops: over 0.6 s of CPU (stats run: 0.01 s)" in run.stdout
    assert "1 failed, 1 passed" in run.stdout
