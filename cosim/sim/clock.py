"""SimPy's clock read as whole design cycles, and the type of the simulator's processes.

Every delay the simulator schedules is a whole number of cycles, so SimPy's clock (typed
``int | float``) only ever holds an int. `cycle_now` says so once, for the type checker and
for the reader, instead of each caller converting or trusting it.

`Process[T]` is a generator SimPy can run (``env.process``) that yields events and returns a
`T` to a caller that delegates to it with ``yield from``; what a yield receives is the
event's value, which SimPy types as ``Any``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeAlias, TypeVar

import simpy

_T = TypeVar("_T")

Process: TypeAlias = Generator[simpy.Event, Any, _T]


def cycle_now(env: simpy.Environment) -> int:
    """The current cycle of `env`."""
    now = env.now
    assert isinstance(now, int), f"the SimPy clock left whole cycles: {now!r}"
    return now
