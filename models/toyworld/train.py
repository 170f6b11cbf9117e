"""Training of the tiny toy-world video model, and its checkpoint.

Recipe: tokenise procedurally generated videos (models/toyworld/world.py) with a k-means patch
codebook (models/toyworld/tokenizer.py); train the `toyworld` VideoTransformer on next-token
prediction over [class token] + frames x 256 codes (the VILA-U layout, FACTS.md
section 1): windows of a few consecutive frames first, whole videos for the last steps;
the class token is dropped to the null token 10 % of the time so the model also learns
the unconditional distribution that classifier-free guidance needs. AdamW with linear
warm-up and a cosine decay. Data order, initial weights and the
class dropout come from the seed, so the same command gives the same checkpoint on the
same machine and thread count.

Held-out figures are measured on full 8-frame sequences, the length decoding uses.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from cosim.common.atomic import atomic_write_bytes
from cosim.common.errors import UserError
from models.config import DepthConfig, ModelConfig, get_preset
from models.decoding.quality import psnr
from models.toyworld.tokenizer import PatchTokenizer, fit_tokenizer
from models.toyworld.train_config import TrainConfig
from models.toyworld.world import ToyWorldConfig, Video, generate_video, generate_videos
from models.transformer import VideoTransformer

CHECKPOINT_FORMAT = "cosim-toyworld-checkpoint"
CHECKPOINT_VERSION = 1
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "toyworld.pt"
HELDOUT_START = 1_000_000_000  # held-out videos are indices >= this of the same seed: never trained on
_ENCODE_CHUNK_VIDEOS = 250
FREE_RUNNING_VIDEOS = 8  # held-out videos decoded on their own after training (about 4 s each)


# -- data ------------------------------------------------------------------------------------


def tokenise_videos(
    tokenizer: PatchTokenizer, count: int, seed: int, world: ToyWorldConfig, start: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Codes int16 [count, F, rows*cols] (raster order) and labels [count] of toy videos."""
    rows = world.frame_px // tokenizer.patch_px
    codes = np.empty((count, world.num_frames, rows * rows), dtype=np.int16)
    labels = np.empty(count, dtype=np.int64)
    for first in range(0, count, _ENCODE_CHUNK_VIDEOS):
        n = min(_ENCODE_CHUNK_VIDEOS, count - first)
        frames, labels[first : first + n] = generate_videos(n, seed, world, start=start + first)
        codes[first : first + n] = tokenizer.encode(frames).reshape(n, world.num_frames, -1)
    return codes, labels


def held_out_video(seed: int, index: int, world: ToyWorldConfig, frames: int | None = None) -> Video:
    """Held-out video `index` of training seed `seed`, simulated for `frames` frames when
    that is more than the world's videos have (its first frames are unchanged: a video's
    scene and motion are drawn before the frame count matters), so long decodes have a truth."""
    if frames is not None and frames > world.num_frames:
        world = replace(world, num_frames=frames)
    return generate_video(seed, HELDOUT_START + index, world)


