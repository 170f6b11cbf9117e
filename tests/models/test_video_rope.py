"""The frame-row-col rotary embedding: positions from the token layout, scores that depend
only on the (frame, row, col) offset, and a model config that selects it."""

import dataclasses

import pytest
import torch

from cosim.common.errors import UserError
from models.config import get_preset
from models.transformer import RotaryEmbedding, VideoTransformer, apply_rope
from models.video_rope import VideoRotaryEmbedding


def test_positions_follow_the_class_token_then_raster_frames_layout():
    rope = VideoRotaryEmbedding(head_dim=32, theta=100.0, frame_rows=16, frame_cols=16)
    where = rope.positions(0, 1 + 2 * 256)
    assert where[0].tolist() == [0, 0, 0]  # the class token
    assert where[1].tolist() == [1, 0, 0]  # frame 1, top-left
    assert where[1 + 17].tolist() == [1, 1, 1]
    assert where[256].tolist() == [1, 15, 15]  # last position of frame 1
    assert where[1 + 256].tolist() == [2, 0, 0]
    # A later window starts where the full sequence would be.
    assert torch.equal(rope.positions(300, 5), where[300:305])
    assert rope.bands == (4, 6, 6)  # 16 frequency slots of a 32-wide head


def _score(rope, q, k, query_index, key_index):
    cos, sin = rope(0, max(query_index, key_index) + 1, torch.float64)
    rq = apply_rope(q, cos[query_index], sin[query_index])
    rk = apply_rope(k, cos[key_index], sin[key_index])
    return float((rq * rk).sum())


def test_scores_depend_only_on_the_frame_row_col_offset():
    rope = VideoRotaryEmbedding(head_dim=32, theta=100.0, frame_rows=16, frame_cols=16)
    generator = torch.Generator().manual_seed(0)
    q, k = (
        torch.randn(32, generator=generator, dtype=torch.float64),
        torch.randn(32, generator=generator, dtype=torch.float64),
    )
    # Same spatial position one frame earlier, at three different places: one score.
    same = [_score(rope, q, k, 1 + 256 + p, 1 + p) for p in (0, 37, 255)]
    assert same == pytest.approx([same[0]] * 3, rel=1e-6)  # tables are float32
    # Offset (-1 frame, 0 rows, +1 col) at two places equals; but the flat offset 255
    # crosses a row end at col 15 and is then a different 3-D offset, hence another score.
    a = _score(rope, q, k, 1 + 256 + 5 * 16 + 3, 1 + 5 * 16 + 4)
    b = _score(rope, q, k, 1 + 256 + 9 * 16 + 10, 1 + 9 * 16 + 11)
    c = _score(rope, q, k, 1 + 256 + 9 * 16 + 15, 1 + 10 * 16 + 0)
    assert a == pytest.approx(b, rel=1e-6) and abs(a - c) > 1e-3


def test_toy_model_selects_the_layout_and_unknown_layouts_are_rejected():
    toy = get_preset("toyworld")
    assert isinstance(
        VideoTransformer(dataclasses.replace(toy, rope_layout="sequence"), device="meta").rotary_emb, RotaryEmbedding
    )
    assert isinstance(
        VideoTransformer(dataclasses.replace(toy, rope_layout="frame-row-col"), device="meta").rotary_emb,
        VideoRotaryEmbedding,
    )
    with pytest.raises(UserError, match="rope_layout: expected one of sequence, frame-row-col, found"):
        dataclasses.replace(toy, rope_layout="2d")


@pytest.mark.parametrize("at_target", [False, True])
@torch.no_grad()
def test_queries_at_their_target_see_the_previous_frame_at_one_offset(at_target):
    """The same input everywhere, so a score depends on the positions only: the query that
    predicts cell c against the key of cell c one frame earlier. With the queries rotated at the
    position of the token they predict that score is the same for every cell, the first of a row
    too; rotated at their own position, the first cell of a row (predicted from the last of the
    row before) gets another."""
    from tiny_models import decoder_layer, tiny_model

    model = tiny_model(num_layers=1, num_kv_heads=4, rope_queries_at_target=at_target)
    per_frame, cols = model.config.tokens_per_frame, model.config.frame_cols
    length = 1 + 2 * per_frame
    captured = []
    decoder_layer(model, 0).self_attn.register_forward_hook(lambda module, args, out: captured.append(out[4]))
    embeds = torch.randn(1, 1, model.config.hidden, generator=torch.Generator().manual_seed(0)).repeat(1, length, 1)
    model.prefill(embeds, model.new_cache(1, length))
    scores = captured[0][0, 0]  # head 0: [queries, keys]
    # Sequence index 1 + per_frame + i holds frame-2 cell i; the query one before it predicts it.
    targets = range(1, per_frame)
    copy = torch.stack([scores[per_frame + i, 1 + i] for i in targets])
    first_of_row = torch.tensor([i % cols == 0 for i in targets])
    if at_target:
        torch.testing.assert_close(copy, copy[0].expand_as(copy), atol=1e-5, rtol=1e-5)
    else:
        torch.testing.assert_close(copy[~first_of_row], copy[~first_of_row][0].expand(int((~first_of_row).sum())))
        assert (copy[first_of_row] - copy[~first_of_row][0]).abs().min() > 1e-3
