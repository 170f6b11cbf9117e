"""The notebooks run end to end, and are committed without outputs.

Each notebook is a separate test, executed once: it is copied into a temporary folder and
executed there with nbclient on a kernel that runs this interpreter (the project's venv), so
a notebook that raises, or that reads or writes files next to itself, fails here. The test
shrinks each notebook's parameters (its first code cell, `SMALL`) so that it runs in seconds:
it checks that the code runs, not the figures. What the notebooks claim about the figures
is checked by value tests on a small pipeline (test_notebook_claims.py).
"""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "python3"
# Deadlines only turn a hang into a failure: on a machine shared by several jobs a notebook runs 10x slower.
CELL_TIMEOUT_S = 1200
NOTEBOOK_TIMEOUT_S = 1800
# Parameters (first code cell) replaced for the test run, by notebook stem: fewer frames, videos, points.
SMALL: dict[str, dict[str, object]] = {
    "01_quickstart": {"FRAMES": 2},
    "02_resource_utilisation": {"FRAMES": 2, "MODEL": "toyworld"},
    "03_tas_analysis": {"VIDEOS": 1, "FRAMES": 3, "TARGET_RATIOS": (0.0, 0.7)},
    "04_design_space": {"FRAMES": 2, "TREE_WIDTHS": [8], "WORKERS": 1},
}


def _kernel_python() -> str:
    """The interpreter the `python3` kernel spec starts. jupyter_client substitutes the
    running interpreter for a bare `python`/`python3` in argv[0]."""
    argv0 = KernelSpecManager().get_kernel_spec(KERNEL).argv[0]
    bare = {"python", f"python{sys.version_info[0]}", f"python{sys.version_info[0]}.{sys.version_info[1]}"}
    return sys.executable if argv0 in bare else argv0


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS if p.name.startswith("03_")], NOTEBOOKS


def test_kernel_runs_this_interpreter():
    assert Path(_kernel_python()).resolve() == Path(sys.executable).resolve()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_has_no_outputs(path: Path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; run tools/strip_notebooks.py"


def with_parameters(notebook: nbformat.NotebookNode, values: dict[str, object]) -> None:
    """Replace the assignments to `values`' names in the notebook's first code cell (each must be there)."""
    if not values:
        return
    cell = next(c for c in notebook.cells if c.cell_type == "code")
    assigned = {
        target.id
        for node in ast.parse(cell.source).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert set(values) <= assigned, f"parameters {sorted(set(values) - assigned)} not in the first code cell"
    cell.source += "\n" + "\n".join(f"{name} = {value!r}" for name, value in values.items())


def test_small_parameters_name_existing_notebooks():
    assert set(SMALL) <= {p.stem for p in NOTEBOOKS}


@pytest.mark.timeout(NOTEBOOK_TIMEOUT_S)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path, tmp_path: Path):
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    notebook = nbformat.read(copy, as_version=4)
    with_parameters(notebook, SMALL.get(path.stem, {}))
    client = NotebookClient(
        notebook, kernel_name=KERNEL, timeout=CELL_TIMEOUT_S, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError naming the cell if any cell fails
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors
    figures = sum(
        1
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    )
    assert figures > 0, f"{path.name} drew no figure"
