"""Tracing the real model code into a ComputeGraph (`cosim.artifacts.graph`).

There is no second, hand-written description of the model: the tracer runs the model's
own `step` (one decode step) or `prefill` on the meta device, where tensors have shapes
but no storage, so the 7B geometry costs seconds and no weight memory. Three pieces of
torch machinery do the work:

1. A `TorchDispatchMode` sees every aten op the step executes, with its input and output
   tensors. The recorder follows each tensor's identity: which recorded op produced it
   (through views and copies), or whether it is a parameter, a KV-cache entry or a
   constant of the position (RoPE tables, causal masks: built from sizes alone).
2. Forward pre/post hooks on every module keep a stack of module calls, so each op is
   attributed to the module that ran it (``layers.3.mlp.gate_proj``).
3. The ops are grouped into the logical ops a hardware engine executes
   (`_group_ops`): one node per call of a leaf module (a linear layer, an RMSNorm, the
   TAS); every matmul on its own; inside a composite module, runs of elementwise ops
   fused into connected components (one per RoPE application, one per residual add),
   scalar epilogues (the 1/sqrt(d) scale, the causal mask) folded into the matmul they
   follow. Views, casts and concatenations are dropped; KV-cache writes become
   ``kv_write_elems`` of the op that produced the keys or values.

One graph serves every decode step: the step is traced at three KV lengths and each
quantity is solved exactly as ``fixed + per_kv * kv_len`` from two of them and checked
against the third (`KVScalingError` if it is not linear).
"""

from __future__ import annotations

import platform
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Iterable

import networkx as nx
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from tqdm import tqdm

from cosim.common.errors import UserError
from cosim.artifacts.graph import SCALED_QUANTITIES, add_op, validate_graph
from models.config import ModelConfig, get_preset
from models.decoding.fastcar import FastCarRun, FastCarSettings
from models.tracing.op_classes import UnknownOpError, op_class, op_cost, op_name
from models.transformer import VideoTransformer

PHASES = ("decode", "prefill")
DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
KV_PROBE_OFFSETS = (64, 320)
"""The step is traced at kv_len, kv_len + 64 and kv_len + 320: two lengths solve each
quantity, the third checks that it is linear."""

_FUSIBLE = frozenset({"elementwise", "reduction", "activation"})
_HEAD_NAMES = ("lm_head", "head")
_ROPE_TABLE = "rope_table"


class KVScalingError(RuntimeError):
    """A traced quantity is not of the form fixed + per_kv * kv_len, or the op structure
    changes with the KV length: the one-graph-for-every-step model does not hold."""


# -- what the recorder keeps ------------------------------------------------------------
@dataclass(frozen=True)
class _Module:
    path: str
    cls: str
    leaf: bool
    layer: int  # i when this module is the decoder's layers[i], else -1
    replayable: bool  # layers[i].post_attention_layernorm or layers[i].mlp
    depth: bool  # the depth transformer


@dataclass(frozen=True)
class _Call:
    module: _Module
    call_id: int


_ROOT = _Call(_Module("", "model", False, -1, False, False), 0)


@dataclass(frozen=True)
class _Value:
    """What a tensor holds, as far as the graph cares."""

    origin: str  # "act", "weight", "kv" or "const"
    parts: tuple[tuple[int, int], ...] = ()  # act: (producer op index, -1 for a step input; elements)
    name: str = ""  # weight: parameter name; kv: cache tensor name; const: _ROPE_TABLE or ""


@dataclass
class _Op:
    index: int
    name: str
    cls: str
    scope: tuple[_Call, ...]
    macs: int
    flops: int
    act_reads: list[tuple[int, int]]
    weight_reads: dict[str, int]
    kv_reads: dict[str, int]
    kv_deps: list[tuple[int, int]]  # (op that produced a cache entry this op reads, elements)
    const_tags: set[str]
    inputs: list[tuple[tuple, list[int]]]  # (source key, shape) of each non-constant input
    output_shape: list[int]
    out_elems: int
    dtype: str
    tensor_operands: int
    consumers: set[int] = field(default_factory=set)
    kv_write_elems: int = 0
    kv_consumed: bool = False

    @property
    def call(self) -> _Call:
        return self.scope[-1] if self.scope else _ROOT


