"""Loading devices and designs: figures, defaults resolved from the device, helpers, errors."""

import pickle
from pathlib import Path

import pytest
import yaml

from cosim.common.errors import UserError
from cosim.hw import available_devices, design_from_dict, load_design, load_device

REPO = Path(__file__).resolve().parents[2]
KV260 = REPO / "hwconfigs" / "designs" / "kv260-systolic.yaml"
U280 = REPO / "hwconfigs" / "designs" / "u280-fastcar.yaml"


def kv260_dict() -> dict:
    return yaml.safe_load(KV260.read_text())


def test_shipped_devices_load_with_their_figures():
    assert available_devices() == ["kv260", "u250", "u280", "u50", "u55c", "vck190", "zcu102", "zcu104"]
    kv = load_device("kv260")
    assert (kv.resources.dsp, kv.resources.bram36, kv.resources.uram288, kv.resources.lut) == (1248, 144, 64, 117120)
    assert kv.resources.ff == 2 * kv.resources.lut
    assert kv.memories["ddr"].peak_gb_per_s == 19.2
    u280 = load_device("u280")
    assert u280.available("dsp") == 9024 - 4 and u280.available("lut") == 1303680 - 107000
    assert u280.memories["hbm"].channels == 32 and u280.memories["hbm"].peak_gb_per_s_per_channel * 32 == 460
    assert load_device("vck190").resources.dsp_kind == "DSP58"
    assert load_device("zcu102").available("uram288") == 0


def test_kv260_design_resolves_device_defaults():
    d = load_design(KV260)
    assert d.device_spec.name == "kv260"
    assert d.speed_grade == "-2LV" and d.dsp_fmax_mhz == 644
    assert d.dram.memory == "ddr" and d.dram.efficiency == 0.8 and d.dram.access_latency_ns == 100
    assert d.energy.dram_pj_per_bit == 15 and d.energy.static_w == 1.0 and d.energy.mac_int8_pj == 0.75
    assert d.mac_pj == 0.75


def test_kv260_helpers_match_hand_arithmetic():
    d = load_design(KV260)
    assert d.clock_period_ns == 4.0
    assert d.dram_peak_bytes_per_cycle == pytest.approx(19.2e9 / 250e6)  # 76.8
    assert d.dram_effective_bytes_per_cycle == pytest.approx(76.8 * 0.8)
    assert d.dram_access_latency_cycles == 25  # 100 ns / 4 ns
    assert d.engines.matrix.pes == 8 * 16 * 8 == 1024
    assert d.engine_dsps() == {"matrix": 512, "vector": 32, "tas": 16}
    assert d.bytes_per_element("weights") == 1.0
    assert d.buffer_bytes("weights") == 147456


def test_u280_drives_28_hbm_channels():
    d = load_design(U280)
    assert d.dram_peak_gb_per_s == pytest.approx(28 * 14.375)
    assert d.dram_peak_bytes_per_cycle == pytest.approx(28 * 14.375e9 / 250e6)  # 1610
    assert d.dram.efficiency == 0.92
    assert d.energy.dram_pj_per_bit == 3.9 and d.energy.static_w == 25.0


def test_precision_decides_bytes_and_dsp_packing():
    data = kv260_dict()
    data["precision"] = {"weights": "int4", "activations": "int8", "kv_cache": "fp16"}
    del data["engines"]["matrix"]["macs_per_dsp_per_cycle"]
    d = design_from_dict(data)
    assert d.bytes_per_element("weights") == 0.5 and d.bytes_per_element("kv_cache") == 2
    assert d.mac_precision == "int4" and d.engines.matrix.macs_per_dsp_per_cycle == 2
    assert d.mac_pj == 0.45
    data["precision"] = {"weights": "bf16", "activations": "bf16", "kv_cache": "bf16"}
    d = design_from_dict(data)
    assert d.engines.matrix.macs_per_dsp_per_cycle == 0.5 and d.engine_dsps()["matrix"] == 2048


