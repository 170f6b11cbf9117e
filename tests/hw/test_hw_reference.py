"""docs/config.md is generated from the schema; it must not drift from it."""

from pathlib import Path

from pydantic import BaseModel

from cosim.hw import components, device_schema, schema, strict
from cosim.hw.reference import MARKER, render_markdown

REPO = Path(__file__).resolve().parents[2]


def test_committed_config_reference_matches_schema():
    text = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    assert MARKER in text, "docs/config.md lost its generated-part marker"
    assert text.split(MARKER, 1)[1].lstrip("\n") == render_markdown(), "run: python -m cosim.hw.reference"


def test_every_schema_field_is_described():
    models = [
        v
        for module in (schema, device_schema, components, strict)
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, BaseModel) and v.__module__ == module.__name__
    ]
    assert len(models) == 16
    undocumented = [
        f"{m.__name__}.{name}" for m in models for name, field in m.model_fields.items() if not field.description
    ]
    assert undocumented == []
    assert all(m.__doc__ for m in models)


def test_reference_lists_every_design_key():
    text = render_markdown()
    for key in (
        "clock_mhz",
        "macs_per_dsp_per_cycle",
        "double_buffered",
        "static_split",
        "dram_pj_per_bit",
        "peak_gb_per_s_per_channel",
        "typical_max_clock_mhz",
    ):
        assert f"| `{key}` |" in text
