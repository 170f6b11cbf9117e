"""Load real LLaMA / VILA-U language-model weights from a local folder of safetensors.

The folder is what Hugging Face writes (for VILA-U, its `llm/` folder): one
`model.safetensors` or shards listed in `model.safetensors.index.json`, usually with a
`config.json`. Keys use Hugging Face names (`model.layers.N.self_attn.q_proj.weight`,
`model.embed_tokens.weight`, `model.norm.weight`, `lm_head.weight`); our modules carry the
same names without the `model.` prefix.

The geometry is read from the checkpoint (config.json for the head count, tensor shapes
for everything else) and checked key by key; video layout, classes and the depth
transformer come from a base preset. A missing file, a missing key or a shape that does
not fit is a `UserError` naming the file and the key. Weights are read tensor by tensor
into a model built on the meta device, so no random 7B model is ever allocated.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import torch

from cosim.common.errors import UserError
from models.config import ModelConfig
from models.transformer import VideoTransformer, initialise

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"


def hf_key(name: str) -> str:
    """Hugging Face key of one of our parameter names."""
    return name if name.startswith("lm_head.") else f"model.{name}"


def _key_files(folder: Path) -> dict[str, Path]:
    """Which file holds each key, from the shard index or by reading the file headers."""
    from safetensors import safe_open

    index = folder / INDEX_FILE
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise UserError(index, "weight_map", "a safetensors shard index", repr(error), found_is_text=True) from None
        files = {}
        for key, name in weight_map.items():
            path = folder / name
            if not path.is_file():
                raise UserError(index, f"weight_map.{key}", "an existing shard file", name)
            files[key] = path
        return files
    paths = sorted(folder.glob("*.safetensors"))
    if not paths:
        raise UserError(
            folder, None, f"a folder with {SINGLE_FILE} or {INDEX_FILE}", "no .safetensors file", found_is_text=True
        )
    files = {}
    for path in paths:
        try:
            with safe_open(path, framework="pt") as handle:
                files.update(dict.fromkeys(handle.keys(), path))
        except Exception as error:  # safetensors raises its own error types for damaged headers
            raise UserError(
                path, None, "a safetensors file", f"an unreadable file ({error})", found_is_text=True
            ) from None
    return files


def _shape(path: Path, key: str) -> tuple[int, ...]:
    from safetensors import safe_open

    with safe_open(path, framework="pt") as handle:
        if key not in handle.keys():  # noqa: SIM118 -- a safe_open handle has keys() but no __contains__
            raise UserError(
                path, key, "a tensor of that name (listed in the shard index)", "nothing", found_is_text=True
            )
        return tuple(handle.get_slice(key).get_shape())


def read_geometry(folder: str | Path, base: ModelConfig) -> ModelConfig:
    """`base` with the language-model geometry of the checkpoint in `folder`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(folder, None, "a folder of safetensors files", "no such folder", found_is_text=True)
    files = _key_files(folder)

    def shape(key: str) -> tuple[int, ...]:
        if key not in files:
            raise UserError(folder, key, "a tensor of that name in the checkpoint", "nothing", found_is_text=True)
        return _shape(files[key], key)

    vocab_size, hidden = shape("model.embed_tokens.weight")
    layer_ids = {int(k.split(".")[2]) for k in files if k.startswith("model.layers.")}
    num_layers = max(layer_ids) + 1 if layer_ids else 0
    mlp_hidden = shape("model.layers.0.mlp.gate_proj.weight")[0]
    config_file = folder / "config.json"
    num_heads, rope_theta, norm_eps = base.num_heads, base.rope_theta, base.norm_eps
    if config_file.is_file():
        try:
            hf = json.loads(config_file.read_text())
        except json.JSONDecodeError as error:
            raise UserError(config_file, None, "JSON", str(error), found_is_text=True) from None
        num_heads = int(hf.get("num_attention_heads", num_heads))
        rope_theta = float(hf.get("rope_theta", rope_theta))
        norm_eps = float(hf.get("rms_norm_eps", norm_eps))
    elif hidden != base.hidden:
        raise UserError(
            folder,
            "config.json",
            f"a config.json giving num_attention_heads (hidden {hidden} differs "
            f"from the {base.name} preset's {base.hidden})",
            "no config.json",
            found_is_text=True,
        )
    if num_heads < 1 or hidden % num_heads:
        raise UserError(config_file, "num_attention_heads", f"a divisor of hidden size {hidden}", num_heads)
    kv_rows = shape("model.layers.0.self_attn.k_proj.weight")[0]
    head_dim = hidden // num_heads
    if kv_rows % head_dim:
        raise UserError(
            files["model.layers.0.self_attn.k_proj.weight"],
            "model.layers.0.self_attn.k_proj.weight",
            f"rows a multiple of head_dim {head_dim}",
            kv_rows,
        )
    return replace(
        base,
        num_layers=num_layers,
        hidden=hidden,
        num_heads=num_heads,
        num_kv_heads=kv_rows // head_dim,
        mlp_hidden=mlp_hidden,
        vocab_size=vocab_size,
        rope_theta=rope_theta,
        norm_eps=norm_eps,
    )


