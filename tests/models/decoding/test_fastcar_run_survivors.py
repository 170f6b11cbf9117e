"""`FastCarRun` and its settings by hand, continued (the stand-in layer of test_fastcar_run_by_hand.py: its MLP
multiplies by 10, on a 2 x 2 frame of 2-wide hidden states): where a step's slot comes from, the
adaptive thresholds of a decode that starts mid-frame, the TAS read off the scores of a sparse
attention, the chunkwise rule after a prompt and on two layers, a prefill longer than a frame, and chunk
thresholds given as lists."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from models.decoding.fastcar import FastCarRun, FastCarSettings
from tests.models.decoding.test_fastcar_run_by_hand import CONFIG, LAYER, mlp

TWO_LAYERS = SimpleNamespace(**{**vars(CONFIG), "num_layers": 2})


def branch(run: FastCarRun, layer, start: int, rows: list, scores=None, ranges=None, keys=None) -> list:
    """The MLP branch of `layer` for one batch row of tokens `rows` at positions start.., the attention's
    scaled logits `scores` [1, 1, 1, entries] (entries as `ranges` selects them)."""
    h = torch.tensor([rows], dtype=run.ring.dtype)
    return run.mlp_output(layer, h, start, h, h, keys, scores, ranges)[0].tolist()


def test_the_slot_follows_the_position_within_a_step():
    # prefill video positions 0..3 with (1, 1)..(4, 4): ring (10, 10)..(40, 40). TAS 1 > 0 replays every row, so
    # the output is the ring slot of the position: slot 0 at position 4, slot 1 at position 5, in the same step
    run = FastCarRun(FastCarSettings((0.0,)), CONFIG, batch=1, prefix_len=0, max_steps=2)
    mlp(run, 0, *[(t, t) for t in range(1, 5)])
    run.step = 0
    scores = torch.ones(1, 1, 1, 8)
    assert branch(run, LAYER, 4, [(9, 9)], scores) == [[10, 10]]
    assert branch(run, LAYER, 5, [(9, 9)], scores) == [[20, 20]]


def test_a_position_computed_outside_a_step_is_decided_when_a_step_comes():
    # position 4 first runs outside a decode step (dense: (5, 5) -> ring slot 0 holds (50, 50)), then again in
    # step 0: now it is decided, and TAS 1 > 0 replays the ring's (50, 50)
    run = FastCarRun(FastCarSettings((0.0,)), CONFIG, batch=1, prefix_len=0, max_steps=1)
    mlp(run, 0, *[(t, t) for t in range(1, 5)])
    scores = torch.ones(1, 1, 1, 8)
    assert branch(run, LAYER, 4, [(5, 5)], scores) == [[50, 50]]
    run.step = 0
    assert branch(run, LAYER, 4, [(9, 9)], scores) == [[50, 50]]
    assert run.replay[0, 0, 0]


def test_a_decode_that_starts_mid_frame_adapts_that_frame():
    # the prefill covers frame 0 and slot 0 of frame 1: the first decoded position is slot 1 of frame 1, whose
    # thresholds are set there (kept as given: no decoded frame before it)
    run = FastCarRun(FastCarSettings((0.25,), adaptive_ratio=0.5), CONFIG, batch=1, prefix_len=0, max_steps=4)
    mlp(run, 0, *[(1, 1)] * 5)
    run.step = 0
    branch(run, LAYER, 5, [(2, 2)], torch.zeros(1, 1, 1, 8))
    assert run.frame_thresholds == {1: [0.25]}


def test_a_sparse_attention_that_kept_key_p_minus_f_gives_the_tas_from_its_scores():
    # position 4 reads key 0, the 4th entry the ranges (2, 5), (0, 1) select: its logit 0.75 is the TAS (the
    # stand-in layer's own TAS, 99, is not asked for)
    layer = SimpleNamespace(**vars(LAYER), tas=lambda q, k: torch.tensor([99.0]))
    run = FastCarRun(FastCarSettings((0.5,)), CONFIG, batch=1, prefix_len=0, max_steps=1)
    mlp(run, 0, *[(1, 1)] * 4)
    run.step = 0
    scores = torch.tensor([[[[0.1, 0.2, 0.3, 0.75]]]])
    assert branch(run, layer, 4, [(2, 2)], scores, [(2, 5), (0, 1)], torch.zeros(1, 1, 5, 2)) == [[10, 10]]
    assert run.tas[0, 0, 0].item() == 0.75 and run.replay[0, 0, 0]


def test_the_chunkwise_rule_keeps_the_video_inputs_after_a_prompt():
    # one prompt token, then video positions 0..3 with inputs (1, 1)..(4, 4) in slots 0..3; position 4 (slot 0)
    # brings (1, 1) again: no change, A = 0, replays slot 0's (10, 10)
    settings = FastCarSettings((float("inf"),), chunk_deltas=((0.6,),))
    run = FastCarRun(settings, CONFIG, batch=1, prefix_len=1, max_steps=1)
    mlp(run, 0, (7, 7), *[(t, t) for t in range(1, 5)])
    run.step = 0
    assert mlp(run, 5, (1, 1)) == [[10, 10]]
    assert run.tas[0, 0, 0].item() == 0.0 and run.replay[0, 0, 0]


def test_the_chunkwise_rule_settles_each_layer_on_its_own_decision():
    # both layers see (1, 1) in prefill and (2, 1) at position 4, then again (2, 1) at position 8 (slot 0):
    #   step 0: change 0.5; layer 0 (delta 0.6) replays and keeps A = 0.5, layer 1 (delta 0.1) computes: A = 0
    #   step 1: no change; layer 0 A = 0.5 replays, layer 1 A = 0 replays
    settings = FastCarSettings((float("inf"),) * 2, chunk_deltas=((0.6,), (0.1,)))
    run = FastCarRun(settings, TWO_LAYERS, batch=1, prefix_len=0, max_steps=2)
    layers = [LAYER, SimpleNamespace(layer_idx=1, dense_mlp=LAYER.dense_mlp)]
    for layer in layers:
        branch(run, layer, 0, [(1, 1)] * 4)
    for step, start in enumerate((4, 8)):
        run.step = step
        for layer in layers:
            branch(run, layer, start, [(2, 1)])
    assert run.replay[:, :, 0].tolist() == [[True, False], [True, True]]
    assert run.tas[:, :, 0].tolist() == [[-0.5, -0.5], [-0.5, 0.0]]


class RecordingRing:
    """Stands in for `FastCarRun.ring`: records each `ring[layer].index_copy_` (layer, slots, the first hidden
    value of each copied token) and makes it."""

    def __init__(self, ring: torch.Tensor) -> None:
        self.ring = ring
        self.writes: list[tuple[int, int, list[int], list[float]]] = []

    def __getitem__(self, layer: int) -> SimpleNamespace:
        def index_copy_(dim: int, slots: torch.Tensor, values: torch.Tensor) -> None:
            self.writes.append((layer, dim, slots.tolist(), values[0, :, 0].tolist()))
            self.ring[layer].index_copy_(dim, slots, values)

        return SimpleNamespace(index_copy_=index_copy_)


def test_a_prefill_longer_than_a_frame_writes_each_slot_once():
    # video positions 0..9 in one prefill: only the last frame, positions 6..9, is written (into slots 2, 3, 0, 1).
    # Writing every position would give each slot several writes in one index_copy_, whose last one wins only
    # when the copy is not split across threads (torch splits a long one: then a slot may keep an older token).
    run = FastCarRun(FastCarSettings((0.0,)), CONFIG, batch=1, prefix_len=0, max_steps=1)
    recorder = RecordingRing(run.ring)
    run.ring = recorder  # type: ignore[assignment]
    h = torch.tensor([[(p, p) for p in range(10)]], dtype=torch.float32)
    run.mlp_output(LAYER, h, 0, h, h, None, None, None)  # type: ignore[arg-type]
    assert recorder.writes == [(0, 1, [2, 3, 0, 1], [60.0, 70.0, 80.0, 90.0])]
    assert recorder.ring[0, 0].tolist() == [[80, 80], [90, 90], [60, 60], [70, 70]]


def test_chunk_thresholds_given_as_lists_are_stored_as_a_hashable_table_of_floats():
    settings = FastCarSettings((1, 2), chunk_deltas=[[0.5, 1], [2, 3]])  # type: ignore[arg-type]
    assert settings.chunk_deltas == ((0.5, 1.0), (2.0, 3.0))
    assert all(type(d) is float for layer in settings.chunk_deltas for d in layer)
    assert hash(settings) == hash(FastCarSettings((1.0, 2.0), chunk_deltas=((0.5, 1.0), (2.0, 3.0))))
