"""The ReplayTrace's lockstep metadata (videos, tokens per step) and KV budget (kv_kept): each check's
error in full, and kv_kept carried through the dense baseline, mapping to another depth and the file."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from cosim.artifacts.replay_trace import ReplayTrace
from cosim.common.errors import UserError

KV_LEN = np.array([3, 4], np.int32)
KV_KEPT = np.array([[3, 2], [3, 2]], np.int32)  # a KV budget: layer 1 keeps 2 entries, layer 0 drops one at step 1


def budget_trace(kv_kept: np.ndarray = KV_KEPT, **meta: Any) -> ReplayTrace:
    """2 steps x 2 layers x 2 rows (one video, the two tokens of a frame in one step); step 1 is in frame 1."""
    return ReplayTrace(
        tas=np.array([[[np.nan, np.nan]] * 2, [[0.9, 0.8], [0.7, 0.1]]], np.float32),
        replay=np.array([[[False, False]] * 2, [[True, True], [True, False]]]),
        frame=np.array([0, 1], np.int32),
        row=np.zeros(2, np.int32),
        col=np.zeros(2, np.int32),
        kv_len=KV_LEN,
        kv_attended=np.array([[2, 1], [3, 1]], np.int32),
        kv_kept=kv_kept,
        meta={
            "model": "hand",
            "num_layers": 2,
            "batch_rows": 2,
            "tokens_per_frame": 2,
            "tokens_per_step": 2,
            "frame_rows": 1,
            "frame_cols": 2,
            "frames": 2,
            "prompt_len": 2,
            "source": "decoded",
            "thresholds": [0.5, 0.6],
            **meta,
        },
    )


def refusal(**meta: Any) -> tuple[Any, ...]:
    with pytest.raises(UserError) as caught:
        budget_trace(**meta)
    return caught.value.file, caught.value.key, caught.value.expected, caught.value.found


def test_a_lockstep_trace_loads_with_its_sequences():
    trace = budget_trace()
    assert (trace.videos, trace.tokens_per_step, trace.sequences) == (1, 2, 1)


@pytest.mark.parametrize("key", ["videos", "tokens_per_step"])
@pytest.mark.parametrize("value", [0, "2", True, 1.0])
def test_lockstep_counts_are_positive_integers(key, value):
    assert refusal(**{key: value}) == ("<in memory>", f"meta.{key}", "an integer >= 1", value)


def test_rows_are_a_multiple_of_videos_times_tokens_per_step():
    # 2 rows cannot hold 2 videos of 2 tokens per step (videos / tokens_per_step would give 1 and let it pass)
    expected = "a multiple of videos x tokens_per_step = 4"
    assert refusal(videos=2) == ("<in memory>", "meta.batch_rows", expected, 2)


def test_tokens_per_step_divide_the_frame():
    expected = "a divisor of tokens_per_frame = 3"
    assert refusal(tokens_per_frame=3) == ("<in memory>", "meta.tokens_per_step", expected, 2)


def test_kept_entries_lie_between_the_attended_ones_and_kv_len():
    below = KV_KEPT.copy()
    below[1, 1] = 0  # layer 1 attended 1 entry at step 1
    with pytest.raises(UserError) as caught:
        budget_trace(kv_kept=below)
    error = caught.value
    assert (error.file, error.key, error.expected, error.found) == (
        "<in memory>",
        "kv_kept[1, 1]",
        "a value in [kv_attended=1, kv_len=4]",
        0,
    )


def test_the_file_keeps_the_budget_and_names_itself_in_errors(tmp_path):
    loaded = ReplayTrace.load(budget_trace().save(tmp_path / "budget.npz"))
    assert loaded.kv_kept.tolist() == KV_KEPT.tolist()
    trace = budget_trace()
    trace.meta["videos"] = 0  # saved unchecked: the loader must name the file
    path = trace.save(tmp_path / "bad.npz")
    with pytest.raises(UserError) as caught:
        ReplayTrace.load(path)
    assert (caught.value.file, caught.value.key) == (str(path), "meta.videos")


def test_the_dense_baseline_keeps_the_budget_unless_attention_is_full():
    sparse = budget_trace().dense_baseline(full_attention=False)
    assert sparse.kv_kept.tolist() == KV_KEPT.tolist()
    full = budget_trace().dense_baseline(full_attention=True)
    assert full.kv_kept.tolist() == [[3, 3], [4, 4]] and full.meta["kv_policy"] == {"policy": "full"}


def test_mapping_to_other_depths_takes_each_layers_budget():
    assert budget_trace().map_to_layers(1).kv_kept.tolist() == [[2], [2]]  # layer floor(0.5 x 2 / 1) = 1
    assert budget_trace().map_to_layers(4).kv_kept.tolist() == [[3, 3, 2, 2], [3, 3, 2, 2]]


def test_arrays_of_the_wrong_rank_are_refused_before_the_default_budget_is_needed():
    trace = budget_trace()
    with pytest.raises(UserError) as caught:
        ReplayTrace(
            tas=trace.tas,
            replay=trace.replay,
            frame=trace.frame,
            row=trace.row,
            col=trace.col,
            kv_len=trace.kv_len,
            kv_attended=trace.kv_len,  # one value per step instead of per step and layer
            meta=trace.meta,
        )
    assert (caught.value.key, caught.value.expected) == ("kv_attended", "shape (2, 2)")
