"""``static``: a fixed split of the matrix arrays between attention and MLP (and other) work."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cosim.common.errors import UserError
from cosim.sim.policies.base import SchedulingPolicy

if TYPE_CHECKING:
    from cosim.hw.schema import Design
    from cosim.sim.workload import OpWork


class StaticPolicy(SchedulingPolicy):
    """Attention work on the ``attention_arrays`` partition, the rest on ``mlp_arrays``; ops overlap."""

    name = "static"
    summary = "fixed split"
    static_split = "required"

    def __init__(self, design: Design) -> None:
        super().__init__(design)
        split = design.scheduling.static_split
        if split is not None:
            self.attention_arrays, self.mlp_arrays = int(split.attention_arrays), int(split.mlp_arrays)
        elif self.total_arrays >= 2:  # design made for another policy: split the pool evenly
            self.attention_arrays = self.total_arrays // 2
            self.mlp_arrays = self.total_arrays - self.attention_arrays
        else:
            raise UserError(
                None,
                "scheduling.static_split",
                "a static split, or engines.matrix.arrays >= 2 to split evenly",
                self.total_arrays,
            )

    def matrix_engines(self) -> dict[str, int]:
        return {"matrix.attention": self.attention_arrays, "matrix.mlp": self.mlp_arrays}

    def matrix_engine_for(self, op: OpWork) -> str:
        return "matrix.attention" if op.partition == "attention" else "matrix.mlp"
