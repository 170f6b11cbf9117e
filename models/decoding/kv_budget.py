"""KV-cache policies with a fixed budget of resident entries per layer and kv head.

`full` keeps every entry (no budget, no object: ``None``). With a budget of N entries:

- ``streaming`` (StreamingLLM): the first `sink` entries plus the N - sink most recent;
  the middle is evicted. It reads whole ranges, so it runs as a `StreamingAttention`.
- ``flowcache`` (FlowCache's KV compression, FACTS.md section 2): the most recent
  ``tokens_per_frame + 1`` entries are protected (the frame being generated, and the key
  one frame back that FastCar's TAS reads, as FlowCache never compresses the chunk being
  generated); the other entries are candidates, and when they outnumber the room left
  the candidates with the lowest score ``lambda * importance - (1 - lambda) * redundancy``
  are evicted, per batch row and kv head. importance: the candidates' attention
  probabilities under the `queries` most recent queries (softmax over the candidates,
  GQA group logits pooled by max), averaged over the queries and max-pooled over
  `kernel` neighbouring entries; redundancy: each candidate key's mean cosine similarity
  to the other candidates, softmax-normalised. This is how FlowCache's code scores
  (kvcompress/kv_compressor.py, utils.py), applied one decode step at a time: a step adds
  one entry, so the cache holds exactly N entries once full and attention reads N.

Evicted entries are never read again (no policy re-admits them), so the attention sees
what a cache of N entries would hold; the torch `KVCache` keeps every position only to
stay a plain preallocated tensor (and for the dense reference run).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cosim.common.errors import UserError
from models.decoding.sparse_attention import AttentionRun, Ranges, StreamingAttention

KV_POLICIES = ("full", "streaming", "flowcache")
PER_HEAD: Ranges = []  # what a per-head selection reports as ranges: no range is shared by all heads


@dataclass(frozen=True)
class KVBudget:
    """A fixed-budget KV policy: `budget` resident entries per layer, row and kv head.

    sink: streaming's attention sinks. mix_lambda, queries, kernel: flowcache's score
    (FlowCache's defaults for lambda and the pooling kernel; 16 recent queries).
    """

    policy: str
    budget: int
    sink: int = 4
    mix_lambda: float = 0.07
    queries: int = 16
    kernel: int = 7

    def __post_init__(self) -> None:
        if self.policy not in KV_POLICIES[1:]:
            raise UserError(None, "kv_policy", f"one of {', '.join(KV_POLICIES[1:])} (with a budget)", self.policy)
        _check_int("kv_budget", self.budget, 1)
        _check_int("kv_policy.sink", self.sink, 0)
        _check_int("kv_policy.queries", self.queries, 1)
        _check_int("kv_policy.kernel", self.kernel, 1)
        if self.kernel % 2 == 0:
            raise UserError(None, "kv_policy.kernel", "an odd integer (a centred pooling window)", self.kernel)
        if not 0.0 <= self.mix_lambda <= 1.0:
            raise UserError(None, "kv_policy.mix_lambda", "a number in [0, 1]", self.mix_lambda)

    def protected(self, tokens_per_frame: int) -> int:
        """Entries never evicted: the sinks (streaming) or the recent window (flowcache)."""
        return self.sink if self.policy == "streaming" else tokens_per_frame + 1

    def minimum_budget(self, tokens_per_frame: int) -> int:
        """The smallest budget that keeps the key one frame back resident (FastCar's TAS reads it)."""
        return tokens_per_frame + 1 + (self.sink if self.policy == "streaming" else 1)

    def check(self, tokens_per_frame: int) -> None:
        """The budget must hold a frame plus the current entry plus room to choose from."""
        low = self.minimum_budget(tokens_per_frame)
        if self.budget < low:
            raise UserError(
                None,
                "kv_budget",
                f"an integer >= {low} ({self.policy}: one frame of {tokens_per_frame} entries, the current one "
                + ("and the sinks)" if self.policy == "streaming" else "and one entry to compress)"),
                self.budget,
            )

    def describe(self) -> dict:
        """The policy as plain data (for trace metadata)."""
        knobs = (
            {"sink": self.sink}
            if self.policy == "streaming"
            else {
                "mix_lambda": self.mix_lambda,
                "queries": self.queries,
                "kernel": self.kernel,
            }
        )
        return {"policy": self.policy, "budget": self.budget, **knobs}

    def run(self, config, max_steps: int) -> AttentionRun | FlowCacheRun:
        """The per-run object that applies the policy in every layer's decode attention."""
        self.check(config.tokens_per_frame)
        if self.policy == "streaming":
            window = StreamingAttention(sink=self.sink, window=self.budget - self.sink)
            return AttentionRun(window, config.num_layers, max_steps)
        return FlowCacheRun(self, config, max_steps)


def flowcache_scores(queries: torch.Tensor, keys: torch.Tensor, mix_lambda: float, kernel: int) -> torch.Tensor:
    """FlowCache's score of each candidate entry, per batch row and kv head.

    queries [B, KV, G, W, d]: the W recent queries of the G query heads that read each kv
    head; keys [B, KV, n, d]: the candidates, in position order. Returns [B, KV, n]:
    ``mix_lambda * importance - (1 - mix_lambda) * redundancy`` (see the module docstring).
    """
    batch, kv_heads, count, head_dim = keys.shape
    logits = torch.einsum("bkgwd,bknd->bkgwn", queries.float(), keys.float()) / math.sqrt(head_dim)
    attention = torch.softmax(logits.amax(dim=2), dim=-1).mean(dim=2)  # [B, KV, n]
    importance = F.max_pool1d(
        attention.reshape(batch * kv_heads, 1, count), kernel_size=kernel, stride=1, padding=kernel // 2
    ).reshape(batch, kv_heads, count)
    unit = keys.float() / (keys.float().norm(dim=-1, keepdim=True) + 1e-8)
    # Mean of cos(k_i, k_j) over j != i as FlowCache computes it: (k_i . sum_j k_j - 1) / n.
    mean_similarity = ((unit * unit.sum(dim=2, keepdim=True)).sum(dim=-1) - 1.0) / count
    redundancy = torch.softmax(mean_similarity, dim=-1)
    return mix_lambda * importance - (1.0 - mix_lambda) * redundancy


@dataclass(frozen=True)
class Resident:
    """The resident candidates of one layer, in position order: their positions [B, KV, c]
    and copies of their keys and values [B, KV, c, d] (contiguous, so scoring and
    attention read them without gathering from the whole cache every step)."""

    positions: torch.Tensor
    keys: torch.Tensor
    values: torch.Tensor

    def keep(self, chosen: torch.Tensor) -> Resident:
        """The candidates at indices chosen [B, KV, k] (sorted within each row and kv head)."""
        batch, kv_heads, count, head_dim = self.keys.shape
        rows = torch.arange(batch * kv_heads, device=chosen.device).view(batch, kv_heads, 1) * count
        flat = (chosen + rows).view(-1)  # whole rows of d values: one index_select, not a gather per element
        shape = (batch, kv_heads, chosen.shape[2])
        return Resident(
            self.positions.view(-1).index_select(0, flat).view(shape),
            self.keys.reshape(-1, head_dim).index_select(0, flat).view(*shape, head_dim),
            self.values.reshape(-1, head_dim).index_select(0, flat).view(*shape, head_dim),
        )


class FlowCacheRun:
    """Applies the flowcache policy in every layer's decode attention (the interface of
    `AttentionRun`: the decode loop sets `step`; `attended[step, layer]` counts the
    entries read, here the resident entries).

    Per layer it keeps the resident candidates (`Resident`) and a ring of the last
    `queries` decode queries [B, H, W, d]. A step adds at most the entry that left the
    recent window and evicts one, so the candidates are updated in place of being
    gathered again from the cache.
    """

    def __init__(self, policy: KVBudget, config, max_steps: int) -> None:
        self.policy = policy
        self.recent = policy.protected(config.tokens_per_frame)
        self.room = policy.budget - self.recent  # resident candidates at most
        self.groups = config.num_heads // config.num_kv_heads
        self.attended = torch.zeros(max_steps, config.num_layers, dtype=torch.int32)
        self.step = 0
        self._resident: list[Resident | None] = [None] * config.num_layers
        self._boundary = [0] * config.num_layers  # positions below it have left the recent window
        self._queries: list[torch.Tensor | None] = [None] * config.num_layers
        self._seen = [0] * config.num_layers

    @property
    def _candidates(self) -> list[torch.Tensor | None]:
        """Positions [B, KV, c] of each layer's resident candidates (None before its first step)."""
        return [None if resident is None else resident.positions for resident in self._resident]

    def select(
        self, layer: int, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, Ranges]:
        """Keys/values [B, KV, n, d] of every position -> the resident ones, for query [B, H, 1, d].

        The ranges are `PER_HEAD`: heads keep different entries (FastCar then reads the key
        one frame back explicitly; it is resident, in the protected window).
        """
        self._remember(layer, query)
        count = keys.shape[2]
        window_start = max(count - self.recent, 0)
        resident = self._admit(layer, keys, values, window_start)
        if resident.positions.shape[2] > self.room:
            resident = self._evict(layer, resident)
        self._resident[layer] = resident
        kept_keys = torch.cat((resident.keys, keys[:, :, window_start:]), dim=2)
        kept_values = torch.cat((resident.values, values[:, :, window_start:]), dim=2)
        self.attended[self.step, layer] = kept_keys.shape[2]
        return kept_keys, kept_values, PER_HEAD

    def _remember(self, layer: int, query: torch.Tensor) -> None:
        """Put this step's query [B, H, 1, d] in the layer's ring of recent queries."""
        ring = self._queries[layer]
        if ring is None:
            batch, heads, _, head_dim = query.shape
            ring = query.new_zeros(batch, heads, self.policy.queries, head_dim)
            self._queries[layer] = ring
        ring[:, :, self._seen[layer] % self.policy.queries] = query[:, :, 0]
        self._seen[layer] += 1

    def _admit(self, layer: int, keys: torch.Tensor, values: torch.Tensor, window_start: int) -> Resident:
        """The candidates after the entries that left the recent window joined them."""
        batch, kv_heads, _, head_dim = keys.shape
        held = self._resident[layer]
        if held is None:
            empty = keys.new_empty(batch, kv_heads, 0, head_dim)
            held = Resident(torch.empty(batch, kv_heads, 0, dtype=torch.long, device=keys.device), empty, empty)
        first = self._boundary[layer]
        if first == window_start:
            return held
        self._boundary[layer] = window_start
        joining = torch.arange(first, window_start, device=keys.device).expand(batch, kv_heads, -1)
        return Resident(
            torch.cat((held.positions, joining), dim=2),
            torch.cat((held.keys, keys[:, :, first:window_start]), dim=2),
            torch.cat((held.values, values[:, :, first:window_start]), dim=2),
        )

    def _evict(self, layer: int, resident: Resident) -> Resident:
        """Keep the `room` best-scoring candidates of each row and kv head (in position order)."""
        ring = self._queries[layer]
        assert ring is not None  # `select` remembers the query first
        batch, heads, _, head_dim = ring.shape
        recent = ring[:, :, : min(self._seen[layer], self.policy.queries)]
        grouped = recent.reshape(batch, heads // self.groups, self.groups, recent.shape[2], head_dim)
        scores = flowcache_scores(grouped, resident.keys, self.policy.mix_lambda, self.policy.kernel)
        return resident.keep(scores.topk(self.room, dim=-1).indices.sort(dim=-1).values)


def _check_int(key: str, value: int, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UserError(None, key, f"an integer >= {low}", value)
