"""The command line as a user meets it: help lists every command, cosim stays torch-free."""

import argparse
import subprocess
import sys

from cosim.cli import build_parser, main

COMMANDS = {"decode", "pareto", "run", "simulate", "sweep", "synth-trace", "trace", "train-toy", "validate"}


def _command_names(parser: argparse.ArgumentParser) -> set[str]:
    choices = next(a for a in parser._actions if a.dest == "command").choices
    assert choices is not None  # the subcommands
    return set(choices)


def test_every_command_is_listed():
    assert _command_names(build_parser()) >= COMMANDS


def test_a_command_added_by_one_registration_runs(capsys):
    from types import SimpleNamespace

    from cosim.commands import COMMANDS

    def add_arguments(parser):
        parser.add_argument("--name", default="world")

    def run(args):
        print(f"hello {args.name}")
        return 0

    COMMANDS.add("hello", SimpleNamespace(NAME="hello", HELP="say hello", add_arguments=add_arguments, run=run))
    try:
        assert main(["hello", "--name", "cosim"]) == 0
    finally:
        COMMANDS.remove("hello")
    assert capsys.readouterr().out == "hello cosim\n"
    assert "hello" not in _command_names(build_parser())


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


def test_synth_trace_writes_a_loadable_trace(tmp_path):
    from cosim.artifacts.replay_trace import ReplayTrace

    out = tmp_path / "s.npz"
    assert main(["synth-trace", "--layers", "4", "--rates", "0,0,1,1", "--frames", "3", "-o", str(out)]) == 0
    trace = ReplayTrace.load(out)
    # 2 generated frames x 256 positions; layers 2 and 3 always replay, 0 and 1 never
    assert trace.num_steps == 512
    assert trace.layer_replay_ratio().tolist() == [0.0, 0.0, 1.0, 1.0]
    assert trace.meta["source"] == "synthetic"


def test_synth_trace_rejects_a_wrong_rate_count(tmp_path, capsys):
    assert main(["synth-trace", "--layers", "4", "--rates", "0.1,0.2", "-o", str(tmp_path / "s.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "cosim synth-trace: error: --rates: expected 1 or 4 values (one per layer), found 2 values"
    assert not (tmp_path / "s.npz").exists()
