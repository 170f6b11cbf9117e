"""Workload: a compute graph x a replay trace x a design = the work of a whole video.

The graph describes one decode step of one batch row; the trace says, per step, layer and
row, whether the MLP replayed and how many KV entries attention read. The workload cuts
every step into *segments* separated by data-dependency barriers:

=========== ==================================================================
prologue    ops outside the decoder layers that come before layer 0 (embedding)
pre         per layer: input norm, Q/K/V projections, RoPE, KV-cache append
core        per layer: attention scores, softmax, values (sized by ``kv_attended``)
            and the TAS dot product (on the TAS unit, concurrently)
post        per layer: output projection and the attention residual add
mlp         per layer: post-attention norm and MLP for the rows that compute,
            replay-cache reads for the rows that replay, the residual add
epilogue    ops after the last layer (final norm, LM head, depth transformer, sampling)
=========== ==================================================================

Segment *templates* (the ops of one segment kind of one layer) are shared by all layers
with the same shapes, and a segment instance is the template plus a small `SegmentParam`
(the attended KV length and the TAS flag for ``core``, the number of computing rows for
``mlp``), held in numpy arrays of shape (steps, segments per step). `OpWork` objects,
sized in bytes, MACs and cycles-relevant dimensions for the design's precisions, are built
only for the distinct (template, parameter) pairs -- a few thousand for a whole video.

Replay (FastCar): a row that replays skips the replayable ops and reads the cached MLP
output (hidden elements at activation precision) from the replay cache; a row that
computes writes its MLP output there (the ring holds the value used, so replayed values
are not rewritten). The MLP weights are streamed once if ANY row computes; the computing
rows share that stream (a GEMM with as many streamed rows as computing rows). If the
graph has no TAS op for a layer, one is added: a dot product of hidden size per row on
the TAS unit, whose previous-frame key comes from the attention's own key stream under
dense attention and is read from the KV cache (kv precision) under sparse attention.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict

import networkx as nx
import numpy as np

from cosim.artifacts.graph import ops_in_order
from cosim.artifacts.replay_trace import ReplayTrace
from cosim.common.errors import UserError
from cosim.hw.schema import mac_precision

if TYPE_CHECKING:
    from cosim.hw.schema import Design

SEGMENT_BLOCK = {
    "prologue": "other",
    "pre": "attention",
    "core": "attention",
    "post": "attention",
    "mlp": "mlp",
    "epilogue": "other",
}
LAYER_SEGMENTS = ("pre", "core", "post", "mlp")
CORE_KINDS = frozenset({"attention_score", "softmax", "attention_value"})
MATRIX_KINDS = frozenset({"linear", "attention_score", "attention_value", "head"})

# TAS flag of a core segment instance.
TAS_NONE, TAS_FROM_STREAM, TAS_READS_KEY = 0, 1, 2


class SegmentParam(NamedTuple):
    """What sizes one instance of a segment template (with the template id, the key of its sized ops)."""

    size: int  # attended KV entries (core), computing rows (mlp), KV length (other templates scaling with it), or 0
    tas_flag: int = TAS_NONE  # core only: how the TAS op gets its previous-frame key


_COEFFS = ("macs", "flops", "act_read_elems", "act_write_elems", "kv_read_elems")


@dataclass(frozen=True)
class OpTemplate:
    """One op of a segment template: per-row element counts as in the graph."""

    name: str
    kind: str
    engine: str  # matrix | vector | tas | dma
    replayable: bool
    preds: tuple[int, ...]
    fixed: tuple[int, ...]  # per _COEFFS
    per_kv: tuple[int, ...]
    weight_elems: int
    kv_write_elems: int
    role: str = "graph"  # graph | tas | replay_read | replay_write

    def at(self, quantity: str, kv: int) -> int:
        i = _COEFFS.index(quantity)
        return self.fixed[i] + self.per_kv[i] * kv

    @property
    def scales_with_kv(self) -> bool:
        return any(self.per_kv)


@dataclass(frozen=True)
class SegmentTemplate:
    kind: str
    ops: tuple[OpTemplate, ...]

    @property
    def scales_with_kv(self) -> bool:
        return any(op.scales_with_kv for op in self.ops)


@dataclass(frozen=True)
class OpWork:
    """One op of one segment instance, sized for the design (bytes, MACs, GEMM dimensions).

    A matrix op computes ``instances`` GEMMs of ``m x k x n`` (``m`` streamed rows sharing
    the streamed operand); its streamed operand (``streamed``: weights or kv_cache) holds
    ``streamed_bytes`` per instance and is tiled to the buffer of that purpose. ``loads``
    are DRAM reads done before the first tile computes, ``stores`` DRAM writes done after
    the last; each is a tuple of (category, bytes).
    """

    name: str
    kind: str
    role: str
    engine: str
    partition: str  # attention | mlp (the static policy's partitions)
    preds: tuple[int, ...]
    m: int
    k: int
    n: int
    instances: int
    streamed: str | None
    streamed_bytes: int
    loads: tuple[tuple[str, int], ...]
    stores: tuple[tuple[str, int], ...]
    macs: int
    mac_precision: str
    vector_elements: int
    act_purpose: str
    act_read_bytes: int
    act_write_bytes: int
    onchip_purpose: str | None = None  # replay cache kept in a buffer
    onchip_read_bytes: int = 0
    onchip_write_bytes: int = 0
    conditional: bool = False  # replayable: runs only for computing rows
    template_index: int = -1  # index of the op in its segment template


@dataclass(frozen=True)
class Sizing:
    """Design figures the workload needs: bytes per element and where things live."""

    weight_bytes: float
    act_bytes: float
    kv_bytes: float
    weight_mac_precision: str
    kv_mac_precision: str
    replay_in_buffer: bool
    act_capacity_bytes: int
    scores_capacity_bytes: int
    has_scores_buffer: bool

    @classmethod
    def from_design(cls, design: Design) -> Sizing:
        p = design.precision
        act_cap = sum(b.bytes * b.copies for b in design.buffers_for("activations"))
        scores = design.buffers_for("scores")
        scores_cap = sum(b.bytes * b.copies for b in scores) if scores else act_cap
        return cls(
            weight_bytes=design.bytes_per_element("weights"),
            act_bytes=design.bytes_per_element("activations"),
            kv_bytes=design.bytes_per_element("kv_cache"),
            weight_mac_precision=mac_precision(p.weights, p.activations),
            kv_mac_precision=mac_precision(p.kv_cache, p.activations),
            replay_in_buffer=design.replay_cache == "buffer",
            act_capacity_bytes=act_cap,
            scores_capacity_bytes=scores_cap,
            has_scores_buffer=bool(scores),
        )


def _nbytes(elems: int, bytes_per_elem: float) -> int:
    return math.ceil(elems * bytes_per_elem)


def _generic_name(module: str, layer: int) -> str:
    """``layers.3.mlp.gate_proj`` -> ``mlp.gate_proj``, ``layers.3`` -> ``layer`` (the layer is carried
    separately, so that identical layers share one template)."""
    if layer < 0:
        return module
    return re.sub(r"^(?:.*?\.)?layers\.\d+(?:\.|$)", "", module) or "layer"


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
        self.sizing = Sizing.from_design(design)
        self.trace = trace
        self.rows = trace.batch_rows
        self.steps = trace.num_steps
        self.tokens_per_frame = int(trace.meta["tokens_per_frame"])

        self.templates: list[SegmentTemplate] = []
        template_index: dict[SegmentTemplate, int] = {}

        def intern(template: SegmentTemplate) -> int:
            if template not in template_index:
                template_index[template] = len(self.templates)
                self.templates.append(template)
            return template_index[template]

        segments = _split_graph(graph, self.hidden)
        self.segment_kind: list[str] = []
        self.segment_layer: list[int] = []
        seq_template: list[int] = []
        for kind, layer, template in segments:
            self.segment_kind.append(kind)
            self.segment_layer.append(layer)
            seq_template.append(intern(template))
        self.segment_template = np.asarray(seq_template, dtype=np.int64)

        replay = trace.replay
        _refuse_replay_without_previous_frame(trace)
        self.n_compute = (self.rows - replay.sum(axis=2)).astype(np.int64)  # (S, L)
        self.kv_len = trace.kv_len.astype(np.int64)
        self.kv_attended = trace.kv_attended.astype(np.int64)
        has_previous = (trace.frame >= 1)[:, None]  # frame 0 never replays (checked above)
        sparse = self.kv_attended < self.kv_len[:, None]
        self.tas_flag = np.where(has_previous, np.where(sparse, TAS_READS_KEY, TAS_FROM_STREAM), TAS_NONE)
        self.predicted_compute, self.has_prediction = self._previous_frame_prediction()
        self.param_size, self.param_tas = self._instance_parameters()
        self._ops_cache: dict[tuple[int, SegmentParam], list[OpWork]] = {}

    # -- instance parameters -----------------------------------------------------------
    def _previous_frame_prediction(self) -> tuple[np.ndarray, np.ndarray]:
        """(S, L): whether the previous frame's same position computed its MLP, and whether it exists."""
        steps, f = self.steps, self.tokens_per_frame
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
        """int64 (S, segments per step) each: the `SegmentParam` fields of every segment instance."""
        size = np.zeros((self.steps, len(self.segment_kind)), dtype=np.int64)
        tas = np.zeros_like(size)
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
            self._ops_cache[key] = _size_segment(
                self.templates[template_id], param, self.rows, self.hidden, self.sizing
            )
        return self._ops_cache[key]

    def summary(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "layers": self.num_layers,
            "batch_rows": self.rows,
            "replay_ratio": self.trace.replay_ratio(),
            "weights_skipped_ratio": float((self.n_compute == 0).mean()) if self.n_compute.size else 0.0,
            "graph_model": self.graph_model,
            "trace_source": self.trace.meta.get("source"),
        }