def sequences(codes: np.ndarray | torch.Tensor, class_tokens: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Token sequences [N, 1 + F*P]: the class (or null) token, then every frame's codes."""
    codes = torch.as_tensor(np.asarray(codes), dtype=torch.long).flatten(1)
    return torch.cat([torch.as_tensor(np.asarray(class_tokens), dtype=torch.long)[:, None], codes], dim=1)


def class_tokens(config: ModelConfig, labels: np.ndarray) -> np.ndarray:
    return np.array([config.class_token(int(label)) for label in labels], dtype=np.int64)


def check_geometry(config: ModelConfig, world: ToyWorldConfig, num_codes: int, patch_px: int) -> None:
    """The model's token layout must be the toy world's: frames, grid, classes, codes."""
    expected = {
        "frames": world.num_frames,
        "frame_rows": world.frame_px // patch_px,
        "frame_cols": world.frame_px // patch_px,
        "num_classes": world.num_classes,
        "codebook_size": num_codes,
    }
    for key, value in expected.items():
        if getattr(config, key) != value:
            raise UserError(
                f"model config {config.name!r}", key, f"{value} to match the toy world", getattr(config, key)
            )
    if config.depth is not None:
        raise UserError(
            f"model config {config.name!r}",
            "depth",
            "None (toy codes are one token each)",
            "a depth config",
            found_is_text=True,
        )


# -- training ----------------------------------------------------------------------------------


def learning_rate_at(step: int, train: TrainConfig) -> float:
    """Linear warm-up to the peak, then cosine decay to the minimum at the last step."""
    if step < train.warmup_steps:
        return train.learning_rate * (step + 1) / train.warmup_steps
    span = max(train.steps - train.warmup_steps, 1)
    progress = min((step - train.warmup_steps) / span, 1.0)
    return train.min_learning_rate + 0.5 * (train.learning_rate - train.min_learning_rate) * (
        1 + math.cos(math.pi * progress)
    )


def optimizer_for(model: VideoTransformer, train: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; matrices decay, norms and embeddings do not."""
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embed" not in n]
    keep = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embed" not in n)]
    groups = [{"params": decay, "weight_decay": train.weight_decay}, {"params": keep, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=train.learning_rate, betas=(0.9, 0.95))


def next_token_loss(logits: torch.Tensor, tokens: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of predicting tokens[:, 1:] from logits of inputs tokens[:, :-1],
    averaged with per-target `weights` [B, T-1] (plain mean without)."""
    losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1), reduction="none")
    if weights is None:
        return losses.mean()
    weights = weights.reshape(-1)
    return (losses * weights).sum() / weights.sum()


def changed_code_weights(
    codes: torch.Tensor, videos: torch.Tensor, frames: torch.Tensor, weight: float
) -> torch.Tensor:
    """Loss weights [B, W*P] of the codes of `frames` [B, W] of `videos`: `weight` where a
    code differs from the same position one frame earlier, 1 elsewhere (and in frame 1).

    Nine codes in ten repeat the previous frame, so a plain mean lets a model that copies
    well but moves sprites badly look good; weighting the changed codes makes the loss
    care about motion, which free-running decoding needs (docs/toyworld.md).
    """
    current = codes[videos[:, None], frames]
    previous = codes[videos[:, None], (frames - 1).clamp(min=0)]
    changed = (current != previous) & (frames > 0)[..., None]
    return torch.where(changed, weight, 1.0).flatten(1)


def train_step(
    model: VideoTransformer,
    optimizer: torch.optim.Optimizer,
    tokens: torch.Tensor,
    weights: torch.Tensor | None,
    train: TrainConfig,
) -> float:
    """One update on token sequences [B, T] (forward under the recipe's autocast, clipped
    gradient, optimiser step); returns the loss."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=train.bf16_autocast):
        logits = model(tokens[:, :-1])
    loss = next_token_loss(logits.float(), tokens, weights)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), train.grad_clip)
    optimizer.step()
    return loss.item()


def _batches(count: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Video indices per step: seeded shuffles, epoch after epoch."""
    order = torch.empty(0, dtype=torch.long)
    while True:
        while len(order) < batch_size:
            order = torch.cat([order, torch.randperm(count, generator=generator)])
        yield order[:batch_size]
        order = order[batch_size:]


def window_batch(
    codes: torch.Tensor, class_ids: torch.Tensor, videos: torch.Tensor, starts: torch.Tensor, window_frames: int
) -> torch.Tensor:
    """Sequences [B, 1 + W*P]: each video's class token, then W consecutive frames from its start."""
    frames = starts[:, None] + torch.arange(window_frames)
    chosen = codes[videos[:, None], frames].flatten(1)  # [B, W*P]
    return torch.cat([class_ids[videos][:, None], chosen], dim=1)


@torch.no_grad()
def own_frame(model: VideoTransformer, tokens: torch.Tensor, frame: int) -> torch.Tensor:
    """The model's greedy teacher-forced codes [B, P] of window frame `frame` (0-based) of
    tokens [B, 1 + W*P]: what it would write there given the true frames before."""
    per_frame = model.config.tokens_per_frame
    start = 1 + frame * per_frame
    logits = model(tokens[:, : start + per_frame - 1])[:, start - 1 :, : model.config.codebook_size]
    return logits.argmax(-1)


