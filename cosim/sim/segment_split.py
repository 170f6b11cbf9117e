"""From a decode-step compute graph to its segment sequence: (kind, layer, template) per segment.

Ops are cut at the barriers of `cosim.sim.segments`: ops outside the layers before the first
one form the prologue, the rest the epilogue; each layer's ops split into pre / core / post /
mlp around its attention core and its first replayable op. The workload adds two things the
graph does not hold: if a layer has no TAS op, a dot product of hidden size per row on the
TAS unit (its previous-frame key has the layer's KV width); and, around the replayable MLP,
a replay-cache read (for the rows that replay, which the ops after the MLP wait for), a
replay-cache write (of the computing rows' MLP output), and a gather of the computing rows'
inputs before the MLP and a scatter of their outputs after it (sized only where some rows
replay and others compute: the MLP's GEMMs then run on the computing rows alone).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import networkx as nx

from cosim.artifacts.graph import ops_in_order
from cosim.sim.segments import CORE_KINDS, LAYER_SEGMENTS, MATRIX_KINDS, QUANTITIES, OpTemplate, SegmentTemplate

GraphOp = tuple[str, dict[str, Any]]  # (node, attributes), as `ops_in_order` gives them
SegmentSpec = tuple[str, int, SegmentTemplate]  # (kind, layer or -1, template)


def split_graph(graph: nx.DiGraph, hidden: int) -> list[SegmentSpec]:
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


def _split_layer(graph: nx.DiGraph, nodes: list[GraphOp], layer: int, hidden: int) -> list[SegmentSpec]:
    """The four segments of one layer, with the TAS op and the replay-cache ops added."""
    parts = _layer_parts(nodes)
    core_extra = [] if any(a["kind"] == "tas" for _, a in nodes) else [_added_tas_op(nodes, hidden)]
    return [
        ("pre", layer, _make_template("pre", parts["pre"], graph)),
        ("core", layer, _make_template("core", parts["core"], graph, core_extra)),
        ("post", layer, _make_template("post", parts["post"], graph)),
        ("mlp", layer, _with_replay_cache(_make_template("mlp", parts["mlp"], graph), hidden)),
    ]


def _layer_parts(nodes: list[GraphOp]) -> dict[str, list[GraphOp]]:
    """A layer's ops (in order) by segment kind: TAS in core; from the first replayable op on, mlp;
    before the attention core, pre; within it, core; after it, post."""
    core_at = [i for i, (_, a) in enumerate(nodes) if a["kind"] in CORE_KINDS]
    replay_at = [i for i, (_, a) in enumerate(nodes) if a["replayable"]]
    core_span = (core_at[0], core_at[-1]) if core_at else None  # first and last core op
    first_replay = replay_at[0] if replay_at else len(nodes)
    parts: dict[str, list[GraphOp]] = {k: [] for k in LAYER_SEGMENTS}
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
    return parts


def _added_tas_op(nodes: list[GraphOp], hidden: int) -> OpTemplate:
    """The TAS op of a layer whose graph has none: a hidden-size dot product per row; the key has kv_dim elements."""
    kv_dim = sum(a["kv_write_elems"] for _, a in nodes) // 2 or hidden
    return _added_op("tas", "tas", "tas", (), macs=hidden, kv_read_elems=kv_dim)


def _with_replay_cache(mlp: SegmentTemplate, hidden: int) -> SegmentTemplate:
    """The mlp template with a row gather (before the MLP's first ops), a row scatter and a replay-cache read
    (both of which the ops after the MLP wait for) and a replay-cache write (after the MLP's last ops)
    appended; unchanged if the segment has no replayable op."""
    ops = list(mlp.ops)
    replayable_idx = [i for i, op in enumerate(ops) if op.replayable]
    if not replayable_idx:
        return mlp
    gather_index, scatter_index, read_index = len(ops), len(ops) + 1, len(ops) + 2
    after_mlp = [i for i, op in enumerate(ops) if not op.replayable and i > replayable_idx[0]]
    roots = [i for i in replayable_idx if not any(p in replayable_idx for p in ops[i].preds)]
    sinks = [i for i in replayable_idx if not any(i in ops[j].preds for j in replayable_idx)]
    extra_preds = {i: {read_index, scatter_index} for i in after_mlp} | {i: {gather_index} for i in roots}
    ops = [replace(op, preds=tuple(sorted(set(op.preds) | extra_preds.get(i, set())))) for i, op in enumerate(ops)]
    gather_preds = tuple(sorted({p for i in roots for p in mlp.ops[i].preds}))
    ops.append(_added_op("rows.gather", "row_gather", "dma", gather_preds, act_read_elems=hidden))
    ops.append(_added_op("rows.scatter", "row_scatter", "dma", tuple(sinks), act_read_elems=hidden))
    ops.append(_added_op("replay_cache.read", "replay_read", "dma", (), act_read_elems=hidden))
    ops.append(_added_op("replay_cache.write", "replay_write", "dma", tuple(sinks), act_write_elems=hidden))
    return SegmentTemplate(mlp.kind, tuple(ops))


def _added_op(name: str, role: str, engine: str, preds: tuple[int, ...], **fixed: int) -> OpTemplate:
    """An op the workload adds to the graph's (its kind is its role): fixed per-row quantities only, no weights."""
    return OpTemplate(
        name,
        role,
        engine,
        False,
        preds,
        tuple(int(fixed.get(q, 0)) for q in QUANTITIES),
        (0,) * len(QUANTITIES),
        0,
        0,
        role=role,
    )


def _make_template(
    kind: str, nodes: list[GraphOp], graph: nx.DiGraph, extra: Sequence[OpTemplate] = ()
) -> SegmentTemplate:
    """Template of `nodes` (in order) with in-segment predecessors; `extra` ops are appended."""
    index = {name: i for i, (name, _) in enumerate(nodes)}
    ops = []
    for name, attrs in nodes:
        preds = tuple(sorted(index[p] for p in graph.predecessors(name) if p in index))
        ops.append(_template_op(name, attrs, preds))
    ops.extend(extra)
    return SegmentTemplate(kind, tuple(ops))


def _template_op(node: str, attrs: dict[str, Any], preds: tuple[int, ...]) -> OpTemplate:
    return OpTemplate(
        name=_generic_name(str(node), int(attrs["layer"])) or attrs["kind"],
        kind=attrs["kind"],
        engine=_engine_of(attrs["kind"]),
        replayable=bool(attrs["replayable"]),
        preds=preds,
        fixed=tuple(int(attrs[f"{q}_fixed"]) for q in QUANTITIES),
        per_kv=tuple(int(attrs[f"{q}_per_kv"]) for q in QUANTITIES),
        weight_elems=int(attrs["weight_elems"]),
        kv_write_elems=int(attrs["kv_write_elems"]),
    )


def _engine_of(kind: str) -> str:
    if kind in MATRIX_KINDS:
        return "matrix"
    if kind == "tas":
        return "tas"
    if kind == "embedding":
        return "dma"
    return "vector"


def _generic_name(module: str, layer: int) -> str:
    """``layers.3.mlp.gate_proj`` -> ``mlp.gate_proj``, ``layers.3`` -> ``layer`` (the layer is carried
    separately, so that identical layers share one template)."""
    if layer < 0:
        return module
    return re.sub(r"^(?:.*?\.)?layers\.\d+(?:\.|$)", "", module) or "layer"
