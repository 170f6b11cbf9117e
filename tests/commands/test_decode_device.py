"""`cosim decode --device`: cpu by default, cuda only when torch sees a GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cosim.artifacts.replay_trace import ReplayTrace
from cosim.cli import main

QUICK = ["decode", "--random-weights", "--frames", "2", "--threshold", "0", "--no-progress", "--no-compare"]


def test_device_cpu_is_the_default_path(tmp_path, capsys):
    default, explicit = tmp_path / "default.npz", tmp_path / "cpu.npz"
    assert main([*QUICK, "-o", str(default)]) == 0
    assert main([*QUICK, "--device", "cpu", "-o", str(explicit)]) == 0
    a, b = ReplayTrace.load(default), ReplayTrace.load(explicit)
    assert np.array_equal(a.replay, b.replay) and np.array_equal(a.tas, b.tas)
    capsys.readouterr()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_user_error(capsys):
    assert main([*QUICK, "--device", "cuda"]) == 2
    assert "--device: expected cpu (torch sees no GPU on this machine), found 'cuda'" in capsys.readouterr().err


def test_an_unknown_device_is_a_user_error(capsys):
    assert main([*QUICK, "--device", "tpu"]) == 2
    assert "--device: expected cpu, cuda or cuda:N, found 'tpu'" in capsys.readouterr().err
