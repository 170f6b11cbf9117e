"""What a ReplayTrace tells and makes, against hand counts: replay ratios, skippable weights, the dense
baseline, mapping to another depth; and the loader's metadata errors in full (see test_trace_input_checks.py)."""

import json
import zipfile

import numpy as np
import pytest

from cosim.artifacts.replay_trace import ReplayTrace
from cosim.common.errors import UserError


def two_steps() -> ReplayTrace:
    """2 steps x 2 layers x 2 rows; step 1 is in frame 1. Replays: step 1 layer 0 both rows, layer 1 row 0."""
    replay = np.zeros((2, 2, 2), bool)
    replay[1, 0, :] = True
    replay[1, 1, 0] = True
    return ReplayTrace(
        tas=np.array([[[np.nan, np.nan]] * 2, [[0.9, 0.8], [0.7, 0.1]]], np.float32),
        replay=replay,
        frame=np.array([0, 1], np.int32),
        row=np.zeros(2, np.int32),
        col=np.zeros(2, np.int32),
        kv_len=np.array([3, 4], np.int32),
        kv_attended=np.array([[3, 2], [4, 1]], np.int32),
        meta={
            "model": "hand",
            "num_layers": 2,
            "batch_rows": 2,
            "tokens_per_frame": 1,
            "frame_rows": 1,
            "frame_cols": 1,
            "frames": 2,
            "prompt_len": 2,
            "source": "decoded",
            "thresholds": [0.5, 0.6],
        },
    )


def test_replay_ratios_and_skippable_weights():
    trace = two_steps()
    assert trace.replay_ratio() == 3 / 8
    assert trace.layer_replay_ratio().tolist() == [2 / 4, 1 / 4]
    assert trace.weights_skippable().tolist() == [[False, False], [True, False]]


def test_a_trace_without_steps_has_zero_ratios():
    trace = two_steps()
    empty = ReplayTrace(
        tas=trace.tas[:0],
        replay=trace.replay[:0],
        frame=trace.frame[:0],
        row=trace.row[:0],
        col=trace.col[:0],
        kv_len=trace.kv_len[:0],
        kv_attended=trace.kv_attended[:0],
        meta=trace.meta,
    )
    assert empty.replay_ratio() == 0.0
    assert empty.layer_replay_ratio().tolist() == [0.0, 0.0]


@pytest.mark.parametrize("full_attention", [True, False])
def test_the_dense_baseline_replays_nothing(full_attention):
    trace = two_steps()
    dense = trace.dense_baseline(full_attention=full_attention)
    assert not dense.replay.any() and dense.replay.shape == trace.replay.shape
    assert not dense.runs_fastcar and trace.runs_fastcar
    assert dense.meta["dense_baseline"] is True and "dense_baseline" not in trace.meta
    np.testing.assert_array_equal(dense.tas, trace.tas)
    assert (dense.frame.tolist(), dense.kv_len.tolist()) == ([0, 1], [3, 4])
    if full_attention:  # every KV entry attended, and no thresholds: not a FastCar run
        assert dense.kv_attended.tolist() == [[3, 3], [4, 4]]
        assert dense.meta["thresholds"] is None and dense.meta["attention"] == {"policy": "dense"}
    else:  # the sparse attention as decoded
        assert dense.kv_attended.tolist() == [[3, 2], [4, 1]]
        assert dense.meta["thresholds"] == [0.5, 0.6]


def test_mapping_to_one_layer_takes_the_middle_and_to_none_is_refused():
    one = two_steps().map_to_layers(1)  # layer floor(0.5 * 2 / 1) = 1
    assert one.replay.tolist() == [[[False, False]], [[True, False]]]
    assert one.meta["thresholds"] == [0.6] and one.meta["mapped_from"] == {"model": "hand", "num_layers": 2}
    with pytest.raises(UserError) as caught:
        two_steps().map_to_layers(0)
    assert (caught.value.file, caught.value.key, caught.value.expected, caught.value.found) == (
        None,
        "num_layers",
        "an integer >= 1",
        0,
    )


def test_the_file_holds_the_metadata_with_sorted_keys(tmp_path):
    path = two_steps().save(tmp_path / "t.npz")
    with np.load(path) as archive:
        text = str(archive["meta"])
    assert list(json.loads(text)) == sorted(json.loads(text))
    assert ReplayTrace.load(path).meta == two_steps().meta


