"""A schema string that must name a registered plug-in (e.g. ``scheduling.policy``).

Used as ``Annotated[str, Registered(POLICIES)]``: the allowed values are read from the
registry when a file is validated, so a plug-in registered after import is accepted, and
error messages and the config reference list the registered names ("one of 'a', 'b'").
"""

from __future__ import annotations

from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

from cosim.common.registry import Registry


class Registered:
    """Field metadata: the value must be one of `registry`'s names."""

    def __init__(self, registry: Registry[Any]) -> None:
        self.registry = registry

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def _check(self, value: str) -> str:
        if value not in self.registry:
            raise PydanticCustomError("registered_name", "not a registered {kind}", {"kind": self.registry.kind})
        return value

    def describe(self) -> str:
        """ "one of 'a', 'b'" (as `describe_type` words a Literal)."""
        names = self.registry.names()
        return "one of " + ", ".join(repr(n) for n in names) if len(names) > 1 else repr(names[0])
