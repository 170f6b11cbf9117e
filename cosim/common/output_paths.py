"""Output paths checked before any work: a command that would fail only when it writes (after
minutes of simulation, or leaving half its files behind) refuses at once instead."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cosim.common.errors import UserError


def check_output_file(path: str | Path, option: str) -> Path:
    """`path` can be created or replaced as a file (it is not a directory, its folder can be made)."""
    target = Path(path)
    if target.is_dir():
        raise UserError(None, option, "a file to write to", f"a directory ({target})", found_is_text=True)
    _check_parent(target, option, "a file to write to")
    return target


def check_output_dir(path: str | Path, option: str) -> Path:
    """`path` is an existing writable folder, or one that can be made."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise UserError(None, option, "a folder to write to", f"a file ({target})", found_is_text=True)
    if target.is_dir():
        _check_writable(target, option, "a folder to write to")
        return target
    _check_parent(target, option, "a folder to write to")
    return target


def _check_parent(target: Path, option: str, expected: str) -> None:
    """The nearest existing ancestor of `target` must be a writable folder."""
    ancestor = target.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UserError(None, option, expected, f"a path under the file {_shown(ancestor)}", found_is_text=True)
    _check_writable(ancestor, option, expected)


def _check_writable(folder: Path, option: str, expected: str) -> None:
    """Try it: permissions, read-only mounts and pseudo file systems (/proc) all show the same way."""
    try:
        handle, probe = tempfile.mkstemp(prefix=".cosim-write-check.", dir=folder)
    except OSError:
        raise UserError(
            None, option, expected, f"a path in the unwritable folder {folder}", found_is_text=True
        ) from None
    os.close(handle)
    os.unlink(probe)


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it lies inside it (as the user typed it)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
