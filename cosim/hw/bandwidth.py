"""Bytes per cycle each engine pulls from each kind of buffer, to check buffer ports against.

A buffer must deliver what its reader consumes at the engine's edge every cycle, or the
engine stalls. The edge of each engine (elements per cycle, times bytes per element):

- systolic, weight_stationary: weights load through the top edge, one row per cycle per
  array (arrays x cols); activations stream in at the left edge (rows).
- systolic, output_stationary: weights stream through the top edge (arrays x cols),
  activations through the left edge (rows).
- systolic, input_stationary: weights stream through the left edge (arrays x rows),
  activations load through the top edge (cols).
- mac_tree: every multiplier takes a new weight each cycle (arrays x rows x cols); the
  activation chunk of tree width is shared by the lanes (cols).
- Activations are broadcast to the arrays working on one op; with a static or DRS split,
  attention and MLP arrays read two different vectors, so activation demand doubles.
- KV cache: attention scores and values run on the matrix engine with keys/values in
  the weight role (the weight edge, in kv_cache precision); the TAS unit reads one key
  element per lane per cycle.
- vector unit: one element per lane per cycle from activations, scores and the replay
  cache.

Output buffers are written by the engines through the write port of their blocks and
are not checked here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from cosim.hw.schema import Design


@dataclass(frozen=True)
class Demand:
    """`reader` consumes `bytes_per_cycle` from buffers of `purpose` (the `rule` says why)."""

    purpose: str
    reader: str
    bytes_per_cycle: float
    rule: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def matrix_edge_elements(design: Design) -> tuple[int, int, str, str]:
    """(weight elements, activation elements) per cycle at the matrix engine's edges, with the rules."""
    m = design.engines.matrix
    if m.type == "mac_tree":
        weights, weight_rule = m.pes, "arrays x rows x cols (every multiplier)"
        acts, act_rule = m.cols, "cols (shared by the lanes)"
    elif m.dataflow == "input_stationary":
        weights, weight_rule = m.arrays * m.rows, "arrays x rows (left edge)"
        acts, act_rule = m.cols, "cols (top edge)"
    else:
        weights, weight_rule = m.arrays * m.cols, "arrays x cols (top edge)"
        acts, act_rule = m.rows, "rows (left edge)"
    if design.scheduling.static_split is not None:
        acts, act_rule = 2 * acts, f"2 x {act_rule}, one vector each for attention and MLP arrays"
    return weights, acts, weight_rule, act_rule


def engine_demands(design: Design) -> list[Demand]:
    """Every (buffer purpose, reader) pair with the bytes per cycle the reader consumes."""
    weight_elems, act_elems, weight_rule, act_rule = matrix_edge_elements(design)
    bw = design.bytes_per_element("weights")
    ba = design.bytes_per_element("activations")
    bkv = design.bytes_per_element("kv_cache")
    vector = design.engines.vector.lanes
    tas = design.engines.tas.lanes
    demands = [
        Demand("weights", "matrix", weight_elems * bw, f"{weight_rule}; {bw:g} B each"),
        Demand("activations", "matrix", act_elems * ba, f"{act_rule}; {ba:g} B each"),
        Demand("activations", "vector", vector * ba, f"vector lanes; {ba:g} B each"),
        Demand(
            "kv_cache",
            "matrix",
            weight_elems * bkv,
            f"{weight_rule} with keys/values in the weight role; {bkv:g} B each",
        ),
        Demand("kv_cache", "tas", tas * bkv, f"tas lanes; {bkv:g} B each"),
        Demand("scores", "vector", vector * ba, f"vector lanes; {ba:g} B each"),
        Demand("replay_cache", "vector", vector * ba, f"vector lanes; {ba:g} B each"),
    ]
    present = {b.purpose for b in design.buffers}
    return [d for d in demands if d.purpose in present]


def port_bytes_per_cycle(design: Design, purpose: str) -> float:
    """Read bandwidth of all buffers of `purpose` together, bytes per cycle."""
    return sum(b.port_bytes_per_cycle for b in design.buffers_for(purpose))
