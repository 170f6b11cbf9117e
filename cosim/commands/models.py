"""`cosim models`: list the shipped model library (models/library/*.json) - geometry,
parameters, tokens per frame and where the figures come from. Reads JSON only (no torch).

    cosim models
    cosim models --sources        (each entry's sources in full)
"""

from __future__ import annotations

import argparse

NAME = "models"
HELP = "list the model library: layers, hidden, heads, MLP width, parameters, tokens per frame, source"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sources", action="store_true", help="print each entry's sources in full")


def run(args: argparse.Namespace) -> int:
    from models.library import library

    header = f"{'model':<18}{'layers':>7}{'hidden':>8}{'heads':>7}{'kv':>4}{'MLP':>7}{'params':>9}{'tok/frame':>10}"
    print(f"{header}  {'resolution':<11}{'frames':>7}  source")
    for name, entry in library().items():
        s, g = entry.shape(), entry.geometry
        params = f"{entry.parameters() / 1e9:.2f}B"
        print(
            f"{name:<18}{s['layers']:>7}{s['hidden']:>8}{s['heads']:>7}{s['kv_heads']:>4}{s['mlp']:>7}{params:>9}"
            f"{g['tokens_per_frame']:>10}  {g['resolution']:<11}{g['frames']:>7}  {entry.source_kind}"
        )
        if args.sources:
            for what, text in entry.sources.items():
                print(f"    {what}: {text}")
    print("params: LLaMA-style decoder in closed form (no depth transformer or vision tokenizer)")
    print("trace one: cosim trace --model NAME --summary")
    return 0
