"""The shipped model library: one JSON file per model in this folder, each figure with its source.

An entry describes its model in one of three ways:

- ``hf_config``: the fields of a transformers ``config.json`` - traced with transformers'
  own modeling code (`models.tracing.hf_trace`);
- ``project_config``: `models.config.ModelConfig` fields, for models transformers has no
  type for (LlamaGen, Cosmos) - traced as the project's own transformer with their geometry;
- ``preset``: a preset of `models.config` (VILA-U, with its depth transformer).

A transformers entry with ``"project_preset": true`` (the text LLMs LLaMA-2-7B and LLaMA-3-8B)
is also a preset of the project's transformer, built from the same figures (`presets`):
`cosim trace --model`, `cosim validate --model`, sweeps and benchmarks/fidelity.py trace it
as the project's transformer, decoding one text token per step; benchmarks/model_library.py
traces it through transformers (`trace_library_model`). The library is the one source of its
figures.

``geometry`` gives what the model generates (resolution, tokens per frame, frames per
clip, codebook); ``sources`` says where each figure comes from. Reading the library needs
no torch; tracing an entry does (`trace_library_model`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cosim.common.errors import UserError
from models.config import ModelConfig, get_preset

LIBRARY_DIR = Path(__file__).parent


@dataclass(frozen=True)
class LibraryModel:
    name: str
    title: str
    geometry: dict[str, Any]
    sources: dict[str, str]
    preset: str | None = None
    hf_config: dict[str, Any] | None = None
    project_config: dict[str, Any] | None = None
    project_preset: bool = False

    @property
    def source_kind(self) -> str:
        if self.hf_config:
            return "transformers; project preset" if self.project_preset else "transformers"
        return "project preset" if self.preset else "project transformer"

    def shape(self) -> dict[str, int]:
        """Layers, hidden, heads, kv heads, MLP width and vocabulary of the decoder."""
        if self.hf_config is not None:
            text = self.hf_config.get("text_config", self.hf_config)
            heads = text["num_attention_heads"]
            return {
                "layers": text["num_hidden_layers"],
                "hidden": text["hidden_size"],
                "heads": heads,
                "kv_heads": text.get("num_key_value_heads", heads),
                "mlp": text["intermediate_size"],
                "vocab": text["vocab_size"],
            }
        config = self.model_config()
        return {
            "layers": config.num_layers,
            "hidden": config.hidden,
            "heads": config.num_heads,
            "kv_heads": config.num_kv_heads,
            "mlp": config.mlp_hidden,
            "vocab": config.vocab_size,
        }

    def model_config(self) -> ModelConfig:
        """The project's config of a preset, project-transformer or project-preset entry."""
        if self.preset:
            return get_preset(self.preset)
        if self.project_preset:
            return self._text_llm_config()
        if self.project_config is None:
            raise UserError(self.name, "project_config", "a project-transformer entry", "a transformers entry")
        return ModelConfig(**self.project_config)

    def _text_llm_config(self) -> ModelConfig:
        """The project's transformer with this LLaMA-architecture entry's figures, decoding text: every token id
        but the last is a "code" (the last is the project's null class, unused); the video fields are the
        entry's geometry, used only to size traces."""
        if self.hf_config is None or self.hf_config["model_type"] != "llama":
            raise UserError(self.name, "project_preset", "a transformers entry of model_type llama", self.hf_config)
        s, grid = self.shape(), self.geometry["grid"]
        return ModelConfig(
            name=self.name,
            num_layers=s["layers"],
            hidden=s["hidden"],
            num_heads=s["heads"],
            num_kv_heads=s["kv_heads"],
            mlp_hidden=s["mlp"],
            vocab_size=s["vocab"],
            rope_theta=self.hf_config["rope_theta"],
            norm_eps=self.hf_config["rms_norm_eps"],
            frames=self.geometry["frames"],
            frame_rows=grid[0],
            frame_cols=grid[1],
            codebook_size=s["vocab"] - 1,
        )

    def parameters(self) -> int:
        """Parameters of the LLaMA-style decoder in closed form (embedding, layers, final norm,
        untied head); a depth transformer or vision tokenizer is not counted."""
        s = self.shape()
        head_dim = s["hidden"] // s["heads"]
        attention = 2 * s["hidden"] * s["heads"] * head_dim + 2 * s["hidden"] * s["kv_heads"] * head_dim
        layer = attention + 3 * s["hidden"] * s["mlp"] + 2 * s["hidden"]
        return 2 * s["vocab"] * s["hidden"] + s["layers"] * layer + s["hidden"]


@cache
def library() -> dict[str, LibraryModel]:
    """Name -> entry of every shipped model, in name order."""
    models = {}
    for path in sorted(LIBRARY_DIR.glob("*.json")):
        fields = json.loads(path.read_text())
        try:
            models[fields["name"]] = LibraryModel(**fields)
        except TypeError as error:
            raise UserError(str(path), None, "the fields of a library entry", str(error)) from None
    return models


def get_library_model(name: str) -> LibraryModel:
    try:
        return library()[name]
    except KeyError:
        raise UserError(None, "--model", f"one of {', '.join(library())}", name) from None


@cache
def presets() -> dict[str, ModelConfig]:
    """Name -> config of every preset of the project's transformer: those of `models.config` (VILA-U, the toy
    model) and the library's project-preset entries (the text LLMs), in name order."""
    from models.config import PRESETS

    text_llms = {name: entry.model_config() for name, entry in library().items() if entry.project_preset}
    return dict(sorted({**PRESETS, **text_llms}.items()))


def preset_config(name: str) -> ModelConfig:
    """The preset called `name` (`presets`); an unknown name is a user error that lists them."""
    try:
        return presets()[name]
    except KeyError:
        raise UserError(None, "preset", f"one of {', '.join(presets())}", name) from None


def check_model_name(name: str, key: str = "--model") -> None:
    """Raise a UserError unless `name` is a preset (`presets`) or a library model (no torch)."""
    if name not in presets() and name not in library():
        raise UserError(
            None, key, f"a preset ({', '.join(presets())}) or a library model ({', '.join(library())})", name
        )


def trace_named_model(name: str, phase: str = "decode", **options: Any) -> Any:
    """The ComputeGraph of the model `name` means: a preset (`presets`: `vila-u-7b-256`, `toyworld`,
    `llama-2-7b`, ...) as the project's transformer, or else a library model. The one resolution `cosim
    trace --model`, `cosim validate --model`, `cosim run --models` and sweeps share."""
    from models.tracing.graph_trace import trace_model

    check_model_name(name)
    if name in presets():
        return trace_model(presets()[name], phase, **options)
    return trace_library_model(name, phase, **options)


def trace_library_model(name: str, phase: str = "decode", **options: Any) -> Any:
    """The ComputeGraph of library model `name` (options as for `models.tracing.graph_trace.trace_model`)."""
    entry = get_library_model(name)
    if entry.hf_config is None:
        from models.tracing.graph_trace import trace_model

        return trace_model(entry.model_config(), phase, **options)
    from models.tracing.hf_trace import hf_config_from_dict, trace_hf_model

    config = hf_config_from_dict(entry.hf_config, str(LIBRARY_DIR / f"{name}.json"))
    geometry = entry.geometry
    return trace_hf_model(
        config, name, phase, tokens_per_frame=geometry["tokens_per_frame"], frames=geometry["frames"], **options
    )
