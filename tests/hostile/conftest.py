"""A small workspace a new user would build (design copy, graph, trace, finished sweep) and a helper
that runs one `cosim` command in-process and checks it was refused in one line with exit 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cosim.artifacts.graph import save_graph
from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.cli import main
from cosim.hw import hwconfigs_dir
from hostile_support import Refused
from sweep_support import tiny_graph


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """design.yaml (kv260-fastcar), g.json (2 layers), t.npz (2 layers) in the working directory."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(hwconfigs_dir() / "designs" / "kv260-fastcar.yaml", tmp_path / "design.yaml")
    save_graph(tiny_graph(), tmp_path / "g.json")
    synthetic_trace(num_layers=2, layer_rates=0.5, frames=3, frame_rows=2, frame_cols=2, seed=1).save(
        tmp_path / "t.npz"
    )
    (tmp_path / "afile").write_text("not a folder\n")
    return tmp_path


@pytest.fixture
def refused(capsys: pytest.CaptureFixture[str]) -> Refused:
    """`refused(argv, fragment)`: the command exits 2 with one stderr line holding `fragment`."""

    def check(argv: list[str], fragment: str) -> str:
        try:
            code: int | str | None = main(argv)
        except SystemExit as stop:  # argparse's usage errors exit from inside main
            code = stop.code
        err = capsys.readouterr().err.strip()
        assert code == 2, f"exit {code}, stderr: {err}"
        assert "\n" not in err, f"more than one line:\n{err}"
        assert err.startswith(f"cosim {argv[0]}: error: "), err
        assert fragment in err, f"{fragment!r} not in {err!r}"
        return err

    return check
