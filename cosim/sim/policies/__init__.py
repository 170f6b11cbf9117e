"""Scheduling policies: who gets the matrix arrays, whether ops overlap, whether weights stream ahead.

A policy is one module here (a `SchedulingPolicy` subclass) plus one entry in the
registration below. Everything that lists policies reads the registry: the design schema
(``scheduling.policy`` and its ``static_split`` rule), the CLI's ``--policy`` choices, the
comparison runs of a report, the generated docs/config.md and the tests.

``static``: attention work (QKV/O projections, attention core) holds the
``attention_arrays`` partition, everything else the ``mlp_arrays`` partition; ops
on different engines run at once; each op streams its own tiles while it runs.
``time_multiplexed``: one engine; every op gets the whole pool; one op at a time.
``drs``: this project's Dynamic Resource Scheduling (docs/drs.md): every matrix op
gets the whole pool, so arrays of a skipped MLP are never idle, and one weight stream
runs ahead through the weight buffer, guided by TAS decisions once known and by the
previous frame's decision before.
"""

from cosim.sim.policies.base import POLICIES, SchedulingPolicy, make_policy, register_policy
from cosim.sim.policies.drs import DrsPolicy
from cosim.sim.policies.static import StaticPolicy
from cosim.sim.policies.time_multiplexed import TimeMultiplexedPolicy

# Registered here, not on import, so that the order reports, CLI choices and the config
# reference list them in (simplest split first, DRS last) does not follow import sorting.
for _policy in (StaticPolicy, TimeMultiplexedPolicy, DrsPolicy):
    register_policy(_policy)

__all__ = ["POLICIES", "SchedulingPolicy", "make_policy", "register_policy"]
