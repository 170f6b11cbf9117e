"""Report figures, files and the Perfetto timeline from hand-made SimResults.

The default hand-made run: 2 steps of 1000 and 3000 cycles at 250 MHz = 4 us + 12 us,
frames 1 and 2; 3e6 MACs and 1.11e6 DRAM bytes; peak 1024 MACs/cycle, 61.44 B/cycle.
"""

import csv
import json

import numpy as np
import pytest

from cosim.analysis.report import Run, build_report, format_seconds, roofline_position
from cosim.analysis.timeline import trace_events
from handmade_results import handmade_result, kv260


@pytest.fixture(scope="module")
def design():
    return kv260()


def runs():
    return [
        Run("dense", "dense", handmade_result("time_multiplexed", step_cycles=(2000, 6000))),
        Run("sparse", "sparse_attention", handmade_result("time_multiplexed", step_cycles=(1500, 4500))),
        Run("fastcar-static", "fastcar", handmade_result("static", step_cycles=(1500, 3500), replay_ratio=0.5)),
        Run("fastcar-drs", "fastcar", handmade_result("drs", replay_ratio=0.5, drs={"predictor_accuracy": 0.875})),
    ]


def test_latency_and_throughput_by_hand(design):
    report = build_report(runs(), design)
    latency = report.run_figures(report.run("fastcar-drs"))["latency"]
    assert latency["per_video_s"] == pytest.approx(16e-6)
    assert latency["per_token_mean_s"] == pytest.approx(8e-6)
    assert latency["per_token_max_s"] == pytest.approx(12e-6)
    assert latency["tokens_per_s"] == pytest.approx(2 / 16e-6)  # 125,000 tokens/s
    assert latency["frames_per_s"] == pytest.approx(2 / 16e-6)  # one step per frame here
    assert latency["per_frame_s"] == pytest.approx({"1": 4e-6, "2": 12e-6})


def test_speedups_over_both_baselines(design):
    report = build_report(runs(), design)
    comparisons = report.comparisons()
    assert comparisons["drs_speedup_over_dense"] == pytest.approx(8000 / 4000)
    assert comparisons["drs_speedup_over_sparse_attention"] == pytest.approx(6000 / 4000)
    assert comparisons["fastcar_best_non_drs"] == "fastcar-static"
    assert comparisons["fastcar_speedup_over_dense"] == pytest.approx(8000 / 5000)
    assert comparisons["drs_speedup_over_policies"] == {"fastcar-static": pytest.approx(5000 / 4000)}
    assert comparisons["drs_predictor_accuracy"] == 0.875
    assert comparisons["dense_mlp_share_of_latency"] == pytest.approx(0.5)
    figures = report.run_figures(report.run("fastcar-static"))
    assert figures["speedup_over_dense"] == pytest.approx(1.6)
    assert figures["speedup_over_sparse_attention"] == pytest.approx(1.2)


def test_without_baselines_speedups_are_null(design):
    report = build_report([Run("drs", "fastcar", handmade_result("drs"))], design)
    assert report.run_figures(report.runs[0])["speedup_over_dense"] is None
    assert report.comparisons()["drs_speedup_over_dense"] is None


def test_roofline_position_by_hand():
    position = roofline_position(handmade_result())
    assert position["attained_macs_per_cycle"] == pytest.approx(3e6 / 4000)
    assert position["attained_dram_bytes_per_cycle"] == pytest.approx(1.11e6 / 4000)
    # bound: max(1.11e6 / 61.44, 3e6 / 1024) = 18066.4 cycles (DRAM)
    assert position["bound"] == "dram"
    assert position["percent_of_bound"] == pytest.approx(100 * (1.11e6 / 61.44) / 4000)


def test_runs_of_different_workloads_are_refused(design):
    with pytest.raises(ValueError, match="same workload"):
        build_report(
            [
                Run("a", "dense", handmade_result()),
                Run("b", "fastcar", handmade_result(step_cycles=(1, 2, 3), step_frame=(1, 1, 2))),
            ],
            design,
        )
    with pytest.raises(ValueError, match="unique"):
        build_report([Run("a", "dense", handmade_result()), Run("a", "fastcar", handmade_result())], design)


