"""The decoder: cached decoding equals the full forward, GQA equals repeated-head MHA,
the 7B geometry builds on the meta device, the KV cache is bounded."""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from cosim.common.errors import UserError
from models.config import get_preset
from models.transformer import VideoTransformer
from tiny_models import tiny_config, tiny_depth_config, tiny_model

torch.set_num_threads(1)


@pytest.mark.parametrize("queries_at_target", [False, True])
@torch.no_grad()
def test_kv_cache_decode_equals_full_forward_logits(queries_at_target):
    model = tiny_model(rope_queries_at_target=queries_at_target)
    tokens = torch.randint(0, 256, (2, 24), generator=torch.Generator().manual_seed(1))
    full = model(tokens)
    cache = model.new_cache(batch=2, max_len=24)
    logits = [model.lm_head(model.norm(model.prefill(model.embed_tokens(tokens[:, :7]), cache)))]
    for t in range(7, 24):
        logits.append(model.lm_head(model.norm(model.decode_step(model.embed_tokens(tokens[:, t : t + 1]), cache))))
    assert cache.length == 24
    torch.testing.assert_close(torch.cat(logits, dim=1), full, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_gqa_equals_mha_with_repeated_kv_heads():
    gqa = tiny_model(seed=3)  # 4 query heads on 2 kv heads
    mha = VideoTransformer(tiny_config(num_kv_heads=4)).eval()
    state = gqa.state_dict()
    head_dim, groups = gqa.config.head_dim, 2
    for name, value in state.items():
        if name.endswith(("k_proj.weight", "v_proj.weight")):
            # kv head j serves query heads 2j and 2j+1: repeat each kv head's rows.
            heads = value.view(2, head_dim, -1)
            state[name] = heads.repeat_interleave(groups, dim=0).reshape(4 * head_dim, -1)
    mha.load_state_dict(state)
    tokens = torch.randint(0, 256, (1, 20), generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(gqa(tokens), mha(tokens), atol=1e-5, rtol=1e-5)


def test_vila_u_geometry_builds_on_meta_without_weights():
    model = VideoTransformer(get_preset("vila-u-7b-256"), device="meta", dtype=torch.float16)
    llm = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("depth."))
    # LLaMA-2-7B: 32 x (4 x 4096^2 + 3 x 4096 x 11008 + 2 x 4096) + 2 x 32008 x 4096 + 4096
    assert llm == 32 * (4 * 4096**2 + 3 * 4096 * 11008 + 2 * 4096) + 2 * 32008 * 4096 + 4096
    assert all(p.device.type == "meta" for p in model.parameters())
    names = dict(model.named_modules())
    for name in (
        "embed_tokens",
        "layers.31.self_attn.q_proj",
        "layers.0.mlp.gate_proj",
        "layers.5.input_layernorm",
        "layers.5.post_attention_layernorm",
        "norm",
        "lm_head",
        "depth.in_proj",
        "layers.0.tas",
    ):
        assert name in names
    cache = model.new_cache(batch=2, max_len=300)
    with _OpNames() as ops:
        codes = model.step(torch.zeros(2, 4, dtype=torch.long, device="meta"), cache)
    assert codes.shape == (2, 4) and cache.length == 1
    # Explicit score / softmax / value ops (LLM and depth transformer), no fused kernel.
    assert "aten._softmax.default" in ops.names
    assert not any("scaled_dot_product" in name for name in ops.names)


class _OpNames(TorchDispatchMode):
    """Records the names of the aten ops run inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.add(str(func))
        return func(*args, **(kwargs or {}))


@torch.no_grad()
def test_depth_model_step_returns_one_code_per_slot():
    torch.manual_seed(0)
    model = VideoTransformer(tiny_depth_config()).eval()
    cache = model.new_cache(batch=2, max_len=4)
    codes = model.step(torch.tensor([[1, 2], [3, 4]]), cache)
    assert codes.shape == (2, 2) and int(codes.max()) < 24


def test_kv_cache_is_bounded():
    model = tiny_model()
    cache = model.new_cache(batch=1, max_len=4)
    with torch.no_grad():
        model.prefill(model.embed_tokens(torch.zeros(1, 4, dtype=torch.long)), cache)
        with pytest.raises(ValueError, match="holds 4 positions"):
            model.decode_step(model.embed_tokens(torch.zeros(1, 1, dtype=torch.long)), cache)


def test_unknown_preset_lists_the_presets():
    with pytest.raises(UserError, match="toyworld, vila-u-7b-256"):
        get_preset("llama-3")
