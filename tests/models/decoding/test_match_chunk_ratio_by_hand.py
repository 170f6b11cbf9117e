"""`match_chunk_ratio` by hand: the chunk thresholds scaled by one factor, bracketed and then
searched by regula falsi with the Illinois halving, against a scripted decoder.

Each layer's accumulated changes A are the base delta times e^x, so a run with every delta scaled
by e^L replays the rows with A < delta e^L, i.e. x < L: the replay ratio at log-factor L is the
fraction of x below L, and every step of the search can be followed on the x's alone.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from cosim.common.errors import UserError
from models.decoding.calibrate import Calibration, Start, match_chunk_ratio
from scripted_decoder import ScriptedDecoder, install_scripted_decoder

MODEL = SimpleNamespace(config=SimpleNamespace(frame_rows=2, frame_cols=2, num_layers=2))
BASE = [[2.0], [30.0]]  # one chunk per layer
START = [Start(np.zeros((2, 2)), 4)]


def table(xs: list[float]) -> list:
    """One step whose rows log -A, A = delta x e^x for both layers -> [1, layers, rows]."""
    return [[[-base[0] * math.exp(x) for x in xs] for base in BASE]]


def tried(decoder: ScriptedDecoder) -> list[float]:
    """The log-factor L of each decode the search made (one per try; one start)."""
    return [math.log(call["chunk_deltas"][0][0] / BASE[0][0]) for call in decoder.calls]


def quantiles() -> Calibration:
    history = [{"round": 0, "chunk_deltas": BASE, "layer_replay_ratio": [0.0, 0.0]}]
    return Calibration([math.inf] * 2, [0.0, 0.0], 0.0, history=history, chunk_deltas=BASE)


def test_regula_falsi_with_illinois_halving_by_hand(monkeypatch):
    # x = -1, 0.1, 0.3, 0.9 (ratios 0.25, 0.5, 0.75, 1 as L passes them); target 0.6, never hit:
    #   L = 0     -> 0.25, error -0.35; too few replay, so the bracket steps up by 0.5
    #   L = 0.5   -> 0.75, error +0.15: bracketed [0, 0.5]
    #   L = (0 x 0.15 + 0.5 x 0.35) / 0.5 = 0.35             -> 0.75, +0.15: high end moves
    #   L = (0 x 0.15 + 0.35 x 0.35) / 0.5 = 0.245           -> 0.5, -0.1: low end moves
    #   L = (0.245 x 0.15 + 0.35 x 0.1) / 0.25 = 0.287       -> 0.5, -0.1: low again, the high end's error halves
    #   L = (0.287 x 0.075 + 0.35 x 0.1) / 0.175 = 0.323     -> 0.75: the 6th try, the last allowed
    # The closest to 0.6 is the first at 0.5: L = 0.245.
    decoder = install_scripted_decoder(monkeypatch, [[table([-1, 0.1, 0.3, 0.9])]])
    result = match_chunk_ratio(MODEL, START, quantiles(), 0.6, iterations=6, seed=3)  # type: ignore[arg-type]
    assert tried(decoder) == pytest.approx([0.0, 0.5, 0.35, 0.245, 0.287, 0.323])
    scale = math.exp(0.245)
    assert result.history == [*quantiles().history, {"scale": pytest.approx(scale), "replay_ratio": 0.5}]
    assert result.chunk_deltas is not None
    assert np.allclose(result.chunk_deltas, [[2.0 * scale], [30.0 * scale]])
    assert result.replay_ratio == 0.5 and result.layer_replay_ratio == [0.5, 0.5]
    assert result.thresholds == [math.inf] * 2 and result.token_agreement is None
    assert len(decoder.calls) == 6 and all(c["thresholds"] is None for c in decoder.calls)
    assert all(c["seed"] == 3 and c["class_id"] == 4 and c["model"] is MODEL for c in decoder.calls)
    assert np.allclose(decoder.calls[1]["chunk_deltas"], [[2.0 * math.exp(0.5)], [30.0 * math.exp(0.5)]])


@pytest.mark.parametrize(
    ("xs", "tried_by_hand"),
    [
        # x = -1, 0.1, 0.2, 0.9: the high end moves twice (0.35, then 0.245: 0.75 each), so the low end's error
        # halves to -0.175: L = 0.245 x 0.175 / 0.325 = 0.131923 (0.5), then (0.131923 x 0.15 + 0.245 x 0.1) / 0.25
        ([-1, 0.1, 0.2, 0.9], [0.0, 0.5, 0.35, 0.245, 0.131923, 0.177154]),
        # x = -1, 0.1, 0.4, 0.45: bracketed [0 (-0.35), 0.5 (+0.4)]; the low end moves first (0.5 at L = 0.233333),
        # with no halving yet; then again at 0.286667 = (0.233333 x 0.4 + 0.5 x 0.1) / 0.5, halving the high end to
        # 0.2: (0.286667 x 0.2 + 0.5 x 0.1) / 0.3 = 0.357778
        ([-1, 0.1, 0.4, 0.45], [0.0, 0.5, 0.233333, 0.286667, 0.357778]),
    ],
)
def test_either_stuck_end_has_its_error_halved(monkeypatch, xs, tried_by_hand):
    decoder = install_scripted_decoder(monkeypatch, [[table(xs)]])
    match_chunk_ratio(MODEL, START, quantiles(), 0.6, iterations=len(tried_by_hand))  # type: ignore[arg-type]
    assert tried(decoder) == pytest.approx(tried_by_hand, abs=1e-6)


def test_too_many_replays_bracket_downwards_and_a_hit_stops_the_search(monkeypatch):
    # x = -1, -0.6, -0.2, 0.4: L = 0 replays 0.75 > 0.5, so the bracket steps down; L = -0.5 -> 0.5 exactly
    decoder = install_scripted_decoder(monkeypatch, [[table([-1, -0.6, -0.2, 0.4])]])
    result = match_chunk_ratio(MODEL, START, quantiles(), 0.5)  # type: ignore[arg-type]
    assert tried(decoder) == [0.0, -0.5] and result.history[-1] == {"scale": math.exp(-0.5), "replay_ratio": 0.5}


def test_eight_tries_by_default_and_a_tolerance_of_half_a_percent(monkeypatch):
    # 50 rows, x = k / 25 + 0.001 for k = -25..24: the ratio at L is the fraction of x below L, in steps of 0.02
    # (no x sits on a try's L); 0.5 at L = 0.
    xs = [k / 25 + 0.001 for k in range(-25, 25)]

    def tries(target: float, **options: float) -> int:
        decoder = install_scripted_decoder(monkeypatch, [[table(xs)]])
        match_chunk_ratio(MODEL, START, quantiles(), target, **options)  # type: ignore[arg-type]
        return len(decoder.calls)

    assert tries(0.611) == 8  # 0.009 from the nearest ratio (0.62): never within 0.005
    assert tries(0.604) < 8  # 0.60 is within 0.005
    assert tries(0.6, tolerance=0.1) == 1  # 0.5 at the first try is 0.1 off: within 0.1
    assert tries(0.6, tolerance=0.099) > 1


def test_tas_thresholds_cannot_be_matched():
    tas_only = Calibration([1.0, 2.0], [0.5, 0.5], 0.5)
    with pytest.raises(UserError) as refusal:
        match_chunk_ratio(MODEL, START, tas_only, 0.5)  # type: ignore[arg-type]
    error = refusal.value
    assert (error.file, error.key, error.expected, error.found) == (
        None,
        "calibration",
        "chunk thresholds (calibrate_chunk_ratio)",
        "TAS thresholds",
    )
