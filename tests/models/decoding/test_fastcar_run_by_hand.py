"""`FastCarRun` by hand with a stand-in layer (its MLP multiplies by 10) on a 2 x 2 frame of 2-wide
hidden states: what prefill writes into the replay ring, a step outside decoding, the chunkwise
rule's decisions step by step, and the ring's dtype and the threshold count."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from cosim.common.errors import UserError
from models.decoding.fastcar import FastCarRun, FastCarSettings
from models.transformer import VideoTransformer
from tiny_models import decoder_layer, tiny_config

CONFIG = SimpleNamespace(tokens_per_frame=4, num_layers=1, hidden=2, num_heads=1, frame_rows=2, frame_cols=2)
LAYER = SimpleNamespace(layer_idx=0, dense_mlp=lambda h: 10 * h)


def mlp(run: FastCarRun, start: int, *rows: tuple[float, float]) -> list[list[float]]:
    """The MLP branch for tokens `rows` at positions start.. (one batch row; the attention's outputs unused)."""
    h = torch.tensor([list(rows)], dtype=run.ring.dtype)
    return run.mlp_output(LAYER, h, start, None, None, None, None, None)[0].tolist()  # type: ignore[arg-type]


def ring(run: FastCarRun) -> list[list[float]]:
    return run.ring[0, 0].tolist()  # [slot, hidden] of layer 0, row 0


def test_prefill_fills_the_ring_with_the_video_positions_only():
    run = FastCarRun(FastCarSettings((0.0,)), CONFIG, batch=1, prefix_len=2, max_steps=4)
    mlp(run, 0, (1, 1), (2, 2))  # the two prompt tokens: nothing stored
    assert ring(run) == [[0, 0]] * 4
    mlp(run, 2, (3, 3))  # video position 0 -> slot 0
    assert ring(run) == [[30, 30], [0, 0], [0, 0], [0, 0]]


def test_a_prefill_longer_than_a_frame_keeps_its_last_frame():
    # prompt 2 + video positions 0..4: positions 1..4 stay (slot p % 4), position 0 is overwritten by 4
    run = FastCarRun(FastCarSettings((0.0,)), CONFIG, batch=1, prefix_len=2, max_steps=4)
    mlp(run, 0, *[(t, t) for t in range(7)])
    assert ring(run) == [[60, 60], [30, 30], [40, 40], [50, 50]]
    # one token at video position 5 outside a decode step (step None): computed and stored in slot 1
    assert mlp(run, 7, (8, 9)) == [[80, 90]]
    assert ring(run) == [[60, 60], [80, 90], [40, 40], [50, 50]]


def test_chunkwise_rule_step_by_step():
    # one chunk, delta 0.6: a position replays while the relative L1 change accumulated since its last computation
    # stays below 0.6. Prefill stores (1, 1) everywhere (ring: (10, 10)). Then, at slots 0, 1, 0, 0 of frames 1-3:
    #   (2, 1):   change |(1, 0)| / |(1, 1)| = 0.5, A = 0.5 -> replays slot 0's (10, 10)
    #   (1.5, 1): 0.5 / 2 = 0.25 at slot 1 -> replays (10, 10)
    #   (3, 1):   |(1, 0)| / |(2, 1)| = 1/3 at slot 0, A = 0.8333 > 0.6 -> computes (30, 10), resets A
    #   (3.3, 1): 0.3 / 4 = 0.075 -> replays the (30, 10) just computed
    settings = FastCarSettings((float("inf"),), chunk_deltas=((0.6,),))
    run = FastCarRun(settings, CONFIG, batch=1, prefix_len=0, max_steps=4)
    mlp(run, 0, *[(1, 1)] * 4)
    outputs = []
    for step, (start, h) in enumerate([(4, (2, 1)), (5, (1.5, 1)), (8, (3, 1)), (12, (3.3, 1))]):
        run.step = step
        outputs.append(mlp(run, start, h))
    assert outputs == [[[10, 10]], [[10, 10]], [[30, 10]], [[30, 10]]]
    assert run.replay[:, 0, 0].tolist() == [True, True, False, True]
    assert run.tas[:, 0, 0].tolist() == pytest.approx([-0.5, -0.25, -(0.5 + 1 / 3), -0.075])


def test_the_ring_takes_the_run_dtype():
    run = FastCarRun(FastCarSettings((0.0,)), CONFIG, batch=1, prefix_len=0, max_steps=1, dtype=torch.float64)
    assert run.ring.dtype == torch.float64


def test_the_chunkwise_rule_keeps_the_previous_inputs_in_the_run_dtype():
    # 1 + 1e-9 is no float32: kept as float32 it would read as a change of 1e-9 / 2 in the next frame
    settings = FastCarSettings((float("inf"),), chunk_deltas=((0.6,),))
    run = FastCarRun(settings, CONFIG, batch=1, prefix_len=0, max_steps=1, dtype=torch.float64)
    mlp(run, 0, *[(1 + 1e-9, 1)] * 4)
    run.step = 0
    mlp(run, 4, (1 + 1e-9, 1))
    assert run.tas[0, 0, 0].item() == 0.0 and run.replay[0, 0, 0]


def test_one_threshold_per_layer():
    with pytest.raises(UserError) as refusal:
        FastCarRun(FastCarSettings((1.0, 2.0)), CONFIG, batch=1, prefix_len=0, max_steps=1)
    assert refusal.value.key == "thresholds"


@torch.no_grad()
def test_a_step_on_the_meta_device_computes_tas_and_the_mlp_but_decides_nothing():
    # the tiny model's geometry on meta tensors (test_fastcar.py does the same at 7B size, in seconds)
    config = tiny_config()
    model = VideoTransformer(config, device="meta", dtype=torch.float16)
    settings = FastCarSettings.uniform(0.0, config.num_layers)
    run = FastCarRun(settings, config, batch=2, prefix_len=1, max_steps=1, device="meta", dtype=torch.float16)
    cache = model.new_cache(batch=2, max_len=64)
    cache.length = 1 + config.tokens_per_frame + 2  # a token of frame 2
    run.step = 0
    calls: list[torch.Size] = []
    hooks = [
        decoder_layer(model, i).tas.register_forward_hook(lambda m, a, out: calls.append(out.shape))
        for i in range(config.num_layers)
    ]
    codes = model.step(torch.zeros(2, 1, dtype=torch.long, device="meta"), cache, run)
    for hook in hooks:
        hook.remove()
    assert codes.shape == (2, 1) and calls == [(2,)] * config.num_layers
    assert not run.replay.any() and torch.isnan(run.tas).all()