def test_written_files(design, tmp_path):
    report = build_report(runs(), design, inputs={"trace": "t.npz"}, quality={"token_agreement": 0.9})
    written = report.write(tmp_path)
    names = {p.name for p in written}
    assert {
        "report.json",
        "timeline.json",
        "summary.csv",
        "step_latency.csv",
        "frame_latency.csv",
        "energy_breakdown.csv",
        "utilisation.csv",
        "utilisation.png",
        "energy_breakdown.png",
        "frame_latency.png",
        "roofline.png",
    } <= names
    document = json.loads((tmp_path / "report.json").read_text())
    assert document["schema_version"] == 1
    assert document["quality"] == {"token_agreement": 0.9}
    assert set(document["runs"]) == {"dense", "sparse", "fastcar-static", "fastcar-drs"}
    assert set(document["files"]) == names
    for name in names:
        if name.endswith(".png"):
            assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(tmp_path / "step_latency.csv") as handle:
        rows = list(csv.DictReader(handle))
    drs_rows = [r for r in rows if r["run"] == "fastcar-drs"]
    assert [float(r["latency_us"]) for r in drs_rows] == [4.0, 12.0]
    with open(tmp_path / "energy_breakdown.csv") as handle:
        energy_rows = [r for r in csv.DictReader(handle) if r["run"] == "dense"]
    total = sum(float(r["total_j"]) for r in energy_rows)
    assert total == pytest.approx(document["runs"]["dense"]["energy"]["total_j"], rel=1e-6)


def test_timeline_is_chrome_trace_events(design, tmp_path):
    build_report(runs(), design).write(tmp_path)
    document = json.loads((tmp_path / "timeline.json").read_text())
    events = document["traceEvents"]
    complete = [e for e in events if e["ph"] == "X"]
    for event in complete:
        assert {"name", "ph", "pid", "tid", "ts", "dur"} <= set(event)
    names = {(e["pid"], e["args"]["name"]) for e in events if e["name"] == "process_name"}
    assert names == {
        (1, "dense (time_multiplexed)"),
        (2, "sparse (time_multiplexed)"),
        (3, "fastcar-static (static)"),
        (4, "fastcar-drs (drs)"),
    }
    # drs run: the q_proj event starts at cycle 0 and lasts 400 cycles = 1.6 us at 250 MHz
    q_proj = [e for e in complete if e["pid"] == 4 and e["name"] == "layers.0.attn.q_proj"]
    assert q_proj[0]["ts"] == 0 and q_proj[0]["dur"] == pytest.approx(1.6)
    threads = {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name" and e["pid"] == 4}
    assert set(threads.values()) == {"steps", "matrix", "vector", "dram.weights"}
    steps = [e for e in complete if e["pid"] == 4 and threads[e["tid"]] == "steps"]
    assert [(e["ts"], e["dur"]) for e in steps] == [(0.0, 4.0), (4.0, 12.0)]


def test_timeline_covers_only_the_recorded_steps():
    result = handmade_result(step_cycles=(100, 200, 300), step_frame=(1, 1, 2))
    result.timeline_steps = (1, 2)
    events = trace_events([("r", result)])["traceEvents"]
    steps = [e for e in events if e.get("cat") == "steps"]
    assert [e["name"] for e in steps] == ["step 1 (frame 1)"]
    assert steps[0]["ts"] == pytest.approx(100 / 250)


def test_summary_table_and_units(design):
    table = build_report(runs(), design).summary_table()
    lines = table.splitlines()
    assert lines[0].split()[:2] == ["run", "replay"]
    assert "2.00x" in next(line for line in lines if line.startswith("fastcar-drs"))
    assert format_seconds(16e-6) == "16 us" and format_seconds(2.5) == "2.5 s"
    assert np.isclose(float(format_seconds(0.0123).split()[0]), 12.3)


def test_a_reused_folder_holds_only_the_new_report(design, tmp_path):
    (tmp_path / "old_table.csv").write_text("stale\n")
    (tmp_path / "notes.txt").write_text("the user's own file\n")
    (tmp_path / "report.json").write_text(json.dumps({"files": ["old_table.csv", "summary.csv", "report.json"]}))
    written = build_report(runs(), design).write(tmp_path)
    assert not (tmp_path / "old_table.csv").exists()  # listed by the earlier report, not written now
    assert (tmp_path / "notes.txt").exists()  # never listed by a report: not ours to delete
    assert {p.name for p in tmp_path.iterdir()} == {p.name for p in written} | {"notes.txt"}


def test_a_failed_write_leaves_no_report_json_describing_it(design, tmp_path, monkeypatch):
    build_report(runs(), design).write(tmp_path)

    def broken(*_):
        raise OSError("disk full")

    monkeypatch.setattr("cosim.analysis.report.plots.save_figure", broken)
    with pytest.raises(OSError):
        build_report(runs(), design).write(tmp_path)
    assert not (tmp_path / "report.json").exists()
