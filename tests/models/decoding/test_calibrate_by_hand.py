"""Calibration's arithmetic against hand-derived thresholds, ratios and bisection steps.

A real model's TAS cannot be predicted by hand, so these tests stand a scripted decoder in
for `decode_video` (`ScriptedDecoder`, tests/support/scripted_decoder.py): round k of the
calibration sees the TAS table the test gives for round k, and a step replays by FastCar's
rule (TAS strictly above the layer's threshold) or, with chunk thresholds, by the
accumulated-change rule. Everything calibration computes from the runs (quantiles,
fixed-point rounds, per-chunk deltas, the bisection over the ratio, token agreement) is then
checked against numbers worked out in the comments. Tests of calibration on a real model are
in test_calibrate.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from cosim.common.errors import UserError
from models.decoding.calibrate import (
    Start,
    calibrate_chunk_ratio,
    calibrate_quality,
    calibrate_ratio,
    thresholds_for_ratio,
    token_agreement,
)
from scripted_decoder import install_scripted_decoder

INF = float("inf")
MODEL = SimpleNamespace(config=SimpleNamespace(frame_rows=2, frame_cols=2, num_layers=2))  # read by the chunk rule


@pytest.fixture
def script(monkeypatch):
    return lambda tables, **sizes: install_scripted_decoder(monkeypatch, tables, **sizes)


def _one_step(*layers: list[float]) -> list:
    """A TAS table of one decode step: one list of row values per layer -> [1, layers, rows]."""
    return [list(layers)]


def test_ratio_calibration_rounds_by_hand(script):
    # Two starts, one step of two rows each. Round 0 (dense, thresholds +inf): layer 0 sees
    # {1, 3, 2, 4}, layer 1 {10, 30, 20, 40}. Targets 0.5 and 0.25: 2 of 4 and 1 of 4 above,
    # so the thresholds are (2 + 3) / 2 = 2.5 and (30 + 40) / 2 = 35.
    # Rounds 1 and 2 see doubled values: layer 0 {2, 6, 4, 8}, layer 1 {20, 60, 40, 80}.
    # Round 1 decides with (2.5, 35): 3 of 4 above in both layers; re-taken: (4 + 6) / 2 = 5
    # and (60 + 80) / 2 = 70. Round 2 decides with (5, 70): 2 of 4 and 1 of 4 replay.
    dense = [_one_step([1, 3], [10, 30]), _one_step([2, 4], [20, 40])]
    replaying = [_one_step([2, 6], [20, 60]), _one_step([4, 8], [40, 80])]
    decoder = script([dense, replaying])
    teacher = np.ones((3, 2, 2), dtype=np.int64)
    starts = [Start(np.zeros((2, 2), dtype=np.int64), 3), Start(np.ones((2, 2), dtype=np.int64), 5, None, teacher)]
    result = calibrate_ratio(MODEL, starts, [0.5, 0.25], rounds=2, frames=3, seed=7)  # type: ignore[arg-type]
    assert result.thresholds == [5.0, 70.0]
    assert result.layer_replay_ratio == [0.5, 0.25]
    assert result.replay_ratio == 0.375
    assert result.history == [
        {"round": 0, "thresholds": [2.5, 35.0], "layer_replay_ratio": [0.0, 0.0]},
        {"round": 1, "thresholds": [2.5, 35.0], "layer_replay_ratio": [0.75, 0.75]},
        {"round": 2, "thresholds": [5.0, 70.0], "layer_replay_ratio": [0.5, 0.25]},
    ]
    assert result.token_agreement is None and result.chunk_deltas is None
    # 2 starts x 3 rounds; round 0 dense; every run gets its start and the decode options.
    assert [c["thresholds"] for c in decoder.calls] == [INF, INF, [2.5, 35.0], [2.5, 35.0], [5.0, 70.0], [5.0, 70.0]]
    assert [c["class_id"] for c in decoder.calls] == [3, 5] * 3
    assert all(c["frames"] == 3 and c["seed"] == 7 for c in decoder.calls)
    assert [c["teacher_codes"] is teacher for c in decoder.calls] == [False, True] * 3
    assert all(c["first"] is s.first_frame_codes for c, s in zip(decoder.calls, starts * 3, strict=True))
    assert all(c["model"] is MODEL for c in decoder.calls)


def test_one_ratio_serves_every_layer_and_zero_rounds_stop_after_the_dense_run(script):
    # Dense values only: layer 0 {1, 2, 3, 4}, layer 1 {10, 20, 30, 40}; ratio 0.75 puts
    # 3 of 4 above: (1 + 2) / 2 = 1.5 and (10 + 20) / 2 = 15. No further round: the ratios
    # reported are the dense run's (nothing replays).
    decoder = script([[_one_step([1, 2, 3, 4], [10, 20, 30, 40])]])
    result = calibrate_ratio(MODEL, [Start(np.zeros((2, 2)), 0)], 0.75, rounds=0)  # type: ignore[arg-type]
    assert result.thresholds == [1.5, 15.0]
    assert result.layer_replay_ratio == [0.0, 0.0] and result.replay_ratio == 0.0
    assert result.history == [{"round": 0, "thresholds": [1.5, 15.0], "layer_replay_ratio": [0.0, 0.0]}]
    assert len(decoder.calls) == 1


def test_chunk_calibration_by_hand(script):
    # A 2 x 2 frame in 2 chunks (one per frame row): steps 0, 1 are chunk 0, steps 2, 3
    # chunk 1. The runs log -A. Round 0 (all deltas 0: replay when -A > 0, never):
    # layer 0 A = 1, 2 | 3, 4 and layer 1 A = 10, 20 | 30, 40. Target 0.5 = 1 of 2 per chunk
    # above: threshold of {-1, -2} is -1.5, so delta 1.5; then 3.5, 15 and 35.
    # Round 1: layer 0 A = 1, 2 | 4, 3 and layer 1 A = 12, 14 | 30, 60; replay when A < delta:
    # layer 0 steps 0 and 3 (2 of 4), layer 1 steps 0, 1, 2 (3 of 4). Deltas re-taken from
    # round 1: 1.5, 3.5 and (12 + 14) / 2 = 13, (30 + 60) / 2 = 45.
    round_0 = [[[-1], [-10]], [[-2], [-20]], [[-3], [-30]], [[-4], [-40]]]
    round_1 = [[[-1], [-12]], [[-2], [-14]], [[-4], [-30]], [[-3], [-60]]]
    decoder = script([[round_0], [round_1]])
    result = calibrate_chunk_ratio(MODEL, [Start(np.zeros((2, 2)), 1)], 0.5, 2, rounds=1, seed=4)  # type: ignore[arg-type]
    assert result.chunk_deltas == [[1.5, 3.5], [13.0, 45.0]]
    assert result.thresholds == [INF, INF]
    assert result.layer_replay_ratio == [0.5, 0.75] and result.replay_ratio == 0.625
    assert result.history == [
        {"round": 0, "chunk_deltas": [[0.0, 0.0], [0.0, 0.0]], "layer_replay_ratio": [0.0, 0.0]},
        {"round": 1, "chunk_deltas": [[1.5, 3.5], [15.0, 35.0]], "layer_replay_ratio": [0.5, 0.75]},
    ]
    assert [c["thresholds"] for c in decoder.calls] == [None, None]
    assert [c["chunk_deltas"] for c in decoder.calls] == [[[0.0, 0.0], [0.0, 0.0]], [[1.5, 3.5], [15.0, 35.0]]]
    assert all(c["seed"] == 4 and c["class_id"] == 1 and c["model"] is MODEL for c in decoder.calls)


@pytest.mark.parametrize(
    "calibrate_one, table",
    [
        (lambda start: calibrate_ratio(MODEL, [start], 0.5), _one_step([1, 2], [3, 4])),  # type: ignore[arg-type]
        (lambda start: calibrate_chunk_ratio(MODEL, [start], 0.5, 1), [[[-1], [-2]]] * 4),  # type: ignore[arg-type]
    ],
)
def test_calibration_takes_two_rounds_after_the_dense_one_by_default(script, calibrate_one, table):
    decoder = script([[table]])
    result = calibrate_one(Start(np.zeros((2, 2)), 0))
    assert [h["round"] for h in result.history] == [0, 1, 2] and len(decoder.calls) == 3


# One start, one step of 8 rows: layer 0 TAS 1..8, layer 1 11..18 (the same order). A ratio r
# puts round(8 r) rows above each layer's threshold, so 2 round(8 r) decisions replay, and the
# scripted codes (16 tokens after frame 1) agree with the dense run on 1 - round(8 r) / 8.
QUALITY_TABLE = [[_one_step(list(range(1, 9)), list(range(11, 19)))]]


def test_quality_bisection_by_hand(script):
    # Budget 0.75, 4 steps from [0, 1]:
    #   r = 0.5    -> 4 above (thresholds 4.5, 14.5), agreement 0.5   < 0.75: high = 0.5
    #   r = 0.25   -> 2 above (6.5, 16.5),            agreement 0.75 >= 0.75: low = 0.25
    #   r = 0.375  -> 3 above (5.5, 15.5),            agreement 0.625: high = 0.375
    #   r = 0.3125 -> round(2.5) = 2 above (6.5, 16.5), agreement 0.75: low = 0.3125
    decoder = script(QUALITY_TABLE, tokens=8)
    result = calibrate_quality(MODEL, [Start(np.zeros((2, 2)), 2)], 0.75, iterations=4, seed=9)  # type: ignore[arg-type]
    assert [h["target_ratio"] for h in result.history] == [0.5, 0.25, 0.375, 0.3125]
    assert [h["thresholds"] for h in result.history] == [[4.5, 14.5], [6.5, 16.5], [5.5, 15.5], [6.5, 16.5]]
    assert [h["token_agreement"] for h in result.history] == [0.5, 0.75, 0.625, 0.75]
    assert [h["layer_replay_ratio"] for h in result.history] == [[0.5] * 2, [0.25] * 2, [0.375] * 2, [0.25] * 2]
    assert result.thresholds == [6.5, 16.5] and result.layer_replay_ratio == [0.25, 0.25]
    assert result.replay_ratio == 0.25 and result.token_agreement == 0.75
    assert [c["thresholds"] for c in decoder.calls][:2] == [INF, [4.5, 14.5]]
    assert all(c["seed"] == 9 and c["class_id"] == 2 and c["model"] is MODEL for c in decoder.calls)
    assert len(decoder.calls) == 5


def test_quality_without_a_passing_ratio_keeps_dense_thresholds(script):
    # Budget 1: every ratio tried (0.5, 0.25) replays something, so nothing passes and the
    # answer is the dense one: +inf per layer, nothing replayed, full agreement.
    script(QUALITY_TABLE)
    result = calibrate_quality(MODEL, [Start(np.zeros((2, 2)), 0)], 1.0, iterations=2)  # type: ignore[arg-type]
    assert result.thresholds == [INF, INF] and result.layer_replay_ratio == [0.0, 0.0]
    assert result.replay_ratio == 0.0 and result.token_agreement == 1.0
    assert [h["token_agreement"] for h in result.history] == [0.5, 0.75]


def test_quality_bisects_six_times_by_default(script):
    decoder = script(QUALITY_TABLE)
    result = calibrate_quality(MODEL, [Start(np.zeros((2, 2)), 0)], 0.5)  # type: ignore[arg-type]
    assert len(result.history) == 6 and len(decoder.calls) == 1 + 6 and decoder.calls[0]["model"] is MODEL


def test_a_zero_budget_accepts_the_first_ratio(script):
    script(QUALITY_TABLE)
    result = calibrate_quality(MODEL, [Start(np.zeros((2, 2)), 0)], 0.0, iterations=1)  # type: ignore[arg-type]
    assert result.thresholds == [4.5, 14.5] and result.token_agreement == 0.5 and result.replay_ratio == 0.5


def test_token_agreement_skips_the_given_frame_and_averages_the_runs():
    # Run 1: frame 1 differs (not counted), 3 of 4 later tokens agree; run 2: all agree.
    reference = SimpleNamespace(codes=np.array([[0, 0], [1, 2], [3, 4]]))
    run_1 = SimpleNamespace(codes=np.array([[9, 9], [1, 2], [3, 0]]))
    run_2 = SimpleNamespace(codes=np.array([[0, 0], [1, 2], [3, 4]]))
    assert token_agreement([run_1, run_2], [reference, reference]) == (0.75 + 1.0) / 2  # type: ignore[list-item]
    with pytest.raises(ValueError):
        token_agreement([run_1, run_2], [reference])  # type: ignore[list-item]


@pytest.mark.parametrize("ratio", [-0.1, 1.1, [0.5, 1.5]])
def test_a_ratio_outside_zero_one_is_refused(ratio):
    with pytest.raises(UserError) as refusal:
        thresholds_for_ratio(np.ones((4, 2)), ratio)
    assert str(refusal.value) == f"target_ratio: expected values in [0, 1], found {ratio!r}"


def test_one_ratio_per_layer_or_one_for_all():
    with pytest.raises(UserError) as refusal:
        thresholds_for_ratio(np.ones((4, 2)), [0.5, 0.5, 0.5])
    assert refusal.value.key == "target_ratio" and refusal.value.expected == "1 or 2 values (one per layer)"


@pytest.mark.parametrize("budget", [-0.1, 1.1])
def test_a_quality_budget_outside_zero_one_is_refused(script, budget):
    script(QUALITY_TABLE)
    with pytest.raises(UserError) as refusal:
        calibrate_quality(MODEL, [Start(np.zeros((2, 2)), 0)], budget)  # type: ignore[arg-type]
    assert str(refusal.value) == f"quality_budget: expected a token agreement in [0, 1], found {budget}"


@pytest.mark.parametrize(
    "run",
    [
        lambda: calibrate_ratio(MODEL, [], 0.5),  # type: ignore[arg-type]
        lambda: calibrate_chunk_ratio(MODEL, [], 0.5, 2),  # type: ignore[arg-type]
        lambda: calibrate_quality(MODEL, [], 0.5),  # type: ignore[arg-type]
    ],
)
def test_calibration_without_videos_is_refused(run):
    with pytest.raises(UserError) as refusal:
        run()
    assert str(refusal.value) == "calibration videos: expected at least one start, found 0"
    assert refusal.value.file is None and refusal.value.found == 0
