"""`cosim decode` with its threshold and calibration flags, on the shipped toy checkpoint (2 frames, one row),
checked on the ReplayTrace it writes."""

import numpy as np

from cosim.artifacts.replay_trace import ReplayTrace
from cosim.cli import main

SMALL = ["--frames", "2", "--no-cfg", "--no-compare", "--no-progress"]


def test_fixed_thresholds_replay_strictly_above(tmp_path):
    out = tmp_path / "t.npz"
    assert main(["decode", *SMALL, "--threshold", "9,35,-6,7", "--row-policy", "all", "-o", str(out)]) == 0
    trace = ReplayTrace.load(out)
    assert trace.meta["thresholds"] == [9.0, 35.0, -6.0, 7.0] and trace.meta["adaptive_ratio"] is None
    assert trace.replay.shape == (255, 4, 1)  # frame 2 after the given frame 1, minus the last token
    above = trace.tas > np.array([9.0, 35.0, -6.0, 7.0])[None, :, None]
    np.testing.assert_array_equal(trace.replay, above)
    assert 0 < trace.replay.mean() < 1


def test_target_ratio_calibration_and_adaptive_ratio(tmp_path, capsys):
    out = tmp_path / "t.npz"
    calibrate = ["--target-ratio", "0.5", "--calibration-videos", "1", "--calibration-rounds", "1"]
    assert main(["decode", *SMALL, *calibrate, "--adaptive-ratio", "0.5", "-o", str(out)]) == 0
    trace = ReplayTrace.load(out)
    meta = trace.meta
    assert meta["adaptive_ratio"] == 0.5 and len(meta["thresholds"]) == 4
    # the first decoded frame runs on the calibrated thresholds, recorded per frame
    assert meta["frame_thresholds"] == {"1": meta["thresholds"]}
    assert "calibrating on 1 videos" in capsys.readouterr().err
    assert trace.replay.shape == (255, 4, 1) and trace.replay.any()


def test_kv_budget_options_are_checked_before_decoding(capsys):
    bad = [
        (["--kv-budget", "512"], "--kv-budget: expected no value with --kv-policy full"),
        (["--kv-policy", "flowcache"], "--kv-budget: expected a budget of KV entries with --kv-policy flowcache"),
        (["--kv-policy", "flowcache", "--kv-budget", "0"], "--kv-budget: expected an integer >= 1"),
        (["--kv-policy", "flowcache", "--kv-budget", "200"], "kv_budget: expected an integer >= 258"),
        (["--kv-policy", "streaming", "--kv-budget", "260"], "kv_budget: expected an integer >= 261"),
        (["--kv-policy", "streaming", "--kv-budget", "512", "--attention", "window"], "--attention: expected dense"),
    ]
    for options, message in bad:
        assert main(["decode", *SMALL, *options]) == 2
        assert message in capsys.readouterr().err


def test_flowcache_budget_is_recorded_in_the_trace(tmp_path):
    out = tmp_path / "t.npz"
    budget = ["--kv-policy", "flowcache", "--kv-budget", "300", "--threshold", "10"]
    assert main(["decode", "--frames", "3", "--no-compare", "--no-progress", *budget, "-o", str(out)]) == 0
    trace = ReplayTrace.load(out)
    assert trace.meta["kv_policy"]["policy"] == "flowcache" and trace.meta["kv_policy"]["budget"] == 300
    np.testing.assert_array_equal(trace.kv_attended, np.minimum(trace.kv_len, 300)[:, None].repeat(4, axis=1))
    np.testing.assert_array_equal(trace.kv_kept, trace.kv_attended)


def test_teacher_forced_trace_is_simulated(tmp_path, capsys):
    """--teacher-forced feeds the true held-out video: the trace records real motion and
    `cosim simulate` accepts it like any decode trace."""
    trace_file, graph, out = tmp_path / "t.npz", tmp_path / "graph.json", tmp_path / "sim"
    argv = ["decode", *SMALL, "--teacher-forced", "--threshold", "0", "-o", str(trace_file)]
    assert main(argv) == 0
    assert "teacher forced" in capsys.readouterr().err
    trace = ReplayTrace.load(trace_file)
    assert trace.meta["teacher_forced"] is True and trace.replay.shape == (255, 4, 1)
    assert main(["trace", "--model", "toyworld", "--batch-rows", "1", "-o", str(graph)]) == 0
    argv = ["simulate", "--graph", str(graph), "--trace", str(trace_file), "--design", "kv260-fastcar"]
    assert main([*argv, "--policy", "static", "-o", str(out), "--no-progress"]) == 0
    assert (out / "report.json").is_file()
