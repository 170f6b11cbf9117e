"""A decode with a KV budget: the simulator charges the bounded KV reads (a hand count) and
streams the TAS key with the attention (it stays resident); full KV charges every entry."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from cosim.sim.segments import TAS_FROM_STREAM, TAS_READS_KEY
from cosim.sim.simulator import simulate
from cosim.sim.workload import Workload
from models.decoding.decode import decode_video
from models.decoding.kv_budget import KVBudget
from models.tracing.graph_trace import trace_model
from simulator_graphs import tiny_design
from tiny_models import tiny_config, tiny_model

torch.set_num_threads(1)
BUDGET = 20


def test_simulated_kv_reads_are_bounded_by_the_budget():
    config = tiny_config()  # 2 layers, 2 kv heads of 8 dims, 4 x 4 frames
    first = np.random.default_rng(0).integers(0, 256, (4, 4))
    trace = decode_video(
        tiny_model(), first, 0, frames=3, thresholds=0.0, kv_policy=KVBudget("flowcache", budget=BUDGET)
    ).trace
    graph = trace_model(config, batch_rows=2)
    design = tiny_design()
    bytes_per_entry = config.num_kv_heads * config.head_dim * 2 * design.bytes_per_element("kv_cache")  # K and V
    rows, layers = 2, config.num_layers
    # Hand count: each step, layer and row reads min(KV length, budget) entries of K and V.
    entries = np.minimum(trace.kv_len, BUDGET).sum()
    assert trace.kv_len.max() > 2 * BUDGET  # the budget binds for most steps
    budgeted = simulate(graph, trace, design)
    assert budgeted.dram_bytes_unrounded["read"]["kv_read"] == entries * layers * rows * bytes_per_entry
    full = simulate(graph, trace.dense_baseline(full_attention=True), design)
    assert full.dram_bytes_unrounded["read"]["kv_read"] == trace.kv_len.sum() * layers * rows * bytes_per_entry
    # Writes are one new entry per step whatever the budget (it replaces an evicted one).
    assert budgeted.dram_bytes["write"]["kv_write"] == full.dram_bytes["write"]["kv_write"]


def test_the_tas_key_streams_with_a_budget_but_not_with_sparse_attention():
    trace = decode_video(
        tiny_model(),
        np.zeros((4, 4), dtype=int),
        0,
        frames=3,
        thresholds=0.0,
        kv_policy=KVBudget("flowcache", budget=BUDGET),
    ).trace
    graph, design = trace_model(tiny_config(), batch_rows=2), tiny_design()
    deciding = trace.frame >= 1
    budgeted = Workload(graph, trace, design)
    assert (budgeted.tas_flag[deciding] == TAS_FROM_STREAM).all()
    # The same reads with every entry resident are sparse attention: the key one frame back may be skipped.
    sparse = Workload(graph, replace(trace, kv_kept=np.repeat(trace.kv_len[:, None], 2, axis=1)), design)
    bounded = trace.kv_attended < trace.kv_len[:, None]
    assert (sparse.tas_flag[bounded & deciding[:, None]] == TAS_READS_KEY).all()
