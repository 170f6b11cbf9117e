"""Choosing the next code from logits: greedy, temperature, top-k, top-p, with a seeded
generator (so a run is repeatable) and classifier-free guidance across batch rows."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cosim.common.errors import UserError


@dataclass(frozen=True)
class Sampling:
    """temperature 0 means greedy (argmax); top_k / top_p restrict the candidates first."""

    temperature: float = 0.0
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise UserError(None, "sampling.temperature", "a value >= 0 (0 = greedy)", self.temperature)
        if self.top_k is not None and self.top_k < 1:
            raise UserError(None, "sampling.top_k", "an integer >= 1", self.top_k)
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise UserError(None, "sampling.top_p", "a value in (0, 1]", self.top_p)

    def sample(self, logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """logits [B, V] -> one id per row, long [B]."""
        if self.temperature == 0:
            return logits.argmax(dim=-1)
        logits = logits.float() / self.temperature
        if self.top_k is not None and self.top_k < logits.shape[-1]:
            kth = torch.topk(logits, self.top_k, dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if self.top_p is not None and self.top_p < 1:
            ordered, order = torch.sort(logits, dim=-1, descending=True)
            probs = torch.softmax(ordered, dim=-1)
            mass_before = probs.cumsum(dim=-1) - probs
            # Keep the smallest prefix whose mass reaches top_p (the first id always stays).
            drop = mass_before >= self.top_p
            logits = logits.scatter(-1, order, ordered.masked_fill(drop, float("-inf")))
        probs = torch.softmax(logits, dim=-1)
        return torch.multinomial(probs, 1, generator=generator)[:, 0]


def guided(logits: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance: rows [conditional, unconditional] -> u + scale * (c - u), shape [1, V]."""
    conditional, unconditional = logits[0:1].float(), logits[1:2].float()
    return unconditional + scale * (conditional - unconditional)


def make_pick(sampling: Sampling, generator: torch.Generator | None, cfg_scale: float | None):
    """A pick function for `VideoTransformer.step`: one shared choice for all rows.

    Without CFG (`cfg_scale` None) the rows are independent videos; with CFG the two
    rows are the conditional and unconditional copies of one video and get the same code.
    """
    if cfg_scale is None:
        return lambda logits: sampling.sample(logits, generator)

    def pick(logits: torch.Tensor) -> torch.Tensor:
        return sampling.sample(guided(logits, cfg_scale), generator).expand(logits.shape[0])

    return pick
