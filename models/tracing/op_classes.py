"""What the graph tracer does with each aten op, and what one op costs.

Every aten op a traced step dispatches falls into one class:

- ``view``: aliases its input (view, transpose, slice, ...); no data moves, dropped.
- ``layout``: copies or rearranges data without arithmetic (dtype casts, clones for a
  contiguous layout, concatenation); an engine absorbs it in its addressing, dropped.
- ``create``: makes a tensor from nothing but sizes (zeros, arange, ...). Its value,
  and that of every op computed only from such values (RoPE cos/sin tables, causal
  masks), depends on the position alone: folded away as a constant.
- ``copy``: ``copy_``, ``index_copy_`` - a KV-cache write when its destination is the cache, else dropped.
- ``matmul``, ``embedding``, ``softmax``, ``sampling``: one graph node each.
- ``elementwise``, ``reduction``, ``activation``: fused with their neighbours (see
  `models.tracing.graph_trace`).

An op the table does not know stops the trace (`UnknownOpError`): a silently
misclassified op would give wrong numbers, a loud failure gets the table extended.

Costs: a matmul counts M*N*K multiply-accumulates (MACs). Other arithmetic counts
FLOPs per element by the convention below (one per elementwise operation, one per
input element of a reduction, a few for activations and softmax); these are modelling
conventions for a vector unit, not measurements.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

VIEW_OPS = frozenset(
    {
        "view",
        "_unsafe_view",
        "reshape",
        "_reshape_alias",
        "transpose",
        "t",
        "permute",
        "expand",
        "slice",
        "select",
        "unsqueeze",
        "squeeze",
        "as_strided",
        "detach",
        "alias",
        "narrow",
        "unbind",
        "split",
        "split_with_sizes",
        "chunk",
        "unflatten",
        "flatten",
        "view_as",
        "expand_as",
        "diagonal",
        "lift_fresh",
    }
)
LAYOUT_OPS = frozenset({"_to_copy", "clone", "contiguous", "cat", "stack", "repeat", "expand_copy"})
CREATE_OPS = frozenset(
    {
        "zeros",
        "ones",
        "full",
        "empty",
        "empty_strided",
        "arange",
        "scalar_tensor",
        "zeros_like",
        "ones_like",
        "full_like",
        "empty_like",
        "new_zeros",
        "new_ones",
        "new_full",
        "new_empty",
        "fill_",
        "zero_",
        "linspace",
    }
)
MATMUL_OPS = frozenset({"mm", "addmm", "bmm", "baddbmm"})
EMBEDDING_OPS = frozenset({"embedding"})

# FLOPs per output element (elementwise, activation) or per input element (softmax,
# reduction, sampling).
ELEMENTWISE_FLOPS = {
    name: 1
    for name in (
        "add",
        "sub",
        "rsub",
        "mul",
        "div",
        "neg",
        "pow",
        "rsqrt",
        "sqrt",
        "reciprocal",
        "exp",
        "log",
        "cos",
        "sin",
        "abs",
        "clamp",
        "clamp_min",
        "clamp_max",
        "maximum",
        "minimum",
        "where",
        "masked_fill",
        "eq",
        "ne",
        "gt",
        "ge",
        "lt",
        "le",
        "logical_and",
        "logical_or",
        "logical_not",
        "tril",
        "triu",
        "remainder",
        "floor_divide",
        "square",
        "erf",
        "sign",
    )
}
ACTIVATION_FLOPS = {"silu": 4, "sigmoid": 3, "gelu": 8, "relu": 1, "tanh": 5}
SOFTMAX_FLOPS = {"_softmax": 5, "_safe_softmax": 5, "_log_softmax": 5}  # max, subtract, exp, sum, divide
# native_layer_norm: mean (1), variance (2), normalise (2), scale and shift (2) per input element.
REDUCTION_FLOPS = {"sum": 1, "mean": 1, "amax": 1, "amin": 1, "prod": 1, "var": 2, "std": 2, "native_layer_norm": 7}
SAMPLING_FLOPS = {"argmax": 1, "argmin": 1, "topk": 1, "sort": 1, "multinomial": 1}


class UnknownOpError(RuntimeError):
    """The tracer met an aten op it has no class for."""


def op_name(func: torch._ops.OpOverload) -> str:
    """Overload-free aten name: ``aten.add_.Tensor`` -> ``add_``."""
    return func.overloadpacket.__name__


def op_class(name: str) -> str:
    """The class (see the module docstring) of aten op `name`; in-place forms share it."""
    if name in CREATE_OPS:
        return "create"
    if name in ("copy_", "index_copy_"):
        return "copy"
    base = name[:-1] if name.endswith("_") and not name.startswith("_") else name
    for cls, names in (
        ("view", VIEW_OPS),
        ("layout", LAYOUT_OPS),
        ("matmul", MATMUL_OPS),
        ("embedding", EMBEDDING_OPS),
        ("elementwise", ELEMENTWISE_FLOPS),
        ("activation", ACTIVATION_FLOPS),
        ("softmax", SOFTMAX_FLOPS),
        ("reduction", REDUCTION_FLOPS),
        ("sampling", SAMPLING_FLOPS),
    ):
        if base in names:
            return cls
    raise UnknownOpError(f"aten op {name!r} has no class in models/tracing/op_classes.py")


def op_cost(name: str, cls: str, inputs: Sequence[torch.Tensor], outputs: Sequence[torch.Tensor]) -> tuple[int, int]:
    """(MACs, FLOPs) of one aten op from its tensor inputs and outputs (shapes only)."""
    out_elems = sum(t.numel() for t in outputs)
    if cls == "matmul":
        a, b = (inputs[1], inputs[2]) if name in ("addmm", "baddbmm") else (inputs[0], inputs[1])
        batch = a.shape[0] if a.dim() == 3 else 1
        macs = batch * a.shape[-2] * a.shape[-1] * b.shape[-1]
        bias_flops = outputs[0].numel() if name in ("addmm", "baddbmm") else 0
        return macs, bias_flops
    base = name[:-1] if name.endswith("_") and not name.startswith("_") else name
    if cls == "elementwise":
        return 0, ELEMENTWISE_FLOPS[base] * out_elems
    if cls == "activation":
        return 0, ACTIVATION_FLOPS[base] * out_elems
    in_elems = inputs[0].numel() if inputs else 0
    if cls == "softmax":
        return 0, SOFTMAX_FLOPS[base] * in_elems
    if cls == "reduction":
        return 0, REDUCTION_FLOPS[base] * in_elems
    if cls == "sampling":
        return 0, SAMPLING_FLOPS[base] * in_elems
    return 0, 0