class _Recorder(TorchDispatchMode):
    """Records the aten ops of one traced step (see the module docstring)."""

    def __init__(self, model: nn.Module, kv_tensors: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.ops: list[_Op] = []
        self.stack: list[_Call] = []
        self._calls = 0
        self._values: dict[int, _Value] = {}
        self._alive: list[torch.Tensor] = []  # keeps ids unique while the trace runs
        self._kv_base = kv_tensors
        self._kv_writes: list[tuple[str, tuple[int, int] | None, list[tuple[int, int]]]] = []
        for name, param in model.named_parameters():
            self._values[id(param)] = _Value("weight", name=name)
        for name, tensor in kv_tensors.items():
            self._values[id(tensor)] = _Value("kv", name=name)
        self._handles = []
        for module, info in _module_infos(model):
            self._handles.append(module.register_forward_pre_hook(lambda _m, _a, info=info: self._enter(info)))
            self._handles.append(module.register_forward_hook(lambda _m, _a, _o, info=info: self._leave(info)))

    def detach_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()

    def _enter(self, module: _Module) -> None:
        self._calls += 1
        self.stack.append(_Call(module, self._calls))

    def _leave(self, module: _Module) -> None:
        call = self.stack.pop()
        assert call.module is module, "module hooks out of order"

    # -- dispatch ----------------------------------------------------------------------
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = op_name(func)
        try:
            cls = op_class(name)
        except UnknownOpError as error:
            where = self.stack[-1].module.path if self.stack else "the model"
            raise UnknownOpError(f"{error} (run by {where})") from None
        inputs = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        outputs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        self._alive.extend(outputs)
        values = [self._value(t) for t in inputs]
        if cls == "view":
            for t in outputs:
                self._values[id(t)] = _narrow(values[0], t)
        elif cls == "layout":
            self._layout(values, outputs)
        elif cls == "create":
            targets = inputs[:1] if name.endswith("_") else outputs
            for t in targets:
                self._values[id(t)] = _Value("const", name=self._const_tag())
        elif cls == "copy":
            self._copy(inputs[0], values[0], inputs[1], values[1])
        else:
            self._compute(name, cls, inputs, values, outputs)
        return out

    def _value(self, tensor: torch.Tensor) -> _Value:
        known = self._values.get(id(tensor))
        if known is None:  # an input of the step (the codes it is given)
            known = _Value("act", parts=((-1, tensor.numel()),))
            self._values[id(tensor)] = known
            self._alive.append(tensor)
        return known

    def _const_tag(self) -> str:
        rope = any(call.module.cls.endswith("RotaryEmbedding") for call in self.stack)
        return _ROPE_TABLE if rope else ""

    def _layout(self, values: list[_Value], outputs: list[torch.Tensor]) -> None:
        live = [v for v in values if v.origin != "const"]
        if not live:
            result = _Value("const", name=max((v.name for v in values), default=""))
        elif len(live) == 1:
            result = live[0]
        elif all(v.origin == "act" for v in live):
            result = _Value("act", parts=tuple(part for v in live for part in v.parts))
        else:
            raise UnknownOpError("concatenation of weights or cache entries with other tensors is not supported")
        for t in outputs:
            self._values[id(t)] = _narrow(result, t)

    def _copy(self, dst: torch.Tensor, dst_value: _Value, src: torch.Tensor, src_value: _Value) -> None:
        if dst_value.origin != "kv":
            # A buffer the step fills in place (the depth transformer's own small cache):
            # later views of it carry what was written, so reads keep their producers.
            self._values[id(dst)] = _narrow(src_value, dst)
            base = dst._base
            if base is not None and src_value.origin == "act":
                held = self._value(base)
                parts = held.parts if held.origin == "act" else ()
                self._values[id(base)] = _Value("act", parts=parts + src_value.parts)
            return
        if src_value.origin != "act":
            return
        producers = [(p, e) for p, e in src_value.parts if p >= 0]
        for p, e in producers:
            self.ops[p].kv_write_elems += e
            self.ops[p].kv_consumed = True
        self._kv_writes.append((dst_value.name, self._positions(dst, dst_value.name), producers))

    def _positions(self, view: torch.Tensor, cache_name: str) -> tuple[int, int] | None:
        """Sequence positions [first, stop) a view of a cache tensor [B, KV, max_len, d]
        covers, or None when its strides do not tell (then it overlaps everything)."""
        base = self._kv_base[cache_name]
        seq_stride, length = base.stride(2), base.shape[2]
        offset = view.storage_offset() - base.storage_offset()
        first = (offset // seq_stride) % length
        seq_dims = [size for size, stride in zip(view.shape, view.stride()) if stride == seq_stride and size > 1]
        if len(seq_dims) > 1:
            return None
        count = seq_dims[0] if seq_dims else 1
        last = offset + sum((size - 1) * stride for size, stride in zip(view.shape, view.stride()))
        if (last // seq_stride) % length != first + count - 1:
            return None
        return first, first + count

    def _compute(self, name: str, cls: str, inputs: list[torch.Tensor], values: list[_Value],
                 outputs: list[torch.Tensor]) -> None:
        live = [(t, v) for t, v in zip(inputs, values) if v.origin != "const"]
        tags = {v.name for v in values if v.origin == "const" and v.name}
        if not live:  # computed from constants only: a constant itself
            tag = _ROPE_TABLE if _ROPE_TABLE in tags else self._const_tag()
            for t in outputs:
                self._values[id(t)] = _Value("const", name=tag)
            return
        index = len(self.ops)
        macs, flops = op_cost(name, cls, inputs, outputs)
        op = _Op(index=index, name=name, cls=cls, scope=tuple(self.stack), macs=macs, flops=flops,
                 act_reads=[], weight_reads={}, kv_reads={}, kv_deps=[], const_tags=tags, inputs=[],
                 output_shape=list(outputs[0].shape), out_elems=sum(t.numel() for t in outputs),
                 dtype=str(outputs[0].dtype).removeprefix("torch."), tensor_operands=len(live))
        for tensor, value in live:
            if value.origin == "act":
                op.act_reads.extend(value.parts)
                key = ("act",) + tuple(p for p, _ in value.parts)
            elif value.origin == "weight":
                read = op.out_elems if cls == "embedding" else tensor.numel()
                op.weight_reads[value.name] = max(op.weight_reads.get(value.name, 0), read)
                key = ("weight", value.name)
            else:
                op.kv_reads[value.name] = max(op.kv_reads.get(value.name, 0), tensor.numel())
                op.kv_deps.extend(self._writers(value.name, self._positions(tensor, value.name)))
                key = ("kv", value.name)
            op.inputs.append((key, list(tensor.shape)))
        for p, _ in op.act_reads:
            if p >= 0:
                self.ops[p].consumers.add(index)
        self.ops.append(op)
        for t in outputs:
            self._values[id(t)] = _Value("act", parts=((index, t.numel()),))

    def _writers(self, cache_name: str, span: tuple[int, int] | None) -> list[tuple[int, int]]:
        """Ops of this step whose cache writes a read of `span` of `cache_name` depends on."""
        found = []
        for name, written, producers in self._kv_writes:
            if name == cache_name and (span is None or written is None
                                       or (written[0] < span[1] and span[0] < written[1])):
                found.extend(producers)
        return found


def _narrow(value: _Value, tensor: torch.Tensor) -> _Value:
    """The value seen through a view: no part supplies more elements than the view has."""
    if value.origin != "act":
        return value
    return replace(value, parts=tuple((p, min(e, tensor.numel())) for p, e in value.parts))


def _module_infos(model: nn.Module) -> Iterable[tuple[nn.Module, _Module]]:
    layers = {id(layer): i for i, layer in enumerate(getattr(model, "layers", ()))}
    replayable = set()
    for layer in getattr(model, "layers", ()):
        for part in ("post_attention_layernorm", "mlp"):
            replayable.add(id(getattr(layer, part)))
    depth = getattr(model, "depth", None)
    for path, module in model.named_modules():
        yield module, _Module(path=path, cls=type(module).__name__, leaf=not any(module.children()),
                              layer=layers.get(id(module), -1), replayable=id(module) in replayable,
                              depth=module is depth)


# -- grouping aten ops into logical ops --------------------------------------------------
@dataclass
class _Group:
    ops: list[_Op]
    call: _Call
    collapsed: bool  # the whole call of a leaf module


def _group_ops(ops: list[_Op]) -> list[_Group]:
    """Logical ops in execution order (see the module docstring for the rules)."""
    matmuls = Counter(op.call.call_id for op in ops if op.cls == "matmul")
    groups: list[_Group] = []
    run: list[_Op] = []

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
        if call is not _ROOT and call.module.leaf and matmuls[call.call_id] <= 1:
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


def _components(run: list[_Op]) -> list[list[_Op]]:
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
    components: dict[int, list[_Op]] = {}
    for op in run:
        components.setdefault(root(op.index), []).append(op)
    return sorted(components.values(), key=lambda ops: ops[0].index)


def _is_epilogue(component: list[_Op], previous: _Group) -> bool:
    """A component that only transforms the output of the matmul just before it, in the
    same module call (a scale, a mask): part of that matmul on the hardware."""
    matmul = previous.ops[0]
    if previous.collapsed or matmul.cls != "matmul" or matmul.call.call_id != component[0].call.call_id:
        return False
    inside = {op.index for op in component} | {op.index for op in previous.ops}
    reads = [p for op in component for p, _ in op.act_reads]
    return (all(p in inside for p in reads) and matmul.index in reads
            and not any(op.weight_reads or op.kv_reads for op in component))


# -- logical op attributes ---------------------------------------------------------------
def _kind(group: _Group, ops: list[_Op]) -> str:
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
    if any(_ROPE_TABLE in op.const_tags for op in group.ops):
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


def _logical_ops(ops: list[_Op]) -> dict[str, dict]:
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
        node.update(kind=kind, block=block, module=path,
                    layer=next((c.module.layer for c in scope if c.module.layer >= 0), -1),
                    replayable=any(c.module.replayable for c in scope))
        node["edges"] = {names[g]: value for g, value in node.pop("producers").items()}
        nodes[name] = node
    return nodes


def _account(group: _Group, ops: list[_Op], group_of: dict[int, int], gi: int) -> dict:
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
        "macs": macs, "flops": flops, "act_read_elems": sum(act_reads.values()), "act_write_elems": written,
        "kv_read_elems": sum(kv.values()), "weight_elems": sum(weights.values()),
        "kv_write_elems": sum(op.kv_write_elems for op in group.ops),
        "input_shapes": list(shapes.values()), "output_shape": last.output_shape, "dtype": last.dtype,
        "producers": producers,
    }


# -- tracing one step --------------------------------------------------------------------
def _trace_step(model: VideoTransformer, phase: str, kv_len: int, prefill_tokens: int, tas: bool) -> dict[str, dict]:
    config = model.config
    dtype = model.embed_tokens.weight.dtype
    cache = model.new_cache(1, kv_len)
    kv_tensors = {f"kv.{kind}.{layer}": tensor for kind, tensors in (("keys", cache.keys), ("values", cache.values))
                  for layer, tensor in enumerate(tensors)}
    replay = None
    if phase == "decode":
        cache.length = kv_len - 1
        codes = torch.zeros(1, config.codes_per_position, dtype=torch.long, device="meta")
        if tas:
            replay = FastCarRun(FastCarSettings.uniform(0.0, config.num_layers), config, 1, prefix_len=0,
                                max_steps=1, device="meta", dtype=dtype)
            replay.step = 0
    else:
        cache.length = kv_len - prefill_tokens
        codes = torch.zeros(1, prefill_tokens, config.codes_per_position, dtype=torch.long, device="meta")
    recorder = _Recorder(model, kv_tensors)
    try:
        with torch.no_grad(), recorder:
            if phase == "decode":
                model.step(codes, cache, replay)
            else:
                hidden = model.prefill(model.embed_codes(codes), cache)
                model.predict_codes(hidden[:, -1])
    finally:
        recorder.detach_hooks()
    return _logical_ops(recorder.ops)


def _solve(values: list[int], lengths: list[int], what: str) -> tuple[int, int]:
    """(fixed, per_kv) with value = fixed + per_kv * length at every traced length."""
    (n0, n1, n2), (v0, v1, v2) = lengths, values
    per_kv, remainder = divmod(v1 - v0, n1 - n0)
    fixed = v0 - per_kv * n0
    if remainder or fixed + per_kv * n2 != v2:
        raise KVScalingError(f"{what} is not linear in the KV length: {dict(zip(lengths, values))}")
    return fixed, per_kv


def _assemble(traces: list[dict[str, dict]], lengths: list[int], graph: nx.DiGraph) -> None:
    reference = traces[0]
    for length, trace in zip(lengths[1:], traces[1:]):
        if list(trace) != list(reference) or any(trace[n]["kind"] != reference[n]["kind"]
                                                 or set(trace[n]["edges"]) != set(reference[n]["edges"])
                                                 for n in reference):
            raise KVScalingError(f"the traced ops differ between KV lengths {lengths[0]} and {length}")
    precision = graph.graph["precision_bytes"]
    kv_ref = graph.graph["kv_len_ref"]
    for name, node in reference.items():
        sizes = {}
        for q in SCALED_QUANTITIES:
            sizes[f"{q}_fixed"], sizes[f"{q}_per_kv"] = _solve([t[name][q] for t in traces], lengths, f"{name}.{q}")
        for q in ("weight_elems", "kv_write_elems"):
            fixed, per_kv = _solve([t[name][q] for t in traces], lengths, f"{name}.{q}")
            if per_kv:
                raise KVScalingError(f"{name}.{q} grows with the KV length")
            sizes[q] = fixed
        add_op(graph, name, node["kind"], node["block"], layer=node["layer"], module=node["module"],
               input_shapes=node["input_shapes"], output_shape=node["output_shape"], dtype=node["dtype"],
               replayable=node["replayable"], **sizes)
        acts = sum(sizes[f"{q}_fixed"] + sizes[f"{q}_per_kv"] * kv_ref for q in ("act_read_elems", "act_write_elems"))
        graph.nodes[name].update(weight_bytes=sizes["weight_elems"] * precision["weights"],
                                 act_bytes=acts * precision["activations"])
        for producer, edge in node["edges"].items():
            elems, per_kv = _solve([t[name]["edges"][producer]["elems"] for t in traces], lengths,
                                   f"edge {producer} -> {name}")
            graph.add_edge(producer, name, elems=elems, elems_per_kv=per_kv, via=edge["via"])


# -- public entry point ------------------------------------------------------------------
def trace_model(
    preset_or_config: str | ModelConfig,
    phase: str = "decode",
    *,
    kv_len: int | None = None,
    prefill_tokens: int | None = None,
    batch_rows: int = 1,
    dtype: str = "float16",
    tas: bool = True,
    progress: bool = False,
) -> nx.DiGraph:
    """Trace one decode step (or a prefill) of a preset or config into a ComputeGraph.

    kv_len: KV entries the step's attention reads, its own token included (the
    ReplayTrace's ``kv_len``); default: a whole video for decode, `prefill_tokens` for
    prefill. prefill_tokens: video positions prefilled (default: one frame plus the
    class token). batch_rows: rows the step runs for (2 with CFG); the graph describes
    one. tas: include FastCar's TAS op in decode (needs kv_len > tokens_per_frame, so a
    previous-frame key exists). dtype: the traced precision, behind ``precision_bytes``.
    """
    config = get_preset(preset_or_config) if isinstance(preset_or_config, str) else preset_or_config
    if phase not in PHASES:
        raise UserError(None, "phase", f"one of {', '.join(PHASES)}", phase)
    if dtype not in DTYPES:
        raise UserError(None, "dtype", f"one of {', '.join(DTYPES)}", dtype)
    _check_int("batch_rows", batch_rows, 1)
    if phase == "decode":
        if prefill_tokens is not None:
            raise UserError(None, "prefill_tokens", "no prefill length for a decode trace (use phase prefill)",
                            prefill_tokens)
        prefill_tokens = 0
        minimum = config.tokens_per_frame + 1 if tas else 1
        kv_len = config.video_tokens if kv_len is None else kv_len
        _check_int("kv_len", kv_len, minimum, "(TAS needs the previous frame's key)" if tas else "")
    else:
        prefill_tokens = 1 + config.tokens_per_frame if prefill_tokens is None else prefill_tokens
        _check_int("prefill_tokens", prefill_tokens, 1)
        kv_len = prefill_tokens if kv_len is None else kv_len
        _check_int("kv_len", kv_len, prefill_tokens, "(the prefilled tokens are in the cache)")
    torch_dtype = DTYPES[dtype]
    lengths = [kv_len] + [kv_len + offset for offset in KV_PROBE_OFFSETS]
    transformer = VideoTransformer(config, device="meta", dtype=torch_dtype)
    traces = [_trace_step(transformer, phase, n, prefill_tokens, tas)
              for n in tqdm(lengths, desc=f"trace {config.name}", unit="length", disable=not progress, leave=False)]
    element_bytes = torch.finfo(torch_dtype).bits // 8
    graph = nx.DiGraph(
        model=config.name, phase=phase, batch_rows=batch_rows, tokens_per_frame=config.tokens_per_frame,
        frames=config.frames, num_layers=config.num_layers, hidden=config.hidden, kv_len_ref=kv_len,
        precision_bytes={"weights": element_bytes, "activations": element_bytes, "kv_cache": element_bytes},
        heads=config.num_heads, kv_heads=config.num_kv_heads, head_dim=config.head_dim,
        mlp_hidden=config.mlp_hidden, vocab_size=config.vocab_size,
        codes_per_position=config.codes_per_position, depth_layers=config.depth.num_layers if config.depth else 0,
        tokens_per_step=1 if phase == "decode" else prefill_tokens, prefill_tokens=prefill_tokens,
        dtype=dtype, tas_included=tas and phase == "decode", kv_len_probes=lengths,
        tracer=f"models.tracing.graph_trace (torch {torch.__version__}, python {platform.python_version()})",
    )
    _assemble(traces, lengths, graph)
    validate_graph(graph, source=f"trace of {config.name}")
    return graph


def _check_int(key: str, value: object, minimum: int, why: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UserError(None, key, f"an integer >= {minimum}{' ' + why if why else ''}", value)
