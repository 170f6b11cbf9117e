"""SimPy's clock read as whole design cycles.

Every delay the simulator schedules is a whole number of cycles, so SimPy's clock (typed
``int | float``) only ever holds an int. `cycle_now` says so once, for the type checker and
for the reader, instead of each caller converting or trusting it.
"""

from __future__ import annotations

import simpy


def cycle_now(env: simpy.Environment) -> int:
    """The current cycle of `env`."""
    now = env.now
    assert isinstance(now, int), f"the SimPy clock left whole cycles: {now!r}"
    return now
