"""The command line as a user meets it: help lists every command, cosim stays torch-free."""

import subprocess
import sys

from cosim.cli import build_parser, main

COMMANDS = {"decode", "pareto", "run", "simulate", "sweep", "trace", "train-toy", "validate"}


def test_every_command_is_listed():
    parser = build_parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    assert COMMANDS <= set(choices)


def test_cosim_side_never_imports_torch():
    # simulation workers (also on a cluster) must stay light: building the CLI and
    # importing every cosim module must not pull torch in
    code = (
        "import importlib, pkgutil, sys, cosim, cosim.cli\n"
        "cosim.cli.build_parser()\n"
        "for m in pkgutil.walk_packages(cosim.__path__, 'cosim.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "validate" in capsys.readouterr().out
