"""More hostile inputs beyond issue 19's list: command-line values, argparse mistakes, design
keys, missing and wrong files. Each is refused in one line with exit 2 before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostile_support import Refused, edited_yaml

SIM = ["simulate", "--graph", "g.json", "--trace", "t.npz", "--design", "design.yaml", "--no-progress"]
SYNTH = ["synth-trace", "--layers", "2", "-o", "t2.npz"]

CLI_CASES = [
    # (argv, message fragment)
    ([*SYNTH, "--rates", "inf"], "--rates: expected numbers in [0, 1], found inf"),
    ([*SYNTH, "--rates", "1.5"], "--rates: expected numbers in [0, 1]"),
    ([*SYNTH, "--rates", "0.5,0.5,0.5"], "--rates: expected 1 or 2 values (one per layer), found 3 values"),
    ([*SYNTH, "--rates", "0.2,x"], "--rates: expected a number or a comma list of numbers"),
    ([*SYNTH, "--correlation", "-0.1"], "--correlation: expected a finite number in [0, 1]"),
    ([*SYNTH, "--batch-rows", "0"], "--batch-rows: expected an integer in [1, 64]"),
    ([*SYNTH, "--batch-rows", "65"], "--batch-rows: expected an integer in [1, 64]"),
    ([*SYNTH, "--conditioning-frames", "-1"], "--conditioning-frames: expected an integer in [0, "),
    ([*SYNTH[:3], "--frames", "1", "-o", "t2.npz"], "--frames: expected an integer in [2, 1024]"),
    ([*SIM, "--policy", "nosuch", "-o", "rep"], "argument --policy: invalid choice: 'nosuch'"),
    ([*SIM[:-1], "-o", "rep", "--dense-policy", "fast"], "argument --dense-policy: invalid choice"),
    (["simulate", "--graph", "g.json"], "the following arguments are required: --trace, --design, -o"),
    (["sweep", "--workers", "x"], "argument --workers: invalid int value: 'x'"),
    (["sweep", "spec.yaml", "-o", "out", "--workers", "0"], "--workers: expected an integer >= 1, found 0"),
    (["sweep", "spec.yaml", "-o", "out", "--lock-wait", "-1"], "--lock-wait: expected a finite number >= 0"),
    (["sweep", "spec.yaml", "-o", "out", "--lock-wait", "nan"], "--lock-wait: expected a finite number >= 0"),
    (["sweep", "spec.yaml"], "-o: expected an output folder for the sweep, found nothing"),
    (["sweep", "spec.yaml", "--resume", "out"], "arguments: expected either SPEC with -o DIR, or --resume DIR"),
    (["sweep", "--resume", "out", "-o", "x"], "-o: expected no -o with --resume"),
    (["sweep", "spec.yaml", "-o", "o", "--workers", "2", "--scheduler", "tcp://h:1"], "no --workers with --scheduler"),
    (["sweep"], "arguments: expected either SPEC with -o DIR, or --resume DIR, found neither"),
    (["decode", "--sample-top-p", "1.5"], "--sample-top-p: expected a finite number in [0, 1]"),
    (["decode", "--quality-budget", "-0.1"], "--quality-budget: expected a finite number in [0, 1]"),
    (["decode", "--adaptive-ratio", "2"], "--adaptive-ratio: expected a finite number in [0, 1]"),
    (["decode", "--calibration-rounds", "-1"], "--calibration-rounds: expected an integer >= 0"),
    (["decode", "--threads", "0"], "--threads: expected an integer >= 1"),
    (["decode", "--frames", "1"], "--frames: expected an integer in [2, "),
    (["decode", "--temperature", "nan"], "--temperature: expected a finite number >= 0"),
    (["run", "--frames", "1", "--no-progress"], "--frames: expected an integer in [2, "),
    (["run", "--calibration-videos", "0", "--no-progress"], "--calibration-videos: expected an integer >= 1"),
    (["trace", "--model", "nosuchmodel", "-o", "x.json"], "nosuchmodel"),
    (
        ["trace", "--model", "toyworld", "--prefill-tokens", "0", "-o", "x.json"],
        "--prefill-tokens: expected an integer",
    ),
    (["validate", "missing.yaml"], "missing.yaml"),
    (["validate", "."], "."),
    (["validate", "design.yaml", "--model", "nosuchmodel"], "nosuchmodel"),
    (["validate", "design.yaml", "--model", "toyworld", "--batch-rows", "0"], "--batch-rows: expected an integer >= 1"),
    (["validate", "design.yaml", "--model", "toyworld", "--frames", "0"], "--frames: expected an integer >= 1"),
    ([*SIM[:5], "--design", "nosuchdesign", "-o", "rep"], "design: expected a design file or one of the shipped"),
    (
        [*SIM[:3], "--trace", "missing.npz", *SIM[5:], "-o", "rep"],
        "missing.npz: expected an existing replay-trace file",
    ),
    (
        ["simulate", "--graph", "missing.json", *SIM[3:], "-o", "rep"],
        "missing.json: expected an existing compute-graph",
    ),
    ([*SIM, "--sparse-trace", "afile", "-o", "rep"], "afile: expected a replay-trace .npz archive"),
    (["pareto", "nosuchdir"], "nosuchdir"),
]


@pytest.mark.parametrize(("argv", "fragment"), CLI_CASES, ids=[" ".join(case[0])[:60] for case in CLI_CASES])
def test_refused_in_one_line(workspace: Path, refused: Refused, argv: list[str], fragment: str) -> None:
    (workspace / "spec.yaml").write_text("parameters: {}\n")
    refused(argv, fragment)
    assert not (workspace / "t2.npz").exists() and not (workspace / "rep").exists()


DESIGN_CASES = [
    # (dotted key: YAML value, message fragment)
    ("clock_mhz: '250'", "clock_mhz: expected a number"),
    ("engines.matrix.arrays: 0", "engines.matrix.arrays: expected an integer >= 1"),
    ("engines.matrix.arrays: 5000", "engines.matrix.arrays: expected an integer >= 1 and <= 4096"),
    ("dram.channels: 65", "dram.channels: expected an integer >= 1 and <= 64"),
    ("dram.burst_bytes: 0", "dram.burst_bytes: expected an integer >= 1"),
    ("buffers.0.width_bits: 0", "buffers[0].width_bits: expected an integer >= 1"),
    ("precision.weights: int3", "precision.weights: expected one of"),
    ("scheduling.policy: fastest", "scheduling.policy: expected one of"),
    ("device: nosuchdevice", "device: expected one of"),
    ("energy.mac_int8_pj: -1", "energy.mac_int8_pj: expected a number >= 0"),
    ("engines.vector.lanes: 0", "engines.vector.lanes: expected an integer >= 1"),
    ("engines.matrix.typo: 3", "engines.matrix.typo: expected one of the keys"),
]


@pytest.mark.parametrize(("edit", "fragment"), DESIGN_CASES, ids=[case[0] for case in DESIGN_CASES])
def test_design_key_refused_in_one_line(workspace: Path, refused: Refused, edit: str, fragment: str) -> None:
    name = edited_yaml(workspace / "design.yaml", edit, workspace / "bad.yaml")
    refused(["validate", name], fragment)
