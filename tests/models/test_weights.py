"""The safetensors loader: a Hugging Face-named checkpoint round-trips with its geometry,
and every defect names the file and the key."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file, save_file

from cosim.common.errors import UserError
from models.config import get_preset
from models.weights import load_weights, save_weights
from tiny_models import tiny_depth_config, tiny_model

torch.set_num_threads(1)


@pytest.fixture
def checkpoint(tmp_path):
    model = tiny_model(seed=9)
    save_weights(model, tmp_path)
    return model, tmp_path


@torch.no_grad()
def test_round_trip_reads_geometry_and_weights(checkpoint):
    model, folder = checkpoint
    keys = set(load_file(folder / "model.safetensors"))
    assert {
        "model.embed_tokens.weight",
        "model.layers.1.self_attn.q_proj.weight",
        "model.layers.0.mlp.down_proj.weight",
        "model.norm.weight",
        "lm_head.weight",
    } <= keys
    # A Hugging Face config has no frame layout: it comes from the base preset (here the
    # tiny model's 4 x 4 frames and query positions, which its rotary embedding depends on).
    base = replace(get_preset("toyworld"), frames=3, frame_rows=4, frame_cols=4, rope_queries_at_target=False)
    loaded, random_init = load_weights(folder, base)
    config = loaded.config
    assert (config.num_layers, config.hidden, config.num_heads, config.num_kv_heads, config.mlp_hidden) == (
        2,
        32,
        4,
        2,
        64,
    )
    assert random_init == []
    tokens = torch.randint(0, 256, (1, 12))
    torch.testing.assert_close(loaded(tokens), model(tokens), rtol=0, atol=0)


@torch.no_grad()
def test_sharded_checkpoint_with_tied_head(checkpoint, tmp_path_factory):
    model, folder = checkpoint
    state = load_file(folder / "model.safetensors")
    state["lm_head.weight"] = state["model.embed_tokens.weight"]
    sharded = tmp_path_factory.mktemp("sharded")
    first = {k: v for k, v in state.items() if ".layers.1." not in k and k != "lm_head.weight"}
    second = {k: v for k, v in state.items() if ".layers.1." in k}
    save_file(first, sharded / "a.safetensors")
    save_file(second, sharded / "b.safetensors")
    weight_map = {**{k: "a.safetensors" for k in first}, **{k: "b.safetensors" for k in second}}
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (sharded / "config.json").write_text((folder / "config.json").read_text())
    loaded, _ = load_weights(sharded, get_preset("toyworld"))
    torch.testing.assert_close(loaded.lm_head.weight, model.embed_tokens.weight)


def test_missing_key_names_it(checkpoint):
    _, folder = checkpoint
    state = load_file(folder / "model.safetensors")
    del state["model.layers.1.mlp.up_proj.weight"]
    save_file(state, folder / "model.safetensors")
    with pytest.raises(UserError, match=r"model\.layers\.1\.mlp\.up_proj\.weight: expected a tensor"):
        load_weights(folder, get_preset("toyworld"))


def test_shape_mismatch_names_file_and_key(checkpoint):
    _, folder = checkpoint
    state = load_file(folder / "model.safetensors")
    state["model.layers.1.self_attn.o_proj.weight"] = torch.zeros(32, 31)
    save_file(state, folder / "model.safetensors")
    with pytest.raises(
        UserError,
        match=r"model\.safetensors: model\.layers\.1\.self_attn\.o_proj\.weight: "
        r"expected shape \(32, 32\), found shape \(32, 31\)",
    ):
        load_weights(folder, get_preset("toyworld"))


def test_missing_shard_and_missing_folder(checkpoint, tmp_path_factory):
    _, folder = checkpoint
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"lm_head.weight": "gone.safetensors"}})
    )
    with pytest.raises(UserError, match=r"index\.json: weight_map\.lm_head\.weight: expected an existing shard file"):
        load_weights(folder, get_preset("toyworld"))
    with pytest.raises(UserError, match="no such folder"):
        load_weights(folder / "nowhere", get_preset("toyworld"))
    with pytest.raises(UserError, match=r"no \.safetensors file"):
        load_weights(tmp_path_factory.mktemp("empty"), get_preset("toyworld"))


def test_depth_weights_absent_from_a_llama_checkpoint_are_random(checkpoint):
    _, folder = checkpoint
    loaded, random_init = load_weights(folder, tiny_depth_config())
    assert random_init and all(name.startswith("depth.") for name in random_init)
    assert loaded.depth is not None
    assert torch.isfinite(loaded.depth.head.weight).all() and loaded.depth.head.weight.std() > 0