def with_own_frames(
    model: VideoTransformer, tokens: torch.Tensor, chosen: torch.Tensor, window_frames: int
) -> torch.Tensor:
    """Tokens with the next-to-last frame of the `chosen` rows replaced by the model's own
    prediction of it (scheduled sampling): the last frame's targets stay true, so the model
    learns to continue from frames with its own kind of errors, as it must when it decodes
    on its own, instead of carrying those errors on."""
    if not chosen.any():
        return tokens
    frame = window_frames - 2
    per_frame = model.config.tokens_per_frame
    start = 1 + frame * per_frame
    tokens = tokens.clone()
    tokens[chosen, start : start + per_frame] = own_frame(model, tokens[chosen], frame)
    return tokens


def train_model(
    model: VideoTransformer, codes: np.ndarray, labels: np.ndarray, train: TrainConfig, progress: bool = True
) -> list[float]:
    """Train `model` in place on codes [N, F, P]; returns the loss of every step.

    Most steps take `window_frames` consecutive frames of each video in the batch (a
    seeded random start) behind its class token: short windows give many more updates
    per CPU second, and the frame-to-frame relations the model must learn depend only on
    relative positions (RoPE). The last `full_sequence_steps` steps use whole videos, so
    that the model also learns to decode at distances the windows never showed (without
    them, accuracy falls below copying from frame 5 on, see docs/toyworld.md).
    """
    config = model.config
    if not 1 <= train.window_frames <= codes.shape[1]:
        raise UserError(
            None, "window_frames", f"an integer in [1, {codes.shape[1]}] (frames per video)", train.window_frames
        )
    generator = torch.Generator().manual_seed(train.seed)
    data = torch.as_tensor(codes.astype(np.int64))
    class_ids = torch.as_tensor(class_tokens(config, labels))
    optimizer = optimizer_for(model, train)
    losses: list[float] = []
    model.train()
    bar = tqdm(range(train.steps), desc="train-toy", disable=not progress, dynamic_ncols=True)
    window_batches = _batches(len(data), train.batch_size, generator)
    full_batches = _batches(len(data), train.full_sequence_batch_size, generator)
    first_full_step = train.steps - train.full_sequence_steps
    for step in bar:
        if step < first_full_step:
            videos, width = next(window_batches), train.window_frames
        else:
            videos, width = next(full_batches), codes.shape[1]
        starts = torch.randint(0, codes.shape[1] - width + 1, (len(videos),), generator=generator)
        tokens = window_batch(data, class_ids, videos, starts, width)
        if train.self_context_fraction > 0 and step < first_full_step:
            chosen = torch.rand(len(tokens), generator=generator) < train.self_context_fraction
            tokens = with_own_frames(model, tokens, chosen, width)
        dropped = torch.rand(len(tokens), generator=generator) < train.class_dropout
        tokens[dropped, 0] = config.null_token
        weights = None
        if train.changed_code_weight != 1.0:
            frames = starts[:, None] + torch.arange(width)
            weights = changed_code_weights(data, videos, frames, train.changed_code_weight)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, train)
        losses.append(train_step(model, optimizer, tokens, weights, train))
        bar.set_postfix(loss=f"{losses[-1]:.3f}", lr=f"{learning_rate_at(step, train):.1e}")
    model.eval()
    return losses


# -- evaluation -------------------------------------------------------------------------------


