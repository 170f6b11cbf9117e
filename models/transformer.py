"""LLaMA-style AR video decoder: RMSNorm, RoPE, SwiGLU MLP, MHA/GQA attention, KV cache.

Module names follow Hugging Face LLaMA (`layers.N.self_attn.q_proj`, `layers.N.mlp.gate_proj`,
`layers.N.input_layernorm`, `layers.N.post_attention_layernorm`, `norm`, `embed_tokens`,
`lm_head`) so real checkpoints map onto them by stripping the `model.` prefix, and so the
graph tracer can name ops by module. The forward passes are plain torch ops (attention is
written out as score / softmax / value matmuls, not a fused kernel) and the model can be
built on the meta device, so the 7B geometry can be traced without allocating weights.

Three entry points:
  * `forward(tokens)` - full causal sequence, no cache: training.
  * `prefill(embeds, cache)` - the prompt, filling the KV cache (and the FastCar ring).
  * `step(codes, cache)` - one decode step: embed the codes of one position, run every
    layer on that one token (FastCar replay and sparse attention plug in here), and
    predict the codes of the next position.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from models.config import DepthConfig, ModelConfig
from models.decoding.fastcar import TemporalAttentionScore
from models.decoding.sparse_attention import Ranges
from models.kv_cache import KVCache
from models.video_rope import VideoRotaryEmbedding

Pick = Callable[[torch.Tensor], torch.Tensor]
"""Chooses one code per batch row from logits [B, V] -> long [B] (sampling, CFG)."""


def greedy_pick(logits: torch.Tensor) -> torch.Tensor:
    """Argmax per row; works on the meta device, so traced steps need no sampler."""
    return logits.argmax(dim=-1)


class RMSNorm(nn.Module):
    def __init__(self, hidden: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variance = x.float().pow(2).mean(-1, keepdim=True)
        return (x.float() * torch.rsqrt(variance + self.eps)).to(x.dtype) * self.weight


class RotaryEmbedding(nn.Module):
    """cos/sin tables of rotary position embedding for the given positions.

    Computed on the fly in float32 (no buffer: nothing to keep in sync with the model's
    dtype or device, and nothing left uninitialised by `to_empty`)."""

    def __init__(self, head_dim: int, theta: float) -> None:
        super().__init__()
        self.head_dim, self.theta = head_dim, theta

    def forward(
        self, start: int, count: int, dtype: torch.dtype, device: torch.device | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        exponents = torch.arange(0, self.head_dim, 2, dtype=torch.float32, device=device) / self.head_dim
        positions = torch.arange(start, start + count, dtype=torch.float32, device=device)
        freqs = torch.outer(positions, 1.0 / (self.theta**exponents))
        angles = torch.cat((freqs, freqs), dim=-1)
        return angles.cos().to(dtype), angles.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [B, heads, T, d] rotated by the tables [T, d] (Hugging Face half-split layout)."""
    return x * cos + rotate_half(x) * sin


