"""The DRS weight stream's elements, and two views of them: the whole video's, or one segment's window.

`StreamPlan` lists the weight elements of one step (every op with streamed weights, in
execution order); element numbers run on across steps (seq = step * per_step + element).
The weight stream reads them through a `StreamView`: `GlobalView` for the continuous
simulation (the whole video, groups keyed by (step, layer)), `WindowView` for a memoised
segment (only the part of the stream it can reach, groups keyed by a local index).
A *group* is the MLP of one (step, layer): its elements are conditional on the replay decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol, TypeVar

from cosim.sim.op_sizing import size_op
from cosim.sim.segments import SEGMENT_BLOCK, TAS_FROM_STREAM, OpWork
from cosim.sim.workload import Workload

if TYPE_CHECKING:
    from cosim.sim.context import SimContext

StepLayer = tuple[int, int]  # a group of the whole video: (step, layer)
G = TypeVar("G", StepLayer, int)


class StreamElement(NamedTuple):
    """One op's streamed weights within a step."""

    q: int  # segment of the step
    op_index: int  # the op's index in its segment template
    tiles: list[int]  # bytes per tile
    layer: int  # layer whose replay decision it depends on, or -1 (always loaded)


class StreamPlan:
    """The weight elements of one step (ops with streamed weights, in execution order)."""

    def __init__(self, ctx: SimContext) -> None:
        wl = ctx.workload
        self.elements: list[StreamElement] = []
        self.blocks: list[str] = []  # per element: the block class of its op (whose DRAM bytes it moves)
        self.first_element: list[int] = []  # per segment q: index of its first element (or next)
        self.element_of: dict[tuple[int, int], int] = {}  # (q, template op index) -> element
        self.own_count: list[int] = []  # per segment q: its elements
        for q, template_id in enumerate(wl.segment_template):
            self.first_element.append(len(self.elements))
            template = wl.templates[int(template_id)]
            count = 0
            for op_index, op in _full_ops(wl, int(template_id)):
                if op.streamed != "weights":
                    continue
                tiles = ctx.element_tiles(op)
                layer = wl.segment_layer[q] if template.ops[op_index].replayable else -1
                self.element_of[(q, op_index)] = len(self.elements)
                self.elements.append(StreamElement(q, op_index, tiles, layer))
                self.blocks.append(SEGMENT_BLOCK[wl.segment_kind[q]])
                count += 1
            self.own_count.append(count)
        self.per_step = len(self.elements)
        self.first_conditional: dict[int, int] = {}  # layer -> its first conditional element
        for e, element in enumerate(self.elements):
            if element.layer >= 0:
                self.first_conditional.setdefault(element.layer, e)


def _full_ops(wl: Workload, template_id: int) -> list[tuple[int, OpWork]]:
    """(template op index, sized op) of every op of a template with all rows active."""
    template = wl.templates[template_id]
    return [
        (i, size_op(op, (), wl.rows, 0, TAS_FROM_STREAM, template.kind, "mlp", wl.sizing))
        for i, op in enumerate(template.ops)
    ]


class StreamView(Protocol[G]):
    """What the weight stream asks about its elements (seq) and their groups (`G`)."""

    def tiles(self, seq: int) -> list[int] | None:
        """Tile bytes of element `seq`; None past the end of the video."""

    def block(self, seq: int) -> str:
        """Block class whose DRAM bytes element `seq` moves."""

    def group(self, seq: int) -> G | None:
        """The group element `seq` is conditional on, or None."""

    def group_first(self, group: G) -> int:
        """The first element of `group`."""

    def truth(self, group: G) -> bool:
        """Whether `group`'s MLP computes (the replay decision)."""

    def prediction(self, group: G) -> bool:
        """The previous frame's decision for `group`."""

    def known(self, group: G) -> bool:
        """Whether `group`'s decision is known now (TAS has run, or no TAS decides it)."""

    def resolve(self, group: G) -> None:
        """TAS has produced `group`'s decision."""


class GlobalView:
    """The whole video's weight stream (continuous simulation); seq = step * per_step + element."""

    def __init__(self, ctx: SimContext, plan: StreamPlan) -> None:
        self.wl = ctx.workload
        self.plan = plan
        self.resolved: set[StepLayer] = set()

    def tiles(self, seq: int) -> list[int] | None:
        step, e = divmod(seq, self.plan.per_step)
        return self.plan.elements[e].tiles if step < self.wl.steps else None

    def block(self, seq: int) -> str:
        return self.plan.blocks[seq % self.plan.per_step]

    def group(self, seq: int) -> StepLayer | None:
        step, e = divmod(seq, self.plan.per_step)
        layer = self.plan.elements[e].layer
        return (step, layer) if layer >= 0 else None

    def group_first(self, group: StepLayer) -> int:
        step, layer = group
        return step * self.plan.per_step + self.plan.first_conditional[layer]

    def truth(self, group: StepLayer) -> bool:
        return bool(self.wl.n_compute[group] > 0)

    def prediction(self, group: StepLayer) -> bool:
        return bool(self.wl.predicted_compute[group])

    def known(self, group: StepLayer) -> bool:
        return group in self.resolved or self.wl.tas_flag[group] == 0

    def resolve(self, group: StepLayer) -> None:
        self.resolved.add(group)


class WindowElement(NamedTuple):
    tiles: tuple[int, ...]  # bytes per tile
    group: int  # local group id, or -1 (always loaded)
    block: str  # block class whose DRAM bytes it moves


class WindowGroup(NamedTuple):
    truth: bool  # the MLP computes
    prediction: bool  # the previous frame's decision
    known: bool  # decided before the segment starts


@dataclass(frozen=True)
class Window:
    """The part of the weight stream a segment can reach, relative to its first element.

    ``resolved_here``: the group this segment's TAS resolves (or -1); ``ends``: True when
    the stream (the video) ends after the last element.
    """

    elements: tuple[WindowElement, ...]
    groups: tuple[WindowGroup, ...]
    resolved_here: int
    ends: bool


class WindowView:
    """A `Window` seen through the interface of `GlobalView` (memoised segments)."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.resolved: set[int] = set()
        self._first: dict[int, int] = {}
        for seq, element in enumerate(window.elements):
            if element.group >= 0:
                self._first.setdefault(element.group, seq)

    def tiles(self, seq: int) -> list[int] | None:
        if seq < 0:
            raise RuntimeError("weight stream behind its segment's first element (simulator bug)")
        if seq < len(self.window.elements):
            return list(self.window.elements[seq].tiles)
        if self.window.ends:
            return None
        raise RuntimeError("weight stream went past its reach window (simulator bug)")

    def block(self, seq: int) -> str:
        return self.window.elements[seq].block

    def group(self, seq: int) -> int | None:
        g = self.window.elements[seq].group
        return g if g >= 0 else None

    def group_first(self, group: int) -> int:
        return self._first[group]

    def truth(self, group: int) -> bool:
        return self.window.groups[group].truth

    def prediction(self, group: int) -> bool:
        return self.window.groups[group].prediction

    def known(self, group: int) -> bool:
        return group in self.resolved or self.window.groups[group].known

    def resolve(self, group: int) -> None:
        self.resolved.add(group)
