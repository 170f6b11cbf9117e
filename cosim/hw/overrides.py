"""Dotted key paths that set one value inside a nested YAML document.

`cosim.hw.override_design` and sweep parameters name the knob they turn as a path into a
document: ``engines.matrix.arrays`` walks mappings, ``buffers[name=weights].bytes`` picks
the one list item whose ``name`` is ``weights``, ``thresholds[3]`` and ``buffers.0.bytes``
a list index. The document is the design as written (before schema defaults), so the
schema validates the result.
"""

from __future__ import annotations

import copy
import re
from typing import Any

_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[[^\]]+\])*)")
_BRACKETS = re.compile(r"\[([^\]]+)\]")


class OverrideError(ValueError):
    """A path that does not fit the document; the message says where it stopped and why."""


def parse_path(path: str) -> list[str | int | tuple[str, str]]:
    """Split a path into steps: mapping keys (str), list indices (int), selectors (key, value)."""
    steps: list[str | int | tuple[str, str]] = []
    for part in path.split("."):
        if part.isdigit():
            steps.append(int(part))
            continue
        match = _SEGMENT.fullmatch(part)
        if not match:
            raise OverrideError(f"segment {part!r} is not name, name[index] or name[key=value]")
        steps.append(match.group(1))
        for inside in _BRACKETS.findall(match.group(2)):
            if "=" in inside:
                key, wanted = inside.split("=", 1)
                steps.append((key.strip(), wanted.strip()))
            elif inside.strip().lstrip("-").isdigit():
                steps.append(int(inside))
            else:
                raise OverrideError(f"[{inside}] in {part!r} is neither an index nor key=value")
    return steps


def apply_overrides(document: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of `document` with each ``path: value`` of `overrides` set."""
    result = copy.deepcopy(document)
    for path, value in overrides.items():
        set_path(result, path, value)
    return result


def set_path(document: Any, path: str, value: Any) -> None:
    """Set `path` in `document` in place; missing mapping keys are created (sections and
    values left to schema defaults), so the schema, not this walk, judges the key names."""
    steps = parse_path(path)
    node = document
    walked: list[str] = []
    for position, step in enumerate(steps):
        last = position == len(steps) - 1
        here = _describe(walked) or "the document"
        if isinstance(step, str):
            if not isinstance(node, dict):
                raise OverrideError(f"{here} is a {type(node).__name__}, not a mapping with key {step!r}")
            if last:
                node[step] = copy.deepcopy(value)
                return
            if step not in node and isinstance(steps[position + 1], str):
                node[step] = {}  # a section left to its defaults; the schema rejects a misspelt key
            if step not in node:
                raise OverrideError(f"{here} has no key {step!r} (keys: {', '.join(map(str, node)) or 'none'})")
            node = node[step]
            walked.append(step)
            continue
        if not isinstance(node, list):
            raise OverrideError(f"{here} is a {type(node).__name__}, not a list")
        index = step if isinstance(step, int) else _select(node, step, here)
        if not -len(node) <= index < len(node):
            raise OverrideError(f"{here} has {len(node)} items, no index {index}")
        if last:
            node[index] = copy.deepcopy(value)
            return
        walked.append(f"[{index}]" if isinstance(step, int) else f"[{step[0]}={step[1]}]")
        node = node[index]


def _select(items: list[Any], selector: tuple[str, str], here: str) -> int:
    key, wanted = selector
    hits = [i for i, item in enumerate(items) if isinstance(item, dict) and str(item.get(key)) == wanted]
    if len(hits) != 1:
        present = [str(item.get(key)) for item in items if isinstance(item, dict)]
        count = "no item" if not hits else f"{len(hits)} items"
        raise OverrideError(f"{here} has {count} with {key}={wanted} ({key} values: {', '.join(present) or 'none'})")
    return hits[0]


def _describe(walked: list[str]) -> str:
    return "".join(step if step.startswith("[") or not i else f".{step}" for i, step in enumerate(walked))
