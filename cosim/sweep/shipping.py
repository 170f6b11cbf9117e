"""Inputs as data, for workers that share no file system with the driver (a Dask cluster).

A rented cluster (Kubernetes, a cloud Dask deployment) has no folder every machine sees.
So the driver reads the files a point needs (the base design and the devices beside it,
the graph, the trace, a checkpoint) into a `FileBundle` once per sweep, the executor
sends it to every worker once (Dask's scatter), and each task writes it into a local cache
folder before it runs, under the digest of its contents, once per machine. A prepared
workload comes back the same way: the worker prepares it in a temporary folder and returns
the files' bytes; the driver stores them in the sweep folder and bundles them for the
points that use them. The driver is thus the only process that reads the user's files or
writes the sweep folder; results come back as task results.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cosim.common.atomic import atomic_write_bytes
from cosim.common.errors import UserError
from cosim.sweep.evaluate import run_point
from cosim.sweep.workloads import prepare_workload

CACHE_FOLDER = "cosim-sweep-inputs"  # under the worker's temporary folder
EXTRA = "+"  # prefix of bundle keys that are files only (devices), not context entries


@dataclass(frozen=True)
class FileBundle:
    """Files by context key (``graph``, ``trace``, ``design_file``, ...): (relative path, contents)."""

    digest: str
    files: dict[str, tuple[str, bytes]]


def bundle_files(paths: dict[str, str], extras: dict[str, str] | None = None) -> FileBundle:
    """Read `paths` (context key -> file) and `extras` (relative path -> file) into a bundle."""
    files: dict[str, tuple[str, bytes]] = {}
    for key, path in paths.items():
        files[key] = (f"{key}/{Path(path).name}", _read(path, key))
    for relative, path in (extras or {}).items():
        files[EXTRA + relative] = (relative, _read(path, relative))
    digest = hashlib.sha256()
    for key in sorted(files):
        relative, data = files[key]
        digest.update(f"{key}\0{relative}\0{len(data)}\0".encode())
        digest.update(data)
    return FileBundle(digest.hexdigest(), files)


def bundle_inputs(design_file: Path, inputs: dict[str, str]) -> FileBundle:
    """A sweep's inputs: the base design (with the devices folder beside it) and its workload files."""
    devices = design_file.parent.parent / "devices"
    extras = {f"devices/{path.name}": str(path) for path in sorted(devices.glob("*.yaml"))} if devices.is_dir() else {}
    return bundle_files({"design_file": str(design_file), **inputs}, extras)


def unpack(bundle: FileBundle) -> dict[str, str]:
    """Write `bundle` into this machine's cache (once) and return its context keys -> local paths.

    The design file goes to ``<cache>/<digest>/designs/``, beside ``devices/``, where the
    design loader looks for its device.
    """
    root = Path(tempfile.gettempdir()) / CACHE_FOLDER / bundle.digest
    local = {}
    for key, (relative, data) in bundle.files.items():
        if key == "design_file":
            relative = f"designs/{Path(relative).name}"
        target = root / relative
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, data)
        if not key.startswith(EXTRA):
            local[key] = str(target)
    return local


def run_point_from_bundles(config: dict[str, Any], context: dict[str, Any], bundles: list[FileBundle]) -> dict:
    """`run_point` on a worker: the context's file paths replaced by local copies of the bundles."""
    local = dict(context)
    for bundle in bundles:
        local.update(unpack(bundle))
    return run_point(config, local)


def prepare_from_bundle(workload: dict[str, Any], inputs: FileBundle) -> dict[str, Any]:
    """`prepare_workload` on a worker: prepared in a temporary folder, the files returned as bytes.

    Returns ``prepare_workload``'s answer with ``files`` as file names and ``contents``
    (name -> bytes) for the driver to store.
    """
    local = unpack(inputs)
    local.pop("design_file")
    with tempfile.TemporaryDirectory(prefix="cosim-prepare-") as folder:
        info = prepare_workload(workload, local, folder)
        if "error" in info:
            return info
        paths = {key: Path(path) for key, path in info["files"].items()}
        info["contents"] = {path.name: path.read_bytes() for path in paths.values()}
        info["files"] = {key: path.name for key, path in paths.items()}
    return info


def store_prepared(info: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Write a worker's prepared files (``contents``) into `folder`; the info with their paths there."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in info["contents"].items():
        atomic_write_bytes(folder / name, data)
    files = {key: str(folder / name) for key, name in info["files"].items()}
    return {**{k: v for k, v in info.items() if k != "contents"}, "files": files}


def _read(path: str, key: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise UserError(
            path, key, "a readable file (Dask workers get the sweep's inputs as data)", str(error), found_is_text=True
        ) from None