# --------------------------------------------------------------------------- graph -> templates


def _engine_of(kind: str) -> str:
    if kind in MATRIX_KINDS:
        return "matrix"
    if kind == "tas":
        return "tas"
    if kind == "embedding":
        return "dma"
    return "vector"


def _template_op(node: str, attrs: dict[str, Any], preds: tuple[int, ...]) -> OpTemplate:
    return OpTemplate(
        name=_generic_name(str(node), int(attrs["layer"])) or attrs["kind"],
        kind=attrs["kind"],
        engine=_engine_of(attrs["kind"]),
        replayable=bool(attrs["replayable"]),
        preds=preds,
        fixed=tuple(int(attrs[f"{q}_fixed"]) for q in _COEFFS),
        per_kv=tuple(int(attrs[f"{q}_per_kv"]) for q in _COEFFS),
        weight_elems=int(attrs["weight_elems"]),
        kv_write_elems=int(attrs["kv_write_elems"]),
    )


def _make_template(
    kind: str, nodes: list[tuple[str, dict[str, Any]]], graph: nx.DiGraph, extra: Sequence[OpTemplate] = ()
) -> SegmentTemplate:
    """Template of `nodes` (in order) with in-segment predecessors; `extra` ops are appended."""
    index = {name: i for i, (name, _) in enumerate(nodes)}
    ops = []
    for name, attrs in nodes:
        preds = tuple(sorted(index[p] for p in graph.predecessors(name) if p in index))
        ops.append(_template_op(name, attrs, preds))
    ops.extend(extra)
    return SegmentTemplate(kind, tuple(ops))


