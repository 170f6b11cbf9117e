"""Where points run: local worker processes, or a Dask cluster, behind one small interface.

The runner only submits tasks (a tag, a function, its arguments) and waits for finished
ones; it never knows which executor it drives. A task that cannot return, because its
worker process died or the cluster lost it, comes back as a `Finished` with an error,
so the sweep records that point as failed and goes on.

The local executor keeps one pipe per worker process and gives each worker one task at
a time, so when a worker dies we know exactly which point killed it, and a replacement
worker takes the next task. Workers ignore Ctrl-C (the driver decides what stops) and
exit by themselves when the driver disappears.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for
from typing import Any

from cosim.common.errors import UserError
from cosim.sweep.evaluate import describe_failure


@dataclass
class Finished:
    """A task that ended: its return value, or why it could not return."""

    tag: Any
    value: Any = None
    error: str | None = None


class PointExecutor(ABC):
    """Runs tasks somewhere; `slots` is how many the runner should keep in flight.

    `ships_inputs` says the workers may not see the driver's files: the runner then sends
    inputs as data (`cosim.sweep.shipping`), each piece once through `share`.
    """

    slots: int
    description: str
    ships_inputs = False

    def share(self, data: Any) -> Any:
        """`data` as an argument for any number of tasks, sent to the workers once."""
        return data

    @abstractmethod
    def submit(self, tag: Any, function: Callable[..., Any], *args: Any) -> None:
        """Queue `function(*args)`; its outcome comes back from `wait` under `tag`."""

    @abstractmethod
    def wait(self, timeout: float) -> list[Finished]:
        """Tasks finished since the last call; waits up to `timeout` s for the first."""

    @abstractmethod
    def close(self, *, cancel: bool = False) -> None:
        """Release the workers; `cancel` abandons unfinished tasks at once."""

    def __enter__(self) -> PointExecutor:
        return self

    def __exit__(self, kind: Any, *_: Any) -> None:
        self.close(cancel=kind is not None)


# --------------------------------------------------------------------------- local


def _worker_loop(connection: Connection) -> None:
    """A worker process: run one task at a time until told to stop or the driver is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        function, args = message
        try:
            reply: tuple[str, Any] = ("value", function(*args))
        except BaseException as failure:  # report anything; the worker stays usable
            reply = ("error", describe_failure(failure))
        try:
            connection.send(reply)
        except (BrokenPipeError, OSError):
            return


class _Worker:
    def __init__(self, context: Any) -> None:
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker_loop, args=(child,), daemon=True, name="cosim-sweep-worker")
        self.process.start()
        child.close()
        self.task: Any = None

    def stop(self, *, kill: bool) -> None:
        if kill:
            self.process.terminate()
        else:
            with contextlib.suppress(BrokenPipeError, OSError):
                self.connection.send(None)
        self.process.join(timeout=None if not kill else 5)
        self.connection.close()


