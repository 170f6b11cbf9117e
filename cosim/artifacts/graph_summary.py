"""Where the work of a ComputeGraph is: ops, MACs and bytes per block and per layer.

Plain networkx and arithmetic (no torch), so any graph file can be summarised on the
simulator side. Bytes use the graph's own ``precision_bytes``; a design with other
precisions scales them. All figures are per batch row at one KV length.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import networkx as nx

from cosim.artifacts.graph import BLOCKS, node_cost, totals
from cosim.common.errors import UserError


@dataclass(frozen=True)
class CostRow:
    """Totals over a set of ops at one KV length."""

    label: str
    ops: int
    macs: int
    flops: int
    weight_bytes: int
    act_bytes: int
    kv_read_bytes: int
    kv_write_bytes: int

    def same_costs(self, other: CostRow) -> bool:
        return all(getattr(self, f.name) == getattr(other, f.name) for f in fields(self) if f.name != "label")


@dataclass(frozen=True)
class GraphSummary:
    model: str
    phase: str
    kv_len: int
    tokens_per_step: int
    batch_rows: int
    precision_bytes: dict
    blocks: list[CostRow]
    layers: list[CostRow]  # runs of identical decoder layers merged ("0-31"), then the rest
    total: CostRow
    per_kv_entry: CostRow  # what one more KV entry adds to the step
    mlp_share_of_layer_macs: float
    mlp_share_of_layer_weight_bytes: float
    mlp_share_of_step_macs: float
    mlp_share_of_step_weight_bytes: float
    replayable_share_of_step_macs: float


def summarize(graph: nx.DiGraph, kv_len: int | None = None) -> GraphSummary:
    """Cost table of `graph` at `kv_len` (default: the length it was traced at)."""
    kv_len = graph.graph["kv_len_ref"] if kv_len is None else kv_len
    if isinstance(kv_len, bool) or not isinstance(kv_len, int) or kv_len < 1:
        raise UserError(None, "kv_len", "an integer >= 1", kv_len)
    precision = graph.graph["precision_bytes"]

    def row(label: str, nodes: list[str], length: int = kv_len) -> CostRow:
        sums = totals(graph, length, nodes)
        return CostRow(
            label=label,
            ops=len(nodes),
            macs=sums["macs"],
            flops=sums["flops"],
            weight_bytes=sums["weight_elems"] * precision["weights"],
            act_bytes=(sums["act_read_elems"] + sums["act_write_elems"]) * precision["activations"],
            kv_read_bytes=sums["kv_read_elems"] * precision["kv_cache"],
            kv_write_bytes=sums["kv_write_elems"] * precision["kv_cache"],
        )

    nodes = list(graph.nodes)
    block_rows = [row(block, [n for n in nodes if graph.nodes[n]["block"] == block]) for block in BLOCKS]
    block_rows = [r for r in block_rows if r.ops]
    layer_rows = _layer_rows(graph, row)
    total = row("total", nodes)
    per_kv = _per_kv_row(graph, precision)
    in_layers = [n for n in nodes if graph.nodes[n]["layer"] >= 0]
    mlp = [n for n in nodes if graph.nodes[n]["block"] == "mlp"]
    mlp_in_layers = [n for n in mlp if graph.nodes[n]["layer"] >= 0]
    layers_total = row("layers", in_layers)
    mlp_layers = row("mlp", mlp_in_layers)
    mlp_all = row("mlp", mlp)
    replayable = row("replayable", [n for n in nodes if graph.nodes[n]["replayable"]])
    return GraphSummary(
        model=graph.graph["model"],
        phase=graph.graph["phase"],
        kv_len=kv_len,
        tokens_per_step=graph.graph.get("tokens_per_step", 1),
        batch_rows=graph.graph["batch_rows"],
        precision_bytes=precision,
        blocks=block_rows,
        layers=layer_rows,
        total=total,
        per_kv_entry=per_kv,
        mlp_share_of_layer_macs=_share(mlp_layers.macs, layers_total.macs),
        mlp_share_of_layer_weight_bytes=_share(mlp_layers.weight_bytes, layers_total.weight_bytes),
        mlp_share_of_step_macs=_share(mlp_all.macs, total.macs),
        mlp_share_of_step_weight_bytes=_share(mlp_all.weight_bytes, total.weight_bytes),
        replayable_share_of_step_macs=_share(replayable.macs, total.macs),
    )


def _layer_rows(graph: nx.DiGraph, row) -> list[CostRow]:
    """One row per run of decoder layers with identical costs, then one for the rest."""
    by_layer: dict[int, list[str]] = {}
    for name, attrs in graph.nodes(data=True):
        by_layer.setdefault(attrs["layer"], []).append(name)
    rows: list[CostRow] = []
    first = None
    previous = None
    for layer in sorted(k for k in by_layer if k >= 0):
        current = row(str(layer), by_layer[layer])
        if previous is not None and current.same_costs(previous):
            rows[-1] = _relabel(current, f"{first}-{layer}")
        else:
            first = layer
            rows.append(current)
        previous = current
    if -1 in by_layer:
        rows.append(row("outside", by_layer[-1]))
    return rows


def _relabel(row: CostRow, label: str) -> CostRow:
    return CostRow(
        label, row.ops, row.macs, row.flops, row.weight_bytes, row.act_bytes, row.kv_read_bytes, row.kv_write_bytes
    )


def _per_kv_row(graph: nx.DiGraph, precision: dict) -> CostRow:
    """Costs of the whole step at KV length n+1 minus those at n."""

    def grows(q: str) -> int:
        return sum(node_cost(a, q, 1) - node_cost(a, q, 0) for _, a in graph.nodes(data=True))

    scaling = sum(1 for _, a in graph.nodes(data=True) if a["kv_scaling"] == "linear")
    return CostRow(
        "per KV entry",
        scaling,
        grows("macs"),
        grows("flops"),
        0,
        (grows("act_read_elems") + grows("act_write_elems")) * precision["activations"],
        grows("kv_read_elems") * precision["kv_cache"],
        0,
    )


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


_COLUMNS = (
    ("ops", "ops", lambda v: f"{v:d}"),
    ("MMAC", "macs", lambda v: f"{v / 1e6:.1f}"),
    ("MFLOP", "flops", lambda v: f"{v / 1e6:.2f}"),
    ("weight MB", "weight_bytes", lambda v: f"{v / 1e6:.1f}"),
    ("act KB", "act_bytes", lambda v: f"{v / 1e3:.1f}"),
    ("KV read MB", "kv_read_bytes", lambda v: f"{v / 1e6:.2f}"),
    ("KV write KB", "kv_write_bytes", lambda v: f"{v / 1e3:.1f}"),
)


def render_summary(summary: GraphSummary) -> str:
    """The summary as plain-text tables (1 MB = 10^6 bytes, 1 KB = 10^3 bytes)."""
    bytes_per = summary.precision_bytes
    tokens = "1 token" if summary.tokens_per_step == 1 else f"{summary.tokens_per_step} tokens"
    lines = [
        f"{summary.model} {summary.phase} step ({tokens}), one batch row of {summary.batch_rows}, "
        f"KV length {summary.kv_len}",
        f"bytes at {bytes_per['weights']} B/weight, {bytes_per['activations']} B/activation, "
        f"{bytes_per['kv_cache']} B/KV element",
        "",
        _table("block", [*summary.blocks, summary.total]),
        "",
        _table("layer", [*summary.layers, summary.per_kv_entry]),
        "",
        f"MLP share of decoder-layer MACs: {summary.mlp_share_of_layer_macs:.1%}, "
        f"of decoder-layer weight bytes: {summary.mlp_share_of_layer_weight_bytes:.1%}",
        f"MLP share of the whole step's MACs: {summary.mlp_share_of_step_macs:.1%}, "
        f"of its weight bytes: {summary.mlp_share_of_step_weight_bytes:.1%}",
        f"replayable (post-attention norm + MLP) share of the step's MACs: {summary.replayable_share_of_step_macs:.1%}",
    ]
    return "\n".join(lines) + "\n"


def _table(first: str, rows: list[CostRow]) -> str:
    header = [first, *(title for title, _, _ in _COLUMNS)]
    body = [[r.label, *(fmt(getattr(r, attr)) for _, attr, fmt in _COLUMNS)] for r in rows]
    lines = [header, *body]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for line in lines:
        cells = [line[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(line[1:], widths[1:], strict=True)]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)
