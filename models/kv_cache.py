"""Preallocated, bounded key/value cache for one decoding run.

One tensor per layer of shape [batch, kv_heads, max_len, head_dim] for keys and one for
values, allocated once: decode steps write in place and never grow a list, so memory is
known up front (as on the accelerator) and the cache also works on the meta device.
"""

from __future__ import annotations

import torch


class KVCache:
    """Keys (after RoPE) and values of every layer; `length` entries are valid."""

    def __init__(
        self,
        num_layers: int,
        batch: int,
        num_kv_heads: int,
        max_len: int,
        head_dim: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        shape = (batch, num_kv_heads, max_len, head_dim)
        self.keys = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(num_layers)]
        self.values = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(num_layers)]
        self.max_len = max_len
        self.length = 0

    @classmethod
    def for_model(cls, config, batch: int, max_len: int, *, device=None, dtype=torch.float32) -> KVCache:
        """A cache sized for `config` (a `ModelConfig`)."""
        return cls(config.num_layers, batch, config.num_kv_heads, max_len, config.head_dim, device=device, dtype=dtype)

    def write(self, layer: int, start: int, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Store keys/values [batch, kv_heads, T, head_dim] at positions start..start+T-1."""
        stop = start + keys.shape[2]
        if stop > self.max_len:
            raise ValueError(f"KV cache holds {self.max_len} positions; writing up to {stop}")
        self.keys[layer][:, :, start:stop] = keys
        self.values[layer][:, :, start:stop] = values

    def advance(self, count: int) -> None:
        """Mark `count` more positions valid (after every layer has written them)."""
        if self.length + count > self.max_len:
            raise ValueError(f"KV cache holds {self.max_len} positions; advancing to {self.length + count}")
        self.length += count