def _split_graph(graph: nx.DiGraph, hidden: int) -> list[tuple[str, int, SegmentTemplate]]:
    """The segment sequence of one step: (kind, layer, template)."""
    ordered = ops_in_order(graph)
    layers = sorted({a["layer"] for _, a in ordered if a["layer"] >= 0})
    layer_orders = [a["order"] for _, a in ordered if a["layer"] >= 0]
    first_layer_order = min(layer_orders) if layer_orders else math.inf
    prologue = [(n, a) for n, a in ordered if a["layer"] < 0 and a["order"] < first_layer_order]
    epilogue = [(n, a) for n, a in ordered if a["layer"] < 0 and a["order"] >= first_layer_order]
    result = [("prologue", -1, _make_template("prologue", prologue, graph))]
    for layer in layers:
        result.extend(_split_layer(graph, [(n, a) for n, a in ordered if a["layer"] == layer], layer, hidden))
    result.append(("epilogue", -1, _make_template("epilogue", epilogue, graph)))
    return result


def _split_layer(
    graph: nx.DiGraph, nodes: list[tuple[str, dict[str, Any]]], layer: int, hidden: int
) -> list[tuple[str, int, SegmentTemplate]]:
    core_at = [i for i, (_, a) in enumerate(nodes) if a["kind"] in CORE_KINDS]
    replay_at = [i for i, (_, a) in enumerate(nodes) if a["replayable"]]
    core_span = (core_at[0], core_at[-1]) if core_at else None  # first and last core op
    first_replay = replay_at[0] if replay_at else len(nodes)
    parts: dict[str, list[tuple[str, dict[str, Any]]]] = {k: [] for k in LAYER_SEGMENTS}
    for i, (name, attrs) in enumerate(nodes):
        if attrs["kind"] == "tas":
            part = "core"
        elif attrs["replayable"] or i > first_replay:
            part = "mlp"
        elif core_span is None or i < core_span[0]:
            part = "pre"
        elif i <= core_span[1]:
            part = "core"
        else:
            part = "post"
        parts[part].append((name, attrs))

    # TAS op if the graph has none: a hidden-size dot product per row; the key has kv_dim elements.
    core_extra: list[OpTemplate] = []
    if not any(a["kind"] == "tas" for _, a in nodes):
        kv_dim = sum(a["kv_write_elems"] for _, a in nodes) // 2 or hidden
        tas = OpTemplate(
            "tas",
            "tas",
            "tas",
            False,
            (),
            _fixed(macs=hidden, kv_read_elems=kv_dim),
            (0,) * len(_COEFFS),
            0,
            0,
            role="tas",
        )
        core_extra.append(tas)

    mlp_nodes = parts["mlp"]
    mlp_template = _make_template("mlp", mlp_nodes, graph)
    ops = list(mlp_template.ops)
    replayable_idx = [i for i, op in enumerate(ops) if op.replayable]
    if replayable_idx:
        read_index = len(ops)
        after_mlp = [i for i, op in enumerate(ops) if not op.replayable and i > replayable_idx[0]]
        ops = [
            OpTemplate(
                op.name,
                op.kind,
                op.engine,
                op.replayable,
                tuple(sorted(set(op.preds) | {read_index})) if i in after_mlp else op.preds,
                op.fixed,
                op.per_kv,
                op.weight_elems,
                op.kv_write_elems,
                op.role,
            )
            for i, op in enumerate(ops)
        ]
        zeros = (0,) * len(_COEFFS)
        ops.append(
            OpTemplate(
                "replay_cache.read",
                "replay_read",
                "dma",
                False,
                (),
                _fixed(act_read_elems=hidden),
                zeros,
                0,
                0,
                role="replay_read",
            )
        )
        sinks = [i for i in replayable_idx if not any(i in ops[j].preds for j in replayable_idx)]
        ops.append(
            OpTemplate(
                "replay_cache.write",
                "replay_write",
                "dma",
                False,
                tuple(sinks),
                _fixed(act_write_elems=hidden),
                zeros,
                0,
                0,
                role="replay_write",
            )
        )
    mlp_template = SegmentTemplate("mlp", tuple(ops))
    return [
        ("pre", layer, _make_template("pre", parts["pre"], graph)),
        ("core", layer, _make_template("core", parts["core"], graph, core_extra)),
        ("post", layer, _make_template("post", parts["post"], graph)),
        ("mlp", layer, mlp_template),
    ]


