"""The workload's vocabulary: segment kinds, op and segment templates, and sized ops.

A decode step is cut into *segments* separated by data-dependency barriers:

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

A `SegmentTemplate` (the ops of one segment kind of one layer, as `OpTemplate` per-row
element counts) is shared by all layers with the same shapes; a segment instance is the
template plus a `SegmentParam`, and its ops sized for a design are `OpWork` objects.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from operator import attrgetter
from typing import NamedTuple

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
REPLAY_ROLES = ("replay_read", "replay_write")
ROW_MOVE_ROLES = ("row_gather", "row_scatter")  # compacting the computing rows of an MLP and spreading them back

# TAS flag of a core segment instance.
TAS_NONE, TAS_FROM_STREAM, TAS_READS_KEY = 0, 1, 2

# The per-row quantities an op template stores as a fixed part plus a per-KV-entry part.
QUANTITIES = ("macs", "flops", "act_read_elems", "act_write_elems", "kv_read_elems")
QUANTITY_INDEX = {q: i for i, q in enumerate(QUANTITIES)}


class SegmentParam(NamedTuple):
    """What sizes one instance of a segment template (with the template id, the key of its sized ops)."""

    size: int  # attended KV entries (core), computing rows (mlp), KV length (other templates scaling with it), or 0
    tas_flag: int = TAS_NONE  # core only: how the TAS op gets its previous-frame key


@dataclass(frozen=True)
class OpTemplate:
    """One op of a segment template: per-row element counts as in the graph."""

    name: str
    kind: str
    engine: str  # matrix | vector | tas | dma
    replayable: bool
    preds: tuple[int, ...]
    fixed: tuple[int, ...]  # per QUANTITIES
    per_kv: tuple[int, ...]
    weight_elems: int
    kv_write_elems: int
    role: str = "graph"  # graph | tas | replay_read | replay_write | row_gather | row_scatter

    def at(self, quantity: str, kv: int) -> int:
        i = QUANTITY_INDEX[quantity]
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

    def __hash__(self) -> int:
        """Hashed once: a sized op keys the caches of tile plans and static counts, several lookups per segment."""
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = hash(_op_work_fields(self))
            object.__setattr__(self, "_hash", cached)
        return cached

    def __getstate__(self) -> dict[str, object]:
        """Without the cached hash: string hashes differ between processes."""
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}


_op_work_fields = attrgetter(*(f.name for f in fields(OpWork)))  # an `OpWork`'s fields as a tuple, in C
