"""Hardware configuration: devices (what a chip has), designs (what we build on it), checks.

Public API:
    load_device(name_or_path) -> Device
    load_design(path) -> Design        (design.device_spec is the resolved Device)
    design_from_dict(data, source, base_dir) -> Design
    override_design(design, {"engines.matrix.arrays": 4, ...}) -> Design   (sweeps)
    available_devices(), shipped_designs(), hwconfigs_dir()
    BYTES_PER_ELEMENT, mac_precision, DSP_MACS_PER_CYCLE
"""

from cosim.hw.components import Buffer, DramConfig, Engines, MatrixEngine, VectorEngine
from cosim.hw.device_schema import Device, OffChipMemory
from cosim.hw.library import (
    available_devices,
    design_from_dict,
    hwconfigs_dir,
    load_design,
    load_device,
    override_design,
    shipped_designs,
)
from cosim.hw.schema import (
    BYTES_PER_ELEMENT,
    DSP_MACS_PER_CYCLE,
    Design,
    EnergyTable,
    PrecisionConfig,
    Scheduling,
    StaticSplit,
    mac_precision,
)

__all__ = [
    "BYTES_PER_ELEMENT",
    "DSP_MACS_PER_CYCLE",
    "Buffer",
    "Design",
    "Device",
    "DramConfig",
    "EnergyTable",
    "Engines",
    "MatrixEngine",
    "OffChipMemory",
    "PrecisionConfig",
    "Scheduling",
    "StaticSplit",
    "VectorEngine",
    "available_devices",
    "design_from_dict",
    "hwconfigs_dir",
    "load_design",
    "load_device",
    "mac_precision",
    "override_design",
    "shipped_designs",
]
