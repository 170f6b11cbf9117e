"""When `match_chunk_ratio` stops, by hand: the bracket's walk, a try exactly `tolerance` off, and
the cap on tries (the scripted decoder of test_match_chunk_ratio_by_hand.py: the replay ratio at
log-factor L is the fraction of the x's below L)."""

from __future__ import annotations

import pytest

from cosim.common.errors import UserError
from models.decoding.calibrate import match_chunk_ratio
from scripted_decoder import install_scripted_decoder
from tests.models.decoding.test_match_chunk_ratio_by_hand import MODEL, START, quantiles, table, tried


def test_the_bracket_walks_half_a_step_at_a_time_up_to_the_cap(monkeypatch):
    # every x above 5: L = 0, 0.5, 1 all replay 0 (error -0.5), so the bracket keeps stepping up until 3 tries
    decoder = install_scripted_decoder(monkeypatch, [[table([5.0, 6.0, 7.0, 8.0])]])
    match_chunk_ratio(MODEL, START, quantiles(), 0.5, iterations=3)  # type: ignore[arg-type]
    assert tried(decoder) == [0.0, 0.5, 1.0]


def test_a_try_exactly_tolerance_off_is_within_it(monkeypatch):
    # x = -1, -0.9, 0.1, 0.9: L = 0 replays 0.5, 0.25 below the target 0.75: exactly the tolerance, so one try
    decoder = install_scripted_decoder(monkeypatch, [[table([-1.0, -0.9, 0.1, 0.9])]])
    match_chunk_ratio(MODEL, START, quantiles(), 0.75, tolerance=0.25)  # type: ignore[arg-type]
    assert tried(decoder) == [0.0]


def test_a_halved_error_is_not_a_hit(monkeypatch):
    # 50 rows, x = k / 25 + 0.001: the ratio moves in steps of 0.02, so 0.611 is never within 0.005 (0.62 is 0.009
    # off). The Illinois halving makes the kept end's error 0.0045 after a few tries: the search must go on to the
    # cap all the same (it stopped at 8 tries, 0.009 off, whatever the cap).
    xs = [k / 25 + 0.001 for k in range(-25, 25)]
    decoder = install_scripted_decoder(monkeypatch, [[table(xs)]])
    result = match_chunk_ratio(MODEL, START, quantiles(), 0.611, iterations=12)  # type: ignore[arg-type]
    assert len(decoder.calls) == 12 and result.replay_ratio in (0.6, 0.62)


def test_errors_too_small_to_multiply_still_bracket(monkeypatch):
    # target 1e-200, every x above 5: L = 0, 0.5, 1 replay 0, each 1e-200 short. The product of two such errors
    # underflows to 0, which stopped the bracket at once and then divided 0 by 0; the signs say: keep stepping up.
    decoder = install_scripted_decoder(monkeypatch, [[table([5.0, 6.0, 7.0, 8.0])]])
    result = match_chunk_ratio(MODEL, START, quantiles(), 1e-200, tolerance=0.0, iterations=3)  # type: ignore[arg-type]
    assert tried(decoder) == [0.0, 0.5, 1.0] and result.replay_ratio == 0.0


def test_a_negative_tolerance_is_refused():
    with pytest.raises(UserError, match=r"^tolerance: expected a replay-ratio difference >= 0, found -0\.1$"):
        match_chunk_ratio(MODEL, START, quantiles(), 0.5, tolerance=-0.1)  # type: ignore[arg-type]
