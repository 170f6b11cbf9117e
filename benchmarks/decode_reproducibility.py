"""How much the decode figures of `cosim run` move with floating-point details of the machine.

The same FastCar decode (the toy model, thresholds calibrated to a 70 % replay target, then
re-set per frame) runs in a fresh process under each setting that changes how torch sums
on a CPU: its kernel family (`ATEN_CPU_CAPABILITY`: AVX2 or the portable code, as on an older
or different processor), MKL's code path for matrix products (`MKL_CBWR`, e.g. COMPATIBLE:
the SSE2 path any x86 machine takes) and the number of torch threads (which splits
reductions differently). Each run prints the replay ratio, token agreement and PSNR against the dense
decode; the table shows each against the first setting, with the share of the 14 328
replay decisions (steps x layers x rows) that differ. A TAS score within floating-point
noise of its threshold flips a decision, the flipped decision changes the next token, and
the videos part ways from there.

    python benchmarks/decode_reproducibility.py [--settings avx2:1,avx2:2,default:1,avx2:1:COMPATIBLE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ONE_RUN = """
import json, sys
from cosim.pipeline import RunSettings, decode_runs
decode, traces = decode_runs(RunSettings(threads=int(sys.argv[1]), sparse_window=None, progress=False))
traces["fastcar"].save(sys.argv[2])
fastcar = decode["runs"]["fastcar"]
print(json.dumps({k: fastcar[k] for k in ("replay_ratio", "token_agreement_vs_dense", "psnr_vs_dense_db",
                                          "psnr_vs_truth_db")} | {"thresholds": decode["thresholds"]}))
"""


def run_setting(capability: str, threads: int, mkl_path: str, folder: Path) -> tuple[dict, np.ndarray, float]:
    """One decode in a fresh process (kernel family and MKL path are chosen when torch loads)."""
    env = dict(os.environ, ATEN_CPU_CAPABILITY=capability, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    if mkl_path:
        env["MKL_CBWR"] = mkl_path
    trace = folder / f"{capability}-{threads}-{mkl_path}.npz"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = subprocess.run(
        [sys.executable, "-c", ONE_RUN, str(threads), str(trace)], env=env, capture_output=True, text=True, check=True
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    with np.load(trace) as archive:
        replay = archive["replay"].copy()
    return json.loads(child.stdout.strip().splitlines()[-1]), replay, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--settings",
        default="avx2:1,avx2:2,default:1,avx2:1:COMPATIBLE",
        help="capability:threads[:MKL_CBWR], comma separated; the first is the reference",
    )
    args = parser.parse_args()
    rows: list[tuple[str, dict, np.ndarray]] = []
    with tempfile.TemporaryDirectory() as folder:
        for part in args.settings.split(","):
            capability, threads, mkl_path = [*part.split(":"), ""][:3]
            figures, replay, cpu = run_setting(capability, int(threads), mkl_path, Path(folder))
            label = f"{capability}, {threads} thr" + (f", MKL {mkl_path}" if mkl_path else "")
            print(
                f"ran {label}: {cpu:.0f} s CPU; replay {figures['replay_ratio']:.4f}, agreement "
                f"{figures['token_agreement_vs_dense']:.4f}, PSNR {figures['psnr_vs_dense_db']:.3f} dB, "
                f"{int(np.sum(replay != rows[0][2])) if rows and rows[0][2].shape == replay.shape else '-'} "
                "decisions differ from the first setting",
                flush=True,
            )
            rows.append((label, figures, replay))
    reference_replay = rows[0][2]
    print(f"{'setting':<28} {'replay':>8} {'agreement':>10} {'PSNR dense':>11} {'decisions differing':>20}")
    spread: dict[str, list[float]] = {
        key: [] for key in ("replay_ratio", "token_agreement_vs_dense", "psnr_vs_dense_db")
    }
    for label, figures, replay in rows:
        for key in spread:
            spread[key].append(figures[key])
        steps = min(len(replay), len(reference_replay))
        differing = float(np.mean(replay[:steps] != reference_replay[:steps])) if steps else float("nan")
        print(
            f"{label:<28} {figures['replay_ratio']:>7.1%} {figures['token_agreement_vs_dense']:>10.4f} "
            f"{figures['psnr_vs_dense_db']:>8.2f} dB {differing:>19.1%}"
        )
    same = all(np.array_equal(replay, reference_replay) for _, _, replay in rows)
    print(
        f"spread: replay {100 * (max(spread['replay_ratio']) - min(spread['replay_ratio'])):.1f} points, "
        f"agreement {max(spread['token_agreement_vs_dense']) - min(spread['token_agreement_vs_dense']):.4f}, "
        f"PSNR {max(spread['psnr_vs_dense_db']) - min(spread['psnr_vs_dense_db']):.2f} dB"
    )
    verdict = "identical on every setting" if same else "vary with the machine's floating-point details"
    print(f"verdict: the decode's replay decisions are {verdict} (figures above)")


if __name__ == "__main__":
    main()