class Attention(nn.Module):
    """Multi-head attention with grouped kv heads (GQA when num_kv_heads < num_heads)."""

    def __init__(self, hidden: int, num_heads: int, num_kv_heads: int, layer_idx: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads
        self.head_dim = hidden // num_heads
        self.groups = num_heads // num_kv_heads
        self.layer_idx = layer_idx
        self.q_proj = nn.Linear(hidden, num_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(hidden, num_kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden, num_kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(num_heads * self.head_dim, hidden, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: KVCache | None,
        start: int,
        attention=None,
        query_rope: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, Ranges | None]:
        """x [B, T, hidden] at positions start..start+T-1; keys are rotated by cos/sin, queries by
        `query_rope` (cos, sin) when given (`ModelConfig.rope_queries_at_target`), else by cos/sin too.

        Returns (output [B, T, hidden], query before RoPE [B, H, T, d], query after RoPE,
        all keys of this layer [B, KV, start+T, d], scaled scores [B, KV, groups*T, n],
        attended ranges) - FastCar reads all but the output: its TAS is one column of the
        scores when the previous frame's key is among the n attended entries (all cache
        positions in order when the ranges are None, else the listed ranges in order).
        With a cache the new keys/values are stored and attention covers the cache;
        without one it covers this sequence only (training, fused kernel, no scores).
        """
        batch, count, _ = x.shape
        d = self.head_dim
        q = self.q_proj(x).view(batch, count, self.num_heads, d).transpose(1, 2)
        k = self.k_proj(x).view(batch, count, self.num_kv_heads, d).transpose(1, 2)
        v = self.v_proj(x).view(batch, count, self.num_kv_heads, d).transpose(1, 2)
        q_rot = apply_rope(q, *(query_rope or (cos, sin)))
        k_rot = apply_rope(k, cos, sin)
        if cache is None:
            # Training: torch's fused kernel, same mathematics as the explicit path below
            # (decode and prefill keep the explicit ops so a tracer sees score/softmax/value).
            context = F.scaled_dot_product_attention(q_rot, k_rot, v, is_causal=True, enable_gqa=self.groups > 1)
            out = self.o_proj(context.transpose(1, 2).reshape(batch, count, self.num_heads * d))
            return out, q, q_rot, k_rot, None, None
        cache.write(self.layer_idx, start, k_rot, v)
        keys = cache.keys[self.layer_idx][:, :, : start + count]
        values = cache.values[self.layer_idx][:, :, : start + count]
        all_keys, ranges = keys, None
        if attention is not None and count == 1:
            keys, values, ranges = attention.select(self.layer_idx, q_rot, keys, values)
        # Group the query heads that share a kv head: [B, KV, groups*T, d].
        q_grouped = q_rot.reshape(batch, self.num_kv_heads, self.groups * count, d)
        scores = torch.matmul(q_grouped, keys.transpose(-1, -2)) * (1.0 / math.sqrt(d))
        if count > 1:
            total = keys.shape[2]
            query_pos = torch.arange(start, start + count, device=x.device)
            key_pos = torch.arange(total, device=x.device)
            future = (key_pos[None, :] > query_pos[:, None]).repeat(self.groups, 1)
            scores = scores.masked_fill(future, float("-inf"))
        probs = torch.softmax(scores.float(), dim=-1).to(values.dtype)
        context = torch.matmul(probs, values)  # [B, KV, groups*T, d]
        context = context.reshape(batch, self.num_heads, count, d).transpose(1, 2)
        out = self.o_proj(context.reshape(batch, count, self.num_heads * d))
        return out, q, q_rot, all_keys, scores, ranges


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, hidden: int, mlp_hidden: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(hidden, mlp_hidden, bias=False)
        self.up_proj = nn.Linear(hidden, mlp_hidden, bias=False)
        self.down_proj = nn.Linear(mlp_hidden, hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(
        self, hidden: int, num_heads: int, num_kv_heads: int, mlp_hidden: int, norm_eps: float, layer_idx: int
    ) -> None:
        super().__init__()
        self.layer_idx = layer_idx
        self.input_layernorm = RMSNorm(hidden, norm_eps)
        self.self_attn = Attention(hidden, num_heads, num_kv_heads, layer_idx)
        self.post_attention_layernorm = RMSNorm(hidden, norm_eps)
        self.mlp = MLP(hidden, mlp_hidden)
        self.tas = TemporalAttentionScore(num_heads, num_kv_heads, hidden // num_heads)

    def dense_mlp(self, h: torch.Tensor) -> torch.Tensor:
        """The MLP branch FastCar may skip: post-attention norm then SwiGLU."""
        return self.mlp(self.post_attention_layernorm(h))

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: KVCache | None = None,
        start: int = 0,
        replay=None,
        attention=None,
        query_rope: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """x [B, T, hidden] -> [B, T, hidden]; `replay` is a FastCar run, `attention` a sparse-attention run,
        `query_rope` the queries' own cos/sin tables (see Attention.forward)."""
        attn_out, q_pre, q_rot, keys, scores, ranges = self.self_attn(
            self.input_layernorm(x), cos, sin, cache, start, attention, query_rope
        )
        h = x + attn_out
        if replay is None:
            return h + self.dense_mlp(h)
        return h + replay.mlp_output(self, h, start, q_pre, q_rot, keys, scores, ranges)


class DepthTransformer(nn.Module):
    """Turns one LLM hidden state into D residual codes, and D codes into the next input.

    RQ-Transformer style: slot 0 holds the projected LLM state, slot d the cumulative sum
    of the first d code embeddings; a small causal transformer over the slots predicts
    code d from slot d-1. The next LLM input is `in_proj` of the sum of the D code
    embeddings. (VILA-U's own depth transformer is not public in what we read; its
    geometry is an estimate, see models/config.py.)
    """

    def __init__(self, depth: DepthConfig, llm_hidden: int, norm_eps: float) -> None:
        super().__init__()
        self.config = depth
        self.code_embed = nn.Embedding(depth.codebook_size, depth.hidden)
        self.in_proj = nn.Linear(depth.hidden, llm_hidden, bias=False)
        self.context_proj = nn.Linear(llm_hidden, depth.hidden, bias=False)
        self.rotary_emb = RotaryEmbedding(depth.head_dim, 10000.0)
        self.layers = nn.ModuleList(
            DecoderLayer(depth.hidden, depth.num_heads, depth.num_heads, depth.mlp_hidden, norm_eps, i)
            for i in range(depth.num_layers)
        )
        self.norm = RMSNorm(depth.hidden, norm_eps)
        self.head = nn.Linear(depth.hidden, depth.codebook_size, bias=False)

    def embed(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [..., D] -> LLM input [..., llm_hidden]."""
        return self.in_proj(self.code_embed(codes).sum(dim=-2))

    def forward(self, state: torch.Tensor, pick: Pick) -> torch.Tensor:
        """LLM hidden state [B, llm_hidden] -> codes [B, D], one slot at a time with a small KV cache."""
        depth = self.config
        batch = state.shape[0]
        cache = KVCache(
            depth.num_layers,
            batch,
            depth.num_heads,
            depth.codes_per_position,
            depth.head_dim,
            device=state.device,
            dtype=state.dtype,
        )
        x = self.context_proj(state).unsqueeze(1)  # slot 0: [B, 1, dh]
        running = None
        codes = []
        for slot in range(depth.codes_per_position):
            cos, sin = self.rotary_emb(slot, 1, x.dtype, x.device)
            for layer in self.layers:
                x = layer(x, cos, sin, cache, slot)
            cache.advance(1)
            code = pick(self.head(self.norm(x[:, 0])))
            codes.append(code)
            embedded = self.code_embed(code)
            running = embedded if running is None else running + embedded
            x = running.unsqueeze(1)  # slot d + 1: sum of the first d + 1 code embeddings
        return torch.stack(codes, dim=-1)


@torch.no_grad()
def initialise(module: nn.Module) -> None:
    """Random weights as Hugging Face LLaMA draws them: Normal(0, 0.02) for linear and
    embedding weights, ones for norms."""
    for sub in module.modules():
        if isinstance(sub, (nn.Linear, nn.Embedding)):
            sub.weight.normal_(0.0, 0.02)
        elif isinstance(sub, RMSNorm):
            sub.weight.fill_(1.0)


class VideoTransformer(nn.Module):
    """The AR video decoder built from a `ModelConfig`.

    Without a depth transformer a position is one code whose id is also its vocabulary
    id; with one (VILA-U) a position is D codes embedded through `depth`.
    """

    def __init__(
        self, config: ModelConfig, *, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
    ) -> None:
        super().__init__()
        self.config = config
        with torch.device(device or "cpu"):
            self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden)
            self.layers = nn.ModuleList(
                DecoderLayer(
                    config.hidden, config.num_heads, config.num_kv_heads, config.mlp_hidden, config.norm_eps, i
                )
                for i in range(config.num_layers)
            )
            self.norm = RMSNorm(config.hidden, config.norm_eps)
            self.lm_head = nn.Linear(config.hidden, config.vocab_size, bias=False)
            self.rotary_emb: VideoRotaryEmbedding | RotaryEmbedding
            if config.rope_layout == "frame-row-col":
                self.rotary_emb = VideoRotaryEmbedding(
                    config.head_dim, config.rope_theta, config.frame_rows, config.frame_cols
                )
            else:
                self.rotary_emb = RotaryEmbedding(config.head_dim, config.rope_theta)
            self.depth = DepthTransformer(config.depth, config.hidden, config.norm_eps) if config.depth else None
            self._init_weights()
        self.to(dtype)

    def _init_weights(self) -> None:
        initialise(self)

    # -- embeddings and heads ------------------------------------------------------------
    def embed_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes [B, T, D] of video positions -> inputs [B, T, hidden]."""
        if self.depth is not None:
            return self.depth.embed(codes)
        return self.embed_tokens(codes[..., 0])

    def predict_codes(self, hidden: torch.Tensor, pick: Pick = greedy_pick) -> torch.Tensor:
        """Final hidden state [B, hidden] -> codes [B, D] of the next position.

        With a depth transformer the text `lm_head` is still evaluated first, as the
        reference code does every step, and its logits are discarded.
        """
        normed = self.norm(hidden)
        logits = self.lm_head(normed)
        if self.depth is not None:
            return self.depth(normed, pick)
        return pick(logits[:, : self.config.codebook_size]).unsqueeze(-1)

    # -- running the decoder -------------------------------------------------------------
    def _layers(self, x: torch.Tensor, cache: KVCache | None, start: int, replay=None, attention=None) -> torch.Tensor:
        """Every decoder layer on inputs x [B, T, hidden] at positions start..start+T-1.

        With `rope_queries_at_target` the query of position p is rotated as position p + 1, the
        token it predicts (keys stay at their own positions): copying "the same cell one frame
        earlier" is then one relative rotation for every target. Otherwise, with the frame-row-col
        layout, the first cell of a row is predicted by the query of the previous row's last cell,
        an offset of one row and -15 columns that only 1 target in 16 uses; the toy model trained
        that way got most of its copy errors there (docs/toyworld.md)."""
        count = x.shape[1]
        shift = 1 if self.config.rope_queries_at_target else 0
        cos, sin = self.rotary_emb(start, count + shift, x.dtype, x.device)
        query_rope = (cos[shift:], sin[shift:]) if shift else None
        if shift:
            cos, sin = cos[:count], sin[:count]
        for layer in self.layers:
            x = layer(x, cos, sin, cache, start, replay, attention, query_rope)
        if cache is not None:
            cache.advance(x.shape[1])
        return x

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Training path: token ids [B, T] -> logits [B, T, vocab], causal, no cache."""
        return self.lm_head(self.norm(self._layers(self.embed_tokens(tokens), None, 0)))

    def prefill(self, embeds: torch.Tensor, cache: KVCache, replay=None) -> torch.Tensor:
        """Run the prompt embeds [B, T, hidden] into `cache`; returns final hidden [B, T, hidden].

        Prefill is always dense; with `replay` (a FastCar run) the MLP outputs of the video
        positions it covers are written to the replay ring.
        """
        return self._layers(embeds, cache, cache.length, replay)

    def decode_step(self, embeds: torch.Tensor, cache: KVCache, replay=None, attention=None) -> torch.Tensor:
        """One token per row, embeds [B, 1, hidden] -> final hidden [B, 1, hidden]."""
        return self._layers(embeds, cache, cache.length, replay, attention)

    def step(
        self, codes: torch.Tensor, cache: KVCache, replay=None, attention=None, pick: Pick = greedy_pick
    ) -> torch.Tensor:
        """The decode step: codes [B, D] of the current position -> codes [B, D] of the next."""
        hidden = self.decode_step(self.embed_codes(codes.unsqueeze(1)), cache, replay, attention)
        return self.predict_codes(hidden[:, 0], pick)

    def new_cache(self, batch: int, max_len: int) -> KVCache:
        """A KV cache on this model's device and dtype."""
        weight = self.embed_tokens.weight
        return KVCache.for_model(self.config, batch, max_len, device=weight.device, dtype=weight.dtype)
