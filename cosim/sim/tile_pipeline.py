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

from typing import TYPE_CHECKING, Any, NamedTuple

import simpy

from cosim.sim.buffers import Run
from cosim.sim.clock import Process, cycle_now

if TYPE_CHECKING:
    from cosim.sim.context import SimContext
    from cosim.sim.segment_run import OpStream, SegmentRun
    from cosim.sim.tile_plan import TilePlan
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
    """Tiles j.. of op `i` by the pipeline's recurrence (`walk_tiles`) with the DRAM to itself: appends the last
    compute end to `c_end`, counts the bytes and busy cycles on the machine; returns the last load's end."""
    m, plan = run.m, run.plans[i]
    assert plan.purpose is not None, "an op with its own tiles has a buffer purpose for them"
    recent = [start] * max(plan.slots - len(c_end), 0) + c_end[-plan.slots :]
    changes = m.occupancy.setdefault(plan.purpose, [])
    walk = walk_tiles(run.ctx, plan, j, issue, recent, m.dram.continues(stream), changes, run.record)
    c_end.append(walk.compute_end)
    m.dram.counters.add("read", category, walk.payload, walk.rounded)
    m.count(f"dram_block.{run.info.block}.read.{category}", walk.rounded)
    m.dram.add_alone(walk.busy)
    m.dram.mark_stream_done(stream, walk.load_end)
    return walk.load_end


class TileWalk(NamedTuple):
    """What `walk_tiles` computed: the last load's and the last compute's end, DRAM bytes and busy cycles."""

    load_end: int
    compute_end: int
    payload: int
    rounded: int
    busy: int


def walk_tiles(
    ctx: SimContext,
    plan: TilePlan,
    j: int,
    issue: int,
    recent: list[int],
    continuing: bool,
    changes: list[tuple[int, int]],
    record: bool,
) -> TileWalk:
    """Tiles j.. of `plan` by the pipeline's recurrence with the DRAM to itself; appends buffer-occupancy changes.

    Tile j is issued at `issue` (continuing its stream if `continuing`), each later one when
    the previous load ends and a slot is free; a load issued as the previous one ends
    continues its stream (no access latency). `recent`: compute ends of the last `slots`
    tiles before j (the op's start where there are fewer). Within a run of periodic tiles
    (`TilePlan.runs`) the recurrence becomes periodic: once its state after tile t is the
    state p tiles earlier shifted by the same number of cycles, every later period of the
    run is that shift again (max and + commute with a shift), so whole periods are skipped
    in one step (`_Jump`); `record` keeps their occupancy changes (shifted copies).
    """
    latency, moves = ctx.dram_spec.latency_cycles, ctx.tile_moves
    tile_bytes, tile_cycles = plan.bytes, plan.cycles
    prev_done = issue
    payload = rounded_sum = busy = 0
    jump = _Jump(plan.runs, plan.slots)
    t, n = j, len(tile_bytes)
    while t < n:
        if t > j:
            issue = max(prev_done, recent[0])
            continuing = issue == prev_done
        nbytes = tile_bytes[t]
        rounded, move = moves.get(nbytes) or ctx.tile_move(nbytes)
        prev_done = issue + (0 if continuing else latency) + move
        done = max(prev_done, recent[-1]) + tile_cycles[t]
        recent = [*recent[1:], done]
        payload, rounded_sum, busy = payload + nbytes, rounded_sum + rounded, busy + move
        changes.append((issue, nbytes))
        changes.append((done, -nbytes))
        skip = jump.after(t, j, (prev_done, *recent), (nbytes, rounded, move))
        if skip is not None:
            periods, shift, (period_payload, period_rounded, period_busy) = skip
            if record:  # the timeline draws the level over cycles: the skipped tiles' changes are the last
                last_period = changes[-2 * jump.period :]  # period's (two per tile), shifted once per period
                changes.extend((c + k * shift, d) for k in range(1, periods + 1) for c, d in last_period)
            prev_done += periods * shift
            recent = [c + periods * shift for c in recent]
            payload += periods * period_payload
            rounded_sum += periods * period_rounded
            busy += periods * period_busy
            t += periods * jump.period
        t += 1
    return TileWalk(prev_done, recent[-1], payload, rounded_sum, busy)


