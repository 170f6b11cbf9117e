"""Fixed-budget KV policies keep the expected entries (tiny hand-checked caches), hold the
budget in a decode, and reject budgets that cannot hold a frame."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from cosim.common.errors import UserError
from models.decoding.decode import decode_video
from models.decoding.kv_budget import FlowCacheRun, KVBudget, flowcache_scores
from models.decoding.sparse_attention import StreamingAttention
from tiny_models import DecodeOptions, tiny_config, tiny_model

torch.set_num_threads(1)


def _keys(*vectors) -> torch.Tensor:
    return torch.tensor(vectors, dtype=torch.float32).view(1, 1, len(vectors), -1)


def test_redundancy_alone_evicts_the_duplicated_keys():
    keys = _keys([1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0])
    # Mean cosine to the others: (1 + 0 - 1) / 4 = 0 for the two equal keys, (0 + 0 + 0) / 4 = 0 for k2,
    # (-1 - 1 + 0) / 4 = -0.5 for k3: k3 is the least redundant.
    scores = flowcache_scores(torch.zeros(1, 1, 1, 1, 2), keys, mix_lambda=0.0, kernel=1)
    similarity = torch.tensor([0.0, 0.0, 0.0, -0.5])
    torch.testing.assert_close(scores[0, 0], -torch.softmax(similarity, dim=0))
    assert scores[0, 0].argmax().item() == 3


def test_importance_alone_keeps_what_recent_queries_attend_max_pooled():
    keys = _keys([0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [4.0, 0.0])
    queries = torch.tensor([1.0, 0.0]).view(1, 1, 1, 1, 2)  # one query head, one recent query
    probs = torch.softmax(torch.tensor([0.0, 0, 0, 0, 0, 4.0 / 2**0.5]), dim=0)
    plain = flowcache_scores(queries, keys, mix_lambda=1.0, kernel=1)[0, 0]
    torch.testing.assert_close(plain, probs)
    pooled = flowcache_scores(queries, keys, mix_lambda=1.0, kernel=3)[0, 0]
    # The attended entry lends its probability to its neighbour (kernel 3 centred).
    torch.testing.assert_close(pooled, torch.stack([probs[0]] * 4 + [probs[5], probs[5]]))


def test_gqa_group_logits_pool_by_max_and_queries_average():
    keys = _keys([1.0, 0.0], [0.0, 1.0])
    # Two query heads share the kv head (group of 2), two recent queries each.
    queries = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 0.0]]]).view(1, 1, 2, 2, 2)
    scores = flowcache_scores(queries, keys, mix_lambda=1.0, kernel=1)[0, 0]
    scale = 2**-0.5
    first = torch.softmax(torch.tensor([1.0, 1.0]) * scale, dim=0)  # max over heads: (1, 1)
    second = torch.softmax(torch.tensor([1.0, 0.0]) * scale, dim=0)  # max over heads: (1, 0)
    torch.testing.assert_close(scores, (first + second) / 2)


def test_flowcache_run_evicts_the_lowest_score_and_keeps_the_recent_window():
    config = tiny_config(num_layers=1, num_heads=2, num_kv_heads=2, frame_rows=1, frame_cols=2)  # F = 2
    policy = KVBudget("flowcache", budget=5, mix_lambda=0.0, kernel=1)  # redundancy only; window F + 1 = 3
    run = FlowCacheRun(policy, config, max_steps=1)
    # Candidates are positions 0-2 (3-5 are the protected window), room for 2. Head 0: key 1 is the most
    # similar to the others (mean cosine (0.995 - 0.995) / 3 = 0 against -0.002 for key 0 and -0.67 for
    # key 2); head 1: keys 0 and 2 are equal, key 1 orthogonal: one of the equal pair goes.
    keys = torch.zeros(1, 2, 6, 2)
    keys[0, 0, :3] = torch.tensor([[1.0, 0.0], [1.0, 0.1], [-1.0, 0.0]])
    keys[0, 1, :3] = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    keys[0, :, 3:] = torch.tensor([0.5, 0.5])
    values = torch.arange(12.0).view(1, 2, 6, 1).expand(-1, -1, -1, 2)
    kept, kept_values, ranges = run.select(0, torch.ones(1, 2, 1, 2), keys, values)
    assert ranges == [] and kept.shape == (1, 2, 5, 2)
    candidates = run._candidates[0]
    assert candidates is not None
    head0, head1 = candidates[0].tolist()
    assert head0 == [0, 2] and head1 in ([0, 1], [1, 2])
    assert kept_values[0, 0, :, 0].tolist() == [0, 2, 3, 4, 5]
    assert run.attended[0, 0].item() == 5


def test_decode_holds_the_budget_and_records_it():
    model = tiny_model()
    first = np.random.default_rng(0).integers(0, 256, (4, 4))
    kwargs = DecodeOptions(frames=3, cfg_scale=1.5)
    for policy in (KVBudget("flowcache", budget=20), KVBudget("streaming", budget=21)):
        result = decode_video(model, first, 0, thresholds=0.0, kv_policy=policy, **kwargs)
        trace = result.trace
        expected = np.minimum(trace.kv_len, policy.budget)
        np.testing.assert_array_equal(trace.kv_attended, np.repeat(expected[:, None], 2, axis=1))
        np.testing.assert_array_equal(trace.kv_kept, trace.kv_attended)
        assert trace.meta["kv_policy"]["policy"] == policy.policy and trace.kv_resident_max == policy.budget
    dense = decode_video(model, first, 0, **kwargs)
    np.testing.assert_array_equal(dense.trace.kv_kept, np.repeat(dense.trace.kv_len[:, None], 2, axis=1))


def test_streaming_budget_reads_what_streaming_attention_reads():
    model = tiny_model(seed=2)
    first = np.random.default_rng(2).integers(0, 256, (4, 4))
    kwargs = DecodeOptions(frames=3, cfg_scale=None)
    budget = decode_video(model, first, 1, kv_policy=KVBudget("streaming", budget=24, sink=4), **kwargs)
    window = decode_video(model, first, 1, attention_policy=StreamingAttention(sink=4, window=20), **kwargs)
    np.testing.assert_array_equal(budget.codes, window.codes)


def test_a_budget_below_a_frame_or_with_sparse_attention_is_a_user_error():
    config = replace(tiny_config(), frame_rows=4, frame_cols=4)
    with pytest.raises(UserError, match=r"kv_budget.*>= 18"):
        KVBudget("flowcache", budget=17).check(config.tokens_per_frame)
    with pytest.raises(UserError, match=r"kv_budget.*>= 21"):
        KVBudget("streaming", budget=20).check(config.tokens_per_frame)
    with pytest.raises(UserError, match="kv_policy"):
        KVBudget("h2o", budget=100)
    with pytest.raises(UserError, match="kernel"):
        KVBudget("flowcache", budget=100, kernel=4)
    with pytest.raises(UserError, match="attention"):
        decode_video(
            tiny_model(),
            np.zeros((4, 4), dtype=int),
            0,
            frames=2,
            kv_policy=KVBudget("flowcache", budget=20),
            attention_policy=StreamingAttention(),
        )
