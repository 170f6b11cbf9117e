"""``time_multiplexed``: all arrays on one op at a time; nothing overlaps."""

from __future__ import annotations

from cosim.sim.policies.base import SchedulingPolicy


class TimeMultiplexedPolicy(SchedulingPolicy):
    """One pool and one admission token: every op runs alone."""

    name = "time_multiplexed"
    summary = "all arrays on one op at a time"
    static_split = "forbidden"
    serial = True
