"""Workload: a compute graph x a replay trace x a design = the work of a whole video.

The graph describes one decode step of one batch row; the trace says, per step, layer and
row, whether the MLP replayed and how many KV entries attention read. The workload cuts
every step into the segments of `cosim.sim.segments` (`cosim.sim.segment_split`), whose
templates are shared by all layers with the same shapes. A segment instance is the template
plus a small `SegmentParam` (the attended KV length and the TAS flag for ``core``, the number
of computing rows for ``mlp``), held in numpy arrays of shape (steps, segments per step).
`OpWork` objects, sized for the design's precisions (`cosim.sim.op_sizing`), are built only
for the distinct (template, parameter) pairs -- a few thousand for a whole video.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np

from cosim.artifacts.replay_trace import ReplayTrace
from cosim.common.errors import UserError
from cosim.sim.op_sizing import Sizing, size_segment
from cosim.sim.segment_split import split_graph
from cosim.sim.segments import TAS_FROM_STREAM, TAS_NONE, TAS_READS_KEY, OpWork, SegmentParam, SegmentTemplate

if TYPE_CHECKING:
    from cosim.hw.schema import Design


MAX_CACHED_SEGMENTS = 10_000  # sized segments kept for reuse


def _refuse_replay_without_previous_frame(trace: ReplayTrace) -> None:
    """Frame 0 has no previous frame: no TAS, no cached MLP output, so nothing it could replay."""
    replayed = np.argwhere(trace.replay & (trace.frame == 0)[:, None, None])
    if replayed.size:
        where = ", ".join(str(int(i)) for i in replayed[0])
        raise UserError(None, f"trace.replay[{where}]", "no replay in frame 0 (it has no previous frame)", True)


class Workload:
    """All decode steps of a trace as segment instances over shared templates."""

    def __init__(self, graph: nx.DiGraph, trace: ReplayTrace, design: Design) -> None:
        if graph.graph.get("phase", "decode") != "decode":
            raise UserError(None, "graph.phase", "a decode-step graph", graph.graph.get("phase"))
        num_layers = int(graph.graph["num_layers"])
        if trace.num_layers != num_layers:
            raise UserError(
                None,
                "trace.num_layers",
                f"{num_layers} (the graph's layers; use trace.map_to_layers)",
                trace.num_layers,
            )
        self.graph_model = str(graph.graph.get("model", ""))
        self.hidden = int(graph.graph["hidden"])
        self.num_layers = num_layers
        self.design = design
        self.trace = trace
        self.rows = trace.batch_rows
        self.tokens_per_step = trace.tokens_per_step  # rows sharing one KV cache (tokens of one sequence)
        self.steps = trace.num_steps
        self.tokens_per_frame = int(trace.meta["tokens_per_frame"])
        # the replay ring: one MLP output per position of a frame, layer and sequence (video x CFG row)
        ring_elems = self.tokens_per_frame * self.hidden * num_layers * trace.sequences
        self.sizing = Sizing.from_design(design, ring_elems, tokens_per_step=self.tokens_per_step)

        self.templates: list[SegmentTemplate] = []
        template_index: dict[SegmentTemplate, int] = {}

        def intern(template: SegmentTemplate) -> int:
            if template not in template_index:
                template_index[template] = len(self.templates)
                self.templates.append(template)
            return template_index[template]

        segments = split_graph(graph, self.hidden)
        self.segment_kind: list[str] = []
        self.segment_layer: list[int] = []
        seq_template: list[int] = []
        for kind, layer, template in segments:
            self.segment_kind.append(kind)
            self.segment_layer.append(layer)
            seq_template.append(intern(template))
        self.segment_template = np.asarray(seq_template, dtype=np.int64)

        replay = trace.replay
        self.n_compute = (self.rows - replay.sum(axis=2)).astype(np.int64)  # (S, L)
        self.kv_len = trace.kv_len.astype(np.int64)
        self.kv_attended = trace.kv_attended.astype(np.int64)
        self.fastcar = trace.runs_fastcar  # without FastCar: no TAS, no replay-ring writes
        _refuse_replay_without_previous_frame(trace)
        has_previous = (trace.frame >= 1)[:, None] & self.fastcar  # frame 0 never replays (checked above)
        # The TAS key (one frame back) comes with the attention's stream unless the attention
        # skipped resident entries (sparse attention); a KV budget keeps it resident and read.
        sparse = self.kv_attended < trace.kv_kept
        self.tas_flag = np.where(has_previous, np.where(sparse, TAS_READS_KEY, TAS_FROM_STREAM), TAS_NONE)
        self.predicted_compute, self.has_prediction = self._previous_frame_prediction()
        self.param_size, self.param_tas = self._instance_parameters()
        self._ops_cache: dict[tuple[int, SegmentParam], list[OpWork]] = {}

    # -- instance parameters -----------------------------------------------------------
    def _previous_frame_prediction(self) -> tuple[np.ndarray, np.ndarray]:
        """(S, L): whether the previous frame's same position computed its MLP, and whether it exists."""
        steps, f = self.steps, self.tokens_per_frame // self.tokens_per_step  # steps per frame
        trace = self.trace
        predicted = np.ones((steps, self.num_layers), dtype=bool)
        known = np.zeros((steps, self.num_layers), dtype=bool)
        if steps > f:
            s = np.arange(f, steps)
            prev = s - f
            same = (
                (trace.frame[prev] == trace.frame[s] - 1)
                & (trace.row[prev] == trace.row[s])
                & (trace.col[prev] == trace.col[s])
            )
            predicted[s[same]] = self.n_compute[prev[same]] > 0
            known[s[same]] = True
        return predicted, known

    def _instance_parameters(self) -> tuple[np.ndarray, np.ndarray]:
        """(S, segments per step) each: the `SegmentParam` fields of every segment instance (int32 sizes, int8 TAS
        flags: a long video has millions of instances)."""
        size = np.zeros((self.steps, len(self.segment_kind)), dtype=np.int32)
        tas = np.zeros((self.steps, len(self.segment_kind)), dtype=np.int8)
        for q, (kind, layer) in enumerate(zip(self.segment_kind, self.segment_layer, strict=True)):
            template = self.templates[self.segment_template[q]]
            if kind == "core":
                size[:, q] = self.kv_attended[:, layer]
                tas[:, q] = self.tas_flag[:, layer]
            elif kind == "mlp":
                size[:, q] = self.n_compute[:, layer]
            elif template.scales_with_kv:
                size[:, q] = self.kv_len
        return size, tas

    # -- sizing ------------------------------------------------------------------------
    def instance_param(self, step: int, q: int) -> SegmentParam:
        return SegmentParam(int(self.param_size[step, q]), int(self.param_tas[step, q]))

    def instance_ops(self, step: int, q: int) -> list[OpWork]:
        """The sized ops of segment `q` of decode step `step`."""
        return self.ops(int(self.segment_template[q]), self.instance_param(step, q))

    def ops(self, template_id: int, param: SegmentParam) -> list[OpWork]:
        """The sized ops of one segment instance (cached per distinct (template, parameter))."""
        key = (template_id, param)
        if key not in self._ops_cache:
            if len(self._ops_cache) > MAX_CACHED_SEGMENTS:  # a long video sizes new ops at every step: keep memory flat
                self._ops_cache.clear()
            self._ops_cache[key] = size_segment(
                self.templates[template_id], param, self.rows, self.sizing, replay_ring=self.fastcar
            )
        return self._ops_cache[key]

    def summary(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "layers": self.num_layers,
            "batch_rows": self.rows,
            "videos": self.trace.videos,
            "tokens_per_step": self.tokens_per_step,
            "replay_ratio": self.trace.replay_ratio(),
            "weights_skipped_ratio": float((self.n_compute == 0).mean()) if self.n_compute.size else 0.0,
            "graph_model": self.graph_model,
            "trace_source": self.trace.meta.get("source"),
        }
