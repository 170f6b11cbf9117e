"""Cheap evaluators for the sweep tests, selected by `evaluator: sweep_evaluators:<name>`.

`analytic` is a closed-form stand-in for the simulator whose numbers are easy to check
by hand: latency 1 / (arrays x clock_mhz), energy arrays x clock_mhz / 1000. It also
misbehaves on purpose for chosen values, so the tests can see how a sweep copes:
arrays = 3 raises, arrays = 99 kills its worker process, clock_mhz = 999 is invalid.
Environment: SWEEP_TEST_MARKERS (a folder: one file per evaluation, named by the point's
key), SWEEP_TEST_DELAY_S (seconds each evaluation sleeps).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

from cosim.sweep.evaluate import InvalidPoint
from cosim.sweep.plan import sha256_of


def analytic(config: dict) -> dict:
    design = config["design"]
    arrays = design["engines"]["matrix"]["arrays"]
    clock = design["clock_mhz"]
    delay = float(os.environ.get("SWEEP_TEST_DELAY_S", "0"))
    if delay:
        time.sleep(delay)
    if clock == 999:
        raise InvalidPoint("clock_mhz 999 is above the DSP Fmax", {"dsp_util": arrays / 10})
    if arrays == 3:
        raise RuntimeError("arrays = 3 is cursed")
    if arrays == 99:
        os.kill(os.getpid(), signal.SIGKILL)
    markers = os.environ.get("SWEEP_TEST_MARKERS")
    if markers:
        key = sha256_of({k: v for k, v in config.items() if k != "context"})
        Path(markers, f"{key}.{uuid.uuid4().hex}").touch()
    return {
        "latency_s": 1.0 / (arrays * clock),
        "energy_j": arrays * clock / 1000.0,
        "dsp_util": arrays / 10,
        "fits_device": arrays <= 8,
    }
