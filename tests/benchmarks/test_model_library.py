"""benchmarks/model_library.py records a model that a design cannot hold as a row saying so, not a crash."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from benchmark_scripts import load_benchmark
from cosim.hw import load_design
from cosim.hw.workload_fit import check_workload_fit
from models.library import trace_library_model

ROOT = Path(__file__).resolve().parents[2]
KV260 = ROOT / "hwconfigs" / "designs" / "kv260-fastcar.yaml"


@pytest.fixture(scope="module")
def benchmark() -> ModuleType:
    return load_benchmark("model_library")


def test_model_too_big_for_the_design_is_a_row_saying_so(benchmark: ModuleType, monkeypatch: pytest.MonkeyPatch):
    # LlamaGen-B with a billion-row embedding table: 0.77 T parameters, far past the KV260's 4 GiB of DRAM.
    graph = trace_library_model("llamagen-b", "decode", kv_len=2 * 256)
    graph.graph["vocab_size"] = 10**9
    monkeypatch.setattr(benchmark, "trace_library_model", lambda *args, **kwargs: graph)
    design = load_design(KV260)

    [row] = benchmark.model_rows("llamagen-b", [design], 1)

    reason = check_workload_fit(graph, design, kv_len=2 * 256, batch_rows=2).errors  # what `cosim validate` says
    assert row["fits"] is False
    assert row["fit_error"] == str(reason[0]).replace(f"{ROOT}/", "")
    assert row["fit_error"].startswith("hwconfigs/designs/kv260-fastcar.yaml: dram.memory: expected a DRAM that holds")
    assert "dram.memory" in row["fit_error"]
    assert row["mlp_share_of_macs"] > 0 and "dense_ms_per_step" not in row
    line = benchmark.markdown_row(row)
    assert line.startswith("| llamagen-b | 12 |") and "does not fit" in line
    assert line.count("|") == benchmark.HEADER.count("|")
    assert row["fit_error"] in benchmark.fit_notes([row])
