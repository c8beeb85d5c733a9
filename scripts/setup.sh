#!/usr/bin/env bash
# Creates .venv with everything narou-tui needs. Idempotent: a stamp skips work already done.
# Without an NVIDIA GPU it installs the CPU build of torch (a bare `torch` would pull a
# multi-GB CUDA build); with one it installs the regular CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
STAMP="$VENV/.setup-stamp"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    exit 0
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip >/dev/null 2>&1 || true

if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
    if [ -n "${TORCH_SPEC:-}" ]; then
        # e.g. TORCH_SPEC="torch==2.13.0 --index-url <your CPU wheel index>"
        # shellcheck disable=SC2086
        "${PIP[@]}" install $TORCH_SPEC
    elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        echo "setup: NVIDIA GPU found: installing the CUDA build of torch"
        "${PIP[@]}" install torch
    else
        echo "setup: no NVIDIA GPU: installing the CPU build torch==2.13.0"
        "${PIP[@]}" install "torch==2.13.0"
    fi
fi

"${PIP[@]}" install -e ".[dev]"

# The bundled sample is kept as readable JSONL; build its Arrow dataset once.
if [ ! -f datasets/sample/meta.json ]; then
    "$VENV/bin/narou-tui" dataset import datasets/sample/sample.jsonl --name sample --force \
        || echo "setup: warning: could not build the sample dataset" >&2
fi

echo "$want" > "$STAMP"
echo "setup: ready ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
