"""Which part of DRS's weight stream a memoised segment can reach, and its decisions there.

A memoised segment sees the stream through a `Window`: the elements from its first one up
to where the stream cannot have gone before the segment ends, with the replay decision,
the prediction and whether the decision is known at the segment's start for every group
(MLP of one (step, layer)) in reach. Windows are interned, and cached by the facts of the
groups in reach, so that equal windows give equal memo keys without being rebuilt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from cosim.sim.stream_views import StreamPlan, Window, WindowElement, WindowGroup

if TYPE_CHECKING:
    from cosim.sim.context import SimContext


class StreamWindows:
    """The `Window` of every segment instance (step, q), interned to small ids."""

    def __init__(self, ctx: SimContext, plan: StreamPlan) -> None:
        self.wl = ctx.workload
        self.plan = plan
        self.slots = ctx.buffers.group("weights").slots
        self.windows: list[Window] = []  # by id
        self._ids: dict[Window, int] = {}
        self._cache: dict[tuple[int, bytes], int] = {}
        self._facts: bytes | None = None  # per (step, layer), flattened: a byte of fact bits each (`_prepare`)
        self._reach_shape: list[tuple[int, int]] = []  # per q: (groups in reach, steps spanned)

    def origin(self, step: int, q: int) -> int:
        """Element number of segment (step, q)'s first element."""
        return step * self.plan.per_step + self.plan.first_element[q]

    def window(self, step: int, q: int) -> Window:
        """The weight-stream window segment (step, q) can reach, with its decisions and predictions."""
        wl, plan = self.wl, self.plan
        origin = self.origin(step, q)
        elements: list[WindowElement] = []
        groups: list[WindowGroup] = []
        group_ids: dict[tuple[int, int], int] = {}
        seg_kind, seg_layer = wl.segment_kind[q], wl.segment_layer[q]
        resolved_here = -1
        ends = False

        def decided_before(s: int, layer: int) -> bool:
            return bool(wl.tas_flag[s, layer] == 0) or self._after_core(step, seg_kind, seg_layer, s, layer)

        for seq in self._reach(
            origin, q, lambda s, layer: bool(wl.n_compute[s, layer] > 0) and decided_before(s, layer)
        ):
            s, e = divmod(seq, plan.per_step)
            if s >= wl.steps:
                ends = True
                break
            element = plan.elements[e]
            g = -1
            if element.layer >= 0:
                key = (s, element.layer)
                if key not in group_ids:
                    group_ids[key] = len(groups)
                    groups.append(
                        WindowGroup(bool(wl.n_compute[key] > 0), bool(wl.predicted_compute[key]), decided_before(*key))
                    )
                    if s == step and element.layer == seg_layer and seg_kind == "core" and wl.tas_flag[key] != 0:
                        resolved_here = group_ids[key]
                g = group_ids[key]
            elements.append(WindowElement(tuple(element.tiles), g, plan.blocks[e]))
        return Window(tuple(elements), tuple(groups), resolved_here, ends)

    @staticmethod
    def _after_core(step: int, kind: str, layer: int, s: int, group_layer: int) -> bool:
        """Whether the TAS of group (s, group_layer) has run before segment (step, kind, layer) starts."""
        return (s, group_layer) < (step, layer) or (s == step and group_layer == layer and kind in ("post", "mlp"))

    def _reach(self, origin: int, q: int, surely_loaded: Callable[[int, int], bool]) -> Iterator[int]:
        """Element numbers from `origin` until the stream cannot have gone further within segment q.

        The stream loads at most (tiles this segment consumes) + (buffer slots) tiles
        beyond the segment's first element; conditional elements count only when
        `surely_loaded(step, layer)` (they might be skipped), so the bound stays safe.
        """
        plan = self.plan
        own_tiles = sum(len(plan.elements[plan.first_element[q] + k].tiles) for k in range(plan.own_count[q]))
        reach = own_tiles + self.slots + 1
        seq, seen = origin, 0
        while seen < reach:
            yield seq
            s, e = divmod(seq, plan.per_step)
            if s >= self.wl.steps:  # past the video (a stream of MLP weights alone may never count a tile)
                return
            layer = plan.elements[e].layer
            if layer < 0 or surely_loaded(s, layer):
                seen += len(plan.elements[e].tiles)
            seq += 1

    def window_id(self, step: int, q: int) -> int:
        """Interned id of `window(step, q)`, cached by the facts of the groups it can reach."""
        wl = self.wl
        if self._facts is None:
            self._facts = self._prepare()
        groups, spanned = self._reach_shape[q]
        near_end = step + spanned >= wl.steps - 1  # the window may run past the video: not cached by facts
        if not near_end:
            layer = wl.segment_layer[q]
            first = (
                step * wl.num_layers + (layer if layer >= 0 else 0)
                if wl.segment_kind[q] != "epilogue"
                else (step + 1) * wl.num_layers
            )
            key = (q, self._facts[first : first + groups])
            cached = self._cache.get(key)
            if cached is not None:
                return cached
        window = self.window(step, q)
        index = self._ids.setdefault(window, len(self.windows))
        if index == len(self.windows):
            self.windows.append(window)
        if not near_end:
            self._cache[key] = index
        return index

    def column_ids(self, q: int) -> np.ndarray:
        """`window_id(step, q)` for every step (int32): built once per distinct facts in reach, the steps grouped
        by those facts with numpy (a long video has millions of segment instances)."""
        wl = self.wl
        if self._facts is None:
            self._facts = self._prepare()
        groups, spanned = self._reach_shape[q]
        layer = wl.segment_layer[q]
        offset = wl.num_layers if wl.segment_kind[q] == "epilogue" else max(layer, 0)
        # steps cached by facts in `window_id` (not near the end), whose facts lie within the video's
        by_facts = max(min(wl.steps - 1 - spanned, (len(self._facts) - offset - groups) // wl.num_layers + 1), 0)
        ids = np.empty(wl.steps, dtype=np.int32)
        if by_facts:
            facts = np.frombuffer(self._facts, dtype=np.uint8)
            rows = facts[(np.arange(by_facts) * wl.num_layers + offset)[:, None] + np.arange(groups)]
            _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
            distinct = np.array([self.window_id(step, q) for step in first.tolist()], dtype=np.int32)
            ids[:by_facts] = distinct[inverse.ravel()]
        for step in range(by_facts, wl.steps):
            ids[step] = self.window_id(step, q)
        return ids

    def _prepare(self) -> bytes:
        """Facts a window depends on for every group of the video (returned, a byte per group: bit 0 its MLP
        computes, bit 1 the prediction, bit 2 no TAS decides it), and how many groups and steps each segment's
        reach spans."""
        wl, plan = self.wl, self.plan
        bits = (wl.n_compute > 0).astype(np.uint8) | (wl.predicted_compute.astype(np.uint8) << 1)
        facts = (bits | ((wl.tas_flag == 0).astype(np.uint8) << 2)).tobytes()
        for q in range(len(wl.segment_kind)):
            seqs = list(self._reach(plan.first_element[q], q, lambda s, layer: False))
            layers = {(seq // plan.per_step, plan.elements[seq % plan.per_step].layer) for seq in seqs}
            groups = sum(1 for _, layer in layers if layer >= 0)
            steps_spanned = seqs[-1] // plan.per_step if seqs else 0
            self._reach_shape.append((groups, steps_spanned))
        return facts
