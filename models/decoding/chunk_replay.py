"""FlowCache's chunkwise rule applied to FastCar: per-chunk thresholds on an accumulated change.

FlowCache (FACTS.md section 2) keeps one accumulator per chunk of the video, adds the
relative L1 change of the chunk's input features at every denoising step, reuses the
chunk's cached residual while the sum stays below a threshold delta, and recomputes (and
resets the sum) otherwise. For FastCar the steps are frames and the cached residual is
the MLP output in the replay ring. For layer l, batch row b and position s of the frame,
with h the MLP input (the residual stream after attention):

    x = |h_f(s) - h_{f-1}(s)|_1 / |h_{f-1}(s)|_1,    A_l,b(s) <- A_l,b(s) + x

and the layer replays iff A < delta_l,c, where c is the chunk holding s: the frame is
cut into `chunks` bands of whole rows (1: one chunk per frame). Computing the MLP resets
A to 0, so a position replays only while the change accumulated since its last
computation stays small, and each chunk has its own thresholds. FastCar's TAS rule
instead compares one frame's query-key similarity with one threshold per layer.

`FastCarRun` asks this object for the per-row decision values; it logs them in the
trace's ``tas`` array as ``-A`` (so that, as for TAS, a value above the logged threshold
``-delta`` replays).
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Sequence

import torch

from cosim.common.errors import UserError

REPLAY_RULES = ("tas", "accumulated")


def chunk_of_slots(frame_rows: int, frame_cols: int, chunks: int) -> list[int]:
    """The chunk of every position of a frame: `chunks` bands of rows, as even as possible."""
    if not 1 <= chunks <= frame_rows:
        raise UserError(None, "chunks", f"an integer in [1, {frame_rows}] (bands of frame rows)", chunks)
    return [row * chunks // frame_rows for row in range(frame_rows) for _ in range(frame_cols)]


def check_deltas(deltas: Sequence[Sequence[float]], num_layers: int, chunks: int) -> tuple[tuple[float, ...], ...]:
    """Per-layer, per-chunk thresholds as a tuple of tuples (a user error on the wrong shape)."""
    table = tuple(tuple(float(d) for d in layer) for layer in deltas)
    if len(table) != num_layers or any(len(layer) != chunks for layer in table):
        raise UserError(None, "chunk_deltas", f"{num_layers} layers x {chunks} chunks of thresholds", len(table))
    return table


class AccumulatedChange:
    """The accumulators and the previous frame's MLP inputs of one decoding run."""

    def __init__(
        self,
        deltas: tuple[tuple[float, ...], ...],
        config,
        batch: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.chunks = len(deltas[0])
        self.chunk_of_slot = chunk_of_slots(config.frame_rows, config.frame_cols, self.chunks)
        self.deltas = deltas
        frame_tokens = config.tokens_per_frame
        self.inputs = torch.zeros(config.num_layers, batch, frame_tokens, config.hidden, device=device, dtype=dtype)
        # The sums live on the host, float32 [layer][slot * batch + row]: the decision is
        # taken there anyway, and a float32 sum of two float32 numbers rounded from float64
        # is the float32 sum, so this gives the values a tensor would, without tensor ops
        # per layer and step.
        self.batch = batch
        self.accumulated = [array("f", bytes(4 * batch * frame_tokens)) for _ in range(config.num_layers)]
        self._pending: array | None = None

    def store_inputs(self, layer: int, video_pos: int, h: torch.Tensor) -> None:
        """Keep the MLP inputs h [B, T, hidden] of video positions video_pos.. (prefill)."""
        frame_tokens = self.inputs.shape[2]
        count = h.shape[1]
        first = max(video_pos, video_pos + count - frame_tokens, 0)
        if first >= video_pos + count:
            return  # prompt tokens only
        positions = torch.arange(first, video_pos + count, device=h.device)
        self.inputs[layer].index_copy_(1, positions % frame_tokens, h[:, positions - video_pos])

    def values(self, layer: int, slot: int, h: torch.Tensor) -> array:
        """Decision values (-A after adding this frame's change) for h [B, 1, hidden] at `slot`."""
        current = h[:, 0]
        previous = self.inputs[layer, :, slot]
        change = (current - previous).abs().sum(dim=-1) / previous.abs().sum(dim=-1).clamp_min(1e-12)
        at = slot * self.batch
        self._pending = array("f", map(operator.add, self.accumulated[layer][at : at + self.batch], change.tolist()))
        previous.copy_(current)
        return array("f", [-value for value in self._pending])

    def threshold(self, layer: int, slot: int) -> float:
        """The logged threshold -delta of the chunk holding `slot`: values above it replay."""
        return -self.deltas[layer][self.chunk_of_slot[slot]]

    def settle(self, layer: int, slot: int, replayed: bytes | bytearray) -> None:
        """After the decision: replayed rows keep the sum, computed rows reset it."""
        assert self._pending is not None  # `values` came first
        at = slot * self.batch
        kept = [value if replay else 0.0 for value, replay in zip(self._pending, replayed, strict=True)]
        self.accumulated[layer][at : at + self.batch] = array("f", kept)
