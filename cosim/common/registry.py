"""Named plug-ins: one registry per extension point (scheduling policies, sweep
strategies, sweep evaluators, CLI commands).

Everything that lists the choices of an extension point (the design schema, the CLI's
``choices``, the comparison runs, the generated config reference, test parametrisation)
reads them from its registry, so adding a plug-in is one module plus one registration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from cosim.common.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    """Plug-ins of one kind by name, in registration order."""

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind  # what a plug-in is, for messages ("scheduling policy")
        self.key = key  # where a user names one, for messages ("scheduling.policy")
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        """Register `entry` under `name`; a second registration of a name is a bug."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of `add`."""
        return lambda entry: self.add(name, entry)

    def remove(self, name: str) -> None:
        """Forget `name` (for tests that register a plug-in of their own)."""
        del self._entries[name]

    def get(self, name: str, file: str | None = None) -> T:
        """The plug-in `name`, or a `UserError` listing the registered names."""
        if name not in self._entries:
            raise UserError(file, self.key, f"one of {', '.join(self.names())}", name)
        return self._entries[name]

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())