def test_dsp58_packs_three_int8_macs():
    data = kv260_dict()
    data["device"] = "vck190"
    del data["engines"]["matrix"]["macs_per_dsp_per_cycle"]
    d = design_from_dict(data)
    assert d.engines.matrix.macs_per_dsp_per_cycle == 3
    assert d.engine_dsps()["matrix"] == 342  # ceil(1024 / 3)


def test_loaded_design_dumps_and_reloads_identically():
    d = load_design(U280)
    again = design_from_dict(d.model_dump())
    assert again.model_dump() == d.model_dump()
    restored = pickle.loads(pickle.dumps(d))
    assert restored.device_spec == d.device_spec and restored.dram_peak_bytes_per_cycle == d.dram_peak_bytes_per_cycle


def test_unquoted_speed_grade_is_read_as_its_name():
    data = kv260_dict()
    data["speed_grade"] = -2
    assert design_from_dict(data).speed_grade == "-2"


def _error(data: dict) -> str:
    with pytest.raises(UserError) as caught:
        design_from_dict(data, source="d.yaml")
    return str(caught.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d.update(speed_grade="-4"),
            "d.yaml: speed_grade: expected one of '-1', '-2', '-3', '-2LV' (speed grades of kv260), found '-4'",
        ),
        (
            lambda d: d["dram"].update(memory="hbm"),
            "d.yaml: dram.memory: expected one of 'ddr' (memories of kv260), found 'hbm'",
        ),
        (
            lambda d: d["engines"]["matrix"].update(macs_per_dsp_per_cycle=3),
            "d.yaml: engines.matrix.macs_per_dsp_per_cycle: expected at most 2 for int8 MACs on DSP48E2, found 3",
        ),
        (
            lambda d: d["buffers"][1].update(name="weights"),
            "d.yaml: buffers[1].name: expected a unique buffer name (buffers[0] is also called that), found 'weights'",
        ),
        (
            lambda d: d["buffers"].pop(1),
            "d.yaml: buffers: expected a buffer with purpose 'kv_cache', "
            "found purposes activations, output, scores, weights",
        ),
        (
            lambda d: d.update(replay_cache="buffer"),
            "d.yaml: replay_cache: expected a buffer with purpose 'replay_cache' when replay_cache is 'buffer', "
            "found none",
        ),
        (
            lambda d: d["scheduling"]["static_split"].update(mlp_arrays=7),
            "d.yaml: scheduling.static_split: expected attention_arrays + mlp_arrays <= engines.matrix.arrays = 8, "
            "found 9",
        ),
        (
            lambda d: d["scheduling"].update(policy="time_multiplexed"),
            "d.yaml: scheduling.static_split: expected no static_split for policy 'time_multiplexed', "
            "found {'attention_arrays': 2, 'mlp_arrays': 6}",
        ),
        (
            lambda d: d["engines"]["matrix"].update(type="mac_tree"),
            "d.yaml: engines.matrix.dataflow: expected no dataflow for a mac_tree engine (systolic only), "
            "found 'weight_stationary'",
        ),
        (
            lambda d: d["engines"]["matrix"].update(arrays=2.5),
            "d.yaml: engines.matrix.arrays: expected an integer >= 1 and <= 4096, found 2.5",
        ),
        (
            lambda d: d["precision"].update(weights="fp32"),
            "d.yaml: precision.weights: expected one of 'int4', 'int8', 'int16', 'fp16', 'bf16', found 'fp32'",
        ),
        (
            lambda d: d.update(energy={"mac_int8_pjj": 1}),
            "d.yaml: energy.mac_int8_pjj: expected one of the keys "
            "mac_int4_pj, mac_int8_pj, mac_int16_pj, mac_fp16_pj, "
            "bram_pj_per_bit, uram_pj_per_bit, dram_pj_per_bit, dram_controller_mw_per_channel, static_w, "
            "found unknown key 'mac_int8_pjj' (did you mean 'mac_int8_pj'?)",
        ),
    ],
)
def test_cross_checks_name_key_expected_and_found(change, message):
    data = kv260_dict()
    change(data)
    assert _error(data) == message


