"""Model geometry: one frozen `ModelConfig` per model, and the named presets.

The geometry is all the rest of the project needs to know about a model: the decoder
builds its modules from it, FastCar sizes its replay ring from `tokens_per_frame`, and
the graph tracer derives shapes and MACs from it without allocating weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cosim.common.errors import UserError

ROPE_LAYOUTS = ("sequence", "frame-row-col")


@dataclass(frozen=True)
class DepthConfig:
    """The small "depth" transformer that turns one LLM hidden state into D residual codes.

    VILA-U predicts, per spatial position, D residual-quantisation (RQ-VAE) codes; the
    depth transformer runs over the D code slots of one position only (length <= D + 1).
    """

    num_layers: int
    hidden: int
    num_heads: int
    mlp_hidden: int
    codes_per_position: int
    codebook_size: int

    @property
    def head_dim(self) -> int:
        return self.hidden // self.num_heads


@dataclass(frozen=True)
class ModelConfig:
    """Geometry of a LLaMA-style AR video decoder.

    Vocabulary layout of models without a depth transformer (the toy model): ids
    ``[0, codebook_size)`` are video codes, then ``num_classes`` class tokens, then one
    null class token used by the unconditional row of classifier-free guidance (CFG).
    Models with a depth transformer embed video codes through ``depth`` instead and keep
    the text vocabulary for the prompt; their class/null tokens are the last
    ``num_classes + 1`` ids of the vocabulary.
    """

    name: str
    num_layers: int
    hidden: int
    num_heads: int
    num_kv_heads: int
    mlp_hidden: int
    vocab_size: int
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    frames: int = 8
    frame_rows: int = 16
    frame_cols: int = 16
    num_classes: int = 0
    codebook_size: int = 0
    depth: DepthConfig | None = field(default=None)
    rope_layout: str = "sequence"  # or "frame-row-col" (models/video_rope.py)
    # Rotate each query at the position of the token it predicts (the next one) instead of its own, so that
    # "the same cell one frame earlier" is one fixed rotation for every target, the first column of a row too
    # (models/transformer.py, VideoTransformer._layers).
    rope_queries_at_target: bool = False

    def __post_init__(self) -> None:
        where = f"model config {self.name!r}"
        checks = {
            "num_layers": self.num_layers >= 1,
            "hidden": self.hidden >= 1,
            "num_heads": self.num_heads >= 1 and self.hidden % self.num_heads == 0,
            "num_kv_heads": self.num_kv_heads >= 1 and self.num_heads % self.num_kv_heads == 0,
            "mlp_hidden": self.mlp_hidden >= 1,
            "frames": self.frames >= 1,
            "frame_rows": self.frame_rows >= 1,
            "frame_cols": self.frame_cols >= 1,
            "num_classes": self.num_classes >= 0,
        }
        for key, ok in checks.items():
            if not ok:
                raise UserError(where, key, "a positive value consistent with hidden/num_heads", getattr(self, key))
        if self.rope_layout not in ROPE_LAYOUTS:
            raise UserError(where, "rope_layout", f"one of {', '.join(ROPE_LAYOUTS)}", self.rope_layout)
        if self.head_dim % 2:
            raise UserError(where, "head_dim", "an even number (RoPE rotates pairs)", self.head_dim)
        if self.depth is None and self.codebook_size + self.num_classes + 1 > self.vocab_size:
            raise UserError(
                where,
                "vocab_size",
                f">= codebook_size + num_classes + 1 = {self.codebook_size + self.num_classes + 1}",
                self.vocab_size,
            )

    @property
    def head_dim(self) -> int:
        return self.hidden // self.num_heads

    @property
    def tokens_per_frame(self) -> int:
        return self.frame_rows * self.frame_cols

    @property
    def video_tokens(self) -> int:
        return self.frames * self.tokens_per_frame

    @property
    def codes_per_position(self) -> int:
        """How many code ids describe one spatial position (1 without a depth transformer)."""
        return self.depth.codes_per_position if self.depth else 1

    @property
    def code_vocab(self) -> int:
        """Number of distinct values of one code."""
        return self.depth.codebook_size if self.depth else self.codebook_size

    def class_token(self, class_id: int) -> int:
        """Vocabulary id of the conditioning token of class `class_id`."""
        if not 0 <= class_id < self.num_classes:
            raise UserError(None, "class_id", f"an integer in [0, {self.num_classes})", class_id)
        return self.vocab_size - self.num_classes - 1 + class_id

    @property
    def null_token(self) -> int:
        """Vocabulary id of the null class (the unconditional CFG row)."""
        return self.vocab_size - 1


# VILA-U 7B at 256 px: the language model is LLaMA-2-7B [code, FACTS.md section 1].
# Text vocabulary 32000 [code] plus special tokens; VILA-U adds a handful of image/video
# markers, the exact count depends on its tokenizer files, 8 here [est].
# Depth transformer: D = 4 codes per position and a 16384-entry codebook [paper, not
# checked in code]; about 6 layers [third-party page]; width, heads and MLP width are
# not public in anything we read [est].
_VILA_U_SPECIAL_TOKENS = 8
_VILA_U_CLASSES = 0  # conditioning is a text prompt; only the null/pad token is reserved

# The project's own presets. The text LLMs (llama-2-7b, llama-3-8b) are presets too, built from the model
# library's figures (models/library: `presets`, `preset_config`), which also lists the presets with these.
PRESETS: dict[str, ModelConfig] = {
    "vila-u-7b-256": ModelConfig(
        name="vila-u-7b-256",
        num_layers=32,
        hidden=4096,
        num_heads=32,
        num_kv_heads=32,
        mlp_hidden=11008,
        vocab_size=32000 + _VILA_U_SPECIAL_TOKENS,
        rope_theta=10000.0,
        norm_eps=1e-5,
        frames=8,
        frame_rows=16,
        frame_cols=16,
        num_classes=_VILA_U_CLASSES,
        codebook_size=0,
        depth=DepthConfig(
            num_layers=6, hidden=1024, num_heads=16, mlp_hidden=2816, codes_per_position=4, codebook_size=16384
        ),
    ),
    # A tiny model trained in this project on the procedural toy world (models/toyworld/world.py).
    # 8 query heads, each with its own kv head: the world's rule reads up to 8 neighbour offsets in the
    # previous frame, and 8 heads learned it better than 4 on 2 (docs/toyworld.md, pilots).
    "toyworld": ModelConfig(
        name="toyworld",
        num_layers=4,
        hidden=128,
        num_heads=8,
        num_kv_heads=8,
        mlp_hidden=352,
        vocab_size=256 + 8 + 1,
        rope_theta=100.0,  # per axis of the frame-row-col rotary embedding (16 positions at most)
        norm_eps=1e-5,
        frames=8,
        frame_rows=16,
        frame_cols=16,
        num_classes=8,  # the toy world's classes: directions of motion (models/toyworld/world.py)
        codebook_size=256,  # the toy world's patch codebook (models/toyworld/tokenizer.py)
        depth=None,
        rope_layout="frame-row-col",  # models/video_rope.py: why a tiny video model needs it
        rope_queries_at_target=True,  # without it a row's first cell is predicted from the previous row's last
    ),
}


def get_preset(name: str) -> ModelConfig:
    """The project's own preset called `name` (`models.library.preset_config` also knows the library's text
    LLMs); an unknown name is a user error that lists the presets."""
    try:
        return PRESETS[name]
    except KeyError:
        raise UserError(None, "preset", f"one of {', '.join(sorted(PRESETS))}", name) from None
