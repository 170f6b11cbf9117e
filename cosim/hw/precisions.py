"""Number formats: the one list of precisions the schema, the simulator and the energy model share."""

from __future__ import annotations

import typing
from typing import Literal

Precision = Literal["int4", "int8", "int16", "fp16", "bf16"]
"""Number formats a design may store and compute in."""

MacPrecision = Literal["int4", "int8", "int16", "fp16"]
"""Precision classes with their own MAC cost (bf16 costs like fp16)."""

PRECISIONS: tuple[Precision, ...] = typing.get_args(Precision)
MAC_PRECISIONS: tuple[MacPrecision, ...] = typing.get_args(MacPrecision)
