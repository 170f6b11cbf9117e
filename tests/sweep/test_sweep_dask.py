"""The same sweep on a Dask cluster (a LocalCluster of two worker processes) as locally."""

from __future__ import annotations

import pytest

from cosim.cli import main
from cosim.sweep import load_results, load_spec, run_sweep
from sweep_support import SUPPORT, make_sweep, stable

distributed = pytest.importorskip("distributed")


def test_dask_cluster_matches_local_workers(tmp_path, monkeypatch, capsys):
    # Dask's worker processes are spawned: they must find the test evaluators on their path.
    monkeypatch.setenv("PYTHONPATH", str(SUPPORT))
    spec = make_sweep(
        tmp_path / "in",
        {
            "arrays": {"path": "engines.matrix.arrays", "values": [1, 2, 3]},
            "clock": {"path": "clock_mhz", "values": [200, 300, 999]},
        },
    )
    local = run_sweep(load_spec(spec), tmp_path / "local", workers=2, progress=False)
    assert local.counts == {"ok": 4, "invalid": 3, "failed": 2}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        assert main(["sweep", str(spec), "-o", str(tmp_path / "dask"), "--scheduler", address, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"9 new on Dask cluster {address} (2 worker threads)" in out
    assert stable(load_results(tmp_path / "dask")).equals(stable(load_results(tmp_path / "local")))
