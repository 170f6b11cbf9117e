"""Does a workload fit a design? Model weights, KV cache and replay cache vs DRAM; op working sets vs buffers.

`cosim validate` checks a design against its device alone; these checks need the workload
too: a 7B model's int8 weights (7 GB) cannot live in a 4 GB board's DRAM, however fast the
engines are. One function, `check_workload_fit`, serves `cosim validate --model`,
`cosim simulate`, `cosim run` (through `cosim.analysis.comparison.simulate_runs`) and sweeps
(an infeasible point is recorded as invalid with the reason).

Footprint in the design's DRAM, at the design's precisions:

- weights: every distinct module's parameters once (the graph counts a module's reads per
  step, so a module run several times in one step, e.g. the depth transformer's head, is
  counted once), plus the token-embedding table (``vocab_size x hidden``), of which decode
  reads one row per step but all of which is stored;
- KV cache: KV entries written per step and row x the longest KV length x batch rows; with
  a KV budget (`models.decoding.kv_budget`) the resident entries are at most the budget, and
  the footprint says whether they would fit the design's kv_cache buffers (the simulator
  still streams them from DRAM);
- replay cache (FastCar with ``replay_cache: dram``): one frame of MLP outputs per layer and
  row (``layers x tokens_per_frame x hidden``); with ``replay_cache: buffer`` it must fit the
  replay-cache buffers instead (an error, since the simulator has nowhere to spill it).

Per op, the activation working set (inputs and outputs of all rows at the longest KV length)
against the buffer group it uses: what does not fit goes through DRAM in the simulator, so
this is a warning naming the largest such op, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from cosim.artifacts.graph import node_cost
from cosim.common.errors import UserError
from cosim.hw.schema import Design

GIB = 2**30
ATTENTION_CORE_KINDS = ("attention_score", "softmax", "attention_value")  # ops whose outputs the scores buffer holds


@dataclass(frozen=True)
class WorkloadFit:
    """Footprint of a workload on a design, and what does not fit (errors) or spills (warnings)."""

    model: str
    batch_rows: int
    kv_len: int
    weight_bytes: int
    kv_cache_bytes: int
    replay_cache_bytes: int
    dram_capacity_bytes: int
    kv_buffer_bytes: int = 0
    kv_budget: int | None = None  # resident KV entries at most (None: every entry stays)
    errors: list[UserError] = field(default_factory=list)
    warnings: list[UserError] = field(default_factory=list)

    @property
    def dram_bytes(self) -> int:
        """Bytes the workload keeps in the design's DRAM."""
        return self.weight_bytes + self.kv_cache_bytes + self.replay_cache_bytes

    @property
    def ok(self) -> bool:
        return not self.errors

    def render_text(self) -> str:
        """The footprint lines `cosim validate --model` prints."""
        used = self.dram_bytes / self.dram_capacity_bytes if self.dram_capacity_bytes else float("inf")
        return (
            f"workload {self.model}: {self.batch_rows} row(s), KV length {self.kv_len}\n"
            f"  weights {self.weight_bytes / 1e9:.2f} GB + KV cache {self.kv_cache_bytes / 1e9:.2f} GB"
            f" + replay cache {self.replay_cache_bytes / 1e9:.3f} GB = {self.dram_bytes / 1e9:.2f} GB"
            f" of {self.dram_capacity_bytes / 1e9:.2f} GB DRAM ({used:.1%})\n" + self.kv_residence_text()
        )

    def kv_residence_text(self) -> str:
        """With a KV budget: the bounded KV cache against the kv_cache buffers (empty without one)."""
        if self.kv_budget is None:
            return ""
        where = "fits" if self.kv_cache_bytes <= self.kv_buffer_bytes else "exceeds"
        return (
            f"  KV budget {self.kv_budget} entries per layer and kv head: KV cache {self.kv_cache_bytes} bytes "
            f"{where} the kv_cache buffers ({self.kv_buffer_bytes} bytes)\n"
        )


def stored_weight_elems(graph: nx.DiGraph) -> int:
    """Parameters the model stores: each module once, plus the whole token-embedding table."""
    per_module: dict[str, int] = {}
    for _, attrs in graph.nodes(data=True):
        module = str(attrs["module"]).split("#")[0]
        per_module[module] = max(per_module.get(module, 0), int(attrs["weight_elems"]))
    table = int(graph.graph.get("vocab_size", 0)) * int(graph.graph["hidden"])
    return sum(per_module.values()) + table


