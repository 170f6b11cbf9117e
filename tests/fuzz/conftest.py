"""Profiles and a workspace for the property-based tests.

capsys and monkeypatch are safe across examples here (each example reads its output at once).

Profiles (``HYPOTHESIS_PROFILE=<name>``): ``ci`` (the default: few examples, derandomized, so
every run of the suite tries the same inputs and stays fast), ``dev`` (random, more
examples) and ``deep`` (a long hunt for a local run). Each example writes its files into a
fresh folder; the report's plots are left out (matplotlib would take most of the time and
is not what is fuzzed).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from cosim.analysis.report import Report
from cosim.artifacts.graph import save_graph
from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.common.atomic import atomic_write_text
from cosim.hw import hwconfigs_dir
from sweep_support import tiny_graph

_COMMON: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}
settings.register_profile("ci", max_examples=12, derandomize=True, database=None, **_COMMON)
settings.register_profile("dev", max_examples=60, **_COMMON)
settings.register_profile("deep", max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """design.yaml (kv260-fastcar), g.json (2 layers), t.npz (2 layers, 8 steps)."""
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copy(hwconfigs_dir() / "designs" / "kv260-fastcar.yaml", folder / "design.yaml")
    save_graph(tiny_graph(), folder / "g.json")
    synthetic_trace(num_layers=2, layer_rates=0.5, frames=3, frame_rows=2, frame_cols=2, seed=1).save(folder / "t.npz")
    return folder


def _write_without_plots(self: Report, out_dir: str | Path) -> list[Path]:
    """Report.write minus the PNGs: the tables and report.json (strict JSON, as the real one)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in self.tables().items():
        atomic_write_text(out / name, text)
    atomic_write_text(out / "report.json", json.dumps(self.to_dict(), allow_nan=False))
    return [out / "report.json"]


@pytest.fixture(autouse=True)
def no_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Report, "write", _write_without_plots)