def _saved_with(tmp_path, **changes) -> tuple:
    trace = two_steps()
    for name, value in changes.items():
        if name in trace.meta:
            trace.meta[name] = value
        else:
            setattr(trace, name, value)
    path = tmp_path / "bad.npz"
    np.savez(
        path,
        **{n: getattr(trace, n) for n in ("tas", "replay", "frame", "row", "col", "kv_len", "kv_attended")},
        meta=np.array(json.dumps(dict(trace.meta, schema_version=1))),
    )
    with pytest.raises(UserError) as caught:
        ReplayTrace.load(path)
    return caught.value.file, caught.value.key, caught.value.expected, caught.value.found


def test_metadata_errors_name_what_was_found(tmp_path):
    path = str(tmp_path / "bad.npz")
    assert _saved_with(tmp_path, source="recorded") == (path, "meta.source", "one of decoded, synthetic", "recorded")
    assert _saved_with(tmp_path, num_layers=3) == (path, "meta.num_layers", "2 (the layers in the arrays)", 3)
    assert _saved_with(tmp_path, batch_rows=1) == (path, "meta.batch_rows", "2 (the rows in the arrays)", 1)


def test_a_one_step_trace_is_range_checked(tmp_path):
    trace = two_steps()
    one = {
        "tas": trace.tas[:1],
        "replay": trace.replay[:1],
        "frame": np.array([2], np.int32),
        "row": trace.row[:1],
        "col": trace.col[:1],
        "kv_len": trace.kv_len[:1],
        "kv_attended": trace.kv_attended[:1],
    }
    assert _saved_with(tmp_path, **one) == (str(tmp_path / "bad.npz"), "frame[0]", "a value in [0, 1]", 2)


def _load_error(path) -> tuple:
    with pytest.raises(UserError) as caught:
        ReplayTrace.load(path)
    return caught.value.file, caught.value.key, caught.value.expected, caught.value.found, str(caught.value)


def test_a_folder_a_missing_file_and_an_unreadable_archive(tmp_path):
    folder = tmp_path / "folder.npz"
    folder.mkdir()
    assert _load_error(folder) == (
        str(folder),
        None,
        "an existing replay-trace file (.npz)",
        "a directory",
        f"{folder}: expected an existing replay-trace file (.npz), found a directory",
    )
    absent = tmp_path / "absent.npz"
    assert _load_error(absent)[3:] == (
        "no such file",
        f"{absent}: expected an existing replay-trace file (.npz), found no such file",
    )
    broken = tmp_path / "broken.npz"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("tas.npy", b"\x93NUMPY\x01\x00 truncated")  # an array header cut short
    file, key, expected, found, text = _load_error(broken)
    assert (file, key, expected) == (str(broken), None, "a replay-trace .npz archive")
    assert found.startswith("an unreadable file (") and text == f"{broken}: expected {expected}, found {found}"


def test_a_file_without_a_schema_version(tmp_path):
    trace = two_steps()
    path = tmp_path / "old.npz"
    arrays = {n: getattr(trace, n) for n in ("tas", "replay", "frame", "row", "col", "kv_len", "kv_attended")}
    np.savez(path, **arrays, meta=np.array(json.dumps(trace.meta)))
    assert _load_error(path)[1:4] == ("meta.schema_version", "1", None)


def test_a_layer_that_attended_nothing_loads(tmp_path):
    trace = two_steps()
    trace.kv_attended = np.array([[3, 0], [4, 1]], np.int32)
    assert ReplayTrace.load(trace.save(tmp_path / "t.npz")).kv_attended.tolist() == [[3, 0], [4, 1]]


def test_an_archive_holding_pickled_objects_is_not_unpickled(tmp_path):
    trace = two_steps()
    path = tmp_path / "pickled.npz"
    arrays = {n: getattr(trace, n) for n in ("tas", "replay", "frame", "row", "col", "kv_len", "kv_attended")}
    arrays["tas"] = np.array([object()] * 2, dtype=object)
    np.savez(path, **arrays, meta=np.array(json.dumps(dict(trace.meta, schema_version=1))))
    file, key, expected, found, _ = _load_error(path)
    assert (file, key, expected) == (str(path), None, "a replay-trace .npz archive") and "allow_pickle" in found
