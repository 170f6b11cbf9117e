"""Config problems as data: a key path, what was expected, what was found.

Schema checks do not know which file they are checking, so they describe a problem as a
`ConfigIssue` (key path relative to the document); the loader adds file and line and
turns it into the project's `UserError`. Several problems in one file become one
`ConfigErrors` whose message has one full line per problem, the first line first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic_core import PydanticCustomError

from cosim.common.errors import UserError

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class ConfigIssue:
    """One problem at `key` (a path of mapping keys and list indices)."""

    key: KeyPath
    expected: str
    found: Any = None
    found_is_text: bool = False


class ConfigIssues(Exception):
    """Problems found by a top-level model check; the loader adds file and line."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(f"{format_key(i.key)}: expected {i.expected}" for i in self.issues))


def nested_issue(key: str, expected: str, found: Any = None, *, found_is_text: bool = False) -> PydanticCustomError:
    """A problem found by a nested model's check.

    Pydantic adds the nested model's location to the error, so the key stays relative.
    """
    return PydanticCustomError(
        "config_issue",
        "expected {expected}",
        {"key": key, "expected": expected, "found": found, "found_is_text": found_is_text},
    )


def format_key(key: KeyPath) -> str:
    """('buffers', 0, 'bytes') -> 'buffers[0].bytes'."""
    text = ""
    for part in key:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class ConfigErrors(UserError):
    """Several `UserError`s from one file: one line each, the first line a complete message."""

    def __init__(self, errors: list[UserError]) -> None:
        first = errors[0]
        super().__init__(first.file, first.key, first.expected, first.found, found_is_text=True)
        self.errors = errors
        self.args = ("\n".join(str(e) for e in errors),)