def _fixed(**values: int) -> tuple[int, ...]:
    return tuple(int(values.get(q, 0)) for q in _COEFFS)


# --------------------------------------------------------------------------- sizing


def _size_segment(
    template: SegmentTemplate, param: SegmentParam, rows: int, hidden: int, sizing: Sizing
) -> list[OpWork]:
    """Sized ops of `template` at parameter `param`; skipped ops are dropped, preds remapped."""
    kind = template.kind
    kv, tas_flag, computing = param.size, TAS_FROM_STREAM, rows
    if kind == "core":
        tas_flag = param.tas_flag
    elif kind == "mlp":
        computing = param.size
    replaying = rows - computing

    keep: list[int] = []
    active_rows: dict[int, int] = {}
    for i, op in enumerate(template.ops):
        if op.kind == "tas":
            n = rows if tas_flag != TAS_NONE else 0
        elif op.role == "replay_read":
            n = replaying
        elif op.role == "replay_write" or op.replayable:
            n = computing
        else:
            n = rows
        if n > 0:
            keep.append(i)
            active_rows[i] = n
    new_index = {old: new for new, old in enumerate(keep)}
    partition = "mlp" if kind in ("mlp", "prologue", "epilogue") else "attention"
    works = []
    for old in keep:
        op = template.ops[old]
        preds = tuple(new_index[p] for p in op.preds if p in new_index)
        work = _size_op(op, preds, active_rows[old], kv, tas_flag, kind, partition, sizing)
        works.append(replace(work, conditional=op.replayable, template_index=old))
    return works


