"""ReplayTrace files: round trip, clear errors on damaged files, layer mapping, synthetic
generator rates."""

import json

import numpy as np
import pytest

from cosim.artifacts.replay_trace import ReplayTrace
from cosim.artifacts.synthetic_trace import synthetic_trace
from cosim.common.errors import UserError


def small_trace(**overrides):
    return synthetic_trace(
        num_layers=4,
        layer_rates=[0.0, 0.5, 0.5, 1.0],
        frames=3,
        frame_rows=2,
        frame_cols=2,
        batch_rows=2,
        seed=1,
        **overrides,
    )


def test_round_trip_is_lossless(tmp_path):
    trace = small_trace()
    loaded = ReplayTrace.load(trace.save(tmp_path / "t.npz"))
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(loaded, name), getattr(trace, name))
    assert loaded.meta == trace.meta


def test_positions_and_kv_lengths_follow_the_prompt():
    trace = small_trace()
    # prompt = class token + 1 frame of 4 tokens; 2 generated frames of 4 tokens
    assert trace.meta["prompt_len"] == 5
    assert trace.num_steps == 8
    assert trace.frame.tolist() == [1, 1, 1, 1, 2, 2, 2, 2]
    assert trace.row.tolist() == [0, 0, 1, 1] * 2
    assert trace.col.tolist() == [0, 1, 0, 1] * 2
    assert trace.kv_len.tolist() == list(range(6, 14))


def test_truncated_file_is_a_clear_error(tmp_path):
    path = small_trace().save(tmp_path / "t.npz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=r"t\.npz: expected a replay-trace \.npz archive, found an unreadable file"):
        ReplayTrace.load(path)


ARRAYS = ("tas", "replay", "frame", "row", "col", "kv_len", "kv_attended")


def write_raw(path, trace, schema_version=1, **replaced):
    """Write a trace file by hand, bypassing ReplayTrace.save's checks."""
    arrays = {n: replaced.get(n, getattr(trace, n)) for n in ARRAYS}
    np.savez(path, meta=np.array(json.dumps(dict(trace.meta, schema_version=schema_version))), **arrays)
    return path


def test_corrupted_shape_is_a_clear_error(tmp_path):
    trace = small_trace()
    path = write_raw(tmp_path / "bad.npz", trace, kv_len=trace.kv_len[:-1])
    with pytest.raises(UserError, match=r"bad\.npz: kv_len: expected shape \(8,\), found shape \(7,\)"):
        ReplayTrace.load(path)


def test_other_schema_version_is_rejected(tmp_path):
    path = write_raw(tmp_path / "v.npz", small_trace(), schema_version=99)
    with pytest.raises(UserError, match=r"meta\.schema_version: expected 1, found 99"):
        ReplayTrace.load(path)


def test_map_to_more_layers_by_relative_depth():
    trace = small_trace()
    mapped = trace.map_to_layers(8)
    # target layer i takes source floor((i + 0.5) * 4 / 8): 0,0,1,1,2,2,3,3
    np.testing.assert_array_equal(mapped.replay[:, 6], trace.replay[:, 3])
    np.testing.assert_array_equal(mapped.replay[:, 1], trace.replay[:, 0])
    assert mapped.meta["mapped_from"] == {"model": "synthetic", "num_layers": 4}
    assert mapped.num_layers == 8


def test_synthetic_independent_rates():
    trace = synthetic_trace(num_layers=3, layer_rates=[0.2, 0.5, 0.8], seed=0)
    # 7 generated frames x 256 positions per layer: the standard error is about 0.012
    np.testing.assert_allclose(trace.layer_replay_ratio(), [0.2, 0.5, 0.8], atol=0.04)
    assert trace.meta["source"] == "synthetic"
    assert trace.frame.min() == 1  # frame 0 is the prompt, not decoded
    # generated from frame 0 on: frame 0 has no previous frame and never replays, even at rate 1
    scratch = synthetic_trace(num_layers=3, layer_rates=1.0, frames=2, conditioning_frames=0, seed=0)
    assert (scratch.frame == 0).any() and not scratch.replay[scratch.frame == 0].any()
    assert scratch.replay[scratch.frame == 1].all()


def test_synthetic_correlation_repeats_previous_frame():
    trace = synthetic_trace(num_layers=1, layer_rates=0.5, seed=0, correlation=0.9)
    per_frame = trace.replay[:, 0, 0].reshape(7, 256)
    repeat = (per_frame[1:] == per_frame[:-1]).mean()
    # P(same) = c + (1 - c) * (r^2 + (1 - r)^2) = 0.9 + 0.1 * 0.5 = 0.95
    assert abs(repeat - 0.95) < 0.02


def test_rates_out_of_range_are_rejected():
    with pytest.raises(UserError, match=r"layer_rates: expected rates in \[0, 1\]"):
        synthetic_trace(num_layers=2, layer_rates=[0.5, 1.5])


def test_map_to_layers_carries_each_layer_its_threshold():
    trace = small_trace()
    trace.meta["thresholds"] = [0.1, 0.2, 0.3, 0.4]
    # target layer i takes source floor((i + 0.5) * 4 / 8) (more layers) or floor((i + 0.5) * 4 / 2) (fewer)
    assert trace.map_to_layers(8).meta["thresholds"] == [0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.4]
    assert trace.map_to_layers(2).meta["thresholds"] == [0.2, 0.4]
    fewer = trace.map_to_layers(2)
    np.testing.assert_array_equal(fewer.replay, trace.replay[:, [1, 3]])
    np.testing.assert_array_equal(fewer.kv_attended, trace.kv_attended[:, [1, 3]])
    assert trace.meta["thresholds"] == [0.1, 0.2, 0.3, 0.4]  # the source is left as it was
