#!/usr/bin/env bash
# The GPU check as one call (at most about 9 minutes on an H100/H200): the
# training-throughput benchmark, the `gpu` tests, and a short real `narou-tui train` run with
# NVML sampling. Each part has its own timeout, so one slow part cannot starve the others.
#
#   bash bench/gpu_check.sh [OUT_DIR]
#
# Results land in OUT_DIR (default $OUT, else ./gpu-check): train_throughput.json (the
# benchmark's JSON line), gpu_tests.txt, and the short run's metrics.jsonl / gpu.jsonl /
# status.json. Where this project's dependencies are missing, wheels in .whl/ (textual,
# datasets, dill, multiprocess, fugashi, unidic-lite, ...) are installed to /tmp/site first.
#
# Making those wheels (here, for the GPU box's Python 3.12; .whl/ is git-ignored):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#       textual==8.2.8 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 fugashi==1.5.2 \
#       mdit-py-plugins==0.7.0 platformdirs==4.14.8
#   pip wheel --no-deps -w .whl unidic-lite==1.0.8     # sdist only: built here, ~48 MB
set -u -o pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${1:-${OUT:-gpu-check}}"
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
PY="${PYTHON:-python3}"
if ! "$PY" -c "import textual, datasets, fugashi, unidic_lite" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
"$PY" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

# The benchmark first: its figures (and compile=on vs eager) are what a GPU session is for.
echo "== 1/3 training throughput (stock, project, project_compiled, stock_order, seed)"
timeout "${THROUGHPUT_TIMEOUT:-300}" "$PY" bench/train_throughput.py --out "$OUT_DIR/train_throughput.json" \
    ${THROUGHPUT_ARGS:-} 2>&1 | grep -v "^  step " | tail -30

echo "== 2/3 gpu-marked tests"
timeout 150 "$PY" -m pytest tests/core/test_gpu.py -q -p no:cacheprovider 2>&1 | tee "$OUT_DIR/gpu_tests.txt" | tail -15

echo "== 3/3 a short real run through narou-tui train (tiny scratch model, NVML sampling)"
work="$(mktemp -d)"
export NAROU_TUI_DATASETS_DIR="$work/datasets" NAROU_TUI_CHECKPOINTS_DIR="$work/checkpoints" \
    NAROU_TUI_CONFIG_DIR="$work/config"
"$PY" -m core.cli.main dataset import datasets/sample/sample.jsonl --name sample 2>&1 | tail -1
# Slowed steps so the NVML thread gets several samples inside a one-minute run.
NAROU_TUI_FAULT_STEP_SLEEP=0.1 timeout 75 "$PY" -m core.cli.main train --dataset sample \
    --scratch tiny --max-steps 150 --eval-steps 75 --save-steps 75 --log-steps 10 --lr 2e-3 \
    --max-source-len 256 --max-target-len 32 --run-name gpu-check --foreground 2>&1 | tail -8
run="$(ls -d "$work"/checkpoints/*gpu-check 2>/dev/null | head -1)"
if [ -n "$run" ]; then
    cp "$run"/metrics.jsonl "$run"/gpu.jsonl "$run"/status.json "$OUT_DIR"/
    echo "gpu.jsonl lines: $(wc -l < "$run"/gpu.jsonl)"; head -2 "$run"/gpu.jsonl
fi
rm -rf "$work"
