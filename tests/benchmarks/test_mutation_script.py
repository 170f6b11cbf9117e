"""benchmarks/mutation.py's command line, with mutmut itself replaced by a stub (a real run takes minutes)."""

from __future__ import annotations

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
