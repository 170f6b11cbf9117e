#!/usr/bin/env bash
# Make .venv-scalesim at the repository root: SCALE-Sim v3, the peer simulator whose compute
# cycles are the golden data of tests/sim/test_scalesim_golden.py. It gets its own virtual
# environment because it needs numpy < 2.4, which the project's own environment need not keep.
# Usage: bash tools/scalesim/setup.sh [PYTHON]   (PYTHON defaults to python3)
set -euo pipefail
SCALESIM_VERSION="3.0.0"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$repo_root/.venv-scalesim"
python="${1:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "scalesim==$SCALESIM_VERSION" "numpy<2.4"
"$venv/bin/python" -c "import importlib.metadata as m; print('scalesim', m.version('scalesim'), 'in $venv')"