@torch.no_grad()
def evaluate(model: VideoTransformer, codes: np.ndarray, labels: np.ndarray, batch_size: int = 8) -> dict:
    """Held-out next-token figures of `model` on full sequences.

    loss / accuracy: over every video token (frame 1 too), and per frame index;
    accuracy takes the arg-max over code ids, as greedy decoding does.
    copy_accuracy_frames_2_on: the trivial predictor "same position, previous frame",
    next to the model's accuracy on the same tokens (model_accuracy_frames_2_on).
    loss_null_class(_per_frame): the same loss with the null token instead of the class
    token, i.e. what the class tells the model.
    """
    config = model.config
    model.eval()
    per_frame = config.tokens_per_frame
    loss_sum = {"class": torch.zeros(config.frames), "null": torch.zeros(config.frames)}
    correct = torch.zeros(config.frames)
    for first in range(0, len(codes), batch_size):
        chunk, chunk_labels = codes[first : first + batch_size], labels[first : first + batch_size]
        tokens = sequences(chunk, class_tokens(config, chunk_labels))
        for key in ("class", "null"):
            if key == "null":
                tokens[:, 0] = config.null_token
            logits = model(tokens[:, :-1])
            losses = F.cross_entropy(logits.transpose(1, 2), tokens[:, 1:], reduction="none")
            loss_sum[key] += losses.view(len(chunk), config.frames, per_frame).sum(dim=(0, 2))
            if key == "class":
                predicted = logits[..., : config.codebook_size].argmax(-1)
                hits = (predicted == tokens[:, 1:]).float().view(len(chunk), config.frames, per_frame)
                correct += hits.sum(dim=(0, 2))
    per_frame_tokens = len(codes) * per_frame
    accuracy_per_frame = (correct / per_frame_tokens).tolist()
    loss_per_frame = (loss_sum["class"] / per_frame_tokens).tolist()
    null_per_frame = (loss_sum["null"] / per_frame_tokens).tolist()
    return {
        "videos": len(codes),
        "loss": float(np.mean(loss_per_frame)),
        "loss_per_frame": loss_per_frame,
        "loss_null_class": float(np.mean(null_per_frame)),
        "loss_null_class_per_frame": null_per_frame,
        "accuracy": float(np.mean(accuracy_per_frame)),
        "accuracy_per_frame": accuracy_per_frame,
        "model_accuracy_frames_2_on": float(np.mean(accuracy_per_frame[1:])),
        "copy_accuracy_frames_2_on": float(np.asarray(codes[:, 1:] == codes[:, :-1]).mean()),
    }


# -- the whole recipe ---------------------------------------------------------------------------


def train_toy_model(
    train: TrainConfig = TrainConfig(),
    model_config: ModelConfig | None = None,
    world: ToyWorldConfig = ToyWorldConfig(),
    num_codes: int | None = None,
    patch_px: int = 4,
    progress: bool = True,
    out: str | Path | None = None,
) -> tuple[VideoTransformer, PatchTokenizer, dict]:
    """Data, tokenizer, model, training and held-out evaluation; returns the metadata that
    goes into the checkpoint next to the weights."""
    from models.toyworld.motion import free_running_motion, teacher_forced_split  # motion imports this module

    config = model_config or get_preset("toyworld")
    num_codes = num_codes or config.codebook_size
    check_geometry(config, world, num_codes, patch_px)
    threads = torch.get_num_threads()
    torch.set_num_threads(train.threads)
    try:
        started = time.perf_counter()
        tokenizer_frames, _ = generate_videos(train.tokenizer_videos, train.seed, world)
        tokenizer = fit_tokenizer(tokenizer_frames, num_codes=num_codes, patch_px=patch_px, seed=train.seed)
        del tokenizer_frames
        codes, labels = tokenise_videos(tokenizer, train.train_videos, train.seed, world)
        held_codes, held_labels = tokenise_videos(tokenizer, train.heldout_videos, train.seed, world, HELDOUT_START)
        held_frames, _ = generate_videos(train.heldout_videos, train.seed, world, start=HELDOUT_START)
        tokenizer_psnr_db = psnr(tokenizer.decode(tokenizer.encode(held_frames)), held_frames)
        del held_frames
        data_seconds = time.perf_counter() - started
        torch.manual_seed(train.seed)
        model = VideoTransformer(config)
        started = time.perf_counter()
        losses = train_model(model, codes, labels, train, progress)
        train_seconds = time.perf_counter() - started
        heldout = evaluate(model, held_codes, held_labels)
        heldout.update(teacher_forced_split(model, held_codes, held_labels))
        free_running = free_running_motion(model, tokenizer, world, train.seed, FREE_RUNNING_VIDEOS, HELDOUT_START)
    finally:
        torch.set_num_threads(threads)
    metadata = {
        "seed": train.seed,
        "command": train.command(out),
        "steps": train.steps,
        "train": asdict(train),
        "toyworld": asdict(world),
        "heldout": heldout,
        "heldout_loss": heldout["loss"],
        "free_running": free_running,
        "tokenizer_heldout_psnr_db": tokenizer_psnr_db,
        "final_train_loss": float(np.mean(losses[-20:])),
        "first_train_loss": losses[0],
        "data_seconds": data_seconds,
        "train_seconds": train_seconds,
        "torch_version": str(torch.__version__),
    }
    return model, tokenizer, metadata


