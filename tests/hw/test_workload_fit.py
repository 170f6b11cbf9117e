"""Workload-aware checks (`cosim.hw.workload_fit`): weights, KV cache and replay cache vs DRAM,
in `cosim validate --model`, in `simulate_runs` (simulate, run) and in sweep points."""

from functools import cache
from pathlib import Path

import pytest
import yaml

import models.tracing.graph_trace as graph_trace
from cosim.analysis.comparison import simulate_runs
from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.cli import main
from cosim.common.errors import UserError
from cosim.hw import design_from_dict, load_design
from cosim.hw.workload_fit import check_workload_fit, stored_weight_elems

REPO = Path(__file__).resolve().parents[2]
KV260 = "hwconfigs/designs/kv260-fastcar.yaml"
_TRACE = graph_trace.trace_model  # the real tracer; the fixture below puts a cached one in its place


@cache
def _traced(preset: str, batch_rows: int):
    return _TRACE(preset, phase="decode", batch_rows=batch_rows)


@pytest.fixture(autouse=True)
def _cached_tracing(monkeypatch):
    """Trace the 7B geometry once for the whole module (a trace takes seconds)."""
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(
        graph_trace,
        "trace_model",
        lambda preset, phase, batch_rows: _traced(getattr(preset, "name", preset), batch_rows),
    )


def _int8_copy(tmp_path: Path) -> Path:
    text = (REPO / KV260).read_text()
    text = text.replace(
        "{weights: int4, activations: int8, kv_cache: int4}", "{weights: int8, activations: int8, kv_cache: int8}"
    )
    text = text.replace("macs_per_dsp_per_cycle: 4 ", "macs_per_dsp_per_cycle: 2 ")
    path = tmp_path / "kv260-int8.yaml"
    path.write_text(text)
    return path


def test_shipped_kv260_holds_the_7b_video(capsys):
    assert main(["validate", KV260, "--model", "vila-u-7b-256"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "weights 3.42 GB + KV cache 0.54 GB + replay cache 0.067 GB = 4.02 GB of 4.29 GB DRAM" in out


def test_zcu104_streams_from_its_pl_ddr4_and_holds_the_7b_video(capsys):
    assert main(["validate", "hwconfigs/designs/zcu104-fastcar.yaml", "--model", "vila-u-7b-256"]) == 0


def test_int8_weights_do_not_fit_the_kv260(tmp_path, capsys):
    path = _int8_copy(tmp_path)
    assert main(["validate", str(path), "--model", "vila-u-7b-256"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"cosim validate: error: {path}: dram.memory: expected a DRAM that holds vila-u-7b-256")
    assert err[0].endswith("found DRAM capacity 4 GiB (4.29 GB) of ddr4 on kv260")


def test_fewer_frames_make_the_kv_cache_smaller(capsys):
    assert main(["validate", KV260, "--model", "vila-u-7b-256", "--frames", "2", "--batch-rows", "2"]) == 0
    assert "2 row(s), KV length 512" in capsys.readouterr().out


def test_stored_weights_count_each_module_once_and_the_whole_embedding_table():
    graph = _traced("vila-u-7b-256", 2)
    # LLaMA-2-7B (6.74e9 with embeddings and head) plus VILA-U's depth transformer and code embeddings
    assert 6.7e9 < stored_weight_elems(graph) < 6.9e9


def test_simulate_refuses_a_workload_that_does_not_fit(tmp_path):
    graph = _traced("vila-u-7b-256", 2)
    trace = synthetic_trace(num_layers=32, layer_rates=0.5, frames=2, seed=0)
    with pytest.raises(UserError, match="DRAM capacity 4 GiB"):
        simulate_runs(graph, trace, load_design(_int8_copy(tmp_path)), progress=False)


def test_a_4_kb_replay_buffer_cannot_hold_the_64_mib_replay_cache():
    data = yaml.safe_load((REPO / KV260).read_text())
    data["replay_cache"] = "buffer"
    data["buffers"].append(
        {"name": "replay", "purpose": "replay_cache", "bytes": 4096, "memory": "bram", "width_bits": 72}
    )
    design = design_from_dict(data, source="k.yaml")
    fit = check_workload_fit(_traced("vila-u-7b-256", 2), design, kv_len=2048, batch_rows=2)
    assert [str(e) for e in fit.errors] == [
        "k.yaml: replay_cache: expected replay-cache buffers of at least 67108864 bytes "
        "(vila-u-7b-256: one frame of MLP outputs), found 4096 bytes"
    ]


def test_a_kv_budget_bounds_the_kv_cache_and_is_held_against_the_kv_buffers(capsys):
    assert main(["validate", KV260, "--model", "vila-u-7b-256", "--kv-budget", "512"]) == 0
    out = capsys.readouterr().out
    # 32 layers x (K + V of 4096) x 512 entries x 2 rows at int4
    kv_bytes = 32 * 2 * 4096 * 512 * 2 // 2
    assert "2 row(s), KV length 512" in out and f"KV cache {kv_bytes / 1e9:.2f} GB" in out
    assert f"KV budget 512 entries per layer and kv head: KV cache {kv_bytes} bytes exceeds the kv_cache buffers" in out
    assert main(["validate", KV260, "--model", "vila-u-7b-256", "--kv-budget", "0"]) == 2
