"""Running the segment instances of a workload: memoised, or as one continuous simulation.

Memoisation. A segment's timing depends only on its template, its parameter and, under
DRS, the weight stream's state at the barrier and the replay decisions / predictions
within the stream's reach (`stream_windows`). Each distinct combination is simulated once
in its own SimPy environment starting at cycle 0; its cycles, counters, busy cycles and op
intervals are reused (offset in time) for every instance. Because every time is an
integer and the DRAM model tracks progress as exact fractions, this is identical to one
continuous simulation (`Simulation.run_continuous`), which tests check.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import networkx as nx
import numpy as np
import simpy

from cosim.sim import serial_segment
from cosim.sim.buffer_timeline import Occupancy, segment_occupancy
from cosim.sim.buffers import peak_occupancy
from cosim.sim.clock import Process, cycle_now
from cosim.sim.context import SimContext
from cosim.sim.machine import Machine
from cosim.sim.segment_results import SegmentResult, SegmentResults
from cosim.sim.segment_run import SegmentInfo, SegmentRun
from cosim.sim.segments import SEGMENT_BLOCK, OpWork
from cosim.sim.stream_views import GlobalView, StreamPlan, Window, WindowView
from cosim.sim.stream_windows import StreamWindows
from cosim.sim.weight_stream import LoaderState, WeightStream


def _descendants(ops: list[OpWork]) -> list[frozenset[int]]:
    g: nx.DiGraph[int] = nx.DiGraph()
    g.add_nodes_from(range(len(ops)))
    for i, op in enumerate(ops):
        for p in op.preds:
            g.add_edge(p, i)
    return [frozenset(nx.descendants(g, i)) for i in range(len(ops))]


def _static_peaks(ctx: SimContext, ops: list[OpWork]) -> dict[str, int]:
    """Activation-buffer peak: the largest on-chip working set of any op of the segment."""
    peaks: dict[str, int] = {}
    for op in ops:
        purpose = ctx.buffers.group(op.act_purpose).purpose
        peaks[purpose] = max(
            peaks.get(purpose, 0),
            min(op.act_read_bytes + op.act_write_bytes, ctx.buffers.group(purpose).capacity_bytes),
        )
    return peaks


class Simulation:
    """Runs the segment instances of a workload, memoised or continuously."""

    def __init__(self, ctx: SimContext, record_steps: tuple[int, int]) -> None:
        self.ctx = ctx
        self.wl = ctx.workload
        self.record_steps = record_steps
        plan = StreamPlan(ctx) if ctx.policy.streams_weights() else None
        self.stream = plan if plan is not None and plan.per_step else None  # no weights: nothing to stream
        self.windows = StreamWindows(ctx, self.stream) if self.stream is not None else None
        self.results = SegmentResults(len(ctx.layout.names), sorted(ctx.buffers.groups))
        self._descendants: dict[tuple[tuple[int, ...], ...], list[frozenset[int]]] = {}  # by the ops' preds
        self.events = 0

    def _segment_inputs(self, step: int, q: int) -> tuple[list[OpWork], SegmentInfo]:
        wl = self.wl
        ops = wl.instance_ops(step, q)
        element_seq = {}
        if self.stream is not None:
            for i, op in enumerate(ops):
                if op.streamed == "weights":
                    element_seq[i] = step * self.stream.per_step + self.stream.element_of[(q, op.template_index)]
        return ops, SegmentInfo(SEGMENT_BLOCK[wl.segment_kind[q]], step, wl.segment_layer[q], element_seq)

    def _descendants_of(self, ops: list[OpWork]) -> list[frozenset[int]]:
        key = tuple(op.preds for op in ops)
        if key not in self._descendants:
            self._descendants[key] = _descendants(ops)
        return self._descendants[key]

    def _finish(
        self, machine: Machine, run: SegmentRun, before: dict[str, int], levels: dict[str, int]
    ) -> tuple[np.ndarray, dict[str, int], Occupancy | None]:
        """The segment's counter vector, buffer peaks and (if it records) occupancy changes; carries the levels on."""
        after = machine.snapshot()
        layout = self.ctx.layout
        counters = np.zeros(len(layout.names), dtype=np.int64)
        for name, value in after.items():
            delta = value - before.get(name, 0)
            if delta:
                counters[layout.index[name]] = delta
        peaks = _static_peaks(self.ctx, run.ops)
        occupancy = segment_occupancy(levels, machine.occupancy, run.start) if run.record else None
        for purpose, changes in machine.occupancy.items():
            start_level = levels.get(purpose, 0)
            peaks[purpose] = max(peaks.get(purpose, 0), peak_occupancy(changes, start_level))
            machine.level[purpose] = start_level + sum(d for _, d in changes)
        machine.occupancy = {}
        return counters, peaks, occupancy

    # -- memoised: each distinct segment in its own environment ------------------------
    def simulate_one(
        self,
        step: int,
        q: int,
        ops: list[OpWork],
        info: SegmentInfo,
        state: LoaderState | None,
        window: Window | None,
        record: bool,
    ) -> SegmentResult:
        if self.windows is None and not record and self.ctx.fast_forward:
            closed = serial_segment.evaluate(self.ctx, ops, info.block, _static_peaks(self.ctx, ops))
            if closed is not None:
                return SegmentResult(*closed, intervals=None)
        env = simpy.Environment()
        machine = Machine(env, self.ctx)
        if self.windows is not None:
            assert state is not None and window is not None, "under DRS a segment starts from a stream state and window"
            machine.loader = WeightStream(machine, WindowView(window), state)
            machine.level["weights"] = machine.loader.occupied_bytes
            origin = self.windows.origin(step, q)
            info.element_seq = {i: seq - origin for i, seq in info.element_seq.items()}
        run = SegmentRun(machine, ops, info, self._descendants_of(ops), record)
        levels = dict(machine.level)
        before = machine.snapshot()
        finished = env.process(run.run())
        env.run(until=finished)
        duration = cycle_now(env)
        counters, peaks, occupancy = self._finish(machine, run, before, levels)
        end_state = None
        if machine.loader is not None:
            assert self.stream is not None, "a machine has a weight stream only when the policy streams weights"
            end_state = machine.loader.capture(self.stream.own_count[q])
        machine.dram.closed = True
        events = next(env._eid)
        self.events += events
        return SegmentResult(duration, counters, peaks, run.intervals if record else None, end_state, events, occupancy)

    def run_memoised(self, progress: bool = False) -> tuple[SegmentResults, np.ndarray]:
        """Results of the distinct segments, and per instance (steps x segments per step) the index of its result."""
        if self.windows is None:
            return self._memoised_without_stream(progress)
        return self._memoised_with_stream(self.windows, progress)

    def _recorded(self, step: int) -> bool:
        return self.record_steps[0] <= step < self.record_steps[1]

    def _keeps_intervals(self, step: int) -> bool:
        """Whether a memoised result first met at `step` keeps its op intervals: if the timeline's steps, which
        come after it, may use it (results first met later cannot be)."""
        return step < self.record_steps[1]

    def _memoised_without_stream(self, progress: bool) -> tuple[SegmentResults, np.ndarray]:
        """Segments are independent: one simulation per distinct (template, parameter), found segment by segment
        of the step (a column of the instance table at a time, so memory stays that of one column)."""
        wl = self.wl
        ids = np.zeros((wl.steps, len(wl.segment_kind)), dtype=np.int32)
        memo: dict[tuple[int, int], int] = {}
        first_step = self._first_steps()
        bar = _progress(len(wl.segment_kind), progress, "simulating distinct segments", "segment")
        for q in range(len(wl.segment_kind)):
            template, params = self._column_keys(q)
            same = self._same_column(q)
            if same is not None:  # every layer's core has the same KV lengths: its ids are the earlier column's
                ids[:, q] = ids[:, same]
                bar.update(1)
                continue
            distinct, where, inverse = np.unique(params, return_index=True, return_inverse=True)
            column = np.zeros(len(distinct), dtype=np.int32)
            for k, (param, step) in enumerate(zip(distinct.tolist(), where.tolist(), strict=True)):
                index = memo.get((template, param))
                if index is None:
                    ops, info = self._segment_inputs(step, q)
                    record = self._keeps_intervals(first_step[template, param])
                    index = memo[template, param] = self.results.add(
                        self.simulate_one(step, q, ops, info, None, None, record)
                    )
                column[k] = index
            ids[:, q] = column[inverse.ravel()]
            bar.update(1)
        bar.close()
        return self.results, ids

    def _column_keys(self, q: int) -> tuple[int, np.ndarray]:
        """Segment `q`'s template and, per step, its parameter (TAS flags are 0..2)."""
        return int(self.wl.segment_template[q]), self.wl.param_size[:, q].astype(np.int64) * 4 + self.wl.param_tas[:, q]

    def _same_column(self, q: int) -> int | None:
        """An earlier segment column of the same template with the same parameter at every step, if any."""
        return self._earlier_twins[q]

    @cached_property
    def _earlier_twins(self) -> list[int | None]:
        """Per segment column, the first column of the same template and parameters (None for that first one):
        found once, by key, instead of comparing every pair of columns at each use."""
        first: dict[tuple[int, bytes], int] = {}
        twins: list[int | None] = []
        for q in range(len(self.wl.segment_kind)):
            template, params = self._column_keys(q)
            earlier = first.setdefault((template, params.tobytes()), q)
            twins.append(None if earlier == q else earlier)
        return twins

    def _first_steps(self) -> dict[tuple[int, int], int]:
        """The first step at which each distinct (template, parameter) occurs in any column, so that its one
        simulation knows whether the timeline may use its op intervals."""
        first: dict[tuple[int, int], int] = {}
        for q in range(len(self.wl.segment_kind)):
            if self._same_column(q) is not None:
                continue
            template, params = self._column_keys(q)
            distinct, where = np.unique(params, return_index=True)
            for param, step in zip(distinct.tolist(), where.tolist(), strict=True):
                first[template, param] = min(step, first.get((template, param), step))
        return first

    def _memoised_with_stream(self, windows: StreamWindows, progress: bool) -> tuple[SegmentResults, np.ndarray]:
        """In order: a segment is keyed also by the stream's state at its start and its window."""
        wl, results = self.wl, self.results
        Q = len(wl.segment_kind)
        memo: dict[tuple[int, int, int, int, int], int] = {}
        ids = np.zeros((wl.steps, Q), dtype=np.int32)
        states: list[LoaderState] = [LoaderState()]
        state_ids: dict[LoaderState, int] = {states[0]: 0}
        end_state: list[int] = []
        state_id = 0
        templates = wl.segment_template.tolist()
        window_ids = np.stack([windows.column_ids(q) for q in range(Q)], axis=1)
        bar = _progress(wl.steps, progress, "simulating steps", "step")
        for step in range(wl.steps):
            step_sizes, step_tas = wl.param_size[step].tolist(), wl.param_tas[step].tolist()
            step_windows = window_ids[step].tolist()
            step_ids = ids[step]
            record = self._keeps_intervals(step)
            for q in range(Q):
                window_id = step_windows[q]
                key = (templates[q], step_sizes[q], step_tas[q], state_id, window_id)
                index = memo.get(key)
                if index is None:
                    ops, info = self._segment_inputs(step, q)
                    window = windows.windows[window_id]
                    if wl.segment_kind[q] == "core" and window.resolved_here >= 0:
                        info.resolves = window.resolved_here
                    result = self.simulate_one(step, q, ops, info, states[state_id], window, record)
                    index = memo[key] = results.add(result)
                    assert result.end_state is not None, "a segment under DRS ends with the stream's state"
                    end = state_ids.setdefault(result.end_state, len(states))
                    if end == len(states):
                        states.append(result.end_state)
                    end_state.append(end)
                step_ids[q] = index
                state_id = end_state[index]
            bar.update(1)
        bar.close()
        return results, ids

    # -- continuous: one environment, one machine, segments back to back ---------------
    def run_continuous(self) -> tuple[SegmentResults, np.ndarray]:
        wl, results = self.wl, self.results
        env = simpy.Environment()
        machine = Machine(env, self.ctx)

        def driver() -> Process[None]:
            if self.stream is not None:  # started like a memoised segment's stream: after the snapshot below
                machine.loader = WeightStream(machine, GlobalView(self.ctx, self.stream), LoaderState())
            for step in range(wl.steps):
                for q in range(len(wl.segment_kind)):
                    ops, info = self._segment_inputs(step, q)
                    if self.stream is not None and wl.segment_kind[q] == "core":
                        layer = wl.segment_layer[q]
                        info.resolves = (step, layer) if wl.tas_flag[step, layer] != 0 else None
                    record = self._recorded(step)
                    run = SegmentRun(machine, ops, info, self._descendants_of(ops), record)
                    levels = dict(machine.level)
                    before = machine.snapshot()
                    start = cycle_now(env)
                    yield env.process(run.run())
                    duration = cycle_now(env) - start
                    counters, peaks, occupancy = self._finish(machine, run, before, levels)
                    intervals = run.intervals if record else None
                    results.add(SegmentResult(duration, counters, peaks, intervals, occupancy=occupancy))

        env.run(until=env.process(driver()))
        self.events += next(env._eid)
        return results, np.arange(len(results), dtype=np.int32).reshape(wl.steps, len(wl.segment_kind))


def _progress(total: int, enabled: bool, desc: str, unit: str) -> Any:
    """A tqdm bar, or an object that ignores `update` and `close` (tqdm imported only when wanted)."""
    if enabled:
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, leave=False)

    class _Null:
        def update(self, _n: int) -> None:
            pass

        def close(self) -> None:
            pass

    return _Null()