class _OpIdentity(TypedDict):
    """The `OpWork` fields every sizing branch fills the same way: which op, where it runs, what it waits for."""

    name: str
    kind: str
    role: str
    partition: str
    preds: tuple[int, ...]


def _size_op(
    op: OpTemplate, preds: tuple[int, ...], rows: int, kv: int, tas_flag: int, segment: str, partition: str, s: Sizing
) -> OpWork:
    macs_row = op.at("macs", kv)
    flops_row = op.at("flops", kv)
    act_read_row = op.at("act_read_elems", kv)
    act_write_row = op.at("act_write_elems", kv)
    kv_read_row = op.at("kv_read_elems", kv)
    act_purpose = "scores" if segment == "core" and s.has_scores_buffer else "activations"
    capacity = s.scores_capacity_bytes if act_purpose == "scores" else s.act_capacity_bytes
    act_read = _nbytes(act_read_row * rows, s.act_bytes)
    act_write = _nbytes(act_write_row * rows, s.act_bytes)
    loads: list[tuple[str, int]] = []
    stores: list[tuple[str, int]] = []
    common = _OpIdentity(name=op.name, kind=op.kind, role=op.role, partition=partition, preds=preds)

    if op.role in ("replay_read", "replay_write"):
        nbytes = act_read if op.role == "replay_read" else act_write
        category = op.role
        if s.replay_in_buffer:
            return OpWork(
                **common,
                engine="dma",
                m=rows,
                k=0,
                n=0,
                instances=1,
                streamed=None,
                streamed_bytes=0,
                loads=(),
                stores=(),
                macs=0,
                mac_precision=s.weight_mac_precision,
                vector_elements=0,
                act_purpose="activations",
                act_read_bytes=nbytes if op.role == "replay_write" else 0,
                act_write_bytes=nbytes if op.role == "replay_read" else 0,
                onchip_purpose="replay_cache",
                onchip_read_bytes=nbytes if op.role == "replay_read" else 0,
                onchip_write_bytes=nbytes if op.role == "replay_write" else 0,
            )
        parts = ((category, nbytes),)
        return OpWork(
            **common,
            engine="dma",
            m=rows,
            k=0,
            n=0,
            instances=1,
            streamed=None,
            streamed_bytes=0,
            loads=parts if op.role == "replay_read" else (),
            stores=parts if op.role == "replay_write" else (),
            macs=0,
            mac_precision=s.weight_mac_precision,
            vector_elements=0,
            act_purpose="activations",
            act_read_bytes=nbytes if op.role == "replay_write" else 0,
            act_write_bytes=nbytes if op.role == "replay_read" else 0,
        )

    excess = act_read + act_write - capacity
    if excess > 0:  # the part of the working set that does not fit goes through DRAM: inputs first, then outputs
        loads.append(("activations", min(act_read, excess)))
        stores.append(("activations", excess - min(act_read, excess)))
    if op.kv_write_elems:
        stores.append(("kv_write", _nbytes(op.kv_write_elems * rows, s.kv_bytes)))

    if op.kind == "tas":  # the previous-frame key: in the attention's key stream unless attention is sparse
        if tas_flag == TAS_READS_KEY:
            loads.append(("kv_read", _nbytes(kv_read_row * rows, s.kv_bytes)))
        return OpWork(
            **common,
            engine="tas",
            m=rows,
            k=macs_row,
            n=1,
            instances=1,
            streamed=None,
            streamed_bytes=0,
            loads=tuple(p for p in loads if p[1] > 0),
            stores=tuple(p for p in stores if p[1] > 0),
            macs=macs_row * rows,
            mac_precision=s.kv_mac_precision,
            vector_elements=0,
            act_purpose=act_purpose,
            act_read_bytes=act_read,
            act_write_bytes=act_write,
        )

    if op.engine == "dma":  # embedding: gather one table row per batch row
        loads.append(("weights", _nbytes(act_write_row * rows, s.weight_bytes) if op.weight_elems else 0))
        return OpWork(
            **common,
            engine="dma",
            m=rows,
            k=0,
            n=0,
            instances=1,
            streamed=None,
            streamed_bytes=0,
            loads=tuple(p for p in loads if p[1] > 0),
            stores=tuple(p for p in stores if p[1] > 0),
            macs=0,
            mac_precision=s.weight_mac_precision,
            vector_elements=0,
            act_purpose=act_purpose,
            act_read_bytes=0,
            act_write_bytes=act_write,
        )

    if op.engine == "matrix":
        n_out = act_write_row  # outputs; a projection written only to the KV cache: MACs / inputs
        if n_out <= 0:
            n_out = max(macs_row // act_read_row, 1) if act_read_row and macs_row % act_read_row == 0 else 1
        k_red = max(math.ceil(macs_row / n_out), 1)
        if op.weight_elems:
            streamed, streamed_bytes, m, instances = "weights", _nbytes(op.weight_elems, s.weight_bytes), rows, 1
            precision = s.weight_mac_precision
            if kv_read_row:
                loads.append(("kv_read", _nbytes(kv_read_row * rows, s.kv_bytes)))
        elif kv_read_row:
            streamed, streamed_bytes, m, instances = "kv_cache", _nbytes(kv_read_row, s.kv_bytes), 1, rows
            precision = s.kv_mac_precision
        else:  # activation x activation product with nothing to stream
            streamed, streamed_bytes, m, instances = None, 0, rows, 1
            precision = s.kv_mac_precision
        return OpWork(
            **common,
            engine="matrix",
            m=m,
            k=k_red,
            n=n_out,
            instances=instances,
            streamed=streamed,
            streamed_bytes=streamed_bytes,
            loads=tuple(p for p in loads if p[1] > 0),
            stores=tuple(p for p in stores if p[1] > 0),
            macs=macs_row * rows,
            mac_precision=precision,
            vector_elements=0,
            act_purpose=act_purpose,
            act_read_bytes=act_read,
            act_write_bytes=act_write,
        )

    # vector unit: norms (with their weights), softmax, RoPE, activations, elementwise, sampling
    elements_row = flops_row + macs_row or act_write_row
    if kv_read_row:
        loads.append(("kv_read", _nbytes(kv_read_row * rows, s.kv_bytes)))
    weights = _nbytes(op.weight_elems, s.weight_bytes)
    return OpWork(
        **common,
        engine="vector",
        m=rows,
        k=0,
        n=0,
        instances=1,
        streamed="weights" if weights else None,
        streamed_bytes=weights,
        loads=tuple(p for p in loads if p[1] > 0),
        stores=tuple(p for p in stores if p[1] > 0),
        macs=0,
        mac_precision=s.weight_mac_precision,
        vector_elements=elements_row * rows,
        act_purpose=act_purpose,
        act_read_bytes=act_read,
        act_write_bytes=act_write,
    )
