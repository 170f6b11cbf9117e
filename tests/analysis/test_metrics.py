"""Headline figures: one definition for the report and the sweep, and one behaviour at zero latency."""

import json

import pytest

from cosim.analysis.metrics import headline_metrics, speedup
from cosim.analysis.report import Run, build_report
from handmade_results import handmade_result, kv260


def test_headline_figures_by_hand():
    # 1000 + 3000 cycles at 250 MHz = 16 us for 2 steps in 2 frames; half the cycles MLP
    headline = headline_metrics(handmade_result())
    assert headline.latency_s == pytest.approx(16e-6)
    assert headline.latency_per_token_s == pytest.approx(8e-6)
    assert headline.latency_per_frame_s == pytest.approx(8e-6)
    assert headline.tokens_per_s == pytest.approx(125_000)
    assert headline.frames_per_s == pytest.approx(125_000)
    assert headline.mlp_share_of_latency == pytest.approx(0.5)
    assert speedup(handmade_result(step_cycles=(2000, 6000)), handmade_result()) == pytest.approx(2.0)
    assert speedup(None, handmade_result()) is None


def test_the_report_shows_the_headline_figures():
    result = handmade_result(step_cycles=(1234, 5678))
    report = build_report([Run("drs", "fastcar", result)], kv260())
    figures, headline = report.run_figures(report.runs[0]), headline_metrics(result)
    assert figures["latency"]["per_video_s"] == headline.latency_s
    assert figures["latency"]["tokens_per_s"] == headline.tokens_per_s
    assert figures["latency"]["frames_per_s"] == headline.frames_per_s
    assert figures["latency"]["per_frame_mean_s"] == headline.latency_per_frame_s
    assert figures["latency"]["per_token_mean_s"] == pytest.approx(headline.latency_per_token_s, rel=1e-15)
    assert figures["mlp_share_of_latency"] == headline.mlp_share_of_latency


def test_zero_latency_means_no_throughput_and_no_speedup():
    empty = handmade_result(step_cycles=(), step_frame=(), block_cycles={"attention": 0, "mlp": 0, "other": 0})
    headline = headline_metrics(empty)
    assert headline.latency_s == 0.0
    assert (headline.tokens_per_s, headline.frames_per_s) == (0.0, 0.0)
    assert (headline.latency_per_token_s, headline.latency_per_frame_s, headline.mlp_share_of_latency) == (
        0.0,
        0.0,
        0.0,
    )
    assert speedup(handmade_result(), empty) is None
    json.dumps(headline.__dict__, allow_nan=False)  # strict JSON: no infinity
