"""One case per input check of the ReplayTrace loader: each file breaks exactly one rule and
the error names that rule's key (each case fails if its check is removed)."""

import json
import zipfile
from typing import Any

import numpy as np
import pytest

from cosim.artifacts.replay_trace import ReplayTrace
from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.common.errors import UserError

ARRAYS = ("tas", "replay", "frame", "row", "col", "kv_len", "kv_attended")


def good():
    """3 frames of 2 x 2 positions, frame 0 the prompt: 8 steps, frames 1-2, 2 layers, 2 rows, kv_len 6..13."""
    return synthetic_trace(num_layers=2, layer_rates=0.5, frames=3, frame_rows=2, frame_cols=2, seed=1)


def write(path, arrays=None, meta=None, drop=(), raw_meta=None):
    trace = good()
    contents = {n: getattr(trace, n) for n in ARRAYS}
    contents.update(arrays or {})
    full_meta = dict(trace.meta, schema_version=1)
    full_meta.update(meta or {})
    contents["meta"] = np.array(raw_meta if raw_meta is not None else json.dumps(full_meta))
    for name in drop:
        contents.pop(name)
    np.savez(path, **contents)
    return path


def with_value(name, index, value):
    array = getattr(good(), name).copy()
    array[index] = value
    return {name: array}


def meta_without(key):
    trace = good()
    meta = {k: v for k, v in trace.meta.items() if k != key}
    return json.dumps(dict(meta, schema_version=1))


CASES: dict[str, tuple[dict[str, Any], str]] = {
    # archive-level checks
    "missing array": (dict(drop=["kv_len"]), r"kv_len: expected a replay-trace array of that name, found nothing"),
    "missing meta": (dict(drop=["meta"]), r"meta: expected a replay-trace array of that name"),
    "meta not JSON": (dict(raw_meta="{not json"), r"meta: expected a JSON object, found invalid JSON"),
    "meta not an object": (dict(raw_meta="[1, 2]"), r"meta: expected a JSON object, found list"),
    "schema version": (dict(meta={"schema_version": 2}), r"meta\.schema_version: expected 1, found 2"),
    "dtype": (dict(arrays={"frame": good().frame.astype(np.int64)}), r"frame: expected dtype int32, found int64"),
    # metadata
    "meta key missing": (dict(raw_meta=meta_without("frames")), r"meta\.frames: expected a int, found nothing"),
    "meta key of the wrong type": (dict(meta={"frames": "3"}), r"meta\.frames: expected a int, found '3'"),
    "meta bool is not an int": (dict(meta={"prompt_len": True}), r"meta\.prompt_len: expected a int, found True"),
    "meta source": (dict(meta={"source": "guessed"}), r"meta\.source: expected one of decoded, synthetic"),
    "meta num_layers": (dict(meta={"num_layers": 3}), r"meta\.num_layers: expected 2 \(the layers in the arrays\)"),
    "meta batch_rows": (dict(meta={"batch_rows": 1}), r"meta\.batch_rows: expected 2 \(the rows in the arrays\)"),
    # shapes
    "replay not 3-d": (
        dict(arrays={"replay": np.zeros((8, 2), bool)}),
        r"replay: expected a 3-d array \(steps, layers, rows\), found shape \(8, 2\)",
    ),
    "array shape": (
        dict(arrays={"kv_attended": good().kv_attended[:, :1]}),
        r"kv_attended: expected shape \(8, 2\), found shape \(8, 1\)",
    ),
    # value ranges
    "frame below 0": (dict(arrays=with_value("frame", 0, -1)), r"frame\[0\]: expected a value in \[0, 2\], found -1"),
    "frame past the video": (
        dict(arrays=with_value("frame", 7, 3)),
        r"frame\[7\]: expected a value in \[0, 2\], found 3",
    ),
    "row below 0": (dict(arrays=with_value("row", 1, -1)), r"row\[1\]: expected a value in \[0, 1\], found -1"),
    "row past the frame": (dict(arrays=with_value("row", 2, 2)), r"row\[2\]: expected a value in \[0, 1\], found 2"),
    "col below 0": (dict(arrays=with_value("col", 3, -1)), r"col\[3\]: expected a value in \[0, 1\], found -1"),
    "col past the frame": (dict(arrays=with_value("col", 4, 2)), r"col\[4\]: expected a value in \[0, 1\], found 2"),
    "kv_len below 1": (dict(arrays=with_value("kv_len", 5, 0)), r"kv_len\[5\]: expected a value in >= 1, found 0"),
    "kv_attended below 0": (
        dict(arrays=with_value("kv_attended", (2, 1), -1)),
        r"kv_attended\[2, 1\]: expected a value in \[0, kv_len=8\], found -1",
    ),
    "kv_attended past kv_len": (
        dict(arrays=with_value("kv_attended", (2, 0), 9)),
        r"kv_attended\[2, 0\]: expected a value in \[0, kv_len=8\], found 9",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_broken_rule_is_named(tmp_path, case):
    kwargs, message = CASES[case]
    path = write(tmp_path / "bad.npz", **kwargs)
    with pytest.raises(UserError, match=r"bad\.npz: " + message):
        ReplayTrace.load(path)


def test_a_good_file_loads(tmp_path):
    assert ReplayTrace.load(write(tmp_path / "good.npz")).num_steps == 8


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(UserError, match=r"absent\.npz: expected an existing replay-trace file"):
        ReplayTrace.load(tmp_path / "absent.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(UserError, match=r"text\.npz: expected a replay-trace \.npz archive, found an unreadable file"):
        ReplayTrace.load(tmp_path / "text.npz")
    assert not zipfile.is_zipfile(tmp_path / "text.npz")


def test_in_memory_traces_are_checked_too():
    trace = good()
    with pytest.raises(UserError, match=r"<in memory>: col\[0\]"):
        ReplayTrace(**{n: getattr(trace, n) for n in ARRAYS if n != "col"}, col=trace.col + 5, meta=trace.meta)