def check_workload_fit(
    graph: nx.DiGraph, design: Design, *, kv_len: int, batch_rows: int, kv_budget: int | None = None
) -> WorkloadFit:
    """Footprint of decoding `graph` for `batch_rows` rows up to KV length `kv_len` on `design`,
    keeping at most `kv_budget` KV entries per layer and kv head when given."""
    source = design.source.path
    rows = batch_rows
    if kv_budget is not None:
        kv_len = min(kv_len, kv_budget)
    weight_bytes = _nbytes(stored_weight_elems(graph), design.bytes_per_element("weights"))
    kv_write = sum(int(a["kv_write_elems"]) for _, a in graph.nodes(data=True))
    kv_bytes = _nbytes(kv_write * kv_len * rows, design.bytes_per_element("kv_cache"))
    replay_elems = int(graph.graph["num_layers"]) * int(graph.graph["tokens_per_frame"]) * int(graph.graph["hidden"])
    replay_bytes = _nbytes(replay_elems * rows, design.bytes_per_element("activations"))
    memory = design.memory_spec
    capacity = int(memory.capacity_gib * GIB)  # the whole memory: a design may keep data on channels it streams less
    fit = WorkloadFit(
        model=str(graph.graph.get("model", "?")),
        batch_rows=rows,
        kv_len=kv_len,
        weight_bytes=weight_bytes,
        kv_cache_bytes=kv_bytes,
        replay_cache_bytes=replay_bytes if design.replay_cache == "dram" else 0,
        dram_capacity_bytes=capacity,
        kv_buffer_bytes=design.buffer_bytes("kv_cache"),
        kv_budget=kv_budget,
    )
    if fit.dram_bytes > capacity:
        fit.errors.append(
            UserError(
                source,
                "dram.memory",
                f"a DRAM that holds {fit.model} ({design.precision.weights} weights {weight_bytes / 1e9:.2f} GB + "
                f"{design.precision.kv_cache} KV cache {kv_bytes / 1e9:.2f} GB + replay cache "
                f"{fit.replay_cache_bytes / 1e9:.3f} GB = {fit.dram_bytes / 1e9:.2f} GB)",
                f"DRAM capacity {memory.capacity_gib:g} GiB ({capacity / 1e9:.2f} GB) "
                f"of {memory.kind} on {design.device}",
                found_is_text=True,
            )
        )
    if design.replay_cache == "buffer":
        held = design.buffer_bytes("replay_cache")
        if replay_bytes > held:
            fit.errors.append(
                UserError(
                    source,
                    "replay_cache",
                    f"replay-cache buffers of at least {replay_bytes} bytes ({fit.model}: one frame of MLP outputs)",
                    f"{held} bytes",
                    found_is_text=True,
                )
            )
    spill = _largest_spill(graph, design, kv_len, rows)
    if spill is not None:
        fit.warnings.append(spill)
    return fit


def _largest_spill(graph: nx.DiGraph, design: Design, kv_len: int, rows: int) -> UserError | None:
    """Warning for the op whose activation working set exceeds its buffer group the most, if any."""
    act_bytes = design.bytes_per_element("activations")
    worst: tuple[int, str, str, int] | None = None
    for _, attrs in graph.nodes(data=True):
        in_core = attrs["kind"] in ATTENTION_CORE_KINDS
        purpose = "scores" if in_core and design.buffers_for("scores") else "activations"
        working = _nbytes(
            (node_cost(attrs, "act_read_elems", kv_len) + node_cost(attrs, "act_write_elems", kv_len)) * rows, act_bytes
        )
        capacity = design.buffer_bytes(purpose)
        excess = working - capacity
        if excess > 0 and (worst is None or excess > worst[0]):
            worst = (excess, str(attrs["module"]), purpose, capacity)
    if worst is None:
        return None
    excess, module, purpose, capacity = worst
    return UserError(
        design.source.path,
        "buffers",
        f"{purpose} buffers that hold the working set of {module} at KV length {kv_len} "
        f"({capacity + excess} bytes; {excess} bytes per step go through DRAM)",
        f"{capacity} bytes",
        found_is_text=True,
    )


def _nbytes(elems: int, bytes_per_elem: float) -> int:
    return int(-(-elems * bytes_per_elem // 1))