class _Jump:
    """Finds where the fast path's recurrence turned periodic within a run of periodic tiles, and how far to skip.

    State after tile t: (last load end, compute ends of the last `slots` tiles). When it
    equals the state `p` tiles earlier plus a shift, with the run's tiles repeating every
    `p`, each later period adds the same shift. The buffer-occupancy changes of the skipped
    tiles are left out (unless the segment records its timeline, whose occupancy counters draw
    every tile): every moment at which one of them is resident repeats, shifted,
    at a moment of the explicitly walked steady tiles before them (whose other ops' levels
    can only have been higher: what the others still hold is released, never added, while
    an op is alone), so the purpose's peak stays exact. Margins of `2 slots + p + 1`
    explicit tiles on both sides of the skipped ones keep those moments inside.
    """

    period: int

    def __init__(self, runs: tuple[Run, ...], slots: int) -> None:
        self.runs = runs
        self.slots = slots
        self.run_index = 0
        self.period = 1
        self.history: dict[int, tuple[tuple[int, ...], tuple[int, int, int]]] = {}
        self.steady_at = -1  # tile after which the state is periodic (-1: not yet)
        self.shift = 0

    def after(
        self, t: int, first: int, state: tuple[int, ...], inputs: tuple[int, int, int]
    ) -> tuple[int, int, tuple[int, int, int]] | None:
        """After tile t: (whole periods to skip, their shift in cycles, per-period payload / rounded / busy) or None."""
        while self.run_index < len(self.runs) and self.runs[self.run_index][1] <= t:
            self.run_index += 1
            self.steady_at, self.history = -1, {}
        if self.run_index == len(self.runs) or self.runs[self.run_index][0] > t:
            return None
        run_start, run_stop, p = self.runs[self.run_index]
        self.period = p
        self.history[t] = (state, inputs)
        self.history.pop(t - p - 1, None)
        margin = 2 * self.slots + p + 1
        if self.steady_at < 0:
            earlier = self.history.get(t - p)
            if earlier is None or t - p < first or t - p + 1 < run_start:
                return None
            shifts = {now - then for now, then in zip(state, earlier[0], strict=True)}
            if len(shifts) == 1:
                self.steady_at, self.shift = t, shifts.pop()
            return None
        if t != self.steady_at + margin:
            return None
        periods = (run_stop - 1 - margin - t) // p
        if periods <= 0:
            return None
        period = [self.history[u][1] for u in range(t - p + 1, t + 1)]
        per_period = (sum(x[0] for x in period), sum(x[1] for x in period), sum(x[2] for x in period))
        self.steady_at, self.history = -1, {}  # the run's rest is walked explicitly (its last `margin` tiles)
        return periods, self.shift, per_period


class PieceWalk(NamedTuple):
    """What `walk_pieces` computed: `TileWalk`'s figures and the peak bytes the op's tiles hold in their buffer."""

    load_end: int
    compute_end: int
    payload: int
    rounded: int
    busy: int
    peak: int


def walk_pieces(ctx: SimContext, plan: TilePlan, issue: int, continuing: bool) -> PieceWalk:
    """All tiles of `plan` from the op's start at `issue`, with the DRAM to itself: `walk_tiles`' recurrence,
    a repeat of a piece's pattern at a time, and the peak of the op's buffer occupancy.

    Once the state after a repeat (last load end, compute ends of the last `slots` tiles) is
    the state after the repeat before plus one shift, every later repeat of the piece is that
    shift again (max and + commute with a shift), so the piece's remaining repeats are added
    at once. The occupancy only rises when a tile is issued, to its bytes plus those of the
    earlier tiles still resident (computed after the issue; releases at that cycle go first);
    a skipped repeat repeats, shifted, the levels of the walked one before it, so the peak over
    the walked tiles is the op's peak.
    """
    latency, moves, slots = ctx.dram_spec.latency_cycles, ctx.tile_moves, plan.slots
    recent, held = [issue] * slots, [0] * slots  # compute ends and bytes of the last `slots` tiles
    prev_done, first = issue, True
    payload = rounded_sum = busy = peak = 0
    for pattern, repeats in plan.pieces:
        before: tuple[int, ...] | None = None
        before_held: list[int] = []
        for repeat in range(repeats):
            piece_payload = piece_rounded = piece_busy = 0
            for nbytes, cycles in pattern:
                if not first:
                    issue = max(prev_done, recent[0])
                    continuing = issue == prev_done
                first = False
                rounded, move = moves.get(nbytes) or ctx.tile_move(nbytes)
                prev_done = issue + (0 if continuing else latency) + move
                if slots == 2:  # the one other tile that may still be resident (else a sum over the others)
                    level = nbytes + held[1] if recent[1] > issue else nbytes
                else:
                    level = nbytes + sum(b for b, end in zip(held[1:], recent[1:], strict=True) if end > issue)
                peak = max(peak, level)
                recent = [*recent[1:], max(prev_done, recent[-1]) + cycles]
                held = [*held[1:], nbytes]
                piece_payload, piece_rounded, piece_busy = (
                    piece_payload + nbytes,
                    piece_rounded + rounded,
                    piece_busy + move,
                )
            payload, rounded_sum, busy = payload + piece_payload, rounded_sum + piece_rounded, busy + piece_busy
            state = (prev_done, *recent)
            if before is not None and held == before_held:
                shifts = {now - then for now, then in zip(state, before, strict=True)}
                if len(shifts) == 1:
                    left, shift = repeats - 1 - repeat, shifts.pop()
                    prev_done += left * shift
                    recent = [c + left * shift for c in recent]
                    payload, rounded_sum, busy = (
                        payload + left * piece_payload,
                        rounded_sum + left * piece_rounded,
                        busy + left * piece_busy,
                    )
                    break
            before, before_held = state, held
    return PieceWalk(prev_done, recent[-1], payload, rounded_sum, busy, peak)


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
