"""Remove outputs, execution counts and run metadata from notebooks before committing.

Notebooks are committed without outputs so that diffs show code only and the repository
does not carry stale figures; the tests (tests/test_notebooks.py) execute them instead.

    python tools/strip_notebooks.py                # strip every notebooks/*.ipynb in place
    python tools/strip_notebooks.py --check a.ipynb  # exit 1 if a file still has outputs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from cosim.common.atomic import atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
RUN_METADATA = ("execution", "collapsed", "scrolled")


def strip(notebook: nbformat.NotebookNode) -> bool:
    """Strip `notebook` in place; True if anything changed."""
    changed = False
    for cell in notebook.cells:
        for key in RUN_METADATA:
            if key in cell.metadata:
                del cell.metadata[key]
                changed = True
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
            cell.outputs, cell.execution_count = [], None
            changed = True
    if "widgets" in notebook.metadata:
        del notebook.metadata["widgets"]
        changed = True
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="report notebooks that need stripping, change nothing")
    args = parser.parse_args(argv)
    paths = args.paths or sorted((ROOT / "notebooks").glob("*.ipynb"))
    dirty = []
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        if strip(notebook):
            dirty.append(path)
            if not args.check:
                atomic_write_text(path, nbformat.writes(notebook) + "\n")
    for path in dirty:
        print(f"{'has outputs' if args.check else 'stripped'}: {path}")
    return 1 if args.check and dirty else 0


if __name__ == "__main__":
    sys.exit(main())