def load_weights(
    folder: str | Path, base: ModelConfig, *, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
) -> tuple[VideoTransformer, list[str]]:
    """A model with the checkpoint's weights; returns (model, names initialised at random).

    Every language-model tensor must be present with the shape the geometry implies (a
    tied checkpoint without `lm_head.weight` reuses the embedding). Depth-transformer
    weights are not part of a LLaMA checkpoint: they are taken from `depth.*` keys when
    present and otherwise drawn at random, and listed in the returned names.
    """
    from safetensors import safe_open

    folder = Path(folder)
    config = read_geometry(folder, base)
    files = _key_files(folder)
    model = VideoTransformer(config, device="meta", dtype=dtype).to_empty(device=device)
    random_init: list[str] = []
    with ExitStack() as stack:
        handles: dict[Path, safe_open] = {}
        for name, param in model.named_parameters():
            key = name if name.startswith("depth.") else hf_key(name)
            if key not in files and name == "lm_head.weight" and "model.embed_tokens.weight" in files:
                key = "model.embed_tokens.weight"  # tied input/output embeddings
            if key not in files:
                if name.startswith("depth."):
                    random_init.append(name)
                    continue
                raise UserError(folder, key, "a tensor of that name in the checkpoint", "nothing", found_is_text=True)
            path = files[key]
            if path not in handles:
                handles[path] = stack.enter_context(safe_open(path, framework="pt", device="cpu"))
            if key not in handles[path].keys():  # noqa: SIM118 -- safe_open has keys() but no __contains__
                raise UserError(
                    path, key, "a tensor of that name (listed in the shard index)", "nothing", found_is_text=True
                )
            tensor = handles[path].get_tensor(key)
            if tuple(tensor.shape) != tuple(param.shape):
                raise UserError(
                    path, key, f"shape {tuple(param.shape)}", f"shape {tuple(tensor.shape)}", found_is_text=True
                )
            with torch.no_grad():
                param.copy_(tensor.to(dtype))
    if random_init and model.depth is not None:
        initialise(model.depth)
    return model.eval(), random_init


def save_weights(model: VideoTransformer, folder: str | Path) -> Path:
    """Write the model as Hugging Face-named safetensors plus a LLaMA config.json (atomically)."""
    from safetensors.torch import save

    from cosim.common.atomic import atomic_write_bytes, atomic_write_text

    folder = Path(folder)
    state = {
        name if name.startswith("depth.") else hf_key(name): tensor.detach().contiguous()
        for name, tensor in model.state_dict().items()
    }
    atomic_write_bytes(folder / SINGLE_FILE, save(state))
    config = model.config
    atomic_write_text(
        folder / "config.json",
        json.dumps(
            {
                "architectures": ["LlamaForCausalLM"],
                "hidden_size": config.hidden,
                "intermediate_size": config.mlp_hidden,
                "num_attention_heads": config.num_heads,
                "num_key_value_heads": config.num_kv_heads,
                "num_hidden_layers": config.num_layers,
                "vocab_size": config.vocab_size,
                "rope_theta": config.rope_theta,
                "rms_norm_eps": config.norm_eps,
            },
            indent=2,
        ),
    )
    return folder
