"""Grouping recorded aten ops into the logical ops a hardware engine executes, with their sizes.

One node per call of a leaf module (a linear layer, an RMSNorm, the TAS); every matmul on
its own; inside a composite module, runs of elementwise ops fused into connected
components (one per RoPE application, one per residual add), scalar epilogues (the
1/sqrt(d) scale, the causal mask) folded into the matmul they follow. Views, casts and
concatenations are dropped; KV-cache writes become ``kv_write_elems`` of the op that
produced the keys or values. Each logical op gets a kind, a block, its MACs, FLOPs,
elements read and written, and producer edges (`logical_ops`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from models.tracing.recorder import ROOT, ROPE_TABLE, AtenOp, Call

_FUSIBLE = frozenset({"elementwise", "reduction", "activation"})
_HEAD_NAMES = ("lm_head", "head")


@dataclass
class _Group:
    ops: list[AtenOp]
    call: Call
    collapsed: bool  # the whole call of a leaf module


def _group_ops(ops: list[AtenOp]) -> list[_Group]:
    """Logical ops in execution order (see the module docstring for the rules)."""
    matmuls = Counter(op.call.call_id for op in ops if op.cls == "matmul")
    groups: list[_Group] = []
    run: list[AtenOp] = []

    def flush() -> None:
        if not run:
            return
        previous = groups[-1] if groups else None
        for component in _components(run):
            if previous is not None and _is_epilogue(component, previous):
                previous.ops.extend(component)
            else:
                groups.append(_Group(component, run[0].call, False))
        run.clear()

    for op in ops:
        call = op.call
        if call is not ROOT and call.module.leaf and matmuls[call.call_id] <= 1:
            flush()
            last = groups[-1] if groups else None
            if last is not None and last.collapsed and last.call.call_id == call.call_id:
                last.ops.append(op)
            else:
                groups.append(_Group([op], call, True))
        elif op.cls in _FUSIBLE:
            if run and run[0].call.call_id != call.call_id:
                flush()
            run.append(op)
        else:
            flush()
            groups.append(_Group([op], call, False))
    flush()
    return groups


def _components(run: list[AtenOp]) -> list[list[AtenOp]]:
    """Connected components of a run of elementwise ops under producer -> consumer edges."""
    parent = {op.index: op.index for op in run}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for op in run:
        for p, _ in op.act_reads:
            if p in parent:
                parent[root(op.index)] = root(p)
    components: dict[int, list[AtenOp]] = {}
    for op in run:
        components.setdefault(root(op.index), []).append(op)
    return sorted(components.values(), key=lambda ops: ops[0].index)


def _is_epilogue(component: list[AtenOp], previous: _Group) -> bool:
    """A component that only transforms the output of the matmul just before it, in the
    same module call (a scale, a mask): part of that matmul on the hardware."""
    matmul = previous.ops[0]
    if previous.collapsed or matmul.cls != "matmul" or matmul.call.call_id != component[0].call.call_id:
        return False
    inside = {op.index for op in component} | {op.index for op in previous.ops}
    reads = [p for op in component for p, _ in op.act_reads]
    return (
        all(p in inside for p in reads)
        and matmul.index in reads
        and not any(op.weight_reads or op.kv_reads for op in component)
    )


# -- logical op attributes ---------------------------------------------------------------
def _kind(group: _Group, ops: list[AtenOp]) -> str:
    classes = {op.cls for op in group.ops}
    if group.collapsed:
        cls = group.call.module.cls
        if cls.endswith("Norm"):
            return "norm"
        if cls == "TemporalAttentionScore":
            return "tas"
    if "matmul" in classes:
        matmul = next(op for op in group.ops if op.cls == "matmul")
        if matmul.weight_reads:
            return "head" if group.call.module.path.rsplit(".", 1)[-1] in _HEAD_NAMES else "linear"
        after_softmax = any(p >= 0 and ops[p].cls == "softmax" for p, _ in matmul.act_reads)
        return "attention_value" if after_softmax else "attention_score"
    for cls in ("embedding", "softmax", "sampling", "activation"):
        if cls in classes:
            return cls
    if any(ROPE_TABLE in op.const_tags for op in group.ops):
        return "rope"
    return "elementwise"


def _block(group: _Group, kind: str, producer_block: str | None) -> str:
    scope = group.ops[0].scope
    if any(call.module.depth for call in scope):
        return "depth"
    if kind in ("tas", "norm", "embedding", "head"):
        return kind
    if kind == "sampling":
        return "head"
    for call in reversed(scope):
        if call.module.cls.endswith("Attention"):
            return "attention"
        if call.module.cls.endswith("MLP"):
            return "mlp"
        if call.module.layer >= 0:
            return "other"  # the residual adds of a decoder layer
    return producer_block or "other"  # outside the decoder: the stage that feeds it


def logical_ops(ops: list[AtenOp]) -> dict[str, dict]:
    """Name -> attributes (unscaled, at the traced length) and producer edges of each
    logical op of one trace, in execution order."""
    groups = _group_ops(ops)
    group_of = {op.index: gi for gi, group in enumerate(groups) for op in group.ops}
    names: list[str] = []
    blocks: list[str] = []
    seen: Counter = Counter()
    nodes: dict[str, dict] = {}
    for gi, group in enumerate(groups):
        kind = _kind(group, ops)
        first_read = next((p for op in group.ops for p, _ in op.act_reads if p >= 0 and group_of[p] != gi), None)
        block = _block(group, kind, blocks[group_of[first_read]] if first_read is not None else None)
        path = group.call.module.path or "model"
        base = path if group.collapsed else f"{path}.{kind}"
        seen[base] += 1
        name = base if seen[base] == 1 else f"{base}#{seen[base]}"
        names.append(name)
        blocks.append(block)
        scope = group.ops[0].scope
        node = _account(group, ops, group_of, gi)
        node.update(
            kind=kind,
            block=block,
            module=path,
            layer=next((c.module.layer for c in scope if c.module.layer >= 0), -1),
            replayable=any(c.module.replayable for c in scope),
        )
        node["edges"] = {names[g]: value for g, value in node.pop("producers").items()}
        nodes[name] = node
    return nodes


def _account(group: _Group, ops: list[AtenOp], group_of: dict[int, int], gi: int) -> dict:
    """Sizes of one logical op: MACs, FLOPs, elements read and written, producer edges."""
    inside = {op.index for op in group.ops}
    macs = sum(op.macs for op in group.ops)
    flops = sum(op.flops for op in group.ops)
    for op in group.ops:  # a product of two tensors summed right away is a dot product: MACs
        sources = {p for p, _ in op.act_reads}
        if op.name != "sum" or len(sources) != 1 or not sources <= inside:
            continue
        product = ops[min(sources)]
        if product.name == "mul" and product.tensor_operands == 2 and product.consumers == {op.index}:
            macs += product.out_elems
            flops -= product.flops + op.flops
    act_reads: dict[int, int] = {}
    weights: dict[str, int] = {}
    kv: dict[str, int] = {}
    kv_deps: dict[int, int] = {}
    shapes: dict[tuple, list[int]] = {}
    for op in group.ops:
        for p, elems in op.act_reads:
            if p not in inside:
                act_reads[p] = max(act_reads.get(p, 0), elems)
        for name, elems in op.weight_reads.items():
            weights[name] = max(weights.get(name, 0), elems)
        for name, elems in op.kv_reads.items():
            kv[name] = max(kv.get(name, 0), elems)
        for p, elems in op.kv_deps:
            kv_deps[p] = max(kv_deps.get(p, 0), elems)
        for key, shape in op.inputs:
            if key[0] != "act" or not all(p in inside for p in key[1:]):
                shapes.setdefault(key, shape)
    written = 0  # outputs that leave the node: to other nodes, to the KV cache, or step results
    for op in group.ops:
        outside = op.consumers - inside
        if outside or op.kv_consumed or not op.consumers:
            written += op.out_elems
    producers: dict[int, dict] = {}
    for p, elems in act_reads.items():
        if p >= 0:
            edge = producers.setdefault(group_of[p], {"elems": 0, "via": "activation"})
            edge["elems"] += elems
    for p, elems in kv_deps.items():
        if group_of[p] != gi:
            edge = producers.setdefault(group_of[p], {"elems": 0, "via": "kv_cache"})
            edge["elems"] += elems
    last = group.ops[-1]
    return {
        "macs": macs,
        "flops": flops,
        "act_read_elems": sum(act_reads.values()),
        "act_write_elems": written,
        "kv_read_elems": sum(kv.values()),
        "weight_elems": sum(weights.values()),
        "kv_write_elems": sum(op.kv_write_elems for op in group.ops),
        "input_shapes": list(shapes.values()),
        "output_shape": last.output_shape,
        "dtype": last.dtype,
        "producers": producers,
    }
