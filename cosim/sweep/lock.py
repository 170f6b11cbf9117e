"""One run at a time per sweep folder: a lock file that says who holds it.

Two runs on one folder (say two `cosim sweep --resume DIR` started by mistake) would each
evaluate every missing point, doubling the work. The runner therefore holds
``DIR/sweep.lock`` from before it reads the stored points until the table is written. A
second run waits for the first, then finds the points stored and evaluates nothing; or,
with a finite wait, gives up with one line naming the holder. The lock is an OS lock
(`filelock`, flock on Unix), so a run that is killed releases it with its process: there
is never a stale lock to delete by hand. The file's text (pid, host, start time) is only
for the message.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from cosim.common.errors import UserError

LOCK_FILE = "sweep.lock"


@contextmanager
def hold_sweep_folder(
    root: str | Path, *, wait_s: float | None = None, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold `root`'s sweep lock for the body; create `root` if needed.

    `wait_s` is how long to wait for another run that holds it: None waits as long as it
    takes, 0 refuses at once. `on_wait` is told, once, who holds it before the wait starts.
    """
    folder = Path(root)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    lock = FileLock(path, on_acquired=_write_holder)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = describe_holder(path)
        if wait_s == 0:
            raise _held(path, holder, wait_s) from None
        if on_wait is not None:
            on_wait(f"waiting for {holder}, which is running this sweep (Ctrl-C to stop waiting)")
        try:
            lock.acquire(timeout=-1 if wait_s is None else wait_s)
        except Timeout:
            raise _held(path, describe_holder(path), wait_s) from None
    try:
        yield
    finally:
        lock.release()


def describe_holder(path: Path) -> str:
    """``pid 123 on host since 2026-12-06T11:30:00+0000`` from the lock file, as far as it says."""
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
        return f"pid {holder['pid']} on {holder['host']} since {holder['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another run (it has not yet written its pid)"


def _write_holder(descriptor: int) -> None:
    """Record who holds the lock in the lock file itself (it is kept open and locked)."""
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, json.dumps(holder).encode(), 0)


def _held(path: Path, holder: str, wait_s: float | None) -> UserError:
    waited = "at once" if not wait_s else f"after waiting {wait_s:g} s"
    return UserError(
        path,
        None,
        f"a sweep folder no other run is using (gave up {waited}; wait longer with --lock-wait SECONDS)",
        f"it held by {holder}",
        found_is_text=True,
    )
