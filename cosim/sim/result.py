"""SimResult: everything one simulation of a video on a design produced.

Energy, reports, plots and the Chrome timeline are computed from this object alone, so
it carries raw counters (MACs, bytes, bits, busy cycles) rather than derived figures.
Field names carry their units; names are stable (new fields are added, never renamed).

Conventions
-----------
- Cycles are cycles of the design clock (``clock_mhz``); steps are decode steps of the
  trace (index 0 = first simulated step), ``step_frame[s]`` is the frame index of step s.
- Block classes: ``"attention"`` (pre-attention norm, QKV/O projections, RoPE, KV writes,
  attention core, TAS), ``"mlp"`` (post-attention norm, MLP, replay-cache traffic,
  residual add), ``"other"`` (embedding, LM head, depth transformer, sampling).
- Engines / tracks: ``"matrix"`` (the whole matrix pool) or, under the static policy,
  ``"matrix.attention"`` and ``"matrix.mlp"`` (its two partitions); ``"vector"``;
  ``"tas"``; ``"dram"`` (any transfer moving data).
- DRAM categories: ``weights``, ``weights_prefetch_wasted`` (DRS prefetches of MLP
  weights that a replay made useless), ``kv_read``, ``kv_write``, ``activations``
  (activation spills that do not fit their buffer, embedding rows), ``replay_read``,
  ``replay_write``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from cosim.common.jsonable import to_jsonable

BLOCK_CLASSES = ("attention", "mlp", "other")
DRAM_CATEGORIES = (
    "weights",
    "weights_prefetch_wasted",
    "kv_read",
    "kv_write",
    "activations",
    "replay_read",
    "replay_write",
)
DRAM_DIRECTIONS = ("read", "write")


@dataclass(frozen=True)
class TimelineEvent:
    """One interval on one track, for the Chrome/Perfetto exporter.

    ``track`` is an engine name (see module docstring) or ``"dram.<category>"``;
    ``name`` is the op (its graph node name, or ``"<op> load"`` / ``"<op> store"`` for
    DRAM transfers); ``layer`` is -1 outside decoder layers.
    """

    track: str
    name: str
    start_cycle: int
    duration_cycles: int
    step: int
    layer: int


@dataclass
class SimResult:
    """Cycle counts, counters and utilisation of one simulated video.

    Fields
    ------
    design_name: name of the design (``design.name``).
    policy: scheduling policy used (``static``, ``time_multiplexed``, ``drs``).
    clock_mhz: design clock; ``latency_s = total_cycles / (clock_mhz * 1e6)``.
    total_cycles: cycles of all decode steps of the trace.
    step_cycles: int64[S], cycles of each decode step (sums to ``total_cycles``).
    step_frame: int32[S], frame index of the token generated at each step.
    block_cycles: {block class: cycles} -- wall-clock cycles of the segments of each class
        (segments never overlap, so the values add up to ``total_cycles``).
    macs: {block class: {precision: MACs}} -- multiply-accumulates on the matrix engine
        and the TAS unit, precision class as in ``cosim.hw.schema.mac_precision``.
    vector_elements: {block class: element operations on the vector unit}.
    dram_bytes: {direction: {category: bytes}} -- bytes moved, after burst rounding.
    dram_bytes_unrounded: {direction: {category: bytes}} -- payload bytes before rounding.
    buffer_bits: {buffer name: {"memory": "bram"|"uram", "purpose": str, "read_bits": int,
        "write_bits": int}} -- on-chip accesses (engine reads; DRAM fills and engine writes).
        Bits of a purpose served by several buffers are split in proportion to capacity
        (class by class, see ``buffer_bits_by_block``).
    engine_busy_cycles: {engine: cycles the engine (partition) computed}.
    matrix_arrays: {engine: PE arrays in that engine or partition}.
    step_busy_cycles: {engine or "dram": int64[S]} -- busy cycles per step; divide by
        ``step_cycles`` for the busy fraction (see `utilisation`).
    step_buffer_peak_bytes: {buffer name: int64[S]} -- peak bytes resident per step.
    buffer_capacity_bytes: {buffer name: bytes of all copies}.
    roofline: {"dram_bytes", "macs", "peak_dram_bytes_per_cycle", "peak_macs_per_cycle",
        "dram_bound_cycles", "compute_bound_cycles", "bound_cycles"} -- the lower bound
        max(bytes / peak bytes-per-cycle, MACs / peak MACs-per-cycle) of the whole video
        (peak bandwidth includes the DRAM efficiency).
    drs: None unless the policy is ``drs``; then {"predictor_accuracy": fraction of
        (step, layer) MLP decisions of frames >= 1 that the previous frame's decision at
        the same position predicted right (None if there are none), "predictions": that
        count, "prefetch_predictions_used": predictions the prefetcher acted on,
        "prefetch_mispredicted": how many of those were wrong, "prefetch_bytes": weight
        bytes prefetched, "prefetch_wasted_bytes": bytes prefetched for nothing}.
    dram_bytes_by_block: {block class: {direction: {category: bytes}}} -- ``dram_bytes``
        by the class of the op the bytes serve (after burst rounding; the values of a
        direction and category add up to ``dram_bytes`` exactly). A DRS prefetch counts
        for the op whose weights it loads, whenever it moves; ``weights_prefetch_wasted``
        counts for ``mlp`` (the MLP decision whose wrong prediction caused it).
    buffer_bits_by_block: {block class: {buffer name: {"read_bits": int, "write_bits": int}}}
        -- ``buffer_bits`` by the class of the op accessing the buffer (adds up to
        ``buffer_bits`` exactly).
    timeline: bounded list of `TimelineEvent` for steps ``timeline_steps``.
    timeline_steps: [first, last) decode-step indices the timeline covers.
    timeline_truncated: True when events were dropped to respect the bound.
    timeline_occupancy: {buffer purpose: [(cycle, bytes), ...]} -- over the timeline's steps,
        the level of each buffer the simulator tracks over time (weights, KV cache), from
        each point's cycle on (`cosim.sim.buffer_timeline`).
    segments_simulated: distinct work segments simulated at tile level.
    segments_total: segments in the whole video (the rest reused a memoised result).
    events_simulated: SimPy events processed.
    wall_time_s: seconds the simulation took.
    workload: summary of the simulated work ({"steps", "layers", "batch_rows",
        "replay_ratio", "weights_skipped_ratio", "graph_model", "trace_source"}).
    """

    design_name: str
    policy: str
    clock_mhz: float
    total_cycles: int
    step_cycles: np.ndarray
    step_frame: np.ndarray
    block_cycles: dict[str, int]
    macs: dict[str, dict[str, int]]
    vector_elements: dict[str, int]
    dram_bytes: dict[str, dict[str, int]]
    dram_bytes_unrounded: dict[str, dict[str, int]]
    buffer_bits: dict[str, dict[str, Any]]
    engine_busy_cycles: dict[str, int]
    matrix_arrays: dict[str, int]
    step_busy_cycles: dict[str, np.ndarray]
    step_buffer_peak_bytes: dict[str, np.ndarray]
    buffer_capacity_bytes: dict[str, int]
    roofline: dict[str, float]
    dram_bytes_by_block: dict[str, dict[str, dict[str, int]]]
    buffer_bits_by_block: dict[str, dict[str, dict[str, int]]]
    drs: dict[str, Any] | None
    timeline: list[TimelineEvent] = field(default_factory=list)
    timeline_steps: tuple[int, int] = (0, 0)
    timeline_truncated: bool = False
    timeline_occupancy: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    segments_simulated: int = 0
    segments_total: int = 0
    events_simulated: int = 0
    wall_time_s: float = 0.0
    workload: dict[str, Any] = field(default_factory=dict)

    # -- derived figures ---------------------------------------------------------------
    @property
    def latency_s(self) -> float:
        """Wall-clock seconds of the whole video at the design clock."""
        return self.total_cycles / (self.clock_mhz * 1e6)

    @property
    def num_steps(self) -> int:
        return int(self.step_cycles.shape[0])

    def total_dram_bytes(self, direction: str | None = None) -> int:
        """Bytes moved (after burst rounding), in one direction or both."""
        directions = DRAM_DIRECTIONS if direction is None else (direction,)
        return int(sum(sum(self.dram_bytes[d].values()) for d in directions))

    def total_macs(self) -> int:
        return int(sum(sum(by_precision.values()) for by_precision in self.macs.values()))

    def utilisation(self) -> dict[str, np.ndarray]:
        """Busy fraction per step for every engine and for DRAM, float64[S] each."""
        cycles = np.maximum(self.step_cycles, 1).astype(float)
        return {name: busy / cycles for name, busy in self.step_busy_cycles.items()}

    def frame_cycles(self) -> dict[int, int]:
        """Cycles spent on the steps of each generated frame."""
        frames: dict[int, int] = {}
        for frame in np.unique(self.step_frame):
            frames[int(frame)] = int(self.step_cycles[self.step_frame == frame].sum())
        return frames

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (numpy arrays become lists)."""
        return to_jsonable(
            {
                **{k: v for k, v in self.__dict__.items() if k != "timeline"},
                "latency_s": self.latency_s,
                "timeline": [asdict(event) for event in self.timeline],
            }
        )
