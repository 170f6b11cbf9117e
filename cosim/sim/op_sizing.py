"""Sizing a segment instance for a design: its template's ops at one `SegmentParam`, in bytes, MACs and GEMM shapes.

Replay (FastCar): a row that replays skips the replayable ops and reads the cached MLP
output (hidden elements at activation precision) from the replay cache; a row that
computes writes its MLP output there (the ring holds the value used, so replayed values
are not rewritten). The MLP weights are streamed once if ANY row computes; the computing
rows share that stream (a GEMM with as many streamed rows as computing rows). Where some
rows replay and others compute, the computing rows' inputs are gathered into a packed block
before the MLP and their outputs scattered back after it (on-chip moves through the
activation buffer's ports, charged in cycles and buffer traffic). The TAS op
runs only where a previous frame exists; its previous-frame key comes from the attention's
own key stream under dense attention and is read from the KV cache (kv precision) under
sparse attention. An op whose activations do not fit its buffer moves the excess through DRAM.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from cosim.hw.schema import mac_precision
from cosim.sim.segments import (
    REPLAY_ROLES,
    ROW_MOVE_ROLES,
    TAS_FROM_STREAM,
    TAS_NONE,
    TAS_READS_KEY,
    OpTemplate,
    OpWork,
    SegmentParam,
    SegmentTemplate,
)

if TYPE_CHECKING:
    from cosim.hw.schema import Design

Transfer = tuple[str, int]  # (DRAM category, bytes)


@dataclass(frozen=True)
class Sizing:
    """Design figures the workload needs: bytes per element and where things live."""

    weight_bytes: float
    act_bytes: float
    kv_bytes: float
    weight_mac_precision: str
    kv_mac_precision: str
    replay_dram_share: tuple[int, int]  # (numerator, denominator): the part of the replay ring kept in DRAM
    act_capacity_bytes: int
    scores_capacity_bytes: int
    has_scores_buffer: bool
    tokens_per_step: int = 1  # consecutive rows that are tokens of one sequence and share its KV cache

    @classmethod
    def from_design(cls, design: Design, replay_ring_elems: int = 0, *, tokens_per_step: int = 1) -> Sizing:
        """The design's figures; `replay_ring_elems`: elements of the whole replay ring (for its buffer's capacity);
        `tokens_per_step`: tokens of a sequence decoded together (their attention shares one KV stream)."""
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
            replay_dram_share=_replay_dram_share(design, replay_ring_elems),
            act_capacity_bytes=act_cap,
            scores_capacity_bytes=scores_cap,
            has_scores_buffer=bool(scores),
            tokens_per_step=tokens_per_step,
        )


def _replay_dram_share(design: Design, ring_elems: int) -> tuple[int, int]:
    """The part of the replay ring in DRAM: all of it (``replay_cache: dram``), else what its buffer cannot hold."""
    if design.replay_cache != "buffer":
        return (1, 1)
    ring = math.ceil(ring_elems * design.bytes_per_element("activations"))
    capacity = sum(b.bytes * b.copies for b in design.buffers_for("replay_cache"))
    return (ring - capacity, ring) if ring > capacity else (0, 1)


def size_segment(
    template: SegmentTemplate, param: SegmentParam, rows: int, sizing: Sizing, *, replay_ring: bool = True
) -> list[OpWork]:
    """Sized ops of `template` at parameter `param`; skipped ops are dropped, preds remapped.

    `replay_ring` False (a run without FastCar): the computing rows do not write the replay ring.
    """
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
        elif op.role == "replay_write":
            n = computing if replay_ring else 0
        elif op.role in ROW_MOVE_ROLES:  # only a mix of computing and replaying rows needs compacting
            n = computing if 0 < computing < rows else 0
        elif op.replayable:
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
        works.append(size_op(op, preds, active_rows[old], kv, tas_flag, kind, partition, sizing, template_index=old))
    return works


def size_op(
    op: OpTemplate,
    preds: tuple[int, ...],
    rows: int,
    kv: int,
    tas_flag: int,
    segment: str,
    partition: str,
    s: Sizing,
    template_index: int = -1,
) -> OpWork:
    """One op for `rows` rows at KV length `kv`, in segment kind `segment` of static-policy partition `partition`;
    `template_index` >= 0: the op of a segment instance (its index in the template; conditional if replayable)."""
    act_purpose = "scores" if segment == "core" and s.has_scores_buffer else "activations"
    # the op's identity and activation traffic; no compute, no DRAM transfer, nothing streamed (the fields of an
    # `OpWork`, built once with what its engine's sizing adds: a long video sizes a new core at every step)
    base: dict[str, Any] = dict(
        name=op.name,
        kind=op.kind,
        role=op.role,
        engine=op.engine,
        partition=partition,
        preds=preds,
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
        act_purpose=act_purpose,
        act_read_bytes=_nbytes(op.at("act_read_elems", kv) * rows, s.act_bytes),
        act_write_bytes=_nbytes(op.at("act_write_elems", kv) * rows, s.act_bytes),
        conditional=op.replayable and template_index >= 0,
        template_index=template_index,
    )
    if op.role in REPLAY_ROLES:
        return _size_replay_op(base, s)
    if op.role in ROW_MOVE_ROLES:
        return _size_row_move_op(base)

    loads: list[Transfer] = []
    stores: list[Transfer] = []
    capacity = s.scores_capacity_bytes if act_purpose == "scores" else s.act_capacity_bytes
    act_read, act_write = base["act_read_bytes"], base["act_write_bytes"]
    excess = act_read + act_write - capacity
    if excess > 0:  # the part of the working set that does not fit goes through DRAM: inputs first, then outputs
        loads.append(("activations", min(act_read, excess)))
        stores.append(("activations", excess - min(act_read, excess)))
    if op.kv_write_elems:
        stores.append(("kv_write", _nbytes(op.kv_write_elems * rows, s.kv_bytes)))
    return _SIZE_BY_ENGINE[op.engine](_OpSizing(op, kv, tas_flag, s, base, loads, stores))


def _size_replay_op(base: dict[str, Any], s: Sizing) -> OpWork:
    """A replay-cache read (for the replaying rows) or write (for the computing rows) of hidden-size
    activations, from and to a buffer or DRAM. A ring larger than its buffer keeps the rest in DRAM:
    every access moves that share of its bytes through DRAM."""
    reads = base["role"] == "replay_read"
    nbytes = base["act_read_bytes"] if reads else base["act_write_bytes"]
    share, ring = s.replay_dram_share
    dram_bytes = nbytes * share // ring
    in_dram = ((base["role"], dram_bytes),) if dram_bytes else ()
    onchip = nbytes - dram_bytes
    return OpWork(
        **{
            **base,
            "loads": in_dram if reads else (),
            "stores": () if reads else in_dram,
            "act_purpose": "activations",
            "act_read_bytes": 0 if reads else nbytes,
            "act_write_bytes": nbytes if reads else 0,
            "onchip_purpose": "replay_cache" if onchip else None,
            "onchip_read_bytes": onchip if reads else 0,
            "onchip_write_bytes": 0 if reads else onchip,
        }
    )


def _size_row_move_op(base: dict[str, Any]) -> OpWork:
    """A gather (scatter) of the computing rows' MLP inputs (outputs), hidden activations each: read from
    their rows' places in the activation buffer and written packed (or back), through its ports."""
    nbytes = base["act_read_bytes"]
    return OpWork(
        **{
            **base,
            "act_read_bytes": 0,
            "act_write_bytes": 0,
            "onchip_purpose": "activations",
            "onchip_read_bytes": nbytes,
            "onchip_write_bytes": nbytes,
        }
    )


