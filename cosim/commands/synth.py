"""`cosim synth DESIGN`: synthesize the generated engines with Yosys and compare with the estimate.

Per engine, buffer and in total: estimated vs synthesized DSP, LUT, FF and block RAM with
the deviation; the last line is ``max deviation estimate vs synthesis: X %`` over DSP and
LUT. Large engines are synthesized as a representative slice and scaled (the "how" column
says so). Takes minutes the first time (YoWASP Yosys); results are cached.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "synth"
HELP = "synthesize a design's generated engines with Yosys: estimated vs synthesized DSP/LUT/FF/BRAM"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("design", help="design YAML file or shipped design name (e.g. kv260-fastcar)")
    parser.add_argument(
        "--cache-dir",
        default="out/synth-cache",
        help="where synthesis results are kept between runs (default: out/synth-cache)",
    )
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    import sys

    from cosim.hw import load_design
    from cosim.rtl.synth_report import compare_design

    design = load_design(args.design)

    def progress(spec) -> None:
        print(f"synthesizing {spec.module_name} ...", file=sys.stderr, flush=True)

    report = compare_design(design, cache_dir=Path(args.cache_dir), progress=progress)
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.render_text(), end="\n" if args.json else "")
    return 0
