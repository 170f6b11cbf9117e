"""Rotary position embedding over (frame, row, column) instead of the flat sequence index.

LLaMA (and VILA-U's language model) rotate queries and keys by the token's index in the
sequence, so "the same spatial position one frame earlier" is a fixed offset of one frame
of tokens (256 here) and "one patch to the left in the previous frame" is another
offset, 255. A tiny model has to learn each such distance from scratch. Splitting the
rotary frequencies into three bands, rotated by the frame, the row and the column of the
position (a factorised 3-D RoPE, as several video transformers use), makes "previous
frame" one rotation in the frame band and a motion by one patch one rotation in the
row or column band, whatever the position. That is the structure of this toy world, and
the toy model learns it in far fewer steps.

The attention arithmetic is unchanged - queries and keys are still multiplied by cos/sin
tables in the half-split layout of `models.transformer.apply_rope` - so the compute graph,
the KV cache and FastCar's TAS (query after RoPE against the key of position p - F) work
as with the 1-D tables. Token layout (FACTS.md section 1): one class token at index 0, at
(frame 0, row 0, col 0), then frame f >= 1 in raster order.
"""

from __future__ import annotations

import torch
from torch import nn

PREFIX_TOKENS = 1  # the class (or null) token before frame 1


class VideoRotaryEmbedding(nn.Module):
    """cos/sin tables [count, head_dim] of the sequence indices start..start+count-1.

    Of the head_dim / 2 rotation frequencies, a quarter turn with the frame index and the
    rest, split evenly, with the row and the column; each band spans
    theta^(-k / band size), k = 0.., so every band has one fast and several slow rates.
    """

    def __init__(self, head_dim: int, theta: float, frame_rows: int, frame_cols: int) -> None:
        super().__init__()
        slots = head_dim // 2
        frame_slots = max(1, slots // 4)
        row_slots = (slots - frame_slots) // 2
        col_slots = slots - frame_slots - row_slots
        if min(row_slots, col_slots) < 1:
            raise ValueError(f"head_dim {head_dim} too small for a 3-D rotary embedding (needs >= 6)")
        self.bands = (frame_slots, row_slots, col_slots)
        self.theta = theta
        self.frame_rows, self.frame_cols = frame_rows, frame_cols

    def positions(self, start: int, count: int, device: torch.device | None = None) -> torch.Tensor:
        """(frame, row, col) of the sequence indices start.., long [count, 3]."""
        index = torch.arange(start, start + count, device=device)
        video = (index - PREFIX_TOKENS).clamp(min=0)
        per_frame = self.frame_rows * self.frame_cols
        frame = torch.where(index >= PREFIX_TOKENS, 1 + video // per_frame, 0)
        row = torch.where(index >= PREFIX_TOKENS, (video % per_frame) // self.frame_cols, 0)
        col = torch.where(index >= PREFIX_TOKENS, video % self.frame_cols, 0)
        return torch.stack((frame, row, col), dim=1)

    def forward(
        self, start: int, count: int, dtype: torch.dtype, device: torch.device | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        where = self.positions(start, count, device).to(torch.float32)
        freqs = []
        for axis, slots in enumerate(self.bands):
            exponents = torch.arange(0, -slots, -1, dtype=torch.float32, device=device) / slots  # -k / slots
            rates = self.theta**exponents
            freqs.append(torch.outer(where[:, axis], rates))
        angles = torch.cat(freqs, dim=1)
        angles = torch.cat((angles, angles), dim=-1)
        return angles.cos().to(dtype), angles.sin().to(dtype)
