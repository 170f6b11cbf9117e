"""The interface of a scheduling policy and the registry of policies.

The simulator asks a policy, through the methods below, everything that differs between
policies; it never branches on a policy's name or flags:

- `matrix_engines` / `matrix_engine_for(op)`: the matrix-engine resources with their
  array counts (one pool, or static partitions), and which one a matrix op runs on;
- `admission_token(env)`: a resource every op holds while it runs (one op at a time), or None;
- `streams_weights()`: whether one weight stream loads tiles ahead of the ops, across op
  and segment boundaries (the DRS prefetcher);
- `result_section(...)`: the policy's own figures in the result (`SimResult.drs`).

Class attributes state what a design with the policy must say: `static_split` is
``required``, ``optional`` or ``forbidden`` (the schema checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from cosim.common.registry import Registry

if TYPE_CHECKING:
    import simpy

    from cosim.hw.schema import Design
    from cosim.sim.workload import OpWork, Workload

SplitRule = Literal["required", "optional", "forbidden"]


class SchedulingPolicy:
    """Base class: one pool, ops overlap, no weight stream; subclasses override what differs."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""  # one phrase for the config reference
    static_split: ClassVar[SplitRule] = "optional"  # whether a design must give scheduling.static_split
    serial: ClassVar[bool] = False  # ops run strictly one at a time
    stream_weights: ClassVar[bool] = False  # one weight stream runs ahead of the ops (DRS)

    def __init__(self, design: Design) -> None:
        self.design = design
        self.total_arrays = int(design.engines.matrix.arrays)

    def matrix_engines(self) -> dict[str, int]:
        """Matrix-engine resources by name and the arrays each has."""
        return {"matrix": self.total_arrays}

    def matrix_engine_for(self, op: OpWork) -> str:
        return "matrix"

    def admission_token(self, env: simpy.Environment) -> simpy.Resource | None:
        """A resource each op holds from before its engine until it ends, or None (ops overlap)."""
        if not self.serial:
            return None
        import simpy

        return simpy.Resource(env, 1)

    def streams_weights(self) -> bool:
        """Whether one weight stream loads weight tiles ahead of the ops that need them."""
        return self.stream_weights

    def result_section(self, workload: Workload, total: Callable[[str], int]) -> dict[str, Any] | None:
        """The policy's own figures for `SimResult.drs` (`total(counter)`: a whole-video counter), or None."""
        return None


POLICIES = Registry[type[SchedulingPolicy]]("scheduling policy", "scheduling.policy")


def register_policy(cls: type[SchedulingPolicy]) -> type[SchedulingPolicy]:
    """Class decorator adding a policy to `POLICIES` under its ``name``."""
    return POLICIES.add(cls.name, cls)


def make_policy(name: str | None, design: Design) -> SchedulingPolicy:
    """The policy `name` (default: the design's ``scheduling.policy``) for `design`."""
    return POLICIES.get(name or design.scheduling.policy)(design)


def split_rules_text() -> str:
    """'Required for static and drs; not allowed for time_multiplexed.' from the registered policies."""
    words = {"required": "Required for", "optional": "optional for", "forbidden": "not allowed for"}
    parts = []
    for rule in ("required", "optional", "forbidden"):
        names = [name for name, cls in POLICIES.items() if cls.static_split == rule]
        if names:
            listed = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
            parts.append(f"{words[rule]} {listed}")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def policy_summaries() -> str:
    """'static: fixed split; time_multiplexed: ...' from the registered policies."""
    return "; ".join(f"{name}: {cls.summary}" for name, cls in POLICIES.items())