def default_workers() -> int:
    """One worker per core this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class LocalExecutor(PointExecutor):
    """`workers` local processes (forkserver start: safe beside the driver's threads)."""

    def __init__(self, workers: int | None = None) -> None:
        self.slots = workers if workers is not None else default_workers()
        if self.slots < 1:
            raise UserError(None, "--workers", "an integer >= 1", self.slots)
        self.description = f"{self.slots} local worker process{'es' if self.slots > 1 else ''}"
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["cosim.sweep.evaluate"])
        self._workers: list[_Worker] = []
        self._queue: deque[tuple[Any, Callable[..., Any], tuple[Any, ...]]] = deque()

    def submit(self, tag: Any, function: Callable[..., Any], *args: Any) -> None:
        self._queue.append((tag, function, args))
        self._dispatch()

    @staticmethod
    def _start_forkserver() -> None:
        """Start the forkserver (once) ignoring Ctrl-C from its first instant.

        Ctrl-C reaches every process of the terminal's group. The forkserver protects itself
        only after importing its preloaded modules, so a Ctrl-C in a sweep's first seconds
        printed its KeyboardInterrupt traceback. "Ignore" survives fork and exec, and the
        driver's own handler is back as soon as the server process exists (a few ms).
        """
        if threading.current_thread() is not threading.main_thread():
            forkserver.ensure_running()
            return
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            forkserver.ensure_running()
        finally:
            signal.signal(signal.SIGINT, previous)

    def _dispatch(self) -> None:
        if self._queue and not self._workers:
            self._start_forkserver()
        while self._queue:
            idle = next((w for w in self._workers if w.task is None), None)
            if idle is None:
                if len(self._workers) >= self.slots:
                    return
                idle = _Worker(self._context)
                self._workers.append(idle)
            tag, function, args = self._queue.popleft()
            try:
                idle.connection.send((function, args))
            except (BrokenPipeError, OSError):  # the worker died while idle: replace it
                self._queue.appendleft((tag, function, args))
                self._workers.remove(idle)
                idle.stop(kill=True)
                continue
            idle.task = tag

    def wait(self, timeout: float) -> list[Finished]:
        busy = [w for w in self._workers if w.task is not None]
        if not busy:
            return []
        ready = set(wait_for([w.connection for w in busy] + [w.process.sentinel for w in busy], timeout))
        finished = []
        for worker in busy:
            if worker.connection not in ready and worker.process.sentinel not in ready:
                continue
            try:
                kind, payload = worker.connection.recv()
            except (EOFError, OSError):
                worker.process.join()
                finished.append(Finished(worker.task, error=_death(worker.process.exitcode)))
                self._workers.remove(worker)
                worker.connection.close()
                continue
            finished.append(Finished(worker.task, payload) if kind == "value" else Finished(worker.task, error=payload))
            worker.task = None
        self._dispatch()
        return finished

    def close(self, *, cancel: bool = False) -> None:
        self._queue.clear()
        for worker in self._workers:
            worker.stop(kill=cancel or worker.task is not None)
        self._workers.clear()


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            how = f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"killed by signal {-exitcode}"
    else:
        how = f"exit code {exitcode}"
    return f"the worker process died while evaluating this point ({how})"


# --------------------------------------------------------------------------- dask


class DaskExecutor(PointExecutor):
    """Tasks as futures of a Dask distributed client (a remote scheduler or a LocalCluster).

    Its workers need not share a file system with the driver: inputs go to them as data.
    """

    ships_inputs = True

    def __init__(self, scheduler: str | None = None, *, client: Any = None) -> None:
        from distributed import Client

        self._own_client = client is None
        if client is None:
            try:
                client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as error:
                raise UserError(
                    None,
                    "--scheduler",
                    "the address of a reachable Dask scheduler (tcp://host:8786)",
                    f"{scheduler} ({error})",
                    found_is_text=True,
                ) from None
        self.client = client
        threads = sum(self.client.nthreads().values())
        # Two tasks per worker thread hide the round trip to the scheduler.
        self.slots = max(1, 2 * threads)
        self.description = f"Dask cluster {self.client.scheduler.address} ({threads} worker threads)"
        self._futures: dict[Any, Any] = {}

    def submit(self, tag: Any, function: Callable[..., Any], *args: Any) -> None:
        future = self.client.submit(function, *args, pure=False)
        self._futures[future] = tag

    def share(self, data: Any) -> Any:
        return self.client.scatter(data, broadcast=True, hash=False)

    def wait(self, timeout: float) -> list[Finished]:
        from distributed import wait as dask_wait
        from distributed.client import FutureCancelledError

        if not self._futures:
            return []
        try:
            done, _ = dask_wait(list(self._futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        finished = []
        for future in done:
            tag = self._futures.pop(future)
            if future.status == "finished":
                finished.append(Finished(tag, future.result()))
                continue
            try:
                failure = future.exception()
            except FutureCancelledError as cancelled:
                failure = cancelled
            text = describe_failure(failure) if isinstance(failure, BaseException) else str(failure)
            if type(failure).__name__ == "KilledWorker":
                text = f"the worker process died while evaluating this point ({text})"
            finished.append(Finished(tag, error=text))
        return finished

    def close(self, *, cancel: bool = False) -> None:
        if cancel and self._futures:
            self.client.cancel(list(self._futures))
        self._futures.clear()
        if self._own_client:
            self.client.close()


def make_executor(*, workers: int | None = None, scheduler: str | None = None, client: Any = None) -> PointExecutor:
    """Dask when given a scheduler address or client, local processes otherwise."""
    if scheduler is not None or client is not None:
        return DaskExecutor(scheduler, client=client)
    return LocalExecutor(workers)
