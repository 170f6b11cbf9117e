"""`cosim rtl DESIGN -o DIR`: synthesizable Verilog of the design's engines and buffers.

Writes one .v file per module (matrix array, vector unit, TAS unit, one memory per
buffer) and engines.json (module, instances, sizes); `--check` reads every file back
with Yosys. See docs/rtl.md for the interfaces and what is not generated.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "rtl"
HELP = "write Verilog (from Amaranth) for a design's compute engines and on-chip buffers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("design", help="design YAML file or shipped design name (e.g. kv260-fastcar)")
    parser.add_argument("-o", "--out", required=True, help="output directory for the Verilog files")
    parser.add_argument("--check", action="store_true", help="read every file back with Yosys (a few seconds each)")


def run(args: argparse.Namespace) -> int:
    from cosim.hw import load_design
    from cosim.rtl.engines import engine_specs
    from cosim.rtl.verilog import check_readable, write_design_verilog

    design = load_design(args.design)
    specs = engine_specs(design)
    out = Path(args.out)
    paths = write_design_verilog(specs, out)
    for spec in specs:
        count = f"{spec.instances} x " if spec.instances > 1 else ""
        print(f"{spec.module_name + '.v':<22} {count}{spec.description}")
    if args.check:
        check_readable(paths)
        print(f"yosys read all {sum(p.suffix == '.v' for p in paths)} Verilog files without error")
    print(f"wrote {len(paths)} files to {out}/ for design {design.name}")
    return 0
