"""``drs``: Dynamic Resource Scheduling (docs/drs.md).

Every matrix op gets the whole pool, so arrays of a skipped MLP are never idle, and one
weight stream runs ahead through the weight buffer, guided by TAS decisions once known and
by the previous frame's decision before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cosim.sim.policies.base import SchedulingPolicy

if TYPE_CHECKING:
    from cosim.sim.workload import Workload


class DrsPolicy(SchedulingPolicy):
    """Whole pool to every matrix op; TAS-guided weight streaming across barriers."""

    name = "drs"
    summary = "dynamic resource scheduling driven by TAS replay decisions (the DRS design in docs/)"
    static_split = "required"
    stream_weights = True

    def result_section(self, workload: Workload, total: Callable[[str], int]) -> dict[str, Any] | None:
        """The previous-frame predictor's accuracy and what the weight stream loaded, used and wasted."""
        mask = workload.has_prediction
        truth = workload.n_compute > 0
        return {
            "predictor_accuracy": float((workload.predicted_compute[mask] == truth[mask]).mean())
            if mask.any()
            else None,
            "predictions": int(mask.sum()),
            "prefetch_predictions_used": total("drs.predictions_used"),
            "prefetch_mispredicted": total("drs.mispredicted"),
            "prefetch_bytes": total("drs.prefetch_bytes"),
            "prefetch_wasted_bytes": total("drs.wasted_bytes"),
        }
