#!/usr/bin/env bash
# Create (if missing) the project's virtual environment and install everything it needs.
#
# torch is installed first and pinned, so that no other package pulls an unpinned (CUDA, multi-GB)
# build. Override for your own CUDA build, e.g.:
#   TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128" make test
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
STAMP="$VENV/.installed"

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating virtual environment in $VENV"
    "$PYTHON" -m venv "$VENV"
fi
# Re-install only when the project's dependency files changed since the last install.
if [ -f "$STAMP" ] && [ "$STAMP" -nt pyproject.toml ] && [ "$STAMP" -nt scripts/setup_env.sh ] \
    && [ "$(cat "$STAMP")" = "$TORCH_SPEC" ]; then
    exit 0
fi
echo "[setup] installing $TORCH_SPEC"
# shellcheck disable=SC2086  # TORCH_SPEC may carry pip options such as --index-url
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $TORCH_SPEC
echo "[setup] installing anatomy-ssl and its dependencies"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev]"
echo "$TORCH_SPEC" > "$STAMP"
