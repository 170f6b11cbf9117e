"""One value for every layer or one per layer: the forms every such knob accepts, and its errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cosim.common.errors import UserError
from cosim.common.per_layer import per_layer


@pytest.mark.parametrize(
    "given, expected",
    [
        (0.5, (0.5, 0.5, 0.5)),
        ("0.5", (0.5, 0.5, 0.5)),
        ("inf", (math.inf,) * 3),
        ("0,0.5,1", (0.0, 0.5, 1.0)),
        ([1, 2, 3], (1.0, 2.0, 3.0)),
        (np.array([1.0, 2.0, 3.0], dtype=np.float32), (1.0, 2.0, 3.0)),
    ],
)
def test_one_value_or_one_per_layer(given, expected):
    values = per_layer(given, 3, "rates")
    assert values == expected and all(type(v) is float for v in values)


@pytest.mark.parametrize(
    "given, message",
    [
        ("0.1,0.2", "--key: expected 1 or 3 values (one per layer), found 2 values"),
        ([0.1], "--key: expected 1 or 3 values (one per layer), found 1 values"),
        ("0.1,x", "--key: expected a number or a comma list of numbers, found '0.1,x'"),
    ],
)
def test_wrong_forms_are_user_errors_naming_the_key(given, message):
    with pytest.raises(UserError) as caught:
        per_layer(given, 3, "--key")
    assert str(caught.value) == message
