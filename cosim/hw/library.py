"""Finding and loading device and design files.

Devices are looked up by name: first in a `devices/` folder beside the design's own
folder (so a user's private hwconfigs tree works as a unit), then in the shipped
library `hwconfigs/devices/` (or the folder named by $COSIM_HWCONFIGS). Every problem
becomes a `UserError` naming file, line, key path, expected and found.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from cosim.common.errors import UserError
from cosim.hw.describe import validation_errors
from cosim.hw.device_schema import Device
from cosim.hw.issues import ConfigErrors, ConfigIssues
from cosim.hw.overrides import OverrideError, apply_overrides
from cosim.hw.schema import Design
from cosim.hw.yaml_document import YamlDocument, read_yaml

Model = TypeVar("Model", bound=BaseModel)


def hwconfigs_dir() -> Path:
    """The shipped hwconfigs/ folder ($COSIM_HWCONFIGS overrides it)."""
    override = os.environ.get("COSIM_HWCONFIGS")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "hwconfigs"


def available_devices(extra_dir: Path | None = None) -> list[str]:
    """Names of the devices that can be loaded by name (optionally also from `extra_dir`)."""
    folders = [extra_dir] if extra_dir else []
    folders.append(hwconfigs_dir() / "devices")
    return sorted({p.stem for folder in folders if folder.is_dir() for p in folder.glob("*.yaml")})


def shipped_designs() -> list[Path]:
    """Design files shipped in hwconfigs/designs/."""
    return sorted((hwconfigs_dir() / "designs").glob("*.yaml"))


def load_device(name_or_path: str | Path) -> Device:
    """A device by name (file stem in the library) or by path to its YAML file."""
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or os.sep in text or "/" in text:
        return _device_from_file(Path(text))
    path = _find_device(text, None)
    if path is None:
        raise UserError(None, "device", f"one of {_names(available_devices())}", text)
    return _device_from_file(path)


def load_design(path: str | Path) -> Design:
    """Load and check a design file (or a shipped design by name, e.g. "kv260-fastcar").

    The device is resolved and reachable as `design.device_spec`.
    """
    text = str(path)
    if not Path(text).exists() and not text.endswith((".yaml", ".yml")) and "/" not in text and os.sep not in text:
        shipped = {p.stem: p for p in shipped_designs()}
        if text not in shipped:
            raise UserError(
                None, "design", f"a design file or one of the shipped designs {_names(sorted(shipped))}", text
            )
        path = shipped[text]
    document = read_yaml(path)
    return _design_from_document(document, Path(path).resolve().parent)


def design_from_dict(data: dict[str, Any], source: str = "<design>", base_dir: Path | None = None) -> Design:
    """Validate a design given as a dict (e.g. a sweep point), with `source` naming it in errors.

    `base_dir` is the folder the design would live in: devices are looked up in
    `base_dir/../devices` before the shipped library.
    """
    return _design_from_document(YamlDocument(source, copy.deepcopy(data)), base_dir)


def override_design(design: Design, overrides: Mapping[str, Any]) -> Design:
    """A new design: the original file's contents with dotted keys replaced, checked again.

    Keys are dotted paths (`cosim.hw.overrides`): "engines.matrix.arrays", "buffers.0.bytes",
    "buffers[name=weights].bytes".
    Working from the file as written (not the loaded design) means that defaults taken from
    the device are derived again, e.g. when an override changes the device or the memory.
    """
    data = design.source.data if design.source.data is not None else design.model_dump()
    try:
        data = apply_overrides(data, dict(overrides))
    except OverrideError as error:
        raise UserError(
            design.source.path, ", ".join(overrides), "paths that fit the design", str(error), found_is_text=True
        ) from None
    changes = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
    return design_from_dict(data, f"{design.source.path} with {changes}", design._base_dir)


def _design_from_document(document: YamlDocument, base_dir: Path | None) -> Design:
    data = document.data
    if isinstance(data, dict) and "resources" in data and "engines" not in data:
        raise document.error(
            (), "a design file (a device file is named by a design's 'device' key)", "a device file", found_is_text=True
        )
    device = None
    name = data.get("device") if isinstance(data, dict) else None
    if isinstance(name, str):
        device_dir = base_dir.parent / "devices" if base_dir else None
        found = _find_device(name, device_dir)
        if found is None:
            raise document.error(("device",), f"one of {_names(available_devices(device_dir))}", name)
        device = _device_from_file(found)
    # Without a device (the key is missing or not a name) validation stops at that field.
    design = _validate(Design, document, {"device": device} if device else None)
    design._source = document
    design._base_dir = base_dir
    return design


def _device_from_file(path: Path) -> Device:
    document = read_yaml(path)
    device = _validate(Device, document, None)
    if device.name != path.stem:
        raise document.error(
            ("name",), f"the file stem {path.stem!r} (designs refer to devices by file name)", device.name
        )
    return device


def _validate(model: type[Model], document: YamlDocument, context: dict[str, Any] | None) -> Model:
    keys = set(document.data) if isinstance(document.data, dict) else set()
    if not keys & set(model.model_fields):  # another kind of file (a graph, a spec): one line, not one per key
        required = [name for name, field in model.model_fields.items() if field.is_required()]
        raise document.error(
            (),
            f"a {model.__name__.lower()} file (keys {', '.join(required)})",
            f"keys {', '.join(map(str, sorted(keys, key=str)))}" if keys else "no keys",
            found_is_text=True,
        )
    try:
        return model.model_validate(document.data, context=context)
    except ValidationError as error:
        raise ConfigErrors(validation_errors(error, model, document)) from None
    except ConfigIssues as issues:
        raise ConfigErrors(
            [document.error(i.key, i.expected, i.found, found_is_text=i.found_is_text) for i in issues.issues]
        ) from None


def _find_device(name: str, extra_dir: Path | None) -> Path | None:
    for folder in ([extra_dir] if extra_dir else []) + [hwconfigs_dir() / "devices"]:
        candidate = folder / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    return None


def _names(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names) if names else "a device file in hwconfigs/devices/ (none found)"
