"""`cosim validate`: shipped designs pass; broken ones fail with one exact line and exit 2."""

import json
from pathlib import Path

import pytest

from cosim.cli import main
from cosim.hw import design_from_dict, load_design, shipped_designs
from cosim.hw.validate import validate_design

REPO = Path(__file__).resolve().parents[2]
BAD = "tests/data/bad_designs"


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch):
    monkeypatch.chdir(REPO)  # messages show the paths as given on the command line


def test_at_least_the_three_reference_designs_ship():
    names = {p.stem for p in shipped_designs()}
    assert {"kv260-fastcar", "zcu104-fastcar", "u280-fastcar"} <= names


@pytest.mark.parametrize("path", shipped_designs(), ids=lambda p: p.stem)
def test_shipped_designs_validate_cleanly(path, capsys):
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.rstrip().endswith("0 error(s), 0 warning(s)")


BAD_CASES = {
    "over_budget_dsp": "over_budget_dsp.yaml:6: engines: expected at most 1248 DSP slices (kv260), "
    "found 1584 (matrix 1536, vector 32, tas 16)",
    "uram_too_big": "uram_too_big.yaml:12: buffers[1].bytes: expected a buffer that fits the 64 URAM288 blocks "
    "of kv260, found 4718592 bytes needing 128 URAM288 (8 wide x 16 deep)",
    "missing_key": "missing_key.yaml:2: clock_mhz: expected a number >= 1 and <= 5000 (a required key), found nothing",
    "wrong_type": "wrong_type.yaml:7: engines.matrix.rows: expected an integer >= 1 and <= 65536, found 'sixteen'",
    "negative_efficiency": "negative_efficiency.yaml:14: dram.efficiency: expected a number > 0 and <= 1, found -0.8",
    "unknown_device": "unknown_device.yaml:3: device: expected one of 'kv260', 'u250', 'u280', 'u50', 'u55c', "
    "'vck190', 'zcu102', 'zcu104', found 'kv999'",
    "yaml_syntax": "yaml_syntax.yaml:9:6: expected valid YAML, found a syntax error: expected ',' or '}', "
    "but got ':' (while parsing a flow mapping at line 8)",
    "duplicate_key": "duplicate_key.yaml:12: engines.matrix: expected each key once, found 'rows' again "
    "(first at line 10)",
    "unknown_key": "unknown_key.yaml:7: engines.matrix.rowz: expected one of the keys type, arrays, rows, cols, "
    "dataflow, macs_per_dsp_per_cycle, found unknown key 'rowz' (did you mean 'rows'?)",
    "clock_above_fmax": "clock_above_fmax.yaml:4: clock_mhz: expected at most 644 MHz (DSP48E2 Fmax at speed "
    "grade -2LV of kv260), found 700",
    "too_many_channels": "too_many_channels.yaml:14: dram.channels: expected at most 1 (ddr4 channels of kv260), "
    "found 2",
}


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_bad_design_fails_with_exact_message(name, capsys):
    assert main(["validate", f"{BAD}/{name}.yaml"]) == 2
    _, err = capsys.readouterr()
    assert err.splitlines() == [f"cosim validate: error: {BAD}/{BAD_CASES[name]}"]


