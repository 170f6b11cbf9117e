"""A decoding-run workload: decoded once per recipe, quality joins every hardware point."""

from __future__ import annotations

import math
from dataclasses import asdict, replace

import pandas as pd
import pytest
import torch

from cosim.sweep import load_results, load_spec, run_sweep
from sweep_support import make_sweep

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained two-layer model on the toy world's geometry, with a quickly fitted tokenizer."""
    from models.config import get_preset
    from models.toyworld.tokenizer import fit_tokenizer
    from models.toyworld.train import save_toy_checkpoint
    from models.toyworld.world import ToyWorldConfig, generate_videos
    from models.transformer import VideoTransformer

    torch.manual_seed(0)
    config = replace(
        get_preset("toyworld"), name="toy-small", num_layers=2, hidden=32, num_heads=4, num_kv_heads=2, mlp_hidden=64
    )
    frames, _ = generate_videos(2, seed=0)
    tokenizer = fit_tokenizer(frames, num_codes=config.codebook_size, sample_patches=4000, iterations=2)
    path = tmp_path_factory.mktemp("ckpt") / "toy-small.pt"
    return save_toy_checkpoint(
        path, VideoTransformer(config).eval(), tokenizer, {"toyworld": asdict(ToyWorldConfig()), "seed": 0}
    )


def test_threshold_sweep_decodes_once_per_recipe(tmp_path, checkpoint):
    parameters = {
        "threshold": {"path": "workload.decode.thresholds", "values": [-1000.0, 1000.0]},
        "clock": {"path": "clock_mhz", "values": [200, 300]},
    }
    workload = {"decode": {"checkpoint": str(checkpoint), "thresholds": 0.0, "frames": 2, "seed": 1}}
    spec = make_sweep(
        tmp_path / "in",
        parameters,
        evaluator="design",
        workload=workload,
        objectives={"latency_s": "min", "token_agreement_vs_dense": "max"},
    )
    summary = run_sweep(load_spec(spec), tmp_path / "out", workers=2, progress=False)
    assert summary.counts == {"ok": 4, "invalid": 0, "failed": 0}
    assert len(list((tmp_path / "out" / "workloads").iterdir())) == 2  # two recipes, four points
    table = load_results(tmp_path / "out").set_index(["threshold", "clock"])
    never, always = table.xs((1000.0, 200)), table.xs((-1000.0, 200))
    assert isinstance(never, pd.Series) and isinstance(always, pd.Series)  # one row each
    # TAS above 1000 never happens: the run is the dense run, token for token.
    assert never["decode_replay_ratio"] == 0.0 and never["token_agreement_vs_dense"] == 1.0
    assert math.isinf(never["psnr_vs_dense_db"])
    # Above -1000 always: every step of the second frame replays every layer.
    assert always["decode_replay_ratio"] == 1.0 == always["replay_ratio"]
    assert always["latency_s"] < never["latency_s"]
    # The decode is shared by the hardware points: same quality at both clocks.
    assert table.loc[(-1000.0, 300), "token_agreement_vs_dense"] == always["token_agreement_vs_dense"]
    assert table.loc[(-1000.0, 300), "latency_s"] < always["latency_s"]
