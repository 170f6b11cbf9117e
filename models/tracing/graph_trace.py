"""Tracing the real model code into a ComputeGraph (`cosim.artifacts.graph`).

There is no second, hand-written description of the model: the tracer runs the model's
own `step` (one decode step) or `prefill` on the meta device, where tensors have shapes
but no storage, so the 7B geometry costs seconds and no weight memory. A recorder
(`models.tracing.recorder`) sees every aten op the step executes and the module that ran
it; the ops are grouped into the logical ops a hardware engine executes, with their sizes
(`models.tracing.logical_ops`); this module traces a step and builds the graph.

One graph serves every decode step: the step is traced at three KV lengths and each
quantity is solved exactly as ``fixed + per_kv * kv_len`` from two of them and checked
against the third (`KVScalingError` if it is not linear).
"""

from __future__ import annotations

import platform

import networkx as nx
import torch
from tqdm import tqdm

from cosim.artifacts.graph import SCALED_QUANTITIES, add_op, validate_graph
from cosim.common.errors import UserError
from models.config import ModelConfig
from models.decoding.fastcar import FastCarRun, FastCarSettings
from models.library import preset_config
from models.tracing.logical_ops import logical_ops
from models.tracing.recorder import Recorder
from models.transformer import VideoTransformer

PHASES = ("decode", "prefill")
DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
KV_PROBE_OFFSETS = (64, 320)
"""The step is traced at kv_len, kv_len + 64 and kv_len + 320: two lengths solve each
quantity, the third checks that it is linear."""


class KVScalingError(RuntimeError):
    """A traced quantity is not of the form fixed + per_kv * kv_len, or the op structure
    changes with the KV length: the one-graph-for-every-step model does not hold."""


# -- tracing one step --------------------------------------------------------------------
def _trace_step(model: VideoTransformer, phase: str, kv_len: int, prefill_tokens: int, tas: bool) -> dict[str, dict]:
    config = model.config
    dtype = model.embed_tokens.weight.dtype
    cache = model.new_cache(1, kv_len)
    kv_tensors = {
        f"kv.{kind}.{layer}": tensor
        for kind, tensors in (("keys", cache.keys), ("values", cache.values))
        for layer, tensor in enumerate(tensors)
    }
    replay = None
    if phase == "decode":
        cache.length = kv_len - 1
        codes = torch.zeros(1, config.codes_per_position, dtype=torch.long, device="meta")
        if tas:
            replay = FastCarRun(
                FastCarSettings.uniform(0.0, config.num_layers),
                config,
                1,
                prefix_len=0,
                max_steps=1,
                device="meta",
                dtype=dtype,
            )
            replay.step = 0
    else:
        cache.length = kv_len - prefill_tokens
        codes = torch.zeros(1, prefill_tokens, config.codes_per_position, dtype=torch.long, device="meta")
    recorder = Recorder(model, kv_tensors)
    try:
        with torch.no_grad(), recorder:
            if phase == "decode":
                model.step(codes, cache, replay)
            else:
                hidden = model.prefill(model.embed_codes(codes), cache)
                model.predict_codes(hidden[:, -1])
    finally:
        recorder.detach_hooks()
    return logical_ops(recorder.ops)


def _solve(values: list[int], lengths: list[int], what: str) -> tuple[int, int]:
    """(fixed, per_kv) with value = fixed + per_kv * length at every traced length."""
    (n0, n1, n2), (v0, v1, v2) = lengths, values
    per_kv, remainder = divmod(v1 - v0, n1 - n0)
    fixed = v0 - per_kv * n0
    if remainder or fixed + per_kv * n2 != v2:
        raise KVScalingError(f"{what} is not linear in the KV length: {dict(zip(lengths, values, strict=True))}")
    return fixed, per_kv


