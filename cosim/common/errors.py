"""User-facing errors: one clear line, exit status 2, no traceback.

Every check of user input (YAML, trace and graph files, checkpoints, command-line
values) raises `UserError`; the CLI prints its message and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class UserError(Exception):
    """A mistake in something the user gave us, explained in one line.

    The message names the file, the key path inside it, what was expected and what was
    found, e.g. ``designs/x.yaml: engines.matrix.rows: expected an integer >= 1, found -4``.
    """

    exit_code = 2

    def __init__(
        self,
        file: str | Path | None,
        key: str | None,
        expected: str,
        found: Any = None,
        *,
        found_is_text: bool = False,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.key = key
        self.expected = expected
        self.found = found
        parts = [p for p in (self.file, key) if p]
        where = ": ".join(parts)
        found_text = found if found_is_text else repr(found)
        message = f"expected {expected}, found {found_text}"
        super().__init__(f"{where}: {message}" if where else message)


def describe(value: Any) -> str:
    """A short, human description of a found value for error messages."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
