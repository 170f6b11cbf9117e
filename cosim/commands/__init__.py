"""One module per `cosim` subcommand.

Each module defines `NAME` (the subcommand), `HELP` (one line), `add_arguments(parser)`
and `run(args) -> int`. The CLI discovers the modules in this package, so adding a
command means adding a file here. Commands that need torch import `models` inside
`run`, never at module level.
"""
