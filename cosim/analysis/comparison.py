"""The runs a report compares, simulated from one graph, one trace and one design.

- ``dense``: the trace's video with no replay and full attention (every KV entry read):
  the accelerator without FastCar. It is simulated under the design's own scheduling
  policy unless another is asked for, so the baseline has the same scheduler strengths
  (e.g. DRS's weight streaming) and speedups measure what replay adds.
- ``fastcar-<policy>``: the trace's replay decisions under each scheduling policy.
- ``sparse-attention`` (when a sparse-attention trace is given): that decode's attended
  KV entries, no replay, under the dense run's policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cosim.common.errors import UserError
from cosim.sim.policies import POLICIES

if TYPE_CHECKING:
    import networkx as nx

    from cosim.analysis.report import Run
    from cosim.artifacts.replay_trace import ReplayTrace
    from cosim.hw.schema import Design

# The CLI imports this module, so numpy, the simulator and the report are imported inside
# the functions that use them.


def check_sparse_baseline(sparse: ReplayTrace, trace: ReplayTrace, source: str | Path) -> None:
    """A sparse-attention baseline must decode the same steps as `trace`, without replay."""
    import numpy as np

    if sparse.num_steps != trace.num_steps or not np.array_equal(sparse.frame, trace.frame):
        raise UserError(
            source,
            "frame",
            f"the same {trace.num_steps} decode steps as the FastCar trace",
            f"{sparse.num_steps} steps",
            found_is_text=True,
        )
    if sparse.num_layers != trace.num_layers:
        raise UserError(
            source, "meta.num_layers", f"{trace.num_layers} (the FastCar trace's layers)", sparse.num_layers
        )
    if sparse.replay.any():
        raise UserError(
            source,
            "replay",
            "no replay (a sparse-attention decode with FastCar off)",
            f"a replay ratio of {sparse.replay_ratio():.3f}",
            found_is_text=True,
        )


def simulate_runs(
    graph: nx.DiGraph,
    trace: ReplayTrace,
    design: Design,
    *,
    policies: Sequence[str] | None = None,
    dense_policy: str | None = None,
    sparse_trace: ReplayTrace | None = None,
    progress: bool = True,
) -> list[Run]:
    """Simulate the dense baseline, FastCar under each of `policies` (default: every registered one) and the
    sparse baseline, after checking that the workload fits the design (`cosim.hw.workload_fit`)."""
    from tqdm import tqdm

    from cosim.analysis.report import Run
    from cosim.hw.issues import ConfigErrors
    from cosim.hw.workload_fit import check_workload_fit
    from cosim.sim.simulator import simulate

    fit = check_workload_fit(graph, design, kv_len=int(trace.kv_len.max()), batch_rows=trace.batch_rows)
    if fit.errors:
        raise ConfigErrors(fit.errors)
    policies = POLICIES.names() if policies is None else policies
    for policy in policies:
        if policy not in POLICIES:
            raise UserError(None, "--policy", f"one of {', '.join(POLICIES.names())}", policy)
    dense_policy = dense_policy or design.scheduling.policy
    dense = trace.dense_baseline(full_attention=True)
    plan: list[tuple[str, str, ReplayTrace, str]] = [("dense", "dense", dense, dense_policy)]
    if sparse_trace is not None:
        without_fastcar = sparse_trace.dense_baseline(full_attention=False)  # no TAS, no ring, even if synthetic
        plan.append(("sparse-attention", "sparse_attention", without_fastcar, dense_policy))
    plan += [(f"fastcar-{policy}", "fastcar", trace, policy) for policy in dict.fromkeys(policies)]
    runs = []
    bar = tqdm(
        plan, desc=f"simulate {graph.graph.get('model', '')}".rstrip(), unit="run", disable=not progress, leave=False
    )
    for label, kind, run_trace, policy in bar:
        bar.set_postfix_str(label)
        runs.append(Run(label, kind, simulate(graph, run_trace, design, policy=policy, progress=progress)))
    return runs
