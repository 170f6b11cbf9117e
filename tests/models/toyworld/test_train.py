"""Training of the toy model: loss goes down, runs are reproducible, checkpoints round-trip
and a bad checkpoint is one clear user error."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from cosim.cli import main as cosim_main
from cosim.common.errors import UserError
from models.decoding.quality import psnr
from models.toyworld.motion import recall_interval
from models.toyworld.tokenizer import fit_tokenizer
from models.toyworld.train import (
    DEFAULT_CHECKPOINT,
    HELDOUT_START,
    changed_code_weights,
    evaluate,
    learning_rate_at,
    load_toy_checkpoint,
    next_token_loss,
    own_frame,
    save_toy_checkpoint,
    tokenise_videos,
    train_model,
    train_toy_model,
    window_batch,
    with_own_frames,
)
from models.toyworld.train_config import TrainConfig
from models.toyworld.world import ToyWorldConfig, generate_videos
from models.transformer import VideoTransformer
from tiny_models import tiny_config

torch.set_num_threads(1)

# 16x16 px frames -> 4x4 codes, 3 frames, 32 codes: sequences of 1 + 48 tokens.
WORLD = ToyWorldConfig(frame_px=16, num_frames=3, min_sprite_px=4, max_sprite_px=6)
CONFIG = tiny_config(num_layers=1, codebook_size=32, vocab_size=32 + 8 + 1)
TRAIN = TrainConfig(
    steps=40,
    batch_size=8,
    window_frames=2,
    full_sequence_steps=10,
    full_sequence_batch_size=4,
    warmup_steps=4,
    train_videos=160,
    heldout_videos=24,
    tokenizer_videos=40,
    threads=1,
)


@pytest.fixture(scope="module")
def data():
    frames, _ = generate_videos(40, seed=0, config=WORLD)
    tokenizer = fit_tokenizer(frames, num_codes=32, seed=0, sample_patches=5000, iterations=5)
    train = tokenise_videos(tokenizer, 160, seed=0, world=WORLD)
    held = tokenise_videos(tokenizer, 24, seed=0, world=WORLD, start=10_000)
    return tokenizer, train, held


@pytest.fixture(scope="module")
def trained():
    return train_toy_model(TRAIN, CONFIG, WORLD, progress=False, out="tiny.pt")


def test_a_few_training_steps_lower_the_held_out_loss(data):
    _, (codes, labels), (held_codes, held_labels) = data
    torch.manual_seed(0)
    model = VideoTransformer(CONFIG)
    before = evaluate(model, held_codes, held_labels)["loss"]
    assert before == pytest.approx(math.log(41), abs=0.2)  # untrained: about uniform over 41 ids
    losses = train_model(model, codes, labels, TRAIN, progress=False)
    after = evaluate(model, held_codes, held_labels)["loss"]
    assert after < before - 1.0
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 1.0


def test_same_seed_same_weights(data):
    _, (codes, labels), _ = data
    short = replace(TRAIN, steps=3, full_sequence_steps=1)
    states = []
    for _ in range(2):
        torch.manual_seed(0)
        model = VideoTransformer(CONFIG)
        train_model(model, codes, labels, short, progress=False)
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_window_batch_is_class_token_then_consecutive_frames():
    codes = torch.arange(2 * 4 * 3).view(2, 4, 3)  # 2 videos, 4 frames, 3 positions: value = 12v + 3f + p
    batch = window_batch(codes, torch.tensor([100, 101]), torch.tensor([1, 0]), torch.tensor([2, 0]), 2)
    assert batch.tolist() == [[101, 18, 19, 20, 21, 22, 23], [100, 0, 1, 2, 3, 4, 5]]


def test_scheduled_sampling_feeds_the_models_own_next_to_last_frame():
    torch.manual_seed(0)
    model = VideoTransformer(CONFIG).eval()
    per_frame = CONFIG.tokens_per_frame
    tokens = torch.randint(0, CONFIG.codebook_size, (3, 1 + 3 * per_frame))
    with torch.no_grad():
        full = model(tokens[:, :-1])[..., : CONFIG.codebook_size].argmax(-1)
    predicted = own_frame(model, tokens, 1)
    assert torch.equal(predicted, full[:, per_frame : 2 * per_frame])  # greedy, the true frames before fed in
    fed = with_own_frames(model, tokens, torch.tensor([True, False, True]), window_frames=3)
    frame_2 = slice(1 + per_frame, 1 + 2 * per_frame)
    assert torch.equal(fed[[0, 2], frame_2], predicted[[0, 2]])
    assert torch.equal(fed[1], tokens[1])  # rows not chosen keep the truth
    assert torch.equal(fed[:, : frame_2.start], tokens[:, : frame_2.start])  # the rest keeps the truth
    assert torch.equal(fed[:, frame_2.stop :], tokens[:, frame_2.stop :])
    with pytest.raises(UserError, match="window_frames: expected at least 3"):
        replace(TRAIN, self_context_fraction=0.5)
    steps = replace(TRAIN, window_frames=3, self_context_fraction=0.5, steps=4, full_sequence_steps=1)
    _, labels = generate_videos(16, seed=0, config=WORLD)
    codes = np.random.default_rng(0).integers(0, CONFIG.codebook_size, (16, 3, 16))
    assert len(train_model(VideoTransformer(CONFIG), codes, labels, steps, progress=False)) == 4


def test_changed_codes_weigh_more_in_the_loss():
    codes = torch.tensor([[[1, 2], [1, 3], [4, 3]]])  # 1 video, 3 frames, 2 positions
    weights = changed_code_weights(codes, torch.tensor([0]), torch.tensor([[0, 1, 2]]), 5.0)
    # Frame 1 has no previous frame; frame 2 changes position 1; frame 3 changes position 0.
    assert weights.tolist() == [[1.0, 1.0, 1.0, 5.0, 5.0, 1.0]]
    window = changed_code_weights(codes, torch.tensor([0]), torch.tensor([[1, 2]]), 5.0)
    assert window.tolist() == [[1.0, 5.0, 5.0, 1.0]]  # a window's first frame still compares with the frame before
    # Weighted mean: losses (log 2, log 2, 0) with weights (1, 3, 0) -> log 2.
    logits = torch.tensor([[[0.0, 0.0], [0.0, 0.0], [0.0, 100.0]]])
    tokens = torch.tensor([[0, 1, 0, 1]])
    assert float(next_token_loss(logits, tokens, torch.tensor([[1.0, 3.0, 0.0]]))) == pytest.approx(math.log(2))
    assert float(next_token_loss(logits, tokens)) == pytest.approx(2 * math.log(2) / 3)


def test_learning_rate_schedule_warms_up_then_decays_to_the_minimum():
    train = TrainConfig(steps=110, full_sequence_steps=0, warmup_steps=10, learning_rate=1e-3, min_learning_rate=1e-4)
    assert learning_rate_at(0, train) == pytest.approx(1e-4)
    assert learning_rate_at(9, train) == pytest.approx(1e-3)
    assert learning_rate_at(60, train) == pytest.approx(5.5e-4)  # half-way down the cosine
    assert learning_rate_at(110, train) == pytest.approx(1e-4)


def test_copy_predictor_accuracy_is_the_fraction_of_unchanged_positions(data):
    codes = np.zeros((1, 3, 16), dtype=np.int16)
    codes[0, 1:, :4] = 1  # frame 2: 4 of 16 positions change; frame 3 = frame 2
    torch.manual_seed(0)
    report = evaluate(VideoTransformer(CONFIG), codes, np.array([2]))
    assert report["copy_accuracy_frames_2_on"] == pytest.approx((12 + 16) / 32)
    assert len(report["accuracy_per_frame"]) == 3


def test_free_running_figures_sit_between_their_bounds(trained):
    _model, tokenizer, metadata = trained
    report = metadata["free_running"]
    frames, _labels = generate_videos(8, 0, WORLD, start=HELDOUT_START)
    repeated = np.repeat(frames[:, :1], WORLD.num_frames - 1, axis=1)
    assert report["videos"] == 8 and len(report["psnr_per_frame_db"]) == WORLD.num_frames
    assert report["repeat_frame_1_psnr_db"] == pytest.approx(psnr(repeated, frames[:, 1:]))
    assert report["tokenizer_psnr_db"] == pytest.approx(
        psnr(tokenizer.decode(tokenizer.encode(frames[:, 1:])), frames[:, 1:])
    )
    # Frame 1 is given, so its PSNR is the tokenizer's on that frame.
    first = psnr(tokenizer.decode(tokenizer.encode(frames[:, :1])), frames[:, :1])
    assert report["psnr_per_frame_db"][0] == pytest.approx(first)


def test_changed_code_figures_split_the_held_out_codes(trained):
    """The motion figures (models/toyworld/motion.py) recorded after training: recall of the
    changed codes per generated frame, and the teacher-forced split, all fractions."""
    _model, tokenizer, metadata = trained
    free = metadata["free_running"]
    assert len(free["changed_recall_per_frame"]) == WORLD.num_frames - 1 and free["changed_codes"] > 0
    assert 0.0 <= free["changed_recall"] <= 1.0 and 0.0 <= free["token_accuracy"] <= 1.0
    frames, _labels = generate_videos(8, 0, WORLD, start=HELDOUT_START)
    codes = tokenizer.encode(frames)
    assert free["changed_codes"] == int((codes[:, 1:] != codes[:, :-1]).sum())
    assert free["changed_codes_per_video"] == [int((v[1:] != v[:-1]).sum()) for v in codes]
    assert sum(free["changed_hits_per_video"]) / free["changed_codes"] == pytest.approx(free["changed_recall"])
    heldout = metadata["heldout"]
    assert 0.0 <= heldout["changed_accuracy"] <= 1.0 and 0.0 <= heldout["unchanged_accuracy"] <= 1.0


def test_checkpoint_round_trip(tmp_path, trained):
    model, tokenizer, metadata = trained
    path = save_toy_checkpoint(tmp_path / "toy.pt", model, tokenizer, metadata)
    loaded, loaded_tokenizer, loaded_metadata = load_toy_checkpoint(path)
    tokens = torch.randint(0, CONFIG.vocab_size, (1, 49))
    with torch.no_grad():
        assert torch.equal(loaded(tokens), model(tokens))
    assert loaded.config == CONFIG and not loaded.training
    assert np.array_equal(loaded_tokenizer.codebook, tokenizer.codebook)
    assert loaded_metadata["seed"] == 0 and loaded_metadata["steps"] == 40
    assert loaded_metadata["command"].startswith("cosim train-toy --seed 0 --steps 40 ")
    assert loaded_metadata["command"].endswith("--out tiny.pt")
    assert loaded_metadata["heldout_loss"] < loaded_metadata["first_train_loss"]


def test_corrupt_missing_and_foreign_checkpoints_are_user_errors(tmp_path, trained):
    model, tokenizer, metadata = trained
    good = save_toy_checkpoint(tmp_path / "good.pt", model, tokenizer, metadata).read_bytes()
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(good[: len(good) // 2])
    with pytest.raises(UserError, match=r"corrupt\.pt: expected a torch checkpoint written by `cosim train-toy`"):
        load_toy_checkpoint(corrupt)
    with pytest.raises(UserError, match="no such file"):
        load_toy_checkpoint(tmp_path / "missing.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(UserError, match=r"foreign\.pt: format: expected 'cosim-toyworld-checkpoint', found None"):
        load_toy_checkpoint(foreign)
    payload = torch.load(tmp_path / "good.pt", weights_only=True)
    payload["model_state"].pop("norm.weight")
    torch.save(payload, tmp_path / "partial.pt")
    with pytest.raises(UserError, match=r"model_state: expected weights matching model_config"):
        load_toy_checkpoint(tmp_path / "partial.pt")


def test_model_geometry_must_match_the_toy_world():
    with pytest.raises(UserError, match="frames: expected 8 to match the toy world, found 3"):
        train_toy_model(TRAIN, CONFIG, ToyWorldConfig(frame_px=16, min_sprite_px=4, max_sprite_px=6), progress=False)


def test_cli_rejects_bad_values_with_status_2(capsys):
    assert cosim_main(["train-toy", "--steps", "0"]) == 2
    assert "steps: expected an integer >= 1, found 0" in capsys.readouterr().err
    assert cosim_main(["train-toy", "--steps", "100", "--full-sequence-steps", "150"]) == 2
    assert "full_sequence_steps: expected an integer in [0, steps = 100], found 150" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # argparse's own usage error
        cosim_main(["train-toy", "--bf16-autocast", "maybe"])
    assert exit_info.value.code == 2
    assert "expected True or False, found 'maybe'" in capsys.readouterr().err


@pytest.mark.skipif(not DEFAULT_CHECKPOINT.is_file(), reason="checkpoint not trained yet")
def test_shipped_checkpoint_beats_copying_the_previous_frame():
    model, tokenizer, metadata = load_toy_checkpoint()
    held = tokenise_videos(tokenizer, 4, seed=metadata["seed"], world=ToyWorldConfig(), start=2_000_000_000)
    report = evaluate(model, *held, batch_size=4)
    assert report["model_accuracy_frames_2_on"] > report["copy_accuracy_frames_2_on"]
    assert min(report["accuracy_per_frame"][1:]) > 0.85  # no collapse on later frames (RoPE distances)
    assert metadata["command"].startswith("cosim train-toy --seed 0 ")


def test_recall_interval_resamples_whole_videos():
    """Videos of equal recall leave no uncertainty; one perfect and one failed video of the
    same size pool to 0, 1/2 or 1 (probabilities 1/4, 1/2, 1/4), so the 95 % interval is [0, 1]
    and a 40 % one is [1/2, 1/2]."""
    assert recall_interval([3, 6, 30], [4, 8, 40]) == (0.75, 0.75)
    assert recall_interval([10, 0], [10, 10]) == (0.0, 1.0)
    assert recall_interval([10, 0], [10, 10], level=0.4) == (0.5, 0.5)