# -- checkpoint ---------------------------------------------------------------------------------


def save_toy_checkpoint(path: str | Path, model: VideoTransformer, tokenizer: PatchTokenizer, metadata: dict) -> Path:
    """Weights (fp32), model config, tokenizer codebook and metadata in one file, atomically."""
    state = tokenizer.state()
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "model_config": asdict(model.config),
        "model_state": {k: v.detach().to(torch.float32).clone() for k, v in model.state_dict().items()},
        "tokenizer": {"codebook": torch.from_numpy(state["codebook"]), "patch_px": state["patch_px"]},
        "metadata": metadata,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def _require(payload: dict, key: str, kind: type, path: Path):
    if key not in payload:
        raise UserError(path, key, f"a {kind.__name__}", "nothing (key missing)", found_is_text=True)
    if not isinstance(payload[key], kind):
        raise UserError(path, key, f"a {kind.__name__}", type(payload[key]).__name__, found_is_text=True)
    return payload[key]


def load_toy_checkpoint(path: str | Path | None = None) -> tuple[VideoTransformer, PatchTokenizer, dict]:
    """(model in eval mode, tokenizer, metadata) from a `cosim train-toy` checkpoint;
    default: the checkpoint shipped in models/toyworld/checkpoints/toyworld.pt."""
    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    if not path.is_file():
        raise UserError(
            path,
            None,
            "a toy-world checkpoint file (make one with `cosim train-toy`)",
            "no such file",
            found_is_text=True,
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any unpickling/zip failure means a damaged or foreign file
        raise UserError(
            path,
            None,
            "a torch checkpoint written by `cosim train-toy`",
            f"an unreadable file ({type(error).__name__})",
            found_is_text=True,
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise UserError(path, "format", repr(CHECKPOINT_FORMAT), found)
    if payload.get("format_version") != CHECKPOINT_VERSION:
        raise UserError(path, "format_version", str(CHECKPOINT_VERSION), payload.get("format_version"))
    raw_config = dict(_require(payload, "model_config", dict, path))
    try:
        if raw_config.get("depth") is not None:
            raw_config["depth"] = DepthConfig(**raw_config["depth"])
        config = ModelConfig(**raw_config)
    except TypeError as error:
        raise UserError(path, "model_config", "the fields of ModelConfig", str(error), found_is_text=True) from None
    state = _require(payload, "model_state", dict, path)
    tokenizer_state = _require(payload, "tokenizer", dict, path)
    metadata = _require(payload, "metadata", dict, path)
    model = VideoTransformer(config)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first_line = str(error).strip().splitlines()[0]
        raise UserError(path, "model_state", "weights matching model_config", first_line, found_is_text=True) from None
    try:
        tokenizer = PatchTokenizer.from_state({k: np.asarray(v) for k, v in tokenizer_state.items()})
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(path, "tokenizer", "a codebook and patch_px", repr(error), found_is_text=True) from None
    if tokenizer.num_codes != config.codebook_size:
        raise UserError(
            path,
            "tokenizer.codebook",
            f"{config.codebook_size} codes (model_config.codebook_size)",
            tokenizer.num_codes,
        )
    return model.eval(), tokenizer, metadata
