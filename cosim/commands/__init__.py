"""One module per `cosim` subcommand, registered in `COMMANDS`.

Each module defines `NAME` (the subcommand), `HELP` (one line), `add_arguments(parser)`
and `run(args) -> int`. Adding a command: a module here and its name in `BUILTIN`
below; the CLI builds its parser from `COMMANDS`. Commands that need torch import
`models` inside `run`, never at module level, so building the parser stays torch-free.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Protocol

from cosim.common.registry import Registry


class Command(Protocol):
    """What a command module provides (a module satisfies this protocol)."""

    NAME: str
    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


COMMANDS: Registry[Command] = Registry("command", "COMMAND")


# The built-in commands, in the order `cosim --help` lists them.
BUILTIN = (
    "decode",
    "models",
    "pareto",
    "rtl",
    "run",
    "simulate",
    "sweep",
    "synth",
    "synth_trace",
    "trace",
    "train_toy",
    "validate",
)


def _register_builtin_commands() -> None:
    for name in BUILTIN:
        command: Command = importlib.import_module(f"cosim.commands.{name}")
        COMMANDS.add(command.NAME, command)


_register_builtin_commands()
