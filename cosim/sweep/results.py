"""The results table of a sweep: one row per point, every knob, metric and status.

Written as Parquet (typed, for notebooks) and CSV (for anything else), both atomically,
at the end of every run, including an interrupted one. Parameter columns carry the
parameter names of the spec; list-valued knobs (per-layer thresholds) are JSON text.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

from cosim.common.atomic import atomic_write_bytes, atomic_write_text
from cosim.common.errors import UserError
from cosim.sweep.spec import LoadedSpec

PARQUET = "results.parquet"
CSV = "results.csv"
# Columns every table has besides parameters and metrics; a parameter may not take these names.
FIXED_COLUMNS = ("key", "status", "feasible", "error", "elapsed_s", "host", "finished")


def build_table(records: list[dict[str, Any]], loaded: LoadedSpec) -> pd.DataFrame:
    """Records -> DataFrame: key, parameters, status, objectives, other metrics, feasible, ..."""
    names = list(loaded.spec.parameters)
    clash = [n for n in names if n in FIXED_COLUMNS]
    if clash:
        raise loaded.error(("parameters", clash[0]), f"a name other than {', '.join(FIXED_COLUMNS)}", clash[0])
    metric_names = sorted({m for r in records for m in r["metrics"]})
    objectives = [m for m in loaded.spec.objectives if m in metric_names]
    ordered_metrics = objectives + [m for m in metric_names if m not in objectives]
    rows = []
    for record in records:
        row: dict[str, Any] = {"key": record["key"]}
        row.update({name: record["params"].get(name) for name in names})
        row["status"] = record["status"]
        for metric in ordered_metrics:
            column = metric if metric not in names else f"{metric}_metric"
            row[column] = record["metrics"].get(metric)
        row["feasible"] = record["status"] == "ok" and all(c.holds(record["metrics"]) for c in loaded.constraints)
        for column in ("error", "elapsed_s", "host", "finished"):
            row[column] = record.get(column)
        rows.append(row)
    columns = [
        "key",
        *names,
        "status",
        *[m if m not in names else f"{m}_metric" for m in ordered_metrics],
        "feasible",
        "error",
        "elapsed_s",
        "host",
        "finished",
    ]
    table = pd.DataFrame(rows, columns=columns)
    for name in names:
        table[name] = _uniform(table[name])
    for metric in ordered_metrics:
        column = metric if metric not in names else f"{metric}_metric"
        table[column] = _uniform(table[column])
    if len(table):
        table = table.sort_values([*names, "key"], key=_sortable, kind="stable").reset_index(drop=True)
    return table


def _uniform(column: pd.Series) -> pd.Series:
    """One type per column: numbers stay numbers, bools stay bools (null allowed), the rest JSON text."""
    present = column.dropna()
    if present.map(lambda v: isinstance(v, bool)).all() and len(present):
        return column.astype("boolean")
    if present.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)).all():
        return pd.to_numeric(column) if len(present) else column.astype("float64")
    if present.map(lambda v: isinstance(v, str)).all():
        return column.astype("string")
    return column.map(lambda v: None if v is None else json.dumps(v)).astype("string")


def _sortable(column: pd.Series) -> pd.Series:
    return column.astype("string") if column.dtype == object else column


def write_table(records: list[dict[str, Any]], loaded: LoadedSpec, out_dir: Path) -> list[Path]:
    """Write results.parquet and results.csv atomically; returns their paths."""
    table = build_table(records, loaded)
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    atomic_write_bytes(out_dir / PARQUET, buffer.getvalue())
    atomic_write_text(out_dir / CSV, table.to_csv(index=False))
    return [out_dir / PARQUET, out_dir / CSV]


def load_results(out_dir: str | Path) -> pd.DataFrame:
    """The table of a sweep folder (for notebooks and `cosim pareto`)."""
    path = Path(out_dir) / PARQUET
    if not path.is_file():
        raise UserError(
            path,
            None,
            "the results table of a sweep folder (run `cosim sweep` first)",
            "no such file",
            found_is_text=True,
        )
    return pd.read_parquet(path)
