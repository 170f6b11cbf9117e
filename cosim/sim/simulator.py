"""The public entry of the simulator: a compute graph x a replay trace x a design -> `SimResult`.

Time is counted in design-clock cycles (integers). A step is a chain of segments
(`cosim.sim.workload`) separated by data-dependency barriers; inside a segment, ops start
when their producers finish and hold their engine (a matrix partition or the pool, the
vector unit, the TAS unit) while they run (`segment_run`). An op with a large operand
streams it as slot-sized tiles: a tile is loaded from DRAM, computed, and its slot freed;
with a double-buffered buffer the next tile loads while the current one computes
(`tile_pipeline`). All DRAM traffic shares the channels through `cosim.sim.dram.Dram`.
Under DRS one weight stream (`weight_stream`) loads weight tiles ahead, across op and
segment boundaries. Distinct segments are simulated once and reused (`simulation`), and
the results are summed into a `SimResult` (`assembly`).

The modules, in the order a run uses them: `context` (design constants, tile plans),
`counters`, `machine`, `segment_run`, `tile_pipeline`, `stream_views`, `stream_windows`,
`weight_stream`, `simulation`, `assembly`; the scheduling policy is asked through
`cosim.sim.policies`.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np

from cosim.artifacts.replay_trace import ReplayTrace
from cosim.sim.assembly import assemble
from cosim.sim.context import SimContext
from cosim.sim.policies import make_policy
from cosim.sim.result import SimResult
from cosim.sim.simulation import Simulation
from cosim.sim.workload import Workload

if TYPE_CHECKING:
    from cosim.hw.schema import Design


def default_timeline_steps(trace: ReplayTrace) -> tuple[int, int]:
    """The first 2 steps of the second generated frame (of the first frame if only one)."""
    if trace.num_steps == 0:
        return (0, 0)
    frames = np.unique(trace.frame)
    target = frames[1] if len(frames) > 1 else frames[0]
    first = int(np.argmax(trace.frame == target))
    return (first, min(first + 2, trace.num_steps))


def simulate(
    graph: nx.DiGraph,
    trace: ReplayTrace,
    design: Design,
    *,
    policy: str | None = None,
    memoize: bool = True,
    timeline_steps: tuple[int, int] | None = None,
    dram_weights: dict[str, int] | None = None,
    fast_forward: bool = True,
    max_timeline_events: int = 20_000,
    progress: bool = False,
) -> SimResult:
    """Simulate every decode step of `trace` on `design`; see `SimResult` for what comes back.

    `policy` overrides the design's scheduling policy; `memoize=False` runs one continuous
    simulation (slow; for checking); `timeline_steps` = [first, last) steps whose op
    intervals go into the timeline; `dram_weights` sets arbitration weights per requester
    class (``weights``, ``kv``, ``activations``, ``replay``); `fast_forward=False` turns
    off the closed-form continuation of lone tile pipelines (for checking).
    """
    started = time.perf_counter()
    workload = Workload(graph, trace, design)
    scheduling = make_policy(policy, design)
    ctx = SimContext(design, scheduling, workload, dram_weights, fast_forward)
    window = (
        default_timeline_steps(trace) if timeline_steps is None else (int(timeline_steps[0]), int(timeline_steps[1]))
    )
    simulation = Simulation(ctx, window)
    with _fewer_collections(enabled=not scheduling.streams_weights()):
        results, ids = simulation.run_memoised(progress) if memoize else simulation.run_continuous()
    result = assemble(ctx, results, ids, window, max_timeline_events)
    result.segments_simulated = len(results)  # continuous: one result per instance
    result.segments_total = int(ids.size)
    result.events_simulated = simulation.events
    result.wall_time_s = time.perf_counter() - started
    return result


GC_OLDEST_THRESHOLD = 1_000  # younger collections between two of the oldest generation during a run (Python: 10)


@contextmanager
def _fewer_collections(enabled: bool) -> Iterator[None]:
    """Python's cyclic garbage collector scans its oldest generation less often while segments are simulated
    (if `enabled`: runs without a weight stream).

    A long video keeps tens of thousands of sized ops, plans and results alive, and with Python's
    default thresholds every tenth middle-generation collection scanned them all again: ~10 % of a
    run's CPU time (measured: 1.04 of 10.2 s at 64 frames, `static`). The young generations keep
    their thresholds: they free SimPy's environments (reference cycles) as soon as a segment is
    done. Not under DRS: its SimPy segments leave cycles that reach the oldest generation, and
    collecting them rarely raised a 256-frame run's peak from 442 to 538 MB (for 4 % less CPU).
    Results do not depend on the collector.
    """
    if not enabled:
        yield
        return
    thresholds = gc.get_threshold()
    gc.set_threshold(*thresholds[:2], max(thresholds[2], GC_OLDEST_THRESHOLD))
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def simulate_dense(graph: nx.DiGraph, trace: ReplayTrace, design: Design, **kwargs: Any) -> SimResult:
    """The dense baseline of the same video: every replay decision false, same KV lengths."""
    return simulate(graph, trace.dense_baseline(full_attention=False), design, **kwargs)
