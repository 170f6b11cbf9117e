"""Tracing a Hugging Face transformers decoder from its own modeling code into a ComputeGraph.

Any decoder-only ``model_type`` transformers knows is built from its config on the meta
device (shapes, no weights, no download) with eager attention, so its score, softmax and
value matmuls are ops the recorder sees. One decode step (or a prefill) runs through a
`StaticCache` of exactly ``kv_len`` entries - the attention reads them all, its own token
included - under the same recorder (`models.tracing.recorder`), grouping
(`models.tracing.logical_ops`) and KV-length solving (`models.tracing.graph_trace`) as the
project's own transformer, so the graph format, and the simulator, do not change.

Module attribution is by structure: the decoder is ``model.get_decoder()`` and the
recorder sees it through a view whose children are the decoder's own (``embed_tokens``,
``layers``, ``norm``, ``rotary_emb``) plus ``lm_head``, so names match the project's
graphs (``layers.3.mlp.gate_proj``). Replayable: each layer's ``post_attention_layernorm``
and ``mlp``. The head is the output embedding on the last position, then a greedy pick
(a task wrapper's logit processing - Chameleon masking image tokens in text mode - is
not part of the decode step being modelled). FastCar's TAS is added as ``layers.N.tas``:
the query (from ``q_proj``, before RoPE, which the modeling code applies inside the
attention) against the previous frame's
key in the cache; same MACs as the project's post-RoPE form.

Pitfalls handled: RoPE's non-persistent ``inv_freq`` buffer is a constant, not an input;
mask helpers and cache positions get real CPU tensors (meta tensors cannot answer
``.all()`` or ``.item()``), as do the token ids.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx
import torch
from torch import nn
from tqdm import tqdm

from cosim.common.errors import UserError
from models.decoding.fastcar import TemporalAttentionScore
from models.tracing.graph_trace import (
    DTYPES,
    assemble_graph,
    check_dtype,
    check_lengths,
    graph_attributes,
    probe_lengths,
)
from models.tracing.logical_ops import logical_ops
from models.tracing.recorder import Recorder

DEFAULT_TOKENS_PER_FRAME = 256
DEFAULT_FRAMES = 8


def load_hf_config(path: str | Path) -> Any:
    """A transformers config from a ``config.json`` file (any ``model_type`` transformers knows)."""

    file = Path(path)
    try:
        fields = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(str(file), None, "a readable config.json", type(error).__name__) from None
    return hf_config_from_dict(fields, str(file))


def hf_config_from_dict(fields: dict, source: str) -> Any:
    """A transformers config from the fields of a ``config.json``."""
    from transformers import AutoConfig

    fields = dict(fields)
    model_type = fields.pop("model_type", None)
    try:
        return AutoConfig.for_model(model_type, **fields)
    except (ValueError, KeyError, TypeError):
        raise UserError(source, "model_type", "a model type transformers knows", model_type) from None


def fetch_hf_config(model_id: str) -> Path:
    """Download only ``config.json`` of a Hub model; offline or unknown id: a one-line user error."""
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(model_id, "config.json"))
    except Exception as error:  # network, offline mode, unknown or gated repository: all one message
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise UserError(None, "--hf-id", "a model id whose config.json can be fetched (online)", reason) from None


def _text_config(config: Any) -> Any:
    return config.get_text_config(decoder=True)


def build_meta_model(config: Any, dtype: torch.dtype) -> nn.Module:
    """The causal LM of `config` on the meta device, eager attention (explicit matmuls)."""
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    with torch.device("meta"):
        try:
            return AutoModelForCausalLM.from_config(config, attn_implementation="eager", dtype=dtype)
        except ValueError:  # multimodal generators (Chameleon): the conditional-generation class
            return AutoModelForImageTextToText.from_config(config, attn_implementation="eager", dtype=dtype)


class _DecoderView(nn.Module):
    """The decoder's children and the LM head under one parent, for module names and
    structure (``layers``) as the recorder expects them; the modules are shared, not copied."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        decoder = model.get_decoder()  # type: ignore[operator]
        for name, child in decoder.named_children():
            self.add_module(name, child)
        self.add_module("lm_head", model.get_output_embeddings())  # type: ignore[operator]
        self.layers: list[Any]
        self.lm_head: nn.Module


def _geometry(config: Any) -> dict[str, int]:
    text = _text_config(config)
    heads = text.num_attention_heads
    return {
        "num_layers": text.num_hidden_layers,
        "hidden": text.hidden_size,
        "heads": heads,
        "kv_heads": getattr(text, "num_key_value_heads", None) or heads,
        "head_dim": getattr(text, "head_dim", None) or text.hidden_size // heads,
        "mlp_hidden": text.intermediate_size,
        "vocab_size": text.vocab_size,
    }


