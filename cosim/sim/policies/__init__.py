"""Scheduling policies: who gets the matrix arrays and how far weights stream ahead.

A policy is a small object behind one interface, registered by name, so a design (or a
sweep) picks it with ``scheduling.policy``. The simulator asks a policy three things:

- `matrix_engines`: the matrix-engine resources and their array counts (one pool, or
  the static partitions);
- `matrix_engine_for(op)`: which of them a matrix op runs on;
- `serial` and `stream_weights`: whether ops run strictly one at a time, and whether
  weight tiles are streamed ahead of the ops that need them (across op and segment
  boundaries) -- the DRS prefetcher.

``static``: attention work (QKV/O projections, attention core) holds the
``attention_arrays`` partition, everything else the ``mlp_arrays`` partition; ops
on different engines run at once; each op streams its own tiles while it runs.
``time_multiplexed``: one engine; every op gets the whole pool; one op at a time.
``drs``: this project's Dynamic Resource Scheduling (docs/drs.md): every matrix op
gets the whole pool, so arrays of a skipped MLP are never idle, and one weight stream
runs ahead through the weight buffer, guided by TAS decisions once known and by the
previous frame's decision before.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cosim.common.errors import UserError
from cosim.sim.workload import OpWork


class SchedulingPolicy:
    """Base class; subclasses set the class attributes and may override the methods."""

    name: ClassVar[str] = ""
    serial: ClassVar[bool] = False
    stream_weights: ClassVar[bool] = False

    def __init__(self, design: Any) -> None:
        self.design = design
        self.total_arrays = int(design.engines.matrix.arrays)

    def matrix_engines(self) -> dict[str, int]:
        """Matrix-engine resources by name and the arrays each has."""
        return {"matrix": self.total_arrays}

    def matrix_engine_for(self, op: OpWork) -> str:
        return "matrix"


POLICIES: dict[str, type[SchedulingPolicy]] = {}


def register_policy(cls: type[SchedulingPolicy]) -> type[SchedulingPolicy]:
    """Class decorator adding a policy to the registry under its ``name``."""
    POLICIES[cls.name] = cls
    return cls


def make_policy(name: str | None, design: Any) -> SchedulingPolicy:
    """The policy `name` (default: the design's ``scheduling.policy``) for `design`."""
    name = name or design.scheduling.policy
    if name not in POLICIES:
        raise UserError(None, "scheduling.policy", f"one of {', '.join(sorted(POLICIES))}", name)
    return POLICIES[name](design)


@register_policy
class StaticPolicy(SchedulingPolicy):
    """Fixed split of the arrays between attention and MLP (and other) work."""

    name = "static"

    def __init__(self, design: Any) -> None:
        super().__init__(design)
        split = design.scheduling.static_split
        if split is not None:
            self.attention_arrays, self.mlp_arrays = int(split.attention_arrays), int(split.mlp_arrays)
        elif self.total_arrays >= 2:  # design made for another policy: split the pool evenly
            self.attention_arrays = self.total_arrays // 2
            self.mlp_arrays = self.total_arrays - self.attention_arrays
        else:
            raise UserError(None, "scheduling.static_split",
                            "a static split, or engines.matrix.arrays >= 2 to split evenly", self.total_arrays)

    def matrix_engines(self) -> dict[str, int]:
        return {"matrix.attention": self.attention_arrays, "matrix.mlp": self.mlp_arrays}

    def matrix_engine_for(self, op: OpWork) -> str:
        return "matrix.attention" if op.partition == "attention" else "matrix.mlp"


@register_policy
class TimeMultiplexedPolicy(SchedulingPolicy):
    """All arrays on one op at a time; nothing overlaps."""

    name = "time_multiplexed"
    serial = True


@register_policy
class DrsPolicy(SchedulingPolicy):
    """Whole pool to every matrix op; TAS-guided weight streaming across barriers (docs/drs.md)."""

    name = "drs"
    stream_weights = True

