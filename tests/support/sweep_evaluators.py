"""Cheap evaluators for the sweep tests, selected by `evaluator: sweep_evaluators:<name>`.

`analytic` is a closed-form stand-in for the simulator whose numbers are easy to check
by hand: latency_s = 1 / (arrays x clock_mhz), energy_j = arrays x clock_mhz / 1000,
dsp_util = arrays / 10. It misbehaves on purpose for chosen values, so the tests see
how a sweep copes: clock_mhz = 999 is invalid, arrays = 3 raises, arrays = 99 kills its
worker process.

Test settings come from `sweep_test.json` beside the base design (worker processes do
not see a test's environment): ``markers`` (a folder that gets one file per evaluation,
named by the point's key), ``delay_s`` (seconds each evaluation sleeps) and ``hang_arrays``
(points with that array count never finish: a sweep killed while they run is killed at a known point)
and ``gate`` (a file: every evaluation waits until it exists, so a test decides when points finish).
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path

from cosim.sweep.digests import sha256_of
from cosim.sweep.evaluate import InvalidPoint

SETTINGS = "sweep_test.json"


def analytic(config: dict) -> dict:
    settings_file = Path(config["context"]["design_file"]).with_name(SETTINGS)
    settings = json.loads(settings_file.read_text()) if settings_file.is_file() else {}
    design = config["design"]
    arrays = design["engines"]["matrix"]["arrays"]
    clock = design["clock_mhz"]
    time.sleep(settings.get("delay_s", 0))
    while settings.get("gate") and not Path(settings["gate"]).exists():
        time.sleep(0.02)
    while arrays == settings.get("hang_arrays"):
        time.sleep(1)
    if clock == 999:
        raise InvalidPoint("clock_mhz 999 is above the DSP Fmax", {"dsp_util": arrays / 10})
    if arrays == 3:
        raise RuntimeError("arrays = 3 is cursed")
    if arrays == 99:
        os.kill(os.getpid(), signal.SIGKILL)
    if settings.get("markers"):
        key = sha256_of({k: v for k, v in config.items() if k != "context"})
        Path(settings["markers"], f"{key}.{uuid.uuid4().hex}").touch()
    return {
        "latency_s": 1.0 / (arrays * clock),
        "energy_j": arrays * clock / 1000.0,
        "dsp_util": arrays / 10,
        "fits_device": arrays <= 8,
    }
