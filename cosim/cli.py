"""The `cosim` command line: one subcommand per entry of `cosim.commands.COMMANDS`.

User mistakes surface as `UserError` and end with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from cosim import __version__
from cosim.commands import COMMANDS
from cosim.common.errors import UserError


class _Parser(argparse.ArgumentParser):
    """argparse exits with status 2 on bad arguments already; keep the message to one line, as every refusal."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cosim",
        description="FastCar hardware/software co-design: decode, trace, simulate, sweep, validate.",
    )
    parser.add_argument("--version", action="version", version=f"cosim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, command in COMMANDS.items():
        command_parser = sub.add_parser(name, help=command.HELP, description=command.HELP)
        command.add_arguments(command_parser)
        command_parser.set_defaults(_run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except UserError as error:
        print(f"cosim {args.command}: error: {error}", file=sys.stderr)
        return UserError.exit_code
    except KeyboardInterrupt:
        print(f"cosim {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
