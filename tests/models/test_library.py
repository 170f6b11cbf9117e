"""The model library as the one source of the text LLMs' figures (models/library)."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from cosim.cli import main
from cosim.common.errors import UserError
from models.config import PRESETS, ModelConfig
from models.library import library, preset_config, presets, trace_named_model
from models.tracing.graph_trace import trace_model

KV260 = Path(__file__).resolve().parents[2] / "hwconfigs" / "designs" / "kv260-fastcar.yaml"

# The presets as models/config.py defined them before the library held their figures.
LLAMA_2_7B = ModelConfig(
    name="llama-2-7b",
    num_layers=32,
    hidden=4096,
    num_heads=32,
    num_kv_heads=32,
    mlp_hidden=11008,
    vocab_size=32000,
    rope_theta=10000.0,
    norm_eps=1e-5,
    codebook_size=32000 - 1,
)
LLAMA_3_8B = ModelConfig(
    name="llama-3-8b",
    num_layers=32,
    hidden=4096,
    num_heads=32,
    num_kv_heads=8,
    mlp_hidden=14336,
    vocab_size=128256,
    rope_theta=500000.0,
    norm_eps=1e-5,
    codebook_size=128256 - 1,
)


@pytest.mark.parametrize("config", [LLAMA_2_7B, LLAMA_3_8B], ids=lambda c: c.name)
def test_text_llm_presets_are_built_from_the_library_with_their_old_figures(config: ModelConfig):
    assert config.name not in PRESETS  # models/config.py no longer holds a copy
    assert library()[config.name].project_preset
    assert preset_config(config.name) == config


def test_cosim_trace_of_a_text_llm_is_the_graph_of_before():
    old, new = trace_model(LLAMA_2_7B, "decode"), trace_named_model("llama-2-7b", "decode")
    assert new.graph == old.graph
    assert dict(new.nodes(data=True)) == dict(old.nodes(data=True))
    assert nx.to_dict_of_dicts(new) == nx.to_dict_of_dicts(old)


def test_presets_are_the_projects_and_the_librarys_text_llms():
    assert list(presets()) == ["llama-2-7b", "llama-3-8b", "toyworld", "vila-u-7b-256"]
    with pytest.raises(UserError, match="preset: expected one of llama-2-7b, llama-3-8b, toyworld, vila-u-7b-256"):
        preset_config("llama-3")


def test_validate_takes_a_library_model(capsys):
    assert main(["validate", str(KV260), "--model", "llamagen-b", "--frames", "2"]) == 0
    assert "workload llamagen-b: 2 row(s), KV length 512" in capsys.readouterr().out
