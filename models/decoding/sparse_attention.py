"""Which KV-cache entries one decode query attends: dense, StreamingLLM, local window,
and block selection in the spirit of DraftAttention (FACTS.md section 2).

A policy only chooses entries; the KV cache always holds every position (so FastCar's
previous-frame key is there whatever the policy). The chosen entries are contiguous
ranges, so the attention reads slices rather than a scattered gather, as an accelerator
would read whole bursts. Each run logs the entries attended per step and layer, which
the simulator turns into attention work and KV traffic.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cosim.common.errors import UserError

Ranges = list[tuple[int, int]]


@dataclass(frozen=True)
class DenseAttention:
    """Every cached entry."""

    name = "dense"

    def ranges(self, query: torch.Tensor, keys: torch.Tensor) -> Ranges:
        return [(0, keys.shape[2])]


@dataclass(frozen=True)
class StreamingAttention:
    """StreamingLLM: the first `sink` entries plus the `window` most recent (current included)."""

    sink: int = 4
    window: int = 256
    name = "streaming"

    def __post_init__(self) -> None:
        _check_positive("attention.sink", self.sink, allow_zero=True)
        _check_positive("attention.window", self.window)

    def ranges(self, query: torch.Tensor, keys: torch.Tensor) -> Ranges:
        count = keys.shape[2]
        recent = max(count - self.window, 0)
        if recent <= self.sink:
            return [(0, count)]
        return [(0, self.sink), (recent, count)]


@dataclass(frozen=True)
class WindowAttention:
    """A local window: the `window` most recent entries, the current one included."""

    window: int = 128
    name = "window"

    def __post_init__(self) -> None:
        _check_positive("attention.window", self.window)

    def ranges(self, query: torch.Tensor, keys: torch.Tensor) -> Ranges:
        count = keys.shape[2]
        return [(max(count - self.window, 0), count)]


@dataclass(frozen=True)
class BlockAttention:
    """Block selection for one query (the decode analogue of DraftAttention's pooled map).

    The cache is cut into blocks of `block_size` entries from position 0; the block that
    holds the current token (possibly partial) is always kept, and of the complete blocks
    before it the `top_k` with the highest q . mean(k) are kept. The score sums over the
    query heads (each with its kv head) and the batch rows, so one selection serves the
    whole layer: the hardware reads one set of blocks.
    """

    block_size: int = 64
    top_k: int = 4
    name = "block"

    def __post_init__(self) -> None:
        _check_positive("attention.block_size", self.block_size)
        _check_positive("attention.top_k", self.top_k, allow_zero=True)

    def ranges(self, query: torch.Tensor, keys: torch.Tensor) -> Ranges:
        count = keys.shape[2]
        complete = (count - 1) // self.block_size  # blocks before the current one
        current = (complete * self.block_size, count)
        if complete <= self.top_k:
            return [(0, count)]
        if keys.device.type == "meta":  # no values: any top_k blocks have the right shapes
            chosen = list(range(self.top_k))
        else:
            batch, kv_heads, _, head_dim = keys.shape
            pooled = (
                keys[:, :, : complete * self.block_size]
                .reshape(batch, kv_heads, complete, self.block_size, head_dim)
                .mean(dim=3)
            )
            grouped = query.reshape(batch, kv_heads, -1, head_dim)  # [B, KV, groups, d]
            scores = torch.einsum("bkgd,bknd->n", grouped, pooled)
            chosen = sorted(torch.topk(scores, self.top_k).indices.tolist())
        return _merge([(b * self.block_size, (b + 1) * self.block_size) for b in chosen] + [current])


def _merge(ranges: Ranges) -> Ranges:
    merged: Ranges = []
    for start, stop in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(stop, merged[-1][1]))
        else:
            merged.append((start, stop))
    return merged


def _check_positive(key: str, value: int, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if not isinstance(value, int) or value < low:
        raise UserError(None, key, f"an integer >= {low}", value)


AttentionPolicy = DenseAttention | StreamingAttention | WindowAttention | BlockAttention
POLICIES = {cls.name: cls for cls in (DenseAttention, StreamingAttention, WindowAttention, BlockAttention)}


def make_policy(name: str, **knobs) -> AttentionPolicy:
    """The policy called `name` with its knobs (unknown names or knobs are user errors)."""
    if name not in POLICIES:
        raise UserError(None, "attention", f"one of {', '.join(POLICIES)}", name)
    cls = POLICIES[name]
    allowed = set(cls.__dataclass_fields__)
    for key in knobs:
        if key not in allowed:
            raise UserError(None, f"attention.{key}", f"a knob of {name} ({', '.join(sorted(allowed)) or 'none'})", key)
    return cls(**knobs)


def describe(policy: AttentionPolicy) -> dict:
    """The policy as plain data (for trace metadata)."""
    return {"policy": policy.name, **{k: getattr(policy, k) for k in policy.__dataclass_fields__}}


class AttentionRun:
    """Applies a policy in every layer's decode attention and logs the entries attended.

    The decode loop sets `step` before each decode step; `attended[step, layer]` counts
    the KV entries that layer read.
    """

    def __init__(self, policy: AttentionPolicy, num_layers: int, max_steps: int) -> None:
        self.policy = policy
        self.attended = torch.zeros(max_steps, num_layers, dtype=torch.int32)
        self.step = 0

    def select(
        self, layer: int, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, Ranges]:
        """Keys/values [B, KV, n, d] -> the attended entries and their ranges, for query [B, H, 1, d]."""
        ranges = self.policy.ranges(query, keys)
        self.attended[self.step, layer] = sum(stop - start for start, stop in ranges)
        if len(ranges) == 1:
            start, stop = ranges[0]
            return keys[:, :, start:stop], values[:, :, start:stop], ranges
        return (
            torch.cat([keys[:, :, a:b] for a, b in ranges], dim=2),
            torch.cat([values[:, :, a:b] for a, b in ranges], dim=2),
            ranges,
        )


def position_in(ranges: Ranges, position: int) -> int | None:
    """Index of cache `position` among the entries `ranges` select (in order), None if dropped."""
    offset = 0
    for start, stop in ranges:
        if start <= position < stop:
            return offset + position - start
        offset += stop - start
    return None
