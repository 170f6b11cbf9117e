"""A Dask worker plugin that hides folders from its worker, as if it ran on another machine.

Each worker gets its own working directory, and every file-system call on a path under a
hidden folder (open, stat, listdir, scandir) fails with "no such file" and is noted in
`BLOCKED`, so a test can check both that the sweep ran and that no worker even looked.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import tempfile
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

BLOCKED: list[str] = []


class Blindfold(WorkerPlugin):
    """Hide `hidden` folders from the worker and run it in a fresh folder under `workdirs`."""

    def __init__(self, hidden: list[str], workdirs: str) -> None:
        self.hidden = [os.path.realpath(folder) for folder in hidden]
        self.workdirs = workdirs

    def setup(self, worker: Any) -> None:
        os.chdir(tempfile.mkdtemp(dir=self.workdirs))
        for module, name in [(builtins, "open"), (io, "open"), (os, "open"), (os, "stat"), (os, "lstat")]:
            setattr(module, name, self._guard(getattr(module, name)))
        for name in ("listdir", "scandir"):
            setattr(os, name, self._guard(getattr(os, name)))

    def _guard(self, function: Any) -> Any:
        hidden = self.hidden

        def guarded(path: Any = ".", *args: Any, **kwargs: Any) -> Any:
            if isinstance(path, (str, bytes, os.PathLike)):
                text = os.fsdecode(os.fspath(path))
                absolute = os.path.abspath(text)
                if any(absolute == folder or absolute.startswith(folder + os.sep) for folder in hidden):
                    BLOCKED.append(absolute)
                    raise FileNotFoundError(errno.ENOENT, "hidden from this worker", text)
            return function(path, *args, **kwargs)

        return guarded


def blocked() -> list[str]:
    """The paths this worker was refused (run with `client.run`)."""
    return list(BLOCKED)