def _assemble(traces: list[dict[str, dict]], lengths: list[int], graph: nx.DiGraph) -> None:
    reference = traces[0]
    for length, trace in zip(lengths[1:], traces[1:], strict=True):
        if list(trace) != list(reference) or any(
            trace[n]["kind"] != reference[n]["kind"] or set(trace[n]["edges"]) != set(reference[n]["edges"])
            for n in reference
        ):
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
        add_op(
            graph,
            name,
            node["kind"],
            node["block"],
            layer=node["layer"],
            module=node["module"],
            input_shapes=node["input_shapes"],
            output_shape=node["output_shape"],
            dtype=node["dtype"],
            replayable=node["replayable"],
            after=(),  # the edges follow below, each with its own solved sizes
            **sizes,
        )
        acts = sum(sizes[f"{q}_fixed"] + sizes[f"{q}_per_kv"] * kv_ref for q in ("act_read_elems", "act_write_elems"))
        graph.nodes[name].update(
            weight_bytes=sizes["weight_elems"] * precision["weights"], act_bytes=acts * precision["activations"]
        )
        for producer, edge in node["edges"].items():
            elems, per_kv = _solve(
                [t[name]["edges"][producer]["elems"] for t in traces], lengths, f"edge {producer} -> {name}"
            )
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
    config = preset_config(preset_or_config) if isinstance(preset_or_config, str) else preset_or_config
    kv_len, prefill_tokens = check_lengths(
        phase, kv_len, prefill_tokens, batch_rows, tas, config.tokens_per_frame, config.video_tokens
    )
    check_dtype(dtype)
    torch_dtype = DTYPES[dtype]
    lengths = probe_lengths(kv_len)
    transformer = VideoTransformer(config, device="meta", dtype=torch_dtype)
    traces = [
        _trace_step(transformer, phase, n, prefill_tokens, tas)
        for n in tqdm(lengths, desc=f"trace {config.name}", unit="length", disable=not progress, leave=False)
    ]
    attributes = graph_attributes(
        config.name, phase, batch_rows, kv_len, prefill_tokens, dtype, tas, config.tokens_per_frame, config.frames
    )
    attributes.update(
        num_layers=config.num_layers,
        hidden=config.hidden,
        heads=config.num_heads,
        kv_heads=config.num_kv_heads,
        head_dim=config.head_dim,
        mlp_hidden=config.mlp_hidden,
        vocab_size=config.vocab_size,
        codes_per_position=config.codes_per_position,
        depth_layers=config.depth.num_layers if config.depth else 0,
    )
    return assemble_graph(traces, lengths, attributes)


def check_dtype(dtype: str) -> None:
    if dtype not in DTYPES:
        raise UserError(None, "dtype", f"one of {', '.join(DTYPES)}", dtype)


def check_lengths(
    phase: str,
    kv_len: int | None,
    prefill_tokens: int | None,
    batch_rows: int,
    tas: bool,
    tokens_per_frame: int,
    video_tokens: int,
) -> tuple[int, int]:
    """(kv_len, prefill_tokens) of a trace, defaults filled in; a user error when they do not fit the phase."""
    if phase not in PHASES:
        raise UserError(None, "phase", f"one of {', '.join(PHASES)}", phase)
    _check_int("batch_rows", batch_rows, 1)
    if phase == "decode":
        if prefill_tokens is not None:
            raise UserError(
                None, "prefill_tokens", "no prefill length for a decode trace (use phase prefill)", prefill_tokens
            )
        minimum = tokens_per_frame + 1 if tas else 1
        kv_len = video_tokens if kv_len is None else kv_len
        _check_int("kv_len", kv_len, minimum, "(TAS needs the previous frame's key)" if tas else "")
        return kv_len, 0
    prefill_tokens = 1 + tokens_per_frame if prefill_tokens is None else prefill_tokens
    _check_int("prefill_tokens", prefill_tokens, 1)
    kv_len = prefill_tokens if kv_len is None else kv_len
    _check_int("kv_len", kv_len, prefill_tokens, "(the prefilled tokens are in the cache)")
    return kv_len, prefill_tokens


def probe_lengths(kv_len: int) -> list[int]:
    """The KV lengths a step is traced at: two solve each quantity, the third checks it."""
    return [kv_len] + [kv_len + offset for offset in KV_PROBE_OFFSETS]


def graph_attributes(
    name: str,
    phase: str,
    batch_rows: int,
    kv_len: int,
    prefill_tokens: int,
    dtype: str,
    tas: bool,
    tokens_per_frame: int,
    frames: int,
) -> dict:
    """The graph-level attributes every trace records; the caller adds the model geometry."""
    element_bytes = torch.finfo(DTYPES[dtype]).bits // 8
    return dict(
        model=name,
        phase=phase,
        batch_rows=batch_rows,
        tokens_per_frame=tokens_per_frame,
        frames=frames,
        kv_len_ref=kv_len,
        precision_bytes={"weights": element_bytes, "activations": element_bytes, "kv_cache": element_bytes},
        tokens_per_step=1 if phase == "decode" else prefill_tokens,
        prefill_tokens=prefill_tokens,
        dtype=dtype,
        tas_included=tas and phase == "decode",
        kv_len_probes=probe_lengths(kv_len),
        tracer=f"models.tracing.graph_trace (torch {torch.__version__}, python {platform.python_version()})",
    )


def assemble_graph(traces: list[dict[str, dict]], lengths: list[int], attributes: dict) -> nx.DiGraph:
    """The ComputeGraph of the logical ops traced at each of `lengths` (see the module docstring)."""
    graph: nx.DiGraph[str] = nx.DiGraph(**attributes)
    _assemble(traces, lengths, graph)
    validate_graph(graph, source=f"trace of {attributes['model']}")
    return graph


def _check_int(key: str, value: object, minimum: int, why: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UserError(None, key, f"an integer >= {minimum}{' ' + why if why else ''}", value)
