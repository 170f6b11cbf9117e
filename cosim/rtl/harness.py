"""Cycle-true Amaranth simulation of the generated engines: feed a workload, collect values and cycles.

A workload is a list of folds; a fold is a list of input beats (one per cycle) and the
number of output events it produces. Beats of a fold go in on consecutive cycles; the
next fold starts on the cycle after the previous fold's last output (the simulator's
formulas let folds follow each other without overlap). The cycle count of a run is
"first input to last output": from the cycle the first beat is presented to the cycle
the last output is valid, both included.

Tiling a GEMM into folds and summing partial results across reduction folds is the job
of the engine's sequencer and accumulation buffer, which are not generated: the drivers
in `cosim.rtl.drivers` do it here, in Python, around the simulated array.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import SupportsInt

from amaranth.hdl import Signal


@dataclass
class Fold:
    """Input beats of one fold ((signal, value) pairs, one list per cycle) and how many output events it ends with."""

    beats: list[list[tuple[Signal, int]]]
    outputs: int


@dataclass
class OutputEvent:
    """One valid output: which port (index into the run's ports), on which cycle, the raw bus value."""

    port: int
    cycle: int
    value: int


@dataclass
class RunRecord:
    """Everything a run observed."""

    events: list[OutputEvent] = field(default_factory=list)
    first_input_cycle: int = 0
    last_output_cycle: int = -1

    @property
    def cycles(self) -> int:
        """First input to last output, both cycles included."""
        return self.last_output_cycle - self.first_input_cycle + 1


def pack(values: Iterable[SupportsInt], bits: int) -> int:
    """Little-endian concatenation of two's-complement `bits`-bit fields (element 0 in the low bits)."""
    mask = (1 << bits) - 1
    word = 0
    for index, value in enumerate(values):
        word |= (int(value) & mask) << (index * bits)
    return word


def unpack(word: int, count: int, bits: int) -> list[int]:
    """Signed `bits`-bit fields of `word`, element 0 from the low bits."""
    mask, sign = (1 << bits) - 1, 1 << (bits - 1)
    fields = [(word >> (i * bits)) & mask for i in range(count)]
    return [f - (1 << bits) if f & sign else f for f in fields]


def run_folds(
    dut: object,
    folds: Sequence[Fold],
    ports: Sequence[tuple[Signal, Signal]],
    idle: Sequence[tuple[Signal, int]],
    *,
    max_wait: int = 10_000,
) -> RunRecord:
    """Simulate `dut` on `folds`; `ports` are (valid, data) pairs to watch; `idle` are the inputs between beats."""
    from amaranth.sim import Simulator

    record = RunRecord()

    async def bench(ctx) -> None:
        cycle = 0

        def observe() -> int:
            seen = 0
            for index, (valid, data) in enumerate(ports):
                if ctx.get(valid):
                    record.events.append(OutputEvent(index, cycle, ctx.get(data)))
                    record.last_output_cycle = cycle
                    seen += 1
            return seen

        for fold in folds:
            got = 0
            for beat in fold.beats:
                for signal, value in beat:
                    ctx.set(signal, value)
                got += observe()
                await ctx.tick()
                cycle += 1
            for signal, value in idle:
                ctx.set(signal, value)
            waited = 0
            while got < fold.outputs:  # the next fold starts on the cycle after this fold's last output
                got += observe()
                await ctx.tick()
                cycle += 1
                waited += 1
                if waited > max_wait:
                    raise RuntimeError(f"no output after {max_wait} cycles: the engine hangs")

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return record
