"""`cosim validate DESIGN.yaml`: pre-synthesis report of a design against its device.

Prints the utilisation table, the block mapping of every buffer, the bandwidth checks,
clock and DRAM figures and warnings; exits 2 when the design cannot be built (each
error on one line naming file, key path, expected and found).
"""

from __future__ import annotations

import argparse
import json

from cosim.hw import load_design
from cosim.hw.issues import ConfigErrors
from cosim.hw.validate import validate_design

NAME = "validate"
HELP = "check a hardware design against its device (resources, clock, bandwidth) before synthesis"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("design", help="design YAML file (e.g. hwconfigs/designs/kv260-fastcar.yaml)")
    parser.add_argument("--json", action="store_true", help="print a machine-readable report instead of tables")


def run(args: argparse.Namespace) -> int:
    report = validate_design(load_design(args.design))
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(report.render_text(), end="")
    if report.errors:
        raise ConfigErrors(report.errors)
    return 0
