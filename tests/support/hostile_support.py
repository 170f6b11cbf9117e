"""Helpers of the hostile-input suite (tests/hostile): the `refused` checker's type and file edits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

Refused = Callable[[list[str], str], str]  # refused(argv, fragment) -> the one stderr line


def edited_yaml(source: Path, edit: str, target: Path) -> str:
    """Write `source` with the dotted `key: value` edit (value as YAML text) to `target`; returns its name."""
    data = yaml.safe_load(source.read_text())
    dotted, _, text = edit.partition(": ")
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = yaml.safe_load(text)
    else:
        node[last] = yaml.safe_load(text)
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    return target.name
