"""What a toy model gets right where the video changes: the figures of benchmarks/toy_motion.py,
also recorded in the checkpoint after training.

Most codes of a toy video repeat the previous frame, so overall accuracy hides whether a
model moves anything. These figures split by "changed": a code that differs from the code
at the same position one frame earlier in the true (tokenised) video.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from models.decoding.quality import psnr, psnr_per_frame
from models.toyworld.tokenizer import PatchTokenizer
from models.toyworld.train import class_tokens, sequences
from models.toyworld.world import ToyWorldConfig, generate_videos
from models.transformer import VideoTransformer


@torch.no_grad()
def teacher_forced_split(model: VideoTransformer, codes: np.ndarray, labels: np.ndarray, batch_size: int = 8) -> dict:
    """Greedy next-code accuracy on frames 2-N with the true video fed in, on unchanged and
    on changed codes; codes [V, F, P]."""
    config = model.config
    predicted = np.empty_like(codes, dtype=np.int64)
    for first in range(0, len(codes), batch_size):
        chunk = codes[first : first + batch_size]
        logits = model(sequences(chunk, class_tokens(config, labels[first : first + batch_size]))[:, :-1])
        predicted[first : first + batch_size] = logits[..., : config.codebook_size].argmax(-1).view(chunk.shape)
    changed = codes[:, 1:] != codes[:, :-1]
    hits = predicted[:, 1:] == codes[:, 1:]
    return {
        "unchanged_accuracy": float(hits[~changed].mean()),
        "changed_accuracy": float(hits[changed].mean()),
        "changed_codes": int(changed.sum()),
    }


def free_running_motion(
    model: VideoTransformer, tokenizer: PatchTokenizer, world: ToyWorldConfig, seed: int, videos: int, start: int
) -> dict:
    """Greedy dense decodes (CFG, the settings of `cosim decode`) of `videos` videos from
    their first frame, against the truth: recall of the changed codes (decoded code equal
    to the true code where the true code changed from the previous true frame) per frame
    2..N and overall, token accuracy, and PSNR against the true frames 2..N of the decode,
    of repeating frame 1 (a model that moves nothing) and of the tokenised truth (a perfect
    model); psnr_per_frame_db covers frames 1..N (frame 1 is given: the tokenizer's PSNR);
    the changed codes and hits per video feed `recall_interval`."""
    from models.decoding.decode import decode_video  # decoding imports the transformer; keep this light

    frames, labels = generate_videos(videos, seed, world, start=start)
    truth = tokenizer.encode(frames)  # [V, F, rows, cols]
    decoded = np.stack([decode_video(model, truth[i, 0], int(labels[i])).codes for i in range(videos)])
    changed = truth[:, 1:] != truth[:, :-1]
    hits = decoded[:, 1:] == truth[:, 1:]
    per_frame = [
        float(hits[:, t][changed[:, t]].mean()) if changed[:, t].any() else math.nan for t in range(len(hits[0]))
    ]
    later = frames[:, 1:]
    return {
        "videos": videos,
        "changed_recall": float(hits[changed].mean()),
        "changed_recall_per_frame": per_frame,
        "changed_codes": int(changed.sum()),
        "changed_codes_per_video": [int(n) for n in changed.sum(axis=(1, 2, 3))],
        "changed_hits_per_video": [int(n) for n in (hits & changed).sum(axis=(1, 2, 3))],
        "token_accuracy": float(hits.mean()),
        "psnr_db": psnr(tokenizer.decode(decoded[:, 1:]), later),
        "psnr_per_frame_db": [float(v) for v in psnr_per_frame(tokenizer.decode(decoded), frames)],
        "repeat_frame_1_psnr_db": psnr(np.repeat(frames[:, :1], world.num_frames - 1, axis=1), later),
        "tokenizer_psnr_db": psnr(tokenizer.decode(truth[:, 1:]), later),
    }


def recall_interval(
    hits_per_video: list[int], codes_per_video: list[int], level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Bootstrap interval over videos of the pooled recall sum(hits) / sum(codes).

    Videos differ much more than codes within a video (a sprite lost early costs every
    later frame), so the uncertainty of a recall measured on a few videos comes from
    which videos were drawn: resample whole videos with replacement, seeded.
    """
    hits, codes = np.asarray(hits_per_video, dtype=np.int64), np.asarray(codes_per_video, dtype=np.int64)
    picks = np.random.default_rng(seed).integers(0, len(hits), size=(resamples, len(hits)))
    recalls = hits[picks].sum(axis=1) / np.maximum(codes[picks].sum(axis=1), 1)
    tail = (1.0 - level) / 2
    low, high = np.quantile(recalls, [tail, 1.0 - tail])
    return float(low), float(high)
