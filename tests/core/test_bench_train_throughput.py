"""bench/train_throughput.py: the synthetic data it trains on, and a real `--tiny` CPU run end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.throughput import report, workload
from core.paths import REPO_ROOT

BENCH = REPO_ROOT / "bench" / "train_throughput.py"
REQUIRED = {"device", "samples_per_s", "seed_samples_per_s", "stock_samples_per_s", "ratio_vs_stock",
            "ratio_vs_seed", "peak_mem_gib", "loss_delta", "torch", "transformers", "variants", "steps",
            "compile_decision"}


def test_synthetic_pairs_have_narou_lengths_and_learnable_titles() -> None:
    b = workload
    data = b.synthetic_pairs(3000, 32768, seed=0)
    src, tgt = data.source.lengths(), data.target.lengths()
    assert src.min() >= 24 and src.max() <= 512 and 200 < src.mean() < 240
    assert tgt.min() >= 6 and tgt.max() <= 64 and 25 < tgt.mean() < 31
    assert data.source.values.min() >= 0 and data.source.values.max() < 32768
    for i in (0, 7, 2999):
        s, t = data.source.row(i), data.target.row(i)
        assert s[0] == b.CLS and s[-1] == b.SEP and t[-1] == b.SEP
        body = s[1:-1]
        assert list(t[:-1]) == [body[(2 * j) % len(body)] for j in range(len(t) - 1)]
        assert b.CLS not in body and b.SEP not in body
    # Zipf-like: a few ids are frequent, so even a unigram model lowers the loss.
    _, counts = np.unique(data.source.values, return_counts=True)
    assert counts.max() > 50 * np.median(counts)
    again = b.synthetic_pairs(3000, 32768, seed=0)
    assert np.array_equal(again.source.values, data.source.values)


def test_window_means_use_only_complete_windows() -> None:
    b = workload
    losses = {1: 4.0, 2: 2.0, 3: 3.0, 4: 1.0, 6: 9.0}
    assert b.window_means(losses, [2, 4, 6], 2) == {2: 3.0, 4: 2.0}


def test_compile_decision_counts_the_one_time_compile() -> None:
    b = report
    eager = {"samples_per_s": 600.0, "compile": "off"}
    quick = b.compile_decision({"samples_per_s": 660.0, "compile": "on", "compile_s": 60.0}, eager)
    assert quick["ratio_compiled_vs_eager"] == 1.1 and quick["compiled_faster"] is True
    assert quick["full_run_minutes_eager"] == round(b.FULL_RUN_STEPS * 64 / 600 / 60, 1)
    # 1 % faster per step does not repay a 20-minute compile over the seed's whole run.
    slow = b.compile_decision({"samples_per_s": 606.0, "compile": "on", "compile_s": 1200.0}, eager)
    assert slow["compiled_faster"] is False
    # A compile that failed and fell back to eager decides nothing.
    fell_back = b.compile_decision({"samples_per_s": 600.0, "compile": "off", "compile_s": None}, eager)
    assert fell_back["compiled_faster"] is None


@pytest.mark.slow
def test_tiny_run_prints_table_and_json(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, str(BENCH), "--tiny", "--out", str(out)], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert set(result) >= REQUIRED
    assert json.loads(out.read_text(encoding="utf-8")) == result
    assert "no speed claims" in proc.stdout and result["speed_claims"] is False
    assert result["device"] == "cpu" and result["tiny"] is True
    for name in ("seed", "stock", "stock_order", "project"):
        v = result["variants"][name]
        assert "error" not in v, (name, v)
        assert v["samples_per_s"] > 0 and v["tokens_per_s"] > v["samples_per_s"] * 24
    assert result["samples_per_s"] == result["variants"]["project"]["samples_per_s"]
    assert result["ratio_vs_stock"] == pytest.approx(result["samples_per_s"] / result["stock_samples_per_s"], rel=0.01)
    assert result["variants"]["seed"]["micro_batch"] == 4 and result["variants"]["seed"]["grad_accum"] == 16
    assert result["effective_batch"] == 64
    # Same weights, same batches in the same order: the losses track each other closely.
    assert result["loss_delta"] is not None and result["loss_delta"] < 0.1
    steps = result["loss_at_steps"]
    assert len(steps) == result["steps"]["total"] // 2
    assert all(abs(a - b) < 0.1 for a, b in steps.values())
    assert any(line.startswith("project ") for line in lines)
