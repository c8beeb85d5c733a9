#!/usr/bin/env bash
# Creates .venv with everything narou-tui needs. Idempotent: a stamp skips work already done.
# torch comes first, pinned: without an NVIDIA GPU from PyTorch's CPU wheel index (PyPI's Linux
# torch is the multi-GB CUDA build), falling back to pip's configured index when that index
# cannot be reached; with one, the regular CUDA build from pip's configured index.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH_VERSION=2.13.0
CPU_INDEX=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
STAMP="$VENV/.setup-stamp"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    exit 0
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade pip >/dev/null 2>&1 || true

# Why the CPU index cannot be used, in one line; nothing when it answers. pip would quietly
# take a wheel from find-links when the index is down, so reachability is checked on its own.
cpu_index_problem() {
    "$VENV/bin/python" - "$CPU_INDEX" <<'PY'
import os, ssl, sys, urllib.request

url = sys.argv[1].rstrip("/") + "/torch/"
cafile = os.environ.get("PIP_CERT") or os.environ.get("REQUESTS_CA_BUNDLE") or None
try:
    urllib.request.urlopen(url, timeout=10, context=ssl.create_default_context(cafile=cafile)).close()
except Exception as exc:  # any failure means: use the configured index instead
    print(getattr(exc, "reason", None) or exc)
PY
}

install_cpu_torch() {
    local spec="torch==$TORCH_VERSION" problem log
    problem="$(cpu_index_problem)"
    if [ -z "$problem" ]; then
        echo "setup: no NVIDIA GPU: installing $spec (CPU build) from the PyTorch CPU wheel index $CPU_INDEX"
        log="$(mktemp)"
        if "${PIP[@]}" install --timeout 20 --retries 0 --index-url "$CPU_INDEX" "$spec" >"$log" 2>&1; then
            rm -f "$log"
            return 0
        fi
        problem="pip failed there: $(grep -v '^\s*$' "$log" | tail -n 1 || true)"
        rm -f "$log"
    fi
    echo "setup: no NVIDIA GPU, and the PyTorch CPU wheel index $CPU_INDEX cannot be used ($problem)"
    echo "setup: installing $spec from pip's configured index instead (where that is PyPI, Linux gets the CUDA build: several GB)"
    if ! "${PIP[@]}" install "$spec"; then
        echo "setup: error: could not install $spec from the PyTorch CPU wheel index nor from pip's" \
             "configured index. Point TORCH_SPEC at a wheel or index you can reach, e.g." \
             "TORCH_SPEC=\"$spec --index-url <index>\" make setup" >&2
        exit 1
    fi
}

if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
    if [ -n "${TORCH_SPEC:-}" ]; then
        echo "setup: installing torch as TORCH_SPEC says: $TORCH_SPEC"
        # e.g. TORCH_SPEC="torch==2.13.0 --index-url <your CPU wheel index>"
        # shellcheck disable=SC2086
        "${PIP[@]}" install $TORCH_SPEC
    elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        echo "setup: NVIDIA GPU found: installing torch==$TORCH_VERSION (CUDA build) from pip's configured index"
        "${PIP[@]}" install "torch==$TORCH_VERSION"
    else
        install_cpu_torch
    fi
    # -W ignore: numpy is not installed yet, and torch warns about that on import.
    echo "setup: installed $("$VENV/bin/python" -W ignore -c 'import torch
build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU build"
print(f"torch {torch.__version__} ({build})")')"
fi

"${PIP[@]}" install -e ".[dev]"

# The bundled sample is kept as readable JSONL; build its Arrow dataset once.
if [ ! -f datasets/sample/meta.json ]; then
    "$VENV/bin/narou-tui" dataset import datasets/sample/sample.jsonl --name sample --force \
        || echo "setup: warning: could not build the sample dataset" >&2
fi

echo "$want" > "$STAMP"
echo "setup: ready ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
