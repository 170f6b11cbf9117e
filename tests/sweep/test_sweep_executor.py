"""The local executor: one task per worker, so a dying worker fails exactly its own task."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cosim.sweep.executor import Finished, LocalExecutor


def _collect(executor, count, timeout_s=30.0):
    finished: list[Finished] = []
    deadline = time.monotonic() + timeout_s
    while len(finished) < count and time.monotonic() < deadline:
        finished += executor.wait(timeout=0.5)
    return {f.tag: f for f in finished}


def _wait_until_dead(pid: int, timeout_s: float = 30.0) -> None:
    """Until `pid` has exited (a zombie not yet reaped by the executor counts as exited; Linux /proc)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} still alive after SIGKILL")


def test_a_dying_task_fails_alone_and_a_new_worker_takes_over():
    with LocalExecutor(2) as executor:
        executor.submit("dies", os._exit, 3)
        executor.submit("lives", divmod, 7, 2)
        executor.submit("after", divmod, 9, 4)
        done = _collect(executor, 3)
    assert done["dies"].error == "the worker process died while evaluating this point (exit code 3)"
    assert done["lives"].value == (3, 1) and done["after"].value == (2, 1)


def test_a_worker_that_died_while_idle_is_replaced():
    with LocalExecutor(1) as executor:
        executor.submit("first", os.getpid)
        first = _collect(executor, 1)["first"].value
        os.kill(first, signal.SIGKILL)
        _wait_until_dead(first)  # the worker is gone before the next task is submitted: it died while idle
        executor.submit("second", os.getpid)
        second = _collect(executor, 1)["second"]
    assert second.error is None and second.value != first


FORKSERVER_SIGINT = """
import multiprocessing.forkserver, os
from cosim.sweep.executor import LocalExecutor
LocalExecutor(1)._start_forkserver()
pid = multiprocessing.forkserver._forkserver._forkserver_pid
ignored = next(line for line in open(f"/proc/{pid}/status") if line.startswith("SigIgn:"))
print(int(ignored.split()[1], 16) >> 1 & 1)  # bit of SIGINT (2)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_the_forkserver_ignores_ctrl_c_from_its_start():
    # Checked while it still imports its preload, before it would protect itself: a Ctrl-C then printed a traceback.
    result = subprocess.run([sys.executable, "-c", FORKSERVER_SIGINT], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "1", result.stderr
