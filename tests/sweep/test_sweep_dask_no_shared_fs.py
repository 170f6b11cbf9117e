"""A sweep on Dask workers that cannot see the sweep's inputs or its folder matches a local run.

The workers (a LocalCluster of two processes) each run in their own temporary working
directory, and a plugin hides the spec's input folder and the sweep folder from them
(`blind_workers`): every file they need must come as data, and only the driver may write
the store. The workload is a synthetic recipe, so the trace is prepared on a worker,
sent back, stored by the driver and sent out again for the points.
"""

from __future__ import annotations

import pytest

from cosim.sweep import load_results, load_spec, run_sweep
from sweep_support import SUPPORT, make_sweep, stable

distributed = pytest.importorskip("distributed")

PARAMETERS = {"clock": {"path": "clock_mhz", "values": [150, 200, 250, 300]}}


def test_workers_without_the_sweep_folder_match_a_local_run(tmp_path, monkeypatch):
    from blind_workers import Blindfold, blocked

    monkeypatch.setenv("PYTHONPATH", str(SUPPORT))
    workload = {"graph": "graph.json", "synthetic": {"layer_rates": 0.5, "frames": 3, "seed": 2}}
    spec = make_sweep(tmp_path / "in", PARAMETERS, evaluator="design", workload=workload)
    local = run_sweep(load_spec(spec), tmp_path / "local", workers=1, progress=False)
    assert local.counts == {"ok": 4, "invalid": 0, "failed": 0}

    workdirs = tmp_path / "workers"
    workdirs.mkdir()
    monkeypatch.chdir(workdirs)
    hidden = [str(tmp_path / "in"), str(tmp_path / "dask")]
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.register_plugin(Blindfold(hidden, str(workdirs)))
        summary = run_sweep(load_spec(spec), tmp_path / "dask", client=client, progress=False)
        assert client.run(blocked) == {address: [] for address in client.nthreads()}  # no worker even looked
    assert summary.counts == {"ok": 4, "invalid": 0, "failed": 0}
    assert (tmp_path / "dask" / "workloads").is_dir()  # the driver stored the recipe the workers prepared
    assert _compared(load_results(tmp_path / "dask")).equals(_compared(load_results(tmp_path / "local")))


def _compared(table):
    return stable(table).drop(columns=["sim_wall_time_s"])