def _trace_step(
    model: nn.Module, view: _DecoderView, config: Any, phase: str, kv_len: int, tokens: int, tas_frame: int
) -> dict[str, dict]:
    """Logical ops of one step of `tokens` new tokens ending at position kv_len - 1;
    `tas_frame` > 0 adds the TAS against the key that many positions back."""
    from transformers import StaticCache

    geometry = _geometry(config)
    dtype = next(model.parameters()).dtype
    cache = StaticCache(config=_text_config(config), max_cache_len=kv_len)
    cache.early_initialization(1, geometry["kv_heads"], geometry["head_dim"], dtype, torch.device("meta"))
    kv_tensors = {}
    for i, layer in enumerate(cache.layers):
        kv_tensors[f"kv.keys.{i}"], kv_tensors[f"kv.values.{i}"] = layer.keys, layer.values
        layer.cumulative_length = torch.tensor(kv_len - tokens)
    cache_position = torch.arange(kv_len - tokens, kv_len)  # real CPU tensors: mask helpers read them
    input_ids = torch.zeros(1, tokens, dtype=torch.long)
    constants = [cache_position, *(layer.cumulative_length for layer in cache.layers)]
    recorder = Recorder(view, kv_tensors, constants, indexed_write=(kv_len - tokens, kv_len))
    hooks = _tas_hooks(view, cache, geometry, kv_len - 1 - tas_frame) if tas_frame else []
    try:
        with torch.no_grad(), recorder:
            hidden = model.get_decoder()(  # type: ignore[operator]
                input_ids=input_ids, cache=cache, cache_position=cache_position, use_cache=True
            ).last_hidden_state
            view.lm_head(hidden[:, -1]).argmax(dim=-1)  # the next token, greedy as the project's step
    finally:
        recorder.detach_hooks()
        for hook in hooks:
            hook.remove()
    return logical_ops(recorder.ops)


def _tas_hooks(view: _DecoderView, cache: Any, geometry: dict[str, int], previous: int) -> list:
    """Hooks that run each layer's TAS right after its attention: the query of ``q_proj``
    against the key at position `previous` (one frame back) in the cache."""
    handles = []
    for i, layer in enumerate(view.layers):
        attention, tas = layer.self_attn, layer.tas
        queries: list[torch.Tensor] = []
        keys = cache.layers[i].keys

        def keep_query(_m: nn.Module, _a: Any, out: torch.Tensor, queries: list = queries) -> None:
            queries[:] = [out]

        def score(
            _m: nn.Module, _a: Any, _o: Any, tas: nn.Module = tas, keys: torch.Tensor = keys, q: list = queries
        ) -> None:
            query = q[0].view(q[0].shape[0], geometry["heads"], 1, geometry["head_dim"])
            tas(query, keys[:, :, previous : previous + 1])  # sliced while recording: a cache read

        handles.append(attention.q_proj.register_forward_hook(keep_query))
        handles.append(attention.register_forward_hook(score))
    return handles


def trace_hf_model(
    config: Any,
    name: str,
    phase: str = "decode",
    *,
    kv_len: int | None = None,
    prefill_tokens: int | None = None,
    batch_rows: int = 1,
    dtype: str = "float16",
    tas: bool = True,
    tokens_per_frame: int = DEFAULT_TOKENS_PER_FRAME,
    frames: int = DEFAULT_FRAMES,
    progress: bool = False,
) -> nx.DiGraph:
    """Trace one decode step (or a prefill) of a transformers config into a ComputeGraph.

    The arguments mean what they mean for `models.tracing.graph_trace.trace_model`;
    `tokens_per_frame` and `frames` give the video geometry the model generates (the
    TAS's previous-frame key, the default KV length).
    """
    kv_len, prefill_tokens = check_lengths(
        phase, kv_len, prefill_tokens, batch_rows, tas, tokens_per_frame, tokens_per_frame * frames
    )
    check_dtype(dtype)
    model = build_meta_model(config, DTYPES[dtype])
    model.eval()
    view = _DecoderView(model)
    geometry = _geometry(config)
    for layer in view.layers:  # before the recorder hooks every module: the TAS is one of them
        layer.add_module("tas", TemporalAttentionScore(geometry["heads"], geometry["kv_heads"], geometry["head_dim"]))
    tokens = 1 if phase == "decode" else prefill_tokens
    tas_frame = tokens_per_frame if tas and phase == "decode" else 0
    lengths = probe_lengths(kv_len)
    traces = [
        _trace_step(model, view, config, phase, n, tokens, tas_frame)
        for n in tqdm(lengths, desc=f"trace {name}", unit="length", disable=not progress, leave=False)
    ]
    attributes = graph_attributes(name, phase, batch_rows, kv_len, prefill_tokens, dtype, tas, tokens_per_frame, frames)
    attributes.update(geometry, codes_per_position=1, depth_layers=0)
    attributes["tracer"] += f", transformers {_transformers_version()} {type(model).__name__}"
    return assemble_graph(traces, lengths, attributes)


def _transformers_version() -> str:
    import transformers

    return transformers.__version__