def test_negative_bandwidth_in_a_device_file_is_rejected(capsys):
    from cosim.common.errors import UserError
    from cosim.hw import load_device

    with pytest.raises(UserError) as caught:
        load_device(f"{BAD}/negative_bandwidth_device.yaml")
    assert str(caught.value) == (
        f"{BAD}/negative_bandwidth_device.yaml:12: memories.ddr.peak_gb_per_s_per_channel: "
        "expected a number > 0, found -19.2"
    )
    assert main(["validate", f"{BAD}/negative_bandwidth_device.yaml"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"cosim validate: error: {BAD}/negative_bandwidth_device.yaml:2: expected a design file (a device file is "
        "named by a design's 'device' key), found a device file"
    ]


def test_over_budget_design_still_prints_its_table(capsys):
    main(["validate", f"{BAD}/over_budget_dsp.yaml"])
    out = capsys.readouterr().out
    assert ["DSP", "1,584", "1,248", "126.9", "%"] in [line.split() for line in out.splitlines()]


def test_json_report_has_the_table_keys(capsys):
    assert main(["validate", "hwconfigs/designs/kv260-systolic.yaml", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["estimate"]) == {"DSP", "BRAM36", "URAM288", "LUT"}
    dsp = report["estimate"]["DSP"]
    assert (dsp["used"], dsp["available"], dsp["percent"]) == (560, 1248, 44.87)
    assert report["estimate"]["LUT"]["estimate"] is True and report["estimate"]["DSP"]["estimate"] is False
    weights = report["buffers"][0]
    assert (weights["blocks"], weights["blocks_wide"], weights["blocks_deep"], weights["lost_bits"]) == (8, 8, 1, 0)
    assert report["dram"]["peak_bytes_per_cycle"] == pytest.approx(76.8)
    assert report["ok"] is True and report["errors"] == []


def test_json_report_of_a_bad_design_lists_the_error(capsys):
    assert main(["validate", f"{BAD}/clock_above_fmax.yaml", "--json"]) == 2
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["ok"] is False and len(report["errors"]) == 1
    assert captured.err.startswith("cosim validate: error: ")


def test_kv260_estimate_matches_hand_arithmetic():
    report = validate_design(load_design("hwconfigs/designs/kv260-systolic.yaml"))
    lines = report.resources.lines
    assert lines["BRAM36"].breakdown == {"act": 32, "scores": 8, "out": 8}  # 4x8, 4x2, 8x1
    assert lines["URAM288"].breakdown == {"weights": 8, "kv": 24}  # 8x1, 8x3
    lut = lines["LUT"].breakdown
    assert lut["matrix"] == 1024 * 25 + 8 * 1000  # weight-stationary PEs, per-array sequencers
    assert lut["buffer_muxes"] == 0  # act (4096 words) and scores (1024) fit one row of 1 x 32768 blocks
    assert lines["LUT"].used == 33600 + 32 * 216 + 16 * 20 + 0 + 2500 + 8000


def test_shell_is_subtracted_on_alveo():
    report = validate_design(load_design("hwconfigs/designs/u280-fastcar.yaml"))
    dsp = report.resources.lines["DSP"]
    assert (dsp.total, dsp.reserved, dsp.available) == (9024, 4, 9020)
    assert report.resources.lines["BRAM36"].available == 2016 - 195


def _kv260(**changes):
    import yaml

    data = yaml.safe_load((REPO / "hwconfigs/designs/kv260-systolic.yaml").read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = data
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        target[last] = value
    return validate_design(design_from_dict(data, source="k.yaml"))


def test_warnings_do_not_fail_but_are_reported():
    report = _kv260(clock_mhz=320)
    assert report.ok
    assert [str(w) for w in report.warnings] == [
        "k.yaml: clock_mhz: expected at most about 300 MHz (what full zynq_ultrascale_plus designs typically "
        "close timing at), found 320"
    ]


def test_narrow_weight_buffer_warns_about_its_port_bandwidth():
    report = _kv260(buffers__0__width_bits=288, buffers__0__bytes=73728)
    assert report.ok
    assert [str(w) for w in report.warnings] == [
        "k.yaml: buffers[0].width_bits: expected >= 64 B/cycle of weights read ports to feed the matrix engine "
        "(arrays x cols (top edge); 1 B each), found 36 B/cycle"
    ]


def test_uram_buffer_on_a_device_without_uram_is_an_error():
    report = _kv260(device="zcu102")
    assert [str(e) for e in report.errors] == [
        "k.yaml: buffers[0].memory: expected 'bram' (zcu102 has no URAM288), found 'uram'"
    ]


def test_optimistic_efficiency_and_idle_arrays_warn():
    report = _kv260(dram__efficiency=0.95, scheduling__static_split={"attention_arrays": 2, "mlp_arrays": 4})
    assert [str(w) for w in report.warnings] == [
        "k.yaml: dram.efficiency: expected at most 0.8 (typical for ddr4); higher is optimistic, found 0.95",
        "k.yaml: scheduling.static_split: expected attention_arrays + mlp_arrays = 8 (engines.matrix.arrays; "
        "the rest stay idle), found 6",
    ]
