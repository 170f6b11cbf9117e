"""From a checked spec to concrete points: overrides applied, workload pinned, key hashed.

A point's key is the SHA-256 of everything that decides its result: the design after
overrides, the device it names, the workload (file contents by digest, or the recipe),
the evaluator and the code version. Paths are not part of the key, so moving a sweep
folder or its inputs keeps its results; changing a file's contents does not.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cosim
from cosim.common.errors import UserError
from cosim.hw import load_design, load_device, shipped_designs
from cosim.hw.describe import field_at
from cosim.hw.overrides import OverrideError, apply_overrides, parse_path, set_path
from cosim.hw.schema import Design
from cosim.hw.strict import StrictModel
from cosim.hw.yaml_document import read_yaml
from cosim.sweep.digests import canonical_json, file_sha256, sha256_of
from cosim.sweep.spec import DecodeRecipe, LoadedSpec, SyntheticRecipe, validate_part

RECIPE_MODELS: dict[str, type[StrictModel]] = {"synthetic": SyntheticRecipe, "decode": DecodeRecipe}


@dataclass(frozen=True)
class Point:
    """One point of the sweep: its parameter values, its resolved config and their key."""

    params: dict[str, Any]
    config: dict[str, Any]
    key: str
    recipe_key: str | None

    @property
    def label(self) -> str:
        return ", ".join(f"{name}={canonical_json(value)}" for name, value in self.params.items())


class SweepPlan:
    """The spec bound to its input files: resolves parameter values into points."""

    def __init__(self, loaded: LoadedSpec) -> None:
        self.loaded = loaded
        spec = loaded.spec
        self.names = list(spec.parameters)
        self.design_file = self._design_path(spec.base_design)
        self.base_design: dict[str, Any] = read_yaml(self.design_file).data
        self.base_device = load_design(self.design_file).device_spec.model_dump(mode="json")
        self.workload, self.inputs = self._pin_workload()
        self._check_parameters()

    # ---- points ------------------------------------------------------------------------

    def resolve(self, params: dict[str, Any]) -> Point:
        """The point with these parameter values (one per parameter name)."""
        design_overrides = {}
        workload = copy.deepcopy(self.workload)
        for name in self.names:
            path = self.loaded.spec.parameters[name].path
            if path.startswith("workload."):
                set_path(workload, path.removeprefix("workload."), params[name])
            else:
                design_overrides[path] = params[name]
        design = apply_overrides(self.base_design, design_overrides)
        device_name = design.get("device")
        device = self.base_device if device_name == self.base_design.get("device") else _device_identity(device_name)
        config = {
            "evaluator": self.loaded.spec.evaluator,
            "design": design,
            "device": device,
            "workload": workload,
            "cosim_version": cosim.__version__,
        }
        recipe_key = None
        if workload["kind"] != "files" or workload.get("model") is not None:
            recipe_key = sha256_of({"workload": workload, "cosim_version": cosim.__version__})
        ordered = {name: params[name] for name in self.names}
        return Point(ordered, config, sha256_of(config), recipe_key)

    def context(self, point: Point, prepared: dict[str, str] | None = None) -> dict[str, Any]:
        """Where the point's inputs are on disk (not part of its key)."""
        files = {**self.inputs, **(prepared or {})}
        return {"design_file": str(self.design_file), "label": point.label, **files}

    # ---- set-up checks -----------------------------------------------------------------

    def _design_path(self, text: str) -> Path:
        """A design file relative to the spec, or a shipped design by name (kv260-fastcar)."""
        path = self.loaded.resolve(text)
        if path.is_file():
            return path
        shipped = {p.stem: p for p in shipped_designs()}
        if text in shipped:
            return shipped[text]
        raise self.loaded.error(
            ("base_design",), f"a design file or a shipped design ({', '.join(sorted(shipped))})", text
        )

    def _pin_workload(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The workload's identity (hashed) and its input paths (not hashed)."""
        workload = self.loaded.spec.workload
        identity: dict[str, Any] = {"kind": workload.kind}
        if workload.model is not None:
            identity["model"] = workload.model
        inputs: dict[str, str] = {}
        for name in ("graph", "trace"):
            relative = getattr(workload, name)
            if relative is not None:
                path = self.loaded.resolve(relative)
                if not path.is_file():
                    raise self.loaded.error(("workload", name), f"an existing {name} file", str(path))
                identity[f"{name}_sha256"] = file_sha256(path)
                inputs[name] = str(path)
        if workload.kind in RECIPE_MODELS:
            recipe = getattr(workload, workload.kind).model_dump(mode="json")
            if workload.kind == "decode" and recipe["checkpoint"] is not None:
                path = self.loaded.resolve(recipe["checkpoint"])
                if not path.exists():
                    raise self.loaded.error(("workload", "decode", "checkpoint"), "an existing checkpoint", str(path))
                inputs["checkpoint"] = str(path)
                recipe["checkpoint"] = file_sha256(path)
            identity[workload.kind] = recipe
        return identity, inputs

    def _check_parameters(self) -> None:
        """Every path must name a design field or a recipe field; every value must fit it."""
        loaded = self.loaded
        for name, parameter in loaded.spec.parameters.items():
            key = ("parameters", name, "path")
            values = loaded.choices(name)
            if values is None:
                value_range = loaded.ranges[name]
                values = [value_range.low, value_range.high]
            try:
                steps = parse_path(parameter.path)
            except OverrideError as error:
                raise loaded.error(
                    key,
                    "a path like engines.matrix.arrays or buffers[name=weights].bytes",
                    f"{parameter.path!r} ({error})",
                    found_is_text=True,
                ) from None
            if parameter.path.startswith("workload."):
                self._check_workload_parameter(name, parameter.path, values)
                continue
            loc = tuple(step if isinstance(step, str) else 0 for step in steps)
            _, annotation = field_at(Design, loc)
            if annotation is None:
                raise loaded.error(key, "a key path of the design schema (docs/config.md)", parameter.path)
            try:
                apply_overrides(self.base_design, {parameter.path: values[0]})
            except OverrideError as error:
                raise loaded.error(
                    key,
                    f"a path that fits {self.design_file.name}",
                    f"{parameter.path!r} ({error})",
                    found_is_text=True,
                ) from None

    def _check_workload_parameter(self, name: str, path: str, values: list[Any]) -> None:
        loaded = self.loaded
        kind = self.workload["kind"]
        if path == "workload.model" and "model" in self.workload:
            for value in values:
                if not isinstance(value, str):
                    raise loaded.error(("parameters", name, "values"), "model preset names", value)
            return
        if kind not in RECIPE_MODELS or not path.startswith(f"workload.{kind}."):
            knobs = [f"workload.{kind}.<knob>"] if kind in RECIPE_MODELS else []
            knobs += ["workload.model"] if "model" in self.workload else []
            expected = f"a path like {' or '.join(knobs)}" if knobs else "no workload path (files have no knobs)"
            raise loaded.error(("parameters", name, "path"), expected, path)
        if path.startswith("workload.decode.checkpoint"):
            raise loaded.error(("parameters", name, "path"), "a decode knob other than checkpoint", path)
        for value in values:
            workload = copy.deepcopy(self.workload)
            try:
                set_path(workload, path.removeprefix("workload."), value)
            except OverrideError as error:
                raise loaded.error(
                    ("parameters", name, "path"),
                    f"a path into the {kind} recipe",
                    f"{path!r} ({error})",
                    found_is_text=True,
                ) from None
            validate_part(RECIPE_MODELS[kind], loaded.document, ("parameters", name, "values"), workload[kind])


@cache
def _device_frozen(name: str) -> str:
    try:
        return canonical_json(load_device(name).model_dump(mode="json"))
    except UserError:
        return canonical_json({"name": name})


def _device_identity(name: Any) -> dict[str, Any]:
    """A device named by a swept `device` key: its full description when it can be found."""
    return json.loads(_device_frozen(str(name)))
