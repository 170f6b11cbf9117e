"""FastCar's settings: what `uniform` builds, what is stored, and each refusal in full."""

from __future__ import annotations

import pytest

from cosim.common.errors import UserError
from models.decoding.fastcar import FastCarSettings


def test_uniform_repeats_one_threshold_and_keeps_the_other_settings():
    settings = FastCarSettings.uniform(2, 3, tas_form="prerope", row_policy="all", adaptive_ratio=0.25)
    assert settings == FastCarSettings((2.0, 2.0, 2.0), "prerope", "all", 0.25, None)
    assert all(type(t) is float for t in settings.thresholds)


def test_defaults_and_numbers_stored_as_floats():
    settings = FastCarSettings((1, 2), chunk_deltas=((0.5, 1), (2, 3)))
    assert (settings.tas_form, settings.row_policy, settings.adaptive_ratio) == ("rope", "each", None)
    assert settings.thresholds == (1.0, 2.0) and settings.chunk_deltas == ((0.5, 1.0), (2.0, 3.0))
    assert all(type(t) is float for t in settings.thresholds)


@pytest.mark.parametrize("ratio", [0, 1])
def test_adaptive_ratios_at_both_ends_are_accepted(ratio):
    assert FastCarSettings((1.0,), adaptive_ratio=ratio).adaptive_ratio == ratio


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"tas_form": "post"}, "tas_form: expected one of rope, prerope, found 'post'"),
        ({"row_policy": "most"}, "row_policy: expected one of each, all, any, found 'most'"),
        ({"adaptive_ratio": -0.1}, "adaptive_ratio: expected a fraction in [0, 1], found -0.1"),
        ({"adaptive_ratio": 1.5}, "adaptive_ratio: expected a fraction in [0, 1], found 1.5"),
        (
            {"adaptive_ratio": 0.5, "chunk_deltas": [[1.0]]},
            "adaptive_ratio: expected none with per-chunk accumulated-change thresholds, found 'a ratio'",
        ),
    ],
)
def test_each_bad_setting_is_refused_in_full(changes, message):
    with pytest.raises(UserError) as refusal:
        FastCarSettings((1.0,), **changes)
    assert str(refusal.value) == message and refusal.value.file is None