class _OpSizing(NamedTuple):
    """An op being sized on its engine: what every engine's sizing starts from."""

    template: OpTemplate
    kv: int
    tas_flag: int
    sizing: Sizing
    base: dict[str, Any]  # identity and activation traffic (`size_op`): fields of the `OpWork`
    loads: list[Transfer]  # activation spill
    stores: list[Transfer]  # activation spill, KV-cache append

    @property
    def rows(self) -> int:
        return int(self.base["m"])

    def per_row(self, quantity: str) -> int:
        return self.template.at(quantity, self.kv)

    def kv_read(self) -> Transfer:
        """The op's KV-cache reads from DRAM (all rows, kv precision)."""
        return ("kv_read", _nbytes(self.per_row("kv_read_elems") * self.rows, self.sizing.kv_bytes))

    def work(self, extra_loads: Sequence[Transfer], **fields: Any) -> OpWork:
        """The base op with `fields`, and its DRAM transfers (`extra_loads` after the spill) that move bytes."""
        values = dict(self.base)
        values["loads"] = tuple(p for p in (*self.loads, *extra_loads) if p[1] > 0)
        values["stores"] = tuple(p for p in self.stores if p[1] > 0)
        values.update(fields)
        return OpWork(**values)


def _size_tas_op(op: _OpSizing) -> OpWork:
    """The TAS dot product: the previous-frame key is in the attention's key stream unless attention is sparse."""
    macs_row = op.per_row("macs")
    return op.work(
        [op.kv_read()] if op.tas_flag == TAS_READS_KEY else [],
        k=macs_row,
        n=1,
        macs=macs_row * op.rows,
        mac_precision=op.sizing.kv_mac_precision,
    )


