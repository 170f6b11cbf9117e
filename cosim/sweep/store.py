"""The results store of a sweep folder: nothing finished is ever lost.

Layout of a sweep folder::

    sweep.json                  the spec the sweep runs (paths made absolute)
    points/<key>.json           one record per finished point, written atomically
    workloads/<recipe>/         prepared workloads (decoded or synthetic traces), by recipe hash
    results.parquet, .csv       the table of all points (rewritten at the end of a run)

A point record is written the moment its result arrives, by an atomic rename, so a
sweep killed at any instant leaves only whole records; resuming skips every key that
has one. Keys hash the full resolved config, so a record can never be taken for a
point it does not describe.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cosim
from cosim.common.atomic import atomic_write_text
from cosim.common.errors import UserError
from cosim.hw.yaml_document import YamlDocument
from cosim.sweep.digests import canonical_json
from cosim.sweep.spec import LoadedSpec, check_spec

SPEC_FILE = "sweep.json"


class ResultStore:
    """Point records and prepared workloads of one sweep folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.points_dir = self.root / "points"
        self.workloads_dir = self.root / "workloads"

    # ---- the spec ----------------------------------------------------------------------

    @classmethod
    def create(cls, root: str | Path, loaded: LoadedSpec) -> ResultStore:
        """Start (or continue) `loaded`'s sweep in `root`; a folder holding another spec is refused."""
        store = cls(root)
        spec = absolute_spec(loaded)
        spec_file = store.root / SPEC_FILE
        if spec_file.exists():
            stored = store.read_spec_data()
            if canonical_json(stored) != canonical_json(spec):
                differing = sorted(k for k in set(stored) | set(spec) if stored.get(k) != spec.get(k))
                raise UserError(
                    spec_file,
                    ", ".join(differing) or None,
                    "the spec this folder was started with (use a new output folder for another spec)",
                    "a different spec",
                    found_is_text=True,
                )
        else:
            store.root.mkdir(parents=True, exist_ok=True)
            atomic_write_text(
                spec_file,
                json.dumps(
                    {
                        "spec": spec,
                        "spec_file": loaded.file,
                        "cosim_version": cosim.__version__,
                        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    },
                    indent=2,
                ),
            )  # key order kept: parameters stay in the spec's order on --resume
        store.points_dir.mkdir(parents=True, exist_ok=True)
        for stale in store.points_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        return store

    def read_spec_data(self) -> dict[str, Any]:
        spec_file = self.root / SPEC_FILE
        if not spec_file.is_file():
            raise UserError(self.root, None, f"a sweep folder (with {SPEC_FILE})", "none", found_is_text=True)
        try:
            return json.loads(spec_file.read_text(encoding="utf-8"))["spec"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise UserError(
                spec_file, "spec", "the sweep's spec as JSON", f"an unreadable file ({error})", found_is_text=True
            ) from None

    def load_spec(self) -> LoadedSpec:
        """The spec this folder's sweep runs (for --resume)."""
        return check_spec(YamlDocument(str(self.root / SPEC_FILE), self.read_spec_data()))

    # ---- point records -----------------------------------------------------------------

    def path_of(self, key: str) -> Path:
        return self.points_dir / f"{key}.json"

    def write(self, record: dict[str, Any]) -> None:
        """Store one finished point at once (atomic rename)."""
        atomic_write_text(self.path_of(record["key"]), json.dumps(record, indent=1, sort_keys=True))

    def read(self, key: str) -> dict[str, Any] | None:
        path = self.path_of(key)
        if not path.is_file():
            return None
        expected = "a point record (delete the file to evaluate the point again)"
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise UserError(path, None, expected, f"unreadable JSON ({error})", found_is_text=True) from None
        if not isinstance(record, dict) or not {"key", "status", "params"} <= set(record):
            found = f"a JSON {type(record).__name__}" + (f" with keys {', '.join(record)}" if record else "")
            raise UserError(path, None, f"{expected} with keys key, status, params", found, found_is_text=True)
        if record["key"] != key or not isinstance(record["params"], dict):
            raise UserError(path, "key", f"{key!r} (the file name) and params a mapping", record["key"])
        return record

    def keys(self) -> set[str]:
        return {path.stem for path in self.points_dir.glob("*.json")}

    def records(self) -> Iterator[dict[str, Any]]:
        """Every stored record, oldest first."""
        paths = sorted(self.points_dir.glob("*.json"), key=lambda p: (p.stat().st_mtime_ns, p.name))
        for path in paths:
            record = self.read(path.stem)
            if record is not None:
                yield record

    # ---- prepared workloads ------------------------------------------------------------

    def workload_dir(self, recipe_key: str) -> Path:
        return self.workloads_dir / recipe_key

    def prepared(self, recipe_key: str) -> dict[str, Any] | None:
        """What preparing this recipe produced (files, metrics), or None if not yet done."""
        info = self.workload_dir(recipe_key) / "info.json"
        return json.loads(info.read_text(encoding="utf-8")) if info.is_file() else None

    def save_prepared(self, recipe_key: str, info: dict[str, Any]) -> None:
        atomic_write_text(self.workload_dir(recipe_key) / "info.json", json.dumps(info, indent=1, sort_keys=True))


def absolute_spec(loaded: LoadedSpec) -> dict[str, Any]:
    """The spec's data with every file path made absolute, so the copy runs from anywhere."""

    def absolute(text: str) -> str:
        path = loaded.resolve(text)
        return str(path) if path.exists() else text  # e.g. a shipped design's name

    data = json.loads(json.dumps(loaded.data))
    data["base_design"] = absolute(data["base_design"])
    workload = data["workload"]
    for name in ("graph", "trace"):
        if workload.get(name) is not None:
            workload[name] = absolute(workload[name])
    decode = workload.get("decode")
    if isinstance(decode, dict) and decode.get("checkpoint") is not None:
        decode["checkpoint"] = absolute(decode["checkpoint"])
    return data
