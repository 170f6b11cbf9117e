"""How an op with a streamed operand computes its tiles, and the fast path of a lone tile pipeline.

`own_tiles`: the op loads tile j into a free buffer slot and computes it once it is loaded
and the engine is done with tile j-1 (with two slots, loading overlaps computing).
`consume_stream`: under DRS the weight stream loads the tiles; the op computes each as it
arrives and frees its slot after computing.

Fast path. When an op with its own tiles is provably alone -- the DRAM has no other
transfer, every other unfinished op of the segment is waiting for it (or is computing
without touching DRAM and wakes nobody), and the weight stream is blocked on a full
buffer -- the rest of its pipeline is computed by the same recurrence the SimPy processes
follow, in one step. Tests check it against the step-by-step run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import simpy

from cosim.sim.clock import Process, cycle_now

if TYPE_CHECKING:
    from cosim.sim.segment_run import OpStream, SegmentRun
    from cosim.sim.weight_stream import WeightStream

# Op phases, for deciding when an op may take the fast path.
WAIT_PREDS, WAIT_RESOURCE, ACTIVE, COMPUTE_ONLY, DONE = range(5)


def consume_stream(run: SegmentRun, i: int, loader: WeightStream[Any]) -> Process[int]:
    """DRS: compute tiles as `loader` delivers them; free each slot after its compute. Returns the compute end."""
    env, plan = run.env, run.plans[i]
    seq = run.info.element_seq[i]
    end = cycle_now(env)
    for tile, cycles in enumerate(plan.cycles):
        event = loader.tile_event(seq, tile)
        if not event.processed:
            yield event
        now = cycle_now(env)
        end = max(now, end) + cycles

        def free_slot(_event: simpy.Event, tile: int = tile) -> None:
            loader.free(seq, tile)

        env.timeout(end - now).callbacks.append(free_slot)
    now = cycle_now(env)
    if end > now:
        yield env.timeout(end - now)
    return end


def own_tiles(run: SegmentRun, i: int, stream: OpStream) -> Process[int]:
    """Own tile loader: load tile j into a free slot, compute it once loaded and the engine is done.

    Returns the compute end of the last tile. The op has at least one tile, so the first is
    issued at once (at `start`) and the loop sets the load end `prev_done` at least once.
    """
    env, m, plan = run.env, run.m, run.plans[i]
    n, slots, start = len(plan.bytes), plan.slots, cycle_now(env)
    purpose = plan.purpose
    assert purpose is not None, "an op with its own tiles has a buffer purpose for them"
    category = "weights" if purpose == "weights" else "kv_read"
    c_end: list[int] = []  # compute end of each tile
    prev_done = start  # load end of the previous tile
    j = 0
    while j < n:
        issue = max(prev_done, c_end[j - slots] if j >= slots else start)
        if issue > cycle_now(env):
            yield env.timeout(issue - cycle_now(env))
        if run.ctx.fast_forward and _alone(run, i):
            prev_done = _fast_forward(run, i, j, issue, start, c_end, stream, category)
            break
        m.occupancy_change(purpose, plan.bytes[j])
        transfer = run.transfer([("read", category, plan.bytes[j])], stream)
        yield transfer.event
        prev_done = cycle_now(env)
        c_end.append(max(prev_done, c_end[-1] if c_end else start) + plan.cycles[j])
        m.occupancy_change(purpose, -plan.bytes[j], c_end[-1])
        j += 1
    run._interval(f"dram.{category}", f"{run.ops[i].name} load", start, prev_done)
    end = c_end[-1]
    run.phase[i] = COMPUTE_ONLY if not run.ops[i].stores else ACTIVE
    if end > cycle_now(env):
        yield env.timeout(end - cycle_now(env))
    return end


def _fast_forward(
    run: SegmentRun, i: int, j: int, issue: int, start: int, c_end: list[int], stream: OpStream, category: str
) -> int:
    """Tiles j.. of op `i` by the pipeline's recurrence with the DRAM to itself (appends to `c_end`).

    Tile j is issued at `issue`, each later one when the previous load ends and a slot is
    free; a load issued as the previous one ends continues its stream (no access latency).
    Returns the last load's end.
    """
    m, plan, spec = run.m, run.plans[i], run.ctx.dram_spec
    slots, purpose = plan.slots, plan.purpose
    assert purpose is not None, "an op with its own tiles has a buffer purpose for them"
    continuing = m.dram.continues(stream)
    moved = []
    prev_done = issue
    for t in range(j, len(plan.bytes)):
        if t > j:
            issue = max(prev_done, c_end[t - slots] if t >= slots else start)
            continuing = issue == prev_done
        rounded = spec.rounded(plan.bytes[t])
        m.dram.counters.add("read", category, plan.bytes[t], rounded)
        moved.append(rounded)
        prev_done = issue + (0 if continuing else spec.latency_cycles) + run.ctx.move_cycles(rounded)
        m.occupancy_change(purpose, plan.bytes[t], issue)
        c_end.append(max(prev_done, c_end[-1] if c_end else start) + plan.cycles[t])
        m.occupancy_change(purpose, -plan.bytes[t], c_end[-1])
    m.count(f"dram_block.{run.info.block}.read.{category}", sum(moved))
    m.dram.add_alone(moved)
    m.dram.mark_stream_done(stream, prev_done)
    return prev_done


def _alone(run: SegmentRun, i: int) -> bool:
    """True when nothing else can touch the DRAM or wake anyone before op `i` ends."""
    m = run.m
    if not m.dram.idle:
        return False
    if m.loader is not None and not m.loader.blocked:
        return False
    mine = run.plans[i].engine
    if not run.not_started <= run.descendants[i]:
        return False
    for j in run.running:
        if j == i:
            continue
        phase = run.phase[j]
        if phase == WAIT_RESOURCE:
            if run.waiting_for[j] not in (mine, "token"):
                return False
        elif phase == COMPUTE_ONLY:
            engine = run.plans[j].engine
            if engine is not None and m.resources[engine].queue:
                return False
        else:
            return False
    return True