def test_several_errors_give_one_line_each_first_line_complete():
    data = kv260_dict()
    data["clock_mhz"] = 0
    data["engines"]["vector"]["lanes"] = "32"
    lines = _error(data).splitlines()
    assert lines == [
        "d.yaml: clock_mhz: expected a number >= 1 and <= 5000, found 0",
        "d.yaml: engines.vector.lanes: expected an integer >= 1 and <= 65536, found '32'",
    ]


def test_unknown_device_by_name_lists_the_devices():
    with pytest.raises(UserError) as caught:
        load_device("kv261")
    assert str(caught.value) == (
        "device: expected one of 'kv260', 'u250', 'u280', 'u50', 'u55c', 'vck190', 'zcu102', 'zcu104', found 'kv261'"
    )


def test_device_total_bandwidth_must_match_channels(tmp_path):
    text = (
        (REPO / "hwconfigs" / "devices" / "kv260.yaml")
        .read_text()
        .replace("peak_gb_per_s: 19.2", "peak_gb_per_s: 25.6")
    )
    path = tmp_path / "kv260.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as caught:
        load_device(path)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.strip().startswith("peak_gb_per_s:"))
    assert str(caught.value) == (
        f"{path}:{line}: memories.ddr.peak_gb_per_s: expected channels x "
        "peak_gb_per_s_per_channel = 19.2 (within 1 %), found 25.6"
    )


def test_device_name_must_match_file_stem(tmp_path):
    path = tmp_path / "mykv.yaml"
    path.write_text((REPO / "hwconfigs" / "devices" / "kv260.yaml").read_text())
    with pytest.raises(UserError) as caught:
        load_device(path)
    assert str(caught.value) == (
        f"{path}:5: name: expected the file stem 'mykv' (designs refer to devices by file name), found 'kv260'"
    )


def test_design_finds_devices_beside_its_own_folder(tmp_path):
    (tmp_path / "devices").mkdir()
    (tmp_path / "designs").mkdir()
    device = (REPO / "hwconfigs" / "devices" / "kv260.yaml").read_text().replace("name: kv260", "name: mykv")
    (tmp_path / "devices" / "mykv.yaml").write_text(device.replace("dsp: 1248", "dsp: 2000"))
    (tmp_path / "designs" / "d.yaml").write_text(KV260.read_text().replace("device: kv260", "device: mykv"))
    d = load_design(tmp_path / "designs" / "d.yaml")
    assert d.device_spec.name == "mykv" and d.device_spec.available("dsp") == 2000


def test_shipped_design_loads_by_name():
    assert load_design("kv260-fastcar").name == "kv260-fastcar"
    with pytest.raises(UserError) as caught:
        load_design("kv260-fastcat")
    assert str(caught.value) == (
        "design: expected a design file or one of the shipped designs 'kv260-fastcar', "
        "'kv260-systolic', 'u280-fastcar', 'u280-systolic', 'zcu104-fastcar', "
        "found 'kv260-fastcat'"
    )


def test_overrides_rederive_device_defaults():
    from cosim.hw import override_design

    u280 = load_design(U280)
    moved = override_design(u280, {"device": "kv260", "dram.memory": "ddr", "dram.channels": 1})
    # the U280 file does not set efficiency or static power, so the KV260 figures apply
    assert (moved.dram.efficiency, moved.energy.static_w, moved.energy.dram_pj_per_bit) == (0.8, 1.0, 15.0)
    assert u280.dram.channels == 28  # the original is untouched
    tuned = override_design(u280, {"engines.matrix.arrays": 16, "buffers.1.bytes": 4096, "energy.static_w": 20})
    assert (tuned.engines.matrix.arrays, tuned.buffers[1].bytes, tuned.energy.static_w) == (16, 4096, 20)
    with pytest.raises(UserError) as caught:
        override_design(u280, {"engines.matrix.arrayz": 16})
    assert "engines.matrix.arrayz: expected one of the keys" in str(caught.value)
