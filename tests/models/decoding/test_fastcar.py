"""FastCar: TAS against a hand computation, the replay rule against a naive reference
(compute-then-mask, unbounded lists), +inf thresholds bit-identical to dense, the ring
bounded to one frame, and the row policies really skipping rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models.decoding.decode import decode_video
from models.decoding.fastcar import FastCarRun, FastCarSettings, TemporalAttentionScore, threshold_for_ratio
from models.decoding.sampling import Sampling
from tiny_models import DecodeOptions, decoder_layer, tiny_model

torch.set_num_threads(1)
F = 16  # tokens per frame of the tiny model (4 x 4)


def test_tas_of_a_small_case_by_hand():
    # 2 query heads sharing 1 kv head (GQA), head_dim 2.
    query = torch.tensor([[1.0, 2.0, 3.0, 4.0]]).view(1, 2, 1, 2)  # heads (1, 2) and (3, 4)
    key = torch.tensor([[1.0, 1.0]]).view(1, 1, 1, 2)
    # dots 3 and 7, mean 5, / sqrt(2)
    assert TemporalAttentionScore(2, 1, 2)(query, key).item() == pytest.approx(5 / math.sqrt(2))


def _video(frames: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (frames, 4, 4))


def _rotate(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """x [T, heads, d] rotated by tables [T, d] in the half-split layout: pairs (i, i + d/2)."""
    half = x.shape[-1] // 2
    cos, sin = cos[:, None, :], sin[:, None, :]
    return x * cos + np.concatenate((-x[..., half:], x[..., :half]), axis=-1) * sin


@pytest.mark.parametrize(
    ("layout", "at_target"), [("sequence", False), ("frame-row-col", False), ("frame-row-col", True)]
)
@pytest.mark.parametrize("form", ["rope", "prerope"])
@torch.no_grad()
def test_tas_equals_hand_computation_in_a_run(form, layout, at_target):
    theta = 10000.0 if layout == "sequence" else 100.0
    model = tiny_model(num_layers=1, rope_layout=layout, rope_theta=theta, rope_queries_at_target=at_target)
    video = _video()
    run = decode_video(
        model, video[0], 2, frames=3, thresholds=float("inf"), tas_form=form, cfg_scale=None, teacher_codes=video
    )
    # Layer-0 queries and keys of the whole sequence [class, video...] from its weights.
    tokens = torch.tensor([[model.config.class_token(2), *video.reshape(-1).tolist()]])
    layer = decoder_layer(model, 0)
    x = layer.input_layernorm(model.embed_tokens(tokens))[0].numpy().astype(np.float64)
    attn = layer.self_attn
    q = (x @ attn.q_proj.weight.numpy().T).reshape(len(x), 4, 8)
    k = (x @ attn.k_proj.weight.numpy().T).reshape(len(x), 2, 8)
    if layout == "sequence":  # position p turns pair i by p * 10000^(-2i/d)
        angle = np.arange(len(x))[:, None] * 10000.0 ** (-np.arange(4) * 2.0 / 8)
        cos, sin = np.cos(np.concatenate((angle, angle), -1)), np.sin(np.concatenate((angle, angle), -1))
    else:  # the model's own tables (tests/test_video_rope.py checks them), one row more for the queries
        cos, sin = (t.numpy() for t in model.rotary_emb(0, len(x) + 1, torch.float64))
    k = _rotate(k, cos[: len(x)], sin[: len(x)])
    if form == "rope":  # the query of position p turns as p + 1, the token it predicts, when at_target
        q = _rotate(q, cos[at_target : len(x) + at_target], sin[at_target : len(x) + at_target])
    for step in (0, 5, 20, len(run.trace.tas) - 1):
        p = 1 + F + step  # sequence position of the token fed at this step
        dots = [q[p, h] @ k[p - F, h // 2] for h in range(4)]
        assert run.trace.tas[step, 0, 0] == pytest.approx(np.mean(dots) / math.sqrt(8), rel=1e-4, abs=1e-6)


@torch.no_grad()
def test_tas_read_from_the_scores_equals_the_explicit_dot_products():
    """Dense attention scores key p - F anyway, so its TAS is read from the scores; a
    window of F entries drops that key (explicit fallback); a sink plus a window of F + 1
    keeps it at an offset. Layer 0 sees the same inputs in all three runs."""
    from models.decoding.sparse_attention import StreamingAttention, WindowAttention

    model = tiny_model(seed=3)
    video = _video(seed=2)
    kwargs = DecodeOptions(frames=3, cfg_scale=None, teacher_codes=video)
    dense = decode_video(model, video[0], 0, thresholds=float("inf"), **kwargs)
    for policy in (WindowAttention(window=F), StreamingAttention(sink=2, window=F + 1)):
        sparse = decode_video(model, video[0], 0, thresholds=float("inf"), attention_policy=policy, **kwargs)
        np.testing.assert_allclose(sparse.trace.tas[:, 0], dense.trace.tas[:, 0], rtol=1e-5, atol=1e-6)
    assert np.isfinite(dense.trace.tas).all() and np.abs(dense.trace.tas[:, 0]).max() > 1e-3


@torch.no_grad()
def _reference_replay(model, tokens: list[int], thresholds: list[float], prefix_len: int):
    """The reference rule the naive way: every MLP computed then masked, lists that grow,
    attention recomputed from all previous keys. Returns (logits per fed token, decisions)."""
    keys: list[list[torch.Tensor]] = [[] for _ in model.layers]
    values: list[list[torch.Tensor]] = [[] for _ in model.layers]
    used: list[list[torch.Tensor]] = [[] for _ in model.layers]  # MLP output actually added, per layer per position
    logits, decisions = [], []
    for p, token in enumerate(tokens):
        cos, sin = model.rotary_emb(p, 1, torch.float32)
        x = model.embed_tokens(torch.tensor([[token]]))
        row = []
        for i, layer in enumerate(model.layers):
            a = layer.self_attn
            y = layer.input_layernorm(x)
            q = a.q_proj(y).view(1, 1, 4, 8).transpose(1, 2)
            k = a.k_proj(y).view(1, 1, 2, 8).transpose(1, 2)
            v = a.v_proj(y).view(1, 1, 2, 8).transpose(1, 2)
            q_rot = q * cos + torch.cat((-q[..., 4:], q[..., :4]), -1) * sin
            keys[i].append(k * cos + torch.cat((-k[..., 4:], k[..., :4]), -1) * sin)
            values[i].append(v)
            K = torch.cat(keys[i], 2).repeat_interleave(2, dim=1)
            V = torch.cat(values[i], 2).repeat_interleave(2, dim=1)
            att = torch.softmax(q_rot @ K.transpose(-1, -2) / math.sqrt(8), -1) @ V
            h = x + a.o_proj(att.transpose(1, 2).reshape(1, 1, 32))
            mlp = layer.mlp(layer.post_attention_layernorm(h))
            replay = False
            if p - prefix_len >= F:
                tas = float(
                    (q_rot[0, :, 0] * keys[i][p - F][0].repeat_interleave(2, 0)[:, 0]).sum(-1).mean()
                ) / math.sqrt(8)
                replay = tas > thresholds[i]
            out = used[i][p - F] if replay else mlp
            used[i].append(out)
            row.append(replay)
            x = h + out
        logits.append(model.lm_head(model.norm(x))[0, 0, :256])
        decisions.append(row)
    return torch.stack(logits), np.array(decisions)


@torch.no_grad()
def test_replay_follows_the_reference_rule_including_chained_replay():
    model = tiny_model(seed=5)
    video = _video(seed=1)
    probe = decode_video(model, video[0], 1, frames=3, thresholds=float("inf"), cfg_scale=None, teacher_codes=video)
    # Midway between samples: the reference sums in another order, so a tie could go either way.
    thresholds = [threshold_for_ratio(probe.trace.tas[:, layer].ravel().tolist(), 0.5) for layer in range(2)]
    run = decode_video(
        model, video[0], 1, frames=3, thresholds=thresholds, cfg_scale=None, teacher_codes=video, sampling=Sampling()
    )
    tokens = [model.config.class_token(1), *video.reshape(-1).tolist()]
    ref_logits, ref_replay = _reference_replay(model, tokens[:-1], thresholds, prefix_len=1)
    # Decode step k feeds sequence position 1 + F + k.
    np.testing.assert_array_equal(run.trace.replay[:, :, 0], ref_replay[1 + F :])
    # Greedy teacher-forced predictions of video positions F.. match the reference's logits.
    assert (run.codes.reshape(-1)[F:] == ref_logits[F:].argmax(-1).numpy()).all()
    # The case exercises chained replay: same layer and slot replayed in frames 2 and 3.
    frame2, frame3 = run.trace.replay[: F - 1, :, 0], run.trace.replay[F : 2 * F - 1, :, 0]
    assert (frame2 & frame3).any() and 0.2 < run.trace.replay.mean() < 0.8


@torch.no_grad()
def test_infinite_thresholds_are_bit_identical_to_dense():
    model = tiny_model(seed=2)
    first = _video()[0]
    kwargs = DecodeOptions(frames=3, sampling=Sampling(temperature=1.0), seed=7)
    dense = decode_video(model, first, 0, thresholds=None, **kwargs)
    inf = decode_video(model, first, 0, thresholds=float("inf"), **kwargs)
    np.testing.assert_array_equal(dense.codes, inf.codes)
    assert not inf.trace.replay.any() and np.isfinite(inf.trace.tas).all()


@torch.no_grad()
def test_ring_cache_stays_one_frame():
    model = tiny_model()
    config = model.config
    run = FastCarRun(FastCarSettings.uniform(-1e9, 2), config, batch=2, prefix_len=1, max_steps=40)
    ring, pointer = run.ring.shape, run.ring.data_ptr()
    cache = model.new_cache(2, 1 + 3 * F)
    first = torch.randint(0, 256, (2, 1 + F))
    model.prefill(model.embed_tokens(first), cache, run)
    codes = torch.zeros(2, 1, dtype=torch.long)
    for k in range(2 * F - 1):
        run.step = k
        codes = model.step(codes, cache, run)
    assert ring == (2, 2, F, 32) and run.ring.data_ptr() == pointer
    assert run.replay[: 2 * F - 1].all()  # threshold -1e9: every decode step replays


@pytest.mark.parametrize("policy", ["each", "all", "any"])
@torch.no_grad()
def test_row_policies_decide_per_batch_and_really_skip(policy):
    model = tiny_model(seed=4)
    model.embed_tokens.weight[model.config.null_token] *= 50  # rows differ enough to disagree
    first = _video()[0]
    probe = decode_video(model, first, 3, frames=3, thresholds=float("inf"))
    thresholds = np.nanmedian(probe.trace.tas, axis=(0, 2)).tolist()
    rows_in_mlp = []
    hooks = [
        decoder_layer(model, i).mlp.register_forward_pre_hook(lambda m, args: rows_in_mlp.append(args[0].shape[:2]))
        for i in range(len(model.layers))
    ]
    run = decode_video(model, first, 3, frames=3, thresholds=thresholds, row_policy=policy)
    for hook in hooks:
        hook.remove()
    wants = run.trace.tas > np.array(thresholds)[None, :, None]
    expected = {
        "each": wants,
        "all": wants.all(2, keepdims=True).repeat(2, 2),
        "any": wants.any(2, keepdims=True).repeat(2, 2),
    }[policy]
    np.testing.assert_array_equal(run.trace.replay, expected)
    # Prefill runs every MLP once on [2, 1 + F]; each decode step only on its computing rows.
    decode_calls = rows_in_mlp[len(model.layers) :]
    computing = (~run.trace.replay).sum(axis=2).reshape(-1)
    assert [rows for rows, _ in decode_calls] == [int(c) for c in computing if c]
    if policy == "each":
        assert 1 in computing  # the mixed case ran the MLP on one row only


@torch.no_grad()
def test_each_policy_rows_match_running_alone():
    """Under `each` a row's values depend on its own decisions only, even when the other
    row decides differently (the mixed case runs the MLP on one row)."""
    from models.decoding.calibrate import thresholds_for_ratio

    model = tiny_model(seed=6)
    model.embed_tokens.weight[model.config.null_token] *= 50
    prompts = torch.tensor([[model.config.class_token(1)], [model.config.null_token]])
    codes = torch.randint(0, 256, (1, 3 * F), generator=torch.Generator().manual_seed(0))

    def run(rows: torch.Tensor, thresholds):
        batch = rows.shape[0]
        fastcar = FastCarRun(FastCarSettings(thresholds), model.config, batch, prefix_len=1, max_steps=2 * F)
        cache = model.new_cache(batch, 1 + 3 * F)
        model.prefill(model.embed_tokens(torch.cat((rows, codes[:, :F].expand(batch, -1)), 1)), cache, fastcar)
        hidden = []
        for k in range(2 * F):
            fastcar.step = k
            hidden.append(
                model.decode_step(model.embed_tokens(codes[:, F + k : F + k + 1].expand(batch, -1)), cache, fastcar)
            )
        return torch.cat(hidden, 1), fastcar

    # Layer 0 sees the same codes in both rows, so its TAS agree; place layer 1's threshold
    # between the rows' scores where they differ most (layer-1 TAS do not depend on
    # layer-1 decisions), so at least one step is mixed.
    _, probe = run(prompts, (float("inf"),) * 2)
    first = thresholds_for_ratio(probe.tas[:, 0, :].reshape(-1, 1).numpy(), 0.5)[0]
    _, probe = run(prompts, (first, float("inf")))
    scores = probe.tas[:, 1, :]
    widest = int((scores[:, 0] - scores[:, 1]).abs().argmax())
    thresholds = (first, float(scores[widest].mean()))
    both, fastcar = run(prompts, thresholds)
    mixed = fastcar.replay.any(2) & ~fastcar.replay.all(2)
    assert mixed[:, 1].any() and fastcar.replay[:, 0].float().mean() == 0.5
    for row in range(2):
        alone, single = run(prompts[row : row + 1], thresholds)
        np.testing.assert_array_equal(single.replay[..., 0], fastcar.replay[..., row])
        torch.testing.assert_close(alone[0], both[row], atol=1e-5, rtol=1e-5)


def test_fastcar_step_traces_on_meta():
    """On meta tensors TAS is computed (so a tracer sees it) and the MLP runs: no values, no decision."""
    from models.config import get_preset
    from models.transformer import VideoTransformer

    config = get_preset("vila-u-7b-256")
    model = VideoTransformer(config, device="meta", dtype=torch.float16)
    run = FastCarRun(
        FastCarSettings.uniform(0.0, 32), config, batch=2, prefix_len=1, max_steps=1, device="meta", dtype=torch.float16
    )
    cache = model.new_cache(batch=2, max_len=600)
    cache.length = 1 + 300  # a token of frame 2
    run.step = 0
    calls = []
    hooks = [
        decoder_layer(model, i).tas.register_forward_hook(lambda m, a, out: calls.append(out.shape)) for i in (0, 31)
    ]
    codes = model.step(torch.zeros(2, 4, dtype=torch.long, device="meta"), cache, run)
    for hook in hooks:
        hook.remove()
    assert codes.shape == (2, 4) and calls == [(2,), (2,)]
    assert not run.replay.any() and torch.isnan(run.tas).all()


@torch.no_grad()
def test_adaptive_thresholds_follow_the_previous_frame():
    """With adaptive_ratio r each frame after the first decoded one uses the thresholds that
    split the previous frame's TAS at r; the first decoded frame uses the given ones."""
    model = tiny_model(seed=8, frame_rows=8, frame_cols=8, frames=4)
    per_frame = 64
    first = np.random.default_rng(2).integers(0, 256, (8, 8))
    run = decode_video(
        model,
        first,
        1,
        frames=4,
        thresholds=float("inf"),
        adaptive_ratio=0.3,
        sampling=Sampling(temperature=1.0),
        seed=3,
    )
    used = run.trace.meta["frame_thresholds"]
    assert used["1"] == [float("inf")] * 2 and not run.trace.replay[run.trace.frame == 1].any()
    for frame in (2, 3):
        previous = run.trace.tas[run.trace.frame == frame - 1]  # [steps, layers, rows]
        expected = [threshold_for_ratio(previous[:, layer].ravel().tolist(), 0.3) for layer in range(2)]
        assert used[str(frame)] == expected
        ratio = run.trace.replay[run.trace.frame == frame].mean()
        assert abs(ratio - 0.3) < 0.1
    assert run.trace.tas.shape[0] == 3 * per_frame - 1
