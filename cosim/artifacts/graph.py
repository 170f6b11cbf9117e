"""ComputeGraph: one traced decode (or prefill) step of a model as a networkx DiGraph.

``models.tracing.graph_trace`` builds it from the real model code; the simulator reads it. One
graph serves every decode step: each size that grows with the KV length is stored as a
fixed part plus a per-KV-entry coefficient, and `node_cost` evaluates it at any length.

The graph describes ONE batch row. Weights are shared by all rows (streamed once per
step when any row needs them); MACs, FLOPs and activation traffic are per row.

Sizes are element counts, so the simulator can apply the design's own precisions;
``*_bytes`` attributes at the graph's assumed precision are kept for people reading the
file. Node attributes (``Q`` stands for each of ``macs``, ``flops``, ``act_read_elems``,
``act_write_elems``, ``kv_read_elems``; value at KV length n is ``Q_fixed + Q_per_kv * n``):

- ``kind``: one of `KINDS`; ``block``: one of `BLOCKS`; ``layer``: decoder layer or -1
- ``order``: execution order in the traced step (a topological order)
- ``module``: the model module that ran it (e.g. ``layers.3.mlp.gate_proj``)
- ``input_shapes``, ``output_shape``, ``dtype``: as traced
- ``Q_fixed``, ``Q_per_kv``: ints; ``kv_scaling``: ``"none"`` or ``"linear"``
- ``weight_elems``: parameters read; ``kv_write_elems``: KV-cache entries appended
  (these outputs also count in ``act_write_elems``)
- ``weight_bytes``, ``act_bytes`` (optional): bytes at the graph's precision at ``kv_len_ref``
- ``replayable``: FastCar replay skips this op (post-attention norm and MLP)

Edges carry ``elems`` (fixed) and ``elems_per_kv`` passed from producer to consumer, and
optionally ``via`` (``activation`` or ``kv_cache``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import networkx as nx

from cosim.common.atomic import atomic_write_text
from cosim.common.errors import UserError, describe

SCHEMA_VERSION = 1

KINDS = (
    "embedding",
    "linear",
    "norm",
    "rope",
    "attention_score",
    "softmax",
    "attention_value",
    "activation",
    "elementwise",
    "tas",
    "head",
    "sampling",
)
BLOCKS = ("embedding", "attention", "mlp", "norm", "tas", "head", "depth", "other")
SCALED_QUANTITIES = ("macs", "flops", "act_read_elems", "act_write_elems", "kv_read_elems")

_GRAPH_ATTRS: dict[str, type | tuple[type, ...]] = {
    "model": str,
    "phase": str,
    "batch_rows": int,
    "tokens_per_frame": int,
    "frames": int,
    "num_layers": int,
    "hidden": int,
    "kv_len_ref": int,
    "precision_bytes": dict,
}
# Largest size a graph may state (elements, MACs, rows): 2**50 ~ 1e15, far above any model, so that
# sums over nodes and steps stay within 64-bit integers (docs/limits.md).
MAX_SIZE = 2**50
_GRAPH_SIZES = {"batch_rows": 1, "tokens_per_frame": 1, "frames": 1, "num_layers": 1, "hidden": 1, "kv_len_ref": 1}
_NODE_SIZES = (
    "weight_elems",
    "kv_write_elems",
    *(f"{q}_{part}" for q in SCALED_QUANTITIES for part in ("fixed", "per_kv")),
)
_NODE_ATTRS: dict[str, type | tuple[type, ...]] = {
    "kind": str,
    "block": str,
    "layer": int,
    "order": int,
    "module": str,
    "input_shapes": list,
    "output_shape": list,
    "dtype": str,
    "weight_elems": int,
    "kv_write_elems": int,
    "kv_scaling": str,
    "replayable": bool,
    **{f"{q}_{part}": int for q in SCALED_QUANTITIES for part in ("fixed", "per_kv")},
}


def node_cost(attrs: dict[str, Any], quantity: str, kv_len: int) -> int:
    """Value of a scaled quantity (e.g. ``"macs"``) of a node at KV length `kv_len`."""
    return attrs[f"{quantity}_fixed"] + attrs[f"{quantity}_per_kv"] * kv_len


def ops_in_order(graph: nx.DiGraph) -> list[tuple[str, dict[str, Any]]]:
    """Nodes with their attributes in traced execution order."""
    return sorted(graph.nodes(data=True), key=lambda item: item[1]["order"])


def totals(graph: nx.DiGraph, kv_len: int, nodes: Iterable[str] | None = None) -> dict[str, int]:
    """Sum every scaled quantity, weights and KV writes over `nodes` (all by default)."""
    names = graph.nodes if nodes is None else nodes
    sums = {q: 0 for q in (*SCALED_QUANTITIES, "weight_elems", "kv_write_elems")}
    for name in names:
        attrs = graph.nodes[name]
        for q in SCALED_QUANTITIES:
            sums[q] += node_cost(attrs, q, kv_len)
        sums["weight_elems"] += attrs["weight_elems"]
        sums["kv_write_elems"] += attrs["kv_write_elems"]
    return sums


def save_graph(graph: nx.DiGraph, path: str | Path) -> Path:
    """Validate and write `graph` as versioned node-link JSON, atomically."""
    validate_graph(graph, source="<in memory>")
    document = {
        "schema_version": SCHEMA_VERSION,
        "graph": nx.node_link_data(graph, edges="edges"),
    }
    path = Path(path)
    atomic_write_text(path, json.dumps(document, separators=(",", ":")))
    return path


def load_graph(path: str | Path) -> nx.DiGraph:
    """Read a graph file; a missing, truncated, foreign-version or incomplete file is a
    `UserError` naming the file and what is wrong."""
    path = Path(path)
    if path.is_dir():
        raise UserError(path, None, "a compute-graph file (.json)", "a directory", found_is_text=True)
    if not path.is_file():
        raise UserError(path, None, "an existing compute-graph file (.json)", "no such file", found_is_text=True)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(path, None, "compute-graph JSON", f"unreadable JSON ({error})", found_is_text=True) from None
    if not isinstance(document, dict) or "schema_version" not in document:
        raise UserError(
            path, "schema_version", "a compute-graph document with a schema version", "none", found_is_text=True
        )
    if document["schema_version"] != SCHEMA_VERSION:
        raise UserError(path, "schema_version", f"{SCHEMA_VERSION}", document["schema_version"])
    _check_node_link(document.get("graph"), path)
    try:
        graph = nx.node_link_graph(document["graph"], directed=True, edges="edges")
    except (KeyError, TypeError, nx.NetworkXError) as error:
        raise UserError(
            path, "graph", "networkx node-link data", f"malformed data ({error})", found_is_text=True
        ) from None
    return validate_graph(graph, source=path)


def _check_node_link(data: Any, path: Path) -> None:
    """The shape networkx expects (a mapping; nodes and edges lists of mappings with ids and ends)."""
    if not isinstance(data, dict):
        raise UserError(path, "graph", "networkx node-link data (a JSON object)", describe(data), found_is_text=True)
    for part, required in (("nodes", ("id",)), ("edges", ("source", "target"))):
        items = data.get(part)
        if not isinstance(items, list):
            found = f"malformed data ({part}: {describe(items)}, not a list of {part})"
            raise UserError(path, "graph", "networkx node-link data", found, found_is_text=True)
        for index, item in enumerate(items):
            if not isinstance(item, dict) or any(key not in item for key in required):
                expected = (
                    f"a{'n' if part == 'edges' else ''} {part[:-1]} (a JSON object with {' and '.join(required)})"
                )
                raise UserError(path, f"graph.{part}[{index}]", expected, describe(item), found_is_text=True)


def validate_graph(graph: nx.Graph, source: str | Path) -> nx.DiGraph:
    """Check graph and node attributes; raise `UserError` on the first defect.

    Returns `graph` itself, now known to be directed (a node-link file may declare any kind of graph).
    """
    if not isinstance(graph, nx.DiGraph):
        raise UserError(source, None, "a directed graph", type(graph).__name__, found_is_text=True)
    for key, kind in _GRAPH_ATTRS.items():
        _check_type(source, f"graph.{key}", graph.graph.get(key), kind)
    if graph.graph["phase"] not in ("decode", "prefill"):
        raise UserError(source, "graph.phase", "decode or prefill", graph.graph["phase"])
    for key, low in _GRAPH_SIZES.items():
        _check_size(source, f"graph.{key}", graph.graph[key], low)
    layers = int(graph.graph["num_layers"])
    for name, attrs in graph.nodes(data=True):
        for key, kind in _NODE_ATTRS.items():
            _check_type(source, f"nodes[{name}].{key}", attrs.get(key), kind)
        for key in _NODE_SIZES:
            _check_size(source, f"nodes[{name}].{key}", attrs[key], 0)
        if not -1 <= attrs["layer"] < layers:
            raise UserError(
                source,
                f"nodes[{name}].layer",
                f"an integer in [-1, {layers - 1}] (graph.num_layers = {layers})",
                attrs["layer"],
            )
        if attrs["kind"] not in KINDS:
            raise UserError(source, f"nodes[{name}].kind", f"one of {', '.join(KINDS)}", attrs["kind"])
        if attrs["block"] not in BLOCKS:
            raise UserError(source, f"nodes[{name}].block", f"one of {', '.join(BLOCKS)}", attrs["block"])
    if not nx.is_directed_acyclic_graph(graph):
        raise UserError(source, "edges", "an acyclic graph", "a cycle", found_is_text=True)
    used = {attrs["layer"] for _, attrs in graph.nodes(data=True)} - {-1}
    if used and len(used) != layers:
        raise UserError(source, "graph.num_layers", f"{len(used)} (the layers its nodes use)", layers)
    return graph


def _check_size(source: str | Path, key: str, value: int, low: int) -> None:
    """Sizes are counts: from `low` up to `MAX_SIZE`, so that no sum of them overflows."""
    if not low <= value <= MAX_SIZE:
        raise UserError(source, key, f"an integer in [{low}, {MAX_SIZE}]", value)


def _check_type(source: str | Path, key: str, value: Any, kind: type | tuple[type, ...]) -> None:
    if value is None:
        raise UserError(source, key, _type_name(kind), "nothing (missing attribute)", found_is_text=True)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UserError(source, key, _type_name(kind), value)


_TYPE_NAMES = {int: "an integer", str: "a string", bool: "a boolean", list: "a list", dict: "a mapping"}


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)


def add_op(
    graph: nx.DiGraph, name: str, kind: str, block: str, *, layer: int = -1, after: Iterable[str] = (), **sizes: Any
) -> str:
    """Append an op with every attribute defaulted (zero sizes, empty shapes).

    Used by the tracer and by tests that build small graphs by hand; ``after`` names the
    producers, and each edge carries the producer's fixed and per-KV output elements.
    """
    attrs: dict[str, Any] = {
        "kind": kind,
        "block": block,
        "layer": layer,
        "order": graph.number_of_nodes(),
        "module": sizes.pop("module", name),
        "input_shapes": sizes.pop("input_shapes", []),
        "output_shape": sizes.pop("output_shape", []),
        "dtype": sizes.pop("dtype", "float32"),
        "weight_elems": sizes.pop("weight_elems", 0),
        "kv_write_elems": sizes.pop("kv_write_elems", 0),
        "replayable": sizes.pop("replayable", False),
    }
    for q in SCALED_QUANTITIES:
        attrs[f"{q}_fixed"] = int(sizes.pop(f"{q}_fixed", 0))
        attrs[f"{q}_per_kv"] = int(sizes.pop(f"{q}_per_kv", 0))
    if sizes:
        raise TypeError(f"unknown op attributes: {', '.join(sorted(sizes))}")
    scales = any(attrs[f"{q}_per_kv"] for q in SCALED_QUANTITIES)
    attrs["kv_scaling"] = "linear" if scales else "none"
    graph.add_node(name, **attrs)
    for producer in after:
        produced = graph.nodes[producer]
        graph.add_edge(
            producer, name, elems=produced["act_write_elems_fixed"], elems_per_kv=produced["act_write_elems_per_kv"]
        )
    return name
