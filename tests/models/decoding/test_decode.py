"""Decoding runs: shapes and per-step bookkeeping, repeatability from the seed, CFG and
sampling rules, depth-transformer models, the ReplayTrace file and the `cosim decode` CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cosim.artifacts.replay_trace import ReplayTrace
from cosim.cli import main
from models.decoding.decode import decode_video
from models.decoding.sampling import Sampling, guided, make_pick
from models.transformer import VideoTransformer
from tiny_models import tiny_depth_config, tiny_model

torch.set_num_threads(1)
F = 16


def _first(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (4, 4))


@torch.no_grad()
def test_run_shapes_and_step_bookkeeping(tmp_path):
    model = tiny_model()
    first = _first()
    run = decode_video(model, first, 5, frames=3, thresholds=0.0)
    steps = 2 * F - 1  # frame 1 prefilled; the last generated token is never fed back
    assert run.codes.shape == (3, 4, 4) and (run.codes[0] == first).all()
    assert run.trace.tas.shape == run.trace.replay.shape == (steps, 2, 2) and run.trace.kv_attended.shape == (steps, 2)
    assert run.step_cpu_s.shape == (steps,) and (run.step_cpu_s >= 0).all()
    # Step k feeds video position F + k: frame 1 (0-based), raster order inside it.
    assert (run.trace.frame[0], run.trace.row[0], run.trace.col[0]) == (1, 0, 0)
    assert (run.trace.frame[5], run.trace.row[5], run.trace.col[5]) == (1, 1, 1)
    assert (run.trace.frame[-1], run.trace.row[-1], run.trace.col[-1]) == (2, 3, 2)
    assert run.trace.kv_len[0] == 1 + F + 1 and run.trace.kv_len[-1] == 1 + 3 * F - 1
    np.testing.assert_array_equal(run.trace.kv_attended, np.repeat(run.trace.kv_len[:, None], 2, axis=1))
    trace = ReplayTrace.load(run.trace.save(tmp_path / "run.npz"))
    np.testing.assert_array_equal(trace.replay, run.trace.replay)
    assert trace.meta["thresholds"] == [0.0, 0.0] and trace.meta["batch_rows"] == 2
    assert trace.meta["source"] == "decoded" and trace.meta["tas_form"] == "rope"


@torch.no_grad()
def test_seed_makes_runs_repeatable():
    model = tiny_model(seed=1)
    sampling = Sampling(temperature=1.0, top_k=50)
    a, b, c = (decode_video(model, _first(), 1, frames=2, sampling=sampling, seed=s) for s in (4, 4, 5))
    np.testing.assert_array_equal(a.codes, b.codes)
    assert (a.codes[1] != c.codes[1]).any()


@torch.no_grad()
def test_without_cfg_one_row():
    run = decode_video(tiny_model(), _first(), 0, frames=2, thresholds=float("inf"), cfg_scale=None)
    assert run.trace.replay.shape[2] == 1 and run.trace.meta["batch_rows"] == 1


@torch.no_grad()
def test_depth_model_decodes_d_codes_per_position():
    torch.manual_seed(0)
    model = VideoTransformer(tiny_depth_config()).eval()
    first = np.random.default_rng(0).integers(0, 24, (4, 4, 2))
    run = decode_video(model, first, 1, frames=2, thresholds=0.0)
    assert run.codes.shape == (2, 4, 4, 2) and (run.codes[0] == first).all() and run.codes.max() < 24


def test_cfg_combines_rows_and_shares_the_choice():
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.0, 0.0, 3.0]])  # conditional, unconditional
    torch.testing.assert_close(guided(logits, 3.0), torch.tensor([[6.0, 0.0, -3.0]]))
    assert make_pick(Sampling(), None, 3.0)(logits).tolist() == [0, 0]
    assert make_pick(Sampling(), None, None)(logits).tolist() == [0, 2]


def test_top_k_and_top_p_restrict_candidates():
    logits = torch.tensor([[3.0, 2.0, 1.0, 0.0]]).repeat(400, 1)
    generator = torch.Generator().manual_seed(0)
    assert set(Sampling(1.0, top_k=2).sample(logits, generator).tolist()) == {0, 1}
    # softmax = 0.64, 0.24, 0.09, 0.03: the smallest prefix reaching 0.7 is the first two
    assert set(Sampling(1.0, top_p=0.7).sample(logits, generator).tolist()) == {0, 1}
    assert set(Sampling(1.0, top_p=0.5).sample(logits, generator).tolist()) == {0}


def test_bad_inputs_are_user_errors():
    from cosim.common.errors import UserError

    model = tiny_model()
    with pytest.raises(UserError, match="first_frame_codes: expected codes of shape"):
        decode_video(model, np.zeros((3, 4)), 0, frames=2)
    with pytest.raises(UserError, match=r"thresholds: expected 1 or 2 values \(one per layer\), found 3 values"):
        decode_video(model, _first(), 0, frames=2, thresholds=[1.0, 2.0, 3.0])
    with pytest.raises(UserError, match="class_id"):
        decode_video(model, _first(), 8, frames=2)


def test_cli_decode_writes_a_trace(tmp_path, capsys):
    out = tmp_path / "trace.npz"
    code = main(
        [
            "decode",
            "--random-weights",
            "--frames",
            "2",
            "--threshold",
            "0",
            "--attention",
            "window",
            "--window",
            "64",
            "--no-progress",
            "-o",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "overall replay ratio" in printed and "token agreement with dense" in printed
    table = printed.split("drift per frame")[1].splitlines()[2:]
    overall = printed.split("token agreement with dense decoding: ")[1].split()[0]
    # One generated frame: one row, whose agreement is the overall one.
    assert table[0].split() == ["2", overall] and table[1].startswith("wrote")
    trace = ReplayTrace.load(out)
    assert trace.num_layers == 4 and (trace.kv_attended <= 64).all()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--threshold", "1,2"], "--threshold: expected 1 or 4 values (one per layer), found 2 values"),
        (["--attention", "dense", "--sink", "4"], "--sink: expected no value with --attention dense"),
        (["--preset", "gpt"], "preset: expected one of"),
    ],
)
def test_cli_decode_user_errors_exit_2(argv, message, capsys):
    assert main(["decode", "--random-weights", "--frames", "2", "--no-progress", *argv]) == 2
    assert message in capsys.readouterr().err
