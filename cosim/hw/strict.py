"""The base of every configuration model: unknown keys and implicit conversions are errors.

Shared by the device and design schemas (`cosim.hw.device_schema`, `cosim.hw.schema`) and
the sweep spec, so that all YAML the user writes is checked the same strict way.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Rejects unknown keys, implicit conversions ("16" is not 16) and non-finite numbers (.inf, .nan)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def quoted(names: Any) -> str:
    """``'a', 'b'``: names as listed in an "expected one of" message."""
    return ", ".join(f"'{n}'" for n in names)
