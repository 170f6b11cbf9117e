"""Fuzzed design files: `cosim validate` and `cosim simulate` either run or refuse in one line (exit 2)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import yaml
from hypothesis import event, given
from hypothesis import strategies as st

from cosim.cli import main
from fuzz_support import check_refusal, edited

BASE = yaml.safe_load((Path(__file__).parents[2] / "hwconfigs" / "designs" / "kv260-fastcar.yaml").read_text())


def _run(argv: list[str], capsys) -> int:
    code = main(argv)
    captured = capsys.readouterr()
    if code == 2:
        assert captured.err.startswith(f"cosim {argv[0]}: error: "), captured.err
        check_refusal(captured.err)
    event(f"exit {code}")
    return code


@given(design=edited(BASE))
def test_an_edited_design_validates_and_simulates_or_is_refused(base, capsys, design):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "design.yaml")
        path.write_text(yaml.safe_dump(design, sort_keys=False))
        code = _run(["validate", str(path), "--json"], capsys)
        assert code in (0, 1, 2)
        command = ["simulate", "--graph", str(base / "g.json"), "--trace", str(base / "t.npz"), "--design", str(path)]
        code = _run([*command, "--policy", "drs", "-o", str(Path(folder, "out")), "--no-progress"], capsys)
        assert code in (0, 2)


@given(text=st.text(max_size=200), cut=st.integers(0, 3000))
def test_design_text_cut_or_garbled_is_refused_or_runs(base, capsys, text, cut):
    source = (base / "design.yaml").read_text()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "design.yaml")
        path.write_text(source[:cut] + text)
        assert _run(["validate", str(path)], capsys) in (0, 1, 2)


def test_validate_json_is_strict_json(base, capsys):
    assert main(["validate", str(base / "design.yaml"), "--json"]) in (0, 1)
    json.loads(capsys.readouterr().out, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