def _size_gather_op(op: _OpSizing) -> OpWork:
    """Embedding: gather one table row per batch row."""
    rows_bytes = _nbytes(op.per_row("act_write_elems") * op.rows, op.sizing.weight_bytes)
    table_rows = rows_bytes if op.template.weight_elems else 0
    return op.work([("weights", table_rows)], act_read_bytes=0)


def _size_matrix_op(op: _OpSizing) -> OpWork:
    """A GEMM streaming its weights (rows share them), its KV cache (one instance per row), or nothing."""
    macs_row, act_read_row, kv_read_row = op.per_row("macs"), op.per_row("act_read_elems"), op.per_row("kv_read_elems")
    n_out = op.per_row("act_write_elems")  # outputs; a projection written only to the KV cache: MACs / inputs
    if n_out <= 0:
        n_out = max(macs_row // act_read_row, 1) if act_read_row and macs_row % act_read_row == 0 else 1
    s = op.sizing
    extra_loads: list[Transfer] = []
    if op.template.weight_elems:  # one weight stream shared by the rows
        streamed, m, instances, precision = "weights", op.rows, 1, s.weight_mac_precision
        streamed_bytes = _nbytes(op.template.weight_elems, s.weight_bytes)
        extra_loads.append(op.kv_read())
    elif kv_read_row:  # one GEMM per sequence over its KV cache, its tokens of the step as streamed rows
        tokens = s.tokens_per_step  # attention runs for every row, so the rows are whole sequences
        streamed, m, instances, precision = "kv_cache", tokens, op.rows // tokens, s.kv_mac_precision
        streamed_bytes = _nbytes(kv_read_row, s.kv_bytes)
    else:  # activation x activation product with nothing to stream
        streamed, m, instances, precision = None, op.rows, 1, s.kv_mac_precision
        streamed_bytes = 0
    return op.work(
        extra_loads,
        m=m,
        k=max(math.ceil(macs_row / n_out), 1),
        n=n_out,
        instances=instances,
        streamed=streamed,
        streamed_bytes=streamed_bytes,
        macs=macs_row * op.rows,
        mac_precision=precision,
    )


def _size_vector_op(op: _OpSizing) -> OpWork:
    """Vector unit: norms (with their weights), softmax, RoPE, activations, elementwise, sampling."""
    elements_row = op.per_row("flops") + op.per_row("macs") or op.per_row("act_write_elems")
    weights = _nbytes(op.template.weight_elems, op.sizing.weight_bytes)
    return op.work(
        [op.kv_read()],
        streamed="weights" if weights else None,
        streamed_bytes=weights,
        vector_elements=elements_row * op.rows,
    )


_SIZE_BY_ENGINE: dict[str, Callable[[_OpSizing], OpWork]] = {
    "tas": _size_tas_op,
    "dma": _size_gather_op,
    "matrix": _size_matrix_op,
    "vector": _size_vector_op,
}


def _nbytes(elems: int, bytes_per_elem: float) -> int:
    return math.ceil(elems * bytes_per_elem)
