"""Knobs given as one value for every layer or one value per layer (FastCar thresholds,
calibration ratios, synthetic replay rates), from the command line or from code.

One parser, so every such knob accepts the same forms and fails with the same message.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cosim.common.errors import UserError


def per_layer(
    values: str | float | Sequence[float], num_layers: int, key: str, within: tuple[float, float] | None = None
) -> tuple[float, ...]:
    """`num_layers` floats from one value (repeated) or one value per layer.

    `values` is a number, a sequence of numbers, or a command-line string holding one
    number or a comma list. A wrong count, a non-number or (with `within`) a value outside
    [low, high] raises a UserError naming `key`; without `within`, inf is allowed, nan is not.
    """
    if isinstance(values, str):
        try:
            parsed = [float(part) for part in values.split(",")]
        except ValueError:
            raise UserError(None, key, "a number or a comma list of numbers", values) from None
        values = parsed[0] if len(parsed) == 1 else parsed
    array = np.asarray(values, dtype=np.float64)
    if within is not None and not ((array >= within[0]) & (array <= within[1])).all():  # nan fails too
        raise UserError(None, key, f"numbers in [{within[0]:g}, {within[1]:g}]", values)
    if np.isnan(array).any():
        raise UserError(None, key, "numbers (inf is allowed, nan is not)", values)
    if array.ndim == 0:
        return (float(array),) * num_layers
    if array.ndim != 1 or len(array) != num_layers:
        raise UserError(
            None, key, f"1 or {num_layers} values (one per layer)", f"{array.size} values", found_is_text=True
        )
    return tuple(float(value) for value in array)
