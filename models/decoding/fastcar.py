"""FastCar: cache attentive replay of MLP outputs across frames (FACTS.md section 1).

For layer l and the token at sequence position p the Temporal Attention Score is

    TAS_l(p) = mean over heads h of <q_h(p), k_h(p - F)> / sqrt(head_dim)

with F the tokens per frame, so k_h(p - F) is this layer's cached key of the same spatial
position one frame earlier (for GQA, the kv head that query head h reads). When
TAS_l(p) > tau_l (strictly) the layer skips its post-attention norm and MLP and adds the
MLP output it used for position p - F instead. Attention and the KV cache always run in
full, frame 1 is always dense, and the ring keeps the value actually used, so a value
replayed in frame 2 can be replayed again in frame 3.

Unlike the reference code, the skip is real: replayed rows never enter the MLP, and the
ring is a preallocated [layers, rows, F, hidden] tensor that never grows.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import torch
from torch import nn

from cosim.common.errors import UserError
from cosim.common.per_layer import per_layer
from models.decoding.chunk_replay import AccumulatedChange, check_deltas
from models.decoding.sparse_attention import Ranges, position_in

TAS_FORMS = ("rope", "prerope")
ROW_POLICIES = ("each", "all", "any")


class TemporalAttentionScore(nn.Module):
    """TAS of one layer for one token per row, from its query and the previous frame's key.

    A parameter-free module so that a graph tracer sees it as `layers.N.tas`. A decoding
    run on real tensors does not call it whenever the attention has already scored the
    query against the previous frame's key: it then averages those scores
    (`mean_over_heads`). The explicit dot products here serve a dropped key, the pre-RoPE
    form and a trace on the meta device.
    """

    def __init__(self, num_heads: int, num_kv_heads: int, head_dim: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads
        self.head_dim = head_dim

    def forward(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        """query [B, H, 1, d] (one token), key [B, KV, 1, d] (position p - F) -> TAS [B]."""
        batch = query.shape[0]
        grouped = query.reshape(batch, self.num_kv_heads, self.num_heads // self.num_kv_heads, self.head_dim)
        # One dot per query head with its kv head, summed, then / (heads * sqrt(d)): the mean.
        return (grouped * key).sum(dim=(1, 2, 3)) * (1.0 / (self.num_heads * math.sqrt(self.head_dim)))


def mean_over_heads(scores: list, per_head: float) -> array:
    """TAS of B rows from the attention's scaled logits against key p - F, given as nested
    lists [B][KV][groups]: their mean over heads, as float32 on the host (the decision and
    the log then see the same value). Plain Python: for a few heads it costs less than
    one more tensor op."""
    return array("f", [sum(chain.from_iterable(row)) * per_head for row in scores])


def threshold_for_ratio(values: Sequence[float], ratio: float) -> float:
    """A threshold with a fraction `ratio` of `values` strictly above it.

    Midway between the neighbouring samples, so small numeric differences do not move a
    sample across it; +inf for ratio 0 (never replay), -inf for ratio 1 (always).
    """
    ordered = sorted(v for v in values if math.isfinite(v))
    above = round(ratio * len(ordered))
    if above <= 0 or not ordered:
        return float("inf")
    if above >= len(ordered):
        return float("-inf")
    return float((ordered[-above - 1] + ordered[-above]) / 2)


@dataclass(frozen=True)
class FastCarSettings:
    """Per-layer thresholds and the variants of the rule.

    tas_form: "rope" compares the query after RoPE with the cached key (after RoPE), so
    the score depends only on the one-frame offset; "prerope" reproduces the reference
    code, which takes the query before RoPE. row_policy, for several batch rows (CFG):
    "each" row decides for itself; "all" replays only when every row wants to (so the
    hardware can skip reading the MLP weights); "any" replays every row when one wants to.

    adaptive_ratio (our addition, not in the reference): TAS scales differ a lot from one
    video to the next, so fixed thresholds replay at very different rates per video. With
    a ratio r, every frame after the first decoded one re-sets each layer's threshold to
    the one that would have replayed a fraction r of that layer's TAS values (all rows)
    in the previous frame; `thresholds` then only serve the first decoded frame.

    chunk_deltas (per layer, per chunk of the frame): decide by FlowCache's accumulated
    change instead of the TAS (`models.decoding.chunk_replay`); `thresholds` are unused.
    """

    thresholds: tuple[float, ...]
    tas_form: str = "rope"
    row_policy: str = "each"
    adaptive_ratio: float | None = None
    chunk_deltas: tuple[tuple[float, ...], ...] | None = None

    def __post_init__(self) -> None:
        if self.tas_form not in TAS_FORMS:
            raise UserError(None, "tas_form", f"one of {', '.join(TAS_FORMS)}", self.tas_form)
        if self.row_policy not in ROW_POLICIES:
            raise UserError(None, "row_policy", f"one of {', '.join(ROW_POLICIES)}", self.row_policy)
        if self.adaptive_ratio is not None and not 0 <= self.adaptive_ratio <= 1:
            raise UserError(None, "adaptive_ratio", "a fraction in [0, 1]", self.adaptive_ratio)
        object.__setattr__(self, "thresholds", tuple(float(t) for t in self.thresholds))
        if self.chunk_deltas is not None:
            if self.adaptive_ratio is not None:
                raise UserError(None, "adaptive_ratio", "none with per-chunk accumulated-change thresholds", "a ratio")
            deltas = check_deltas(self.chunk_deltas, len(self.thresholds), len(self.chunk_deltas[0]))
            object.__setattr__(self, "chunk_deltas", deltas)

    @classmethod
    def uniform(cls, threshold: float, num_layers: int, **kwargs) -> FastCarSettings:
        return cls(thresholds=(float(threshold),) * num_layers, **kwargs)


class FastCarRun:
    """FastCar state of one decoding run: the replay ring and the per-step log.

    `prefix_len` is the number of prompt tokens before video position 0. The decode loop
    sets `step` before each decode step; while it is None (prefill) every MLP runs and
    only fills the ring. Logs: `tas[step, layer, row]` (NaN where undefined) and
    `replay[step, layer, row]` (the decisions after the row policy). On the meta device
    TAS is traced but nothing is decided or logged.

    The per-layer, per-step work is kept to what the rule needs, because on a small model
    it competes with the MLP time a replay saves: what all layers of a step share (ring
    slot, log offset, frame) is worked out once per step, the TAS is read from the
    attention's scores, the decision is taken on one host copy of it, a computed MLP
    output is copied once into its ring slot and a replayed one is returned as a view of
    that slot.
    """

    def __init__(
        self,
        settings: FastCarSettings,
        config,
        batch: int,
        prefix_len: int,
        max_steps: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.settings = settings
        self.frame_tokens = config.tokens_per_frame
        self.prefix_len = prefix_len
        # Stored [slot, layer, rows, 1, hidden]: a slot of one layer is contiguous and shaped
        # like an MLP output, and the layers of one decode step sit next to each other in
        # memory (the ring is read a frame after it was written, from cold cache lines).
        # `ring` shows it as [layers, rows, F, hidden].
        storage = torch.zeros(self.frame_tokens, config.num_layers, batch, 1, config.hidden, device=device, dtype=dtype)
        self.ring = storage.squeeze(3).permute(1, 2, 0, 3)
        self._slots = [list(storage[slot].unbind(0)) for slot in range(self.frame_tokens)]  # views, made once
        self._thresholds = list(per_layer(settings.thresholds, config.num_layers, "thresholds"))
        # Logs as preallocated flat host buffers [step, layer, row]: the decision needs the
        # values on the host anyway, a slice store costs far less than a tensor write, and
        # unlike lists kept per layer and step they give the garbage collector nothing to
        # walk (which a decode without FastCar would not pay for either).
        self._tas_log = array("f", [math.nan]) * (max_steps * config.num_layers * batch)
        self._replay_log = bytearray(max_steps * config.num_layers * batch)
        self._every_row = b"\x01" * batch
        self._steps, self._layers, self._batch = max_steps, config.num_layers, batch
        # Adaptive thresholds: the thresholds each frame used.
        self._adaptive = settings.adaptive_ratio is not None
        self.frame_thresholds: dict[int, list[float]] = {}
        self._computing_rows: dict[bytes, torch.Tensor] = {}  # per mixed decision
        self._device = storage.device
        self._meta = storage.device.type == "meta"
        self._rope_form = settings.tas_form == "rope"
        self._scores_hold_tas = self._rope_form and not self._meta
        self._per_head = 1.0 / config.num_heads
        self._policy = settings.row_policy
        self.step: int | None = None
        # Set by `_locate` when a step's first layer arrives (see there).
        self._start: int | None = None
        self._located_step: int | None = None
        self._slot: int | None = None
        self._previous, self._log_at = 0, 0
        self._accumulated = (
            None
            if settings.chunk_deltas is None
            else AccumulatedChange(settings.chunk_deltas, config, batch, device=device, dtype=dtype)
        )

    def mlp_output(
        self,
        layer,
        h: torch.Tensor,
        start: int,
        q_pre: torch.Tensor,
        q_rot: torch.Tensor,
        keys: torch.Tensor,
        scores: torch.Tensor,
        ranges: Ranges | None,
    ) -> torch.Tensor:
        """The MLP branch of `layer` for hidden h [B, T, hidden] at positions start.., replayed or computed.

        The other arguments are what `Attention.forward` returns besides its output.
        """
        if start != self._start or self.step != self._located_step:
            self._locate(start, h.shape[1])  # once per decode step, for all layers
        index = layer.layer_idx
        slot = self._slot
        if slot is None:  # prefill, frame 1 or outside a decode step: dense, filling the ring
            out = layer.dense_mlp(h)
            self._store_dense(index, start - self.prefix_len, out)
            if self._accumulated is not None:
                self._accumulated.store_inputs(index, start - self.prefix_len, h)
            return out
        if self._accumulated is not None:  # FlowCache's chunkwise rule instead of the TAS
            changes = self._accumulated.values(index, slot, h)
            out = self._decide(layer, h, changes, self._accumulated.threshold(index, slot), slot)
            at = self._log_at + index * self._batch
            self._accumulated.settle(index, slot, self._replay_log[at : at + self._batch])
            return out
        values: array | None
        if ranges is None and self._scores_hold_tas:  # the attention already scored key p - F
            values = mean_over_heads(scores.select(3, self._previous).tolist(), self._per_head)
        else:
            values = self._tas_from_keys(layer, q_pre, q_rot, keys, scores, ranges)
            if values is None:  # meta device: no values to decide on, trace the dense branch
                return layer.dense_mlp(h)
        return self._decide(layer, h, values, self._thresholds[index], slot)

    def _decide(self, layer, h: torch.Tensor, values: array, threshold: float, slot: int) -> torch.Tensor:
        """Replay the rows whose value is above `threshold` (after the row policy), compute the
        others; log values and decisions."""
        index = layer.layer_idx
        at = self._log_at + index * self._batch
        self._tas_log[at : at + self._batch] = values
        ring_slot = self._slots[slot][index]  # the value used one frame earlier
        lowest, highest = min(values), max(values)  # decide on two numbers, not per row
        if (highest if self._policy == "any" else lowest) > threshold:  # every row replays
            self._replay_log[at : at + self._batch] = self._every_row
            return ring_slot
        if highest <= threshold or self._policy != "each":  # no row replays (the log holds zeros)
            out = layer.dense_mlp(h)
            ring_slot.copy_(out)
            return out
        wants = bytes(value > threshold for value in values)  # "each", rows disagree
        self._replay_log[at : at + self._batch] = wants
        computing = self._computing_rows.get(wants)
        if computing is None:
            computing = torch.tensor([row for row, want in enumerate(wants) if not want], device=self._device)
            self._computing_rows[wants] = computing
        ring_slot.index_copy_(0, computing, layer.dense_mlp(h.index_select(0, computing)))
        return ring_slot

    def _locate(self, start: int, count: int) -> None:
        """What every layer of this step shares: ring slot, key p - F, log offset, and at a
        frame's first step the adaptive thresholds."""
        self._start, self._located_step = start, self.step
        video_pos = start - self.prefix_len
        deciding = self.step is not None and count == 1 and video_pos >= self.frame_tokens
        frame, slot = divmod(video_pos, self.frame_tokens)
        self._slot = slot if deciding else None
        self._previous = start - self.frame_tokens
        self._log_at = (self.step or 0) * self._layers * self._batch
        if deciding and self._adaptive and (slot == 0 or frame not in self.frame_thresholds):
            self._adapt(frame)

    def _tas_from_keys(
        self,
        layer,
        q_pre: torch.Tensor,
        q_rot: torch.Tensor,
        keys: torch.Tensor,
        scores: torch.Tensor,
        ranges: Ranges | None,
    ) -> array | None:
        """TAS when the scores cannot give it: sparse attention (the key may be elsewhere or
        dropped), the pre-RoPE form, or the meta device (None: traced, no values)."""
        column = position_in(ranges, self._previous) if ranges is not None and self._scores_hold_tas else None
        if column is not None:
            return mean_over_heads(scores.select(3, column).tolist(), self._per_head)
        score = layer.tas(q_rot if self._rope_form else q_pre, keys[:, :, self._previous : self._previous + 1])
        return None if self._meta else array("f", score.tolist())

    def _adapt(self, frame: int) -> None:
        """At a frame's first decode step, set every layer's threshold from the previous
        frame's TAS in the log (the one-per-step positions of that frame are the F steps
        before this one); a frame with no decoded frame before it keeps the thresholds."""
        ratio = self.settings.adaptive_ratio
        assert ratio is not None  # `_locate` adapts only when the settings set a ratio
        if self.step >= self.frame_tokens:
            flat = np.frombuffer(self._tas_log, dtype=np.float32)
            previous = flat[
                (self.step - self.frame_tokens) * self._layers * self._batch : self.step * self._layers * self._batch
            ].reshape(self.frame_tokens, self._layers, -1)
            self._thresholds = [
                threshold_for_ratio(previous[:, layer].ravel().tolist(), ratio) for layer in range(self._layers)
            ]
        self.frame_thresholds[frame] = list(self._thresholds)

    @property
    def tas(self) -> torch.Tensor:
        """TAS [steps, layers, rows], float32, NaN where not computed."""
        values = np.frombuffer(self._tas_log, dtype=np.float32).copy()
        return torch.from_numpy(values).reshape(self._steps, self._layers, self._batch)

    @property
    def replay(self) -> torch.Tensor:
        """Replay decisions [steps, layers, rows] after the row policy."""
        decisions = np.frombuffer(self._replay_log, dtype=np.uint8).astype(bool)
        return torch.from_numpy(decisions).reshape(self._steps, self._layers, self._batch)

    def _store_dense(self, index: int, video_pos: int, out: torch.Tensor) -> None:
        """Write MLP outputs [B, T, hidden] of video positions video_pos.. into the ring."""
        count = out.shape[1]
        first = max(video_pos, video_pos + count - self.frame_tokens, 0)
        if first >= video_pos + count:
            return  # prompt tokens only
        positions = torch.arange(first, video_pos + count, device=out.device)
        self.ring[index].index_copy_(1, positions % self.frame_tokens, out[:, positions - video_pos])
