"""Recording the aten ops of one traced model step (`models.tracing.graph_trace`).

Two pieces of torch machinery do the work:

1. A `TorchDispatchMode` sees every aten op the step executes, with its input and output
   tensors. The recorder follows each tensor's identity: which recorded op produced it
   (through views and copies), or whether it is a parameter, a KV-cache entry or a
   constant of the position (RoPE tables, causal masks: built from sizes alone).
2. Forward pre/post hooks on every module keep a stack of module calls, so each op is
   attributed to the module that ran it (``layers.3.mlp.gate_proj``).

KV-cache writes are remembered with the sequence positions they cover, so a later read of
the cache depends on the ops whose keys or values it reads (``kv_deps``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from models.tracing.op_classes import UnknownOpError, op_class, op_cost, op_name

ROPE_TABLE = "rope_table"  # the const tag of RoPE tables (and what is computed from them)


@dataclass(frozen=True)
class ModuleInfo:
    path: str
    cls: str
    leaf: bool
    layer: int  # i when this module is the decoder's layers[i], else -1
    replayable: bool  # layers[i].post_attention_layernorm or layers[i].mlp
    depth: bool  # the depth transformer


@dataclass(frozen=True)
class Call:
    module: ModuleInfo
    call_id: int


ROOT = Call(ModuleInfo("", "model", False, -1, False, False), 0)


@dataclass(frozen=True)
class Value:
    """What a tensor holds, as far as the graph cares."""

    origin: str  # "act", "weight", "kv" or "const"
    parts: tuple[tuple[int, int], ...] = ()  # act: (producer op index, -1 for a step input; elements)
    name: str = ""  # weight: parameter name; kv: cache tensor name; const: ROPE_TABLE or ""


@dataclass
class AtenOp:
    index: int
    name: str
    cls: str
    scope: tuple[Call, ...]
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
    def call(self) -> Call:
        return self.scope[-1] if self.scope else ROOT


class Recorder(TorchDispatchMode):
    """Records the aten ops of one traced step (see the module docstring)."""

    def __init__(
        self,
        model: nn.Module,
        kv_tensors: dict[str, torch.Tensor],
        constants: Iterable[torch.Tensor] = (),
        indexed_write: tuple[int, int] | None = None,
    ) -> None:
        """`constants`: step inputs that depend on the position alone (a cache position).
        `indexed_write`: the positions [first, stop) an ``index_copy_`` into the cache writes
        (its index is a meta tensor, so the recorder cannot read it; None: all of them)."""
        super().__init__()
        self.ops: list[AtenOp] = []
        self.stack: list[Call] = []
        self._calls = 0
        self._values: dict[int, Value] = {}
        self._alive: list[torch.Tensor] = []  # keeps ids unique while the trace runs
        self._kv_base = kv_tensors
        self._kv_writes: list[tuple[str, tuple[int, int] | None, list[tuple[int, int]]]] = []
        self._indexed_write = indexed_write
        for name, param in model.named_parameters():
            self._values[id(param)] = Value("weight", name=name)
        for name, tensor in kv_tensors.items():
            self._values[id(tensor)] = Value("kv", name=name)
        for module in model.modules():  # buffers (RoPE's inv_freq) hold constants, not activations
            tag = ROPE_TABLE if type(module).__name__.endswith("RotaryEmbedding") else ""
            for buffer in module.buffers(recurse=False):
                self._values[id(buffer)] = Value("const", name=tag)
        for tensor in constants:
            self._values[id(tensor)] = Value("const")
        self._handles = []
        for module, info in _module_infos(model):
            self._handles.append(module.register_forward_pre_hook(lambda _m, _a, info=info: self._enter(info)))
            self._handles.append(module.register_forward_hook(lambda _m, _a, _o, info=info: self._leave(info)))

    def detach_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()

    def _enter(self, module: ModuleInfo) -> None:
        self._calls += 1
        self.stack.append(Call(module, self._calls))

    def _leave(self, module: ModuleInfo) -> None:
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
        if name == "index_copy_":  # (cache, index, source): the index only says where the write goes
            inputs = [inputs[0], inputs[2]]
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
                self._values[id(t)] = Value("const", name=self._const_tag())
        elif cls == "copy":
            self._copy(inputs[0], values[0], inputs[1], values[1], indexed=name == "index_copy_")
        else:
            self._compute(name, cls, inputs, values, outputs)
        return out

    def _value(self, tensor: torch.Tensor) -> Value:
        known = self._values.get(id(tensor))
        if known is None:  # an input of the step (the codes it is given)
            known = Value("act", parts=((-1, tensor.numel()),))
            self._values[id(tensor)] = known
            self._alive.append(tensor)
        return known

    def _const_tag(self) -> str:
        rope = any(call.module.cls.endswith("RotaryEmbedding") for call in self.stack)
        return ROPE_TABLE if rope else ""

    def _layout(self, values: list[Value], outputs: list[torch.Tensor]) -> None:
        live = [v for v in values if v.origin != "const"]
        if not live:
            result = Value("const", name=max((v.name for v in values), default=""))
        elif len(live) == 1:
            result = live[0]
        elif all(v.origin == "act" for v in live):
            result = Value("act", parts=tuple(part for v in live for part in v.parts))
        else:
            raise UnknownOpError("concatenation of weights or cache entries with other tensors is not supported")
        for t in outputs:
            self._values[id(t)] = _narrow(result, t)

    def _copy(self, dst: torch.Tensor, dst_value: Value, src: torch.Tensor, src_value: Value, indexed: bool) -> None:
        if dst_value.origin != "kv":
            # A buffer the step fills in place (the depth transformer's own small cache):
            # later views of it carry what was written, so reads keep their producers.
            self._values[id(dst)] = _narrow(src_value, dst)
            base = dst._base
            if base is not None and src_value.origin == "act":
                held = self._value(base)
                parts = held.parts if held.origin == "act" else ()
                self._values[id(base)] = Value("act", parts=parts + src_value.parts)
            return
        if src_value.origin != "act":
            return
        producers = [(p, e) for p, e in src_value.parts if p >= 0]
        for p, e in producers:
            self.ops[p].kv_write_elems += e
            self.ops[p].kv_consumed = True
        span = self._indexed_write if indexed else self._positions(dst, dst_value.name)
        self._kv_writes.append((dst_value.name, span, producers))

    def _positions(self, view: torch.Tensor, cache_name: str) -> tuple[int, int] | None:
        """Sequence positions [first, stop) a view of a cache tensor [B, KV, max_len, d]
        covers, or None when its strides do not tell (then it overlaps everything)."""
        base = self._kv_base[cache_name]
        seq_stride, length = base.stride(2), base.shape[2]
        offset = view.storage_offset() - base.storage_offset()
        first = (offset // seq_stride) % length
        seq_dims = [
            size for size, stride in zip(view.shape, view.stride(), strict=True) if stride == seq_stride and size > 1
        ]
        if len(seq_dims) > 1:
            return None
        count = seq_dims[0] if seq_dims else 1
        last = offset + sum((size - 1) * stride for size, stride in zip(view.shape, view.stride(), strict=True))
        if (last // seq_stride) % length != first + count - 1:
            return None
        return first, first + count

    def _compute(
        self, name: str, cls: str, inputs: list[torch.Tensor], values: list[Value], outputs: list[torch.Tensor]
    ) -> None:
        live = [(t, v) for t, v in zip(inputs, values, strict=True) if v.origin != "const"]
        tags = {v.name for v in values if v.origin == "const" and v.name}
        if not live:  # computed from constants only: a constant itself
            tag = ROPE_TABLE if ROPE_TABLE in tags else self._const_tag()
            for t in outputs:
                self._values[id(t)] = Value("const", name=tag)
            return
        index = len(self.ops)
        macs, flops = op_cost(name, cls, inputs, outputs)
        op = AtenOp(
            index=index,
            name=name,
            cls=cls,
            scope=tuple(self.stack),
            macs=macs,
            flops=flops,
            act_reads=[],
            weight_reads={},
            kv_reads={},
            kv_deps=[],
            const_tags=tags,
            inputs=[],
            output_shape=list(outputs[0].shape),
            out_elems=sum(t.numel() for t in outputs),
            dtype=str(outputs[0].dtype).removeprefix("torch."),
            tensor_operands=len(live),
        )
        for tensor, value in live:
            if value.origin == "act":
                op.act_reads.extend(value.parts)
                key = ("act", *(p for p, _ in value.parts))
            elif value.origin == "weight":
                read = op.out_elems if cls == "embedding" else tensor.numel()
                op.weight_reads[value.name] = max(op.weight_reads.get(value.name, 0), read)
                key = ("weight", value.name)
            else:
                # A grouped-query copy (transformers' repeat_kv) repeats kv heads: the cache holds them once.
                read = min(tensor.numel(), self._kv_base[value.name].numel())
                op.kv_reads[value.name] = max(op.kv_reads.get(value.name, 0), read)
                op.kv_deps.extend(self._writers(value.name, self._positions(tensor, value.name)))
                key = ("kv", value.name)
            op.inputs.append((key, list(tensor.shape)))
        for p, _ in op.act_reads:
            if p >= 0:
                self.ops[p].consumers.add(index)
        self.ops.append(op)
        for t in outputs:
            self._values[id(t)] = Value("act", parts=((index, t.numel()),))

    def _writers(self, cache_name: str, span: tuple[int, int] | None) -> list[tuple[int, int]]:
        """Ops of this step whose cache writes a read of `span` of `cache_name` depends on."""
        found = []
        for name, written, producers in self._kv_writes:
            if name == cache_name and (
                span is None or written is None or (written[0] < span[1] and span[0] < written[1])
            ):
                found.extend(producers)
        return found


def _narrow(value: Value, tensor: torch.Tensor) -> Value:
    """The value seen through a view: no part supplies more elements than the view has."""
    if value.origin != "act":
        return value
    return replace(value, parts=tuple((p, min(e, tensor.numel())) for p, e in value.parts))


def _module_infos(model: nn.Module) -> Iterable[tuple[nn.Module, ModuleInfo]]:
    layers = {id(layer): i for i, layer in enumerate(getattr(model, "layers", ()))}
    replayable = set()
    for layer in getattr(model, "layers", ()):
        for part in ("post_attention_layernorm", "mlp"):
            replayable.add(id(getattr(layer, part)))
    depth = getattr(model, "depth", None)
    for path, module in model.named_modules():
        yield (
            module,
            ModuleInfo(
                path=path,
                cls=type(module).__name__,
                leaf=not any(module.children()),
                layer=layers.get(id(module), -1),
                replayable=id(module) in replayable,
                depth=module is depth,
            ),
        )
