"""`kv_kept` (KV entries resident per step and layer): saved and loaded, defaulted for files
without it, kept through transformations, and checked against kv_attended and kv_len."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from cosim.artifacts.replay_trace import ReplayTrace
from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.common.errors import UserError

BUDGET = 6


def budgeted_trace() -> ReplayTrace:
    trace = synthetic_trace(
        num_layers=2, layer_rates=[0.5, 0.5], frames=3, frame_rows=2, frame_cols=2, batch_rows=2, seed=1
    )
    bounded = np.minimum(trace.kv_len, BUDGET)[:, None].repeat(2, axis=1)
    return replace(trace, kv_attended=bounded, kv_kept=bounded)


def test_kv_kept_round_trips_and_defaults_to_kv_len_in_older_files(tmp_path):
    trace = budgeted_trace()
    loaded = ReplayTrace.load(trace.save(tmp_path / "t.npz"))
    np.testing.assert_array_equal(loaded.kv_kept, trace.kv_kept)
    assert loaded.kv_resident_max == BUDGET < int(trace.kv_len.max())
    arrays = {n: getattr(trace, n) for n in ("tas", "replay", "frame", "row", "col", "kv_len", "kv_attended")}
    older = tmp_path / "older.npz"
    np.savez(older, meta=np.array(json.dumps(dict(trace.meta, schema_version=1))), **arrays)
    np.testing.assert_array_equal(ReplayTrace.load(older).kv_kept, trace.kv_len[:, None].repeat(2, axis=1))


def test_transformations_keep_or_reset_kv_kept():
    trace = budgeted_trace()
    assert trace.dense_baseline(full_attention=False).kv_resident_max == BUDGET
    full = trace.dense_baseline(full_attention=True)
    np.testing.assert_array_equal(full.kv_kept, trace.kv_len[:, None].repeat(2, axis=1))
    assert full.meta["kv_policy"] == {"policy": "full"}
    assert trace.map_to_layers(4).kv_kept.shape == (trace.num_steps, 4)


def test_kv_kept_outside_attended_and_length_is_rejected():
    trace = budgeted_trace()
    with pytest.raises(UserError, match=r"kv_kept\[0, 0\]"):
        replace(trace, kv_kept=trace.kv_kept - 1)
    with pytest.raises(UserError, match=r"kv_kept\[0, 0\]"):
        replace(trace, kv_kept=trace.kv_kept + 100)
