"""Hypothesis strategies for the fuzz tests (tests/fuzz): hostile edits of a valid document.

A fuzzed input starts from a file that works (a design, a sweep spec, a graph, a trace's
metadata) and gets a few edits: a value replaced by another that is plausible (0, 1, twice
or half the old number) or hostile (NaN, infinities, 1e300, negative, text, lists, null),
a key deleted, an unknown key added. Starting from a valid document keeps most examples
deep enough to reach the simulator, where a purely random document would stop at the
first key. `outcome` runs the code under test and says whether it ran or refused in one
line; anything else (another exception) fails the test. A file with several mistakes is
refused with one line per mistake (`cosim.hw.issues.ConfigErrors`), each a whole message.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from cosim.common.errors import UserError

Path_ = tuple[str | int, ...]

HOSTILE_SCALARS = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e300, 1e-300, 2**63, -(2**63), -1, 0, 1, True, None]),
    st.sampled_from(["", "x", "1e3", "nan", "-", "0x10", "\u00e9\u00e9"]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.sampled_from(["a", "name", "low"]), st.integers(-2, 2), max_size=2),
)


def leaf_paths(document: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every key path of `document` (mappings and lists), inner nodes included."""
    paths: list[Path_] = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            paths += leaf_paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            paths += leaf_paths(value, (*prefix, index))
    return paths


def _plausible(old: Any) -> st.SearchStrategy[Any]:
    """Values near the old one, so that some edited documents still load and simulate."""
    if isinstance(old, bool) or not isinstance(old, (int, float)):
        return HOSTILE_SCALARS
    near = [0, 1, old * 2, old // 2 if isinstance(old, int) else old / 2, old + 1, max(old - 1, 0)]
    return st.sampled_from(near)


@st.composite
def edited(draw: st.DrawFn, document: Any, max_edits: int = 3) -> Any:
    """`document` with 1..max_edits edits (replace, delete, add an unknown key)."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, max_edits))):
        paths = leaf_paths(document)
        action = draw(st.sampled_from(["plausible", "plausible", "hostile", "delete", "add"]))
        numbers = [p for p in paths if _is_number(_get(document, p))]
        if action == "plausible" and numbers:  # numbers nudged: the document often still loads
            paths = numbers
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _get(document, path[:-1])
        old = parent[path[-1]]
        if action == "plausible":
            parent[path[-1]] = draw(_plausible(old))
        elif action == "hostile":
            parent[path[-1]] = draw(HOSTILE_SCALARS)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "delete":
            parent.pop(path[-1])
        elif isinstance(old, dict):
            old[draw(st.sampled_from(["extra", "nmae", "bytes"]))] = draw(HOSTILE_SCALARS)
    return document


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _get(document: Any, path: Path_) -> Any:
    for step in path:
        document = document[step]
    return document


def outcome(run: Callable[[], Any]) -> str:
    """``"ran"`` or ``"refused"`` (a `UserError`); any other exception propagates."""
    try:
        run()
    except UserError as error:
        check_refusal(str(error))
        return "refused"
    return "ran"


def check_refusal(text: str) -> None:
    """Each line of a refusal is one whole message: ``<where>: expected <what>, found <what>``."""
    lines = text.strip().splitlines()
    assert lines, "an empty refusal"
    for line in lines:
        assert ": expected " in line and ", found " in line, f"not a refusal line: {line!r} in\n{text}"
