"""`cosim sweep` (with --resume and --retry-failed) and `cosim pareto -o` from the command line, on the
closed-form test evaluator: latency_s = 1 / (arrays x clock_mhz), dsp_util = arrays / 10; arrays = 3 raises."""

import pandas as pd

from cosim.cli import main
from cosim.sweep import load_results
from sweep_support import make_sweep

PARAMETERS = {
    "arrays": {"path": "engines.matrix.arrays", "values": [1, 2, 3]},
    "clock": {"path": "clock_mhz", "values": [200, 300]},
}


def test_sweep_retry_failed_and_pareto_out(tmp_path, capsys):
    spec = make_sweep(tmp_path / "in", PARAMETERS, objectives={"latency_s": "min", "dsp_util": "min"})
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "-o", str(out), "--workers", "1", "--no-progress"]) == 0
    table = load_results(out)
    assert sorted(table["status"]) == ["failed"] * 2 + ["ok"] * 4  # arrays = 3 raises at both clocks
    assert (table["error"][table["status"] == "failed"].str.contains("arrays = 3 is cursed")).all()
    capsys.readouterr()

    assert main(["sweep", "--resume", str(out), "--no-progress"]) == 0  # nothing left to do
    assert "0 new on" in capsys.readouterr().out
    assert main(["sweep", "--resume", str(out), "--retry-failed", "--no-progress"]) == 0
    assert "; 2 new on" in capsys.readouterr().out  # the two failed points, evaluated again (and failing again)
    assert sorted(load_results(out)["status"]) == ["failed"] * 2 + ["ok"] * 4

    front_csv = tmp_path / "front.csv"
    plot = tmp_path / "front.png"
    assert (
        main(["pareto", str(out), "--objectives", "latency_s,dsp_util", "-o", str(front_csv), "--plot", str(plot)]) == 0
    )
    assert plot.read_bytes().startswith(b"\x89PNG")
    front = pd.read_csv(front_csv)
    # at 300 MHz each array count beats itself at 200 MHz; 1 and 2 arrays trade latency for DSPs
    assert sorted(zip(front["arrays"], front["clock"], strict=True)) == [(1, 300), (2, 300)]
    assert sorted(front["latency_s"]) == [1 / 600, 1 / 300]
