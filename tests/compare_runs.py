"""Two real tiny runs that differ only in learning rate, and copies of them with a fixed clock."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

# (directory name in a test's checkpoints folder, learning rate)
LR_RUNS: tuple[tuple[str, float], ...] = (("tiny-lr2e-3", 2e-3), ("tiny-lr5e-4", 5e-4))
FIXED_T0 = 1_750_000_000.0
STEPS = 6


def train_lr_pair(root: Path) -> list[Path]:
    """Train the two runs for real (tiny preset, sample dataset, STEPS steps each)."""
    from core.training.launch import launch
    from tests.core.train_helpers import job_env, make_paths, tiny_config

    paths = make_paths(root)
    out = []
    with pytest.MonkeyPatch.context() as mp:
        for k, v in job_env().items():
            mp.setenv(k, v)
        for name, lr in LR_RUNS:
            run_id = launch(paths, tiny_config(max_steps=STEPS, lr=lr, run_name=name), foreground=True)
            out.append(paths.run(run_id))
    return out


def copy_with_fixed_clock(run_dir: Path, dest: Path, t0: float = FIXED_T0) -> Path:
    """A copy of a run whose times, durations and throughputs are fixed numbers (losses and
    titles stay real), so what a view shows of it does not depend on when or how fast it
    trained; it started at `t0` and logged one step every 10 s."""
    shutil.copytree(run_dir, dest, ignore=shutil.ignore_patterns("checkpoint-*", "metrics.bin"))
    lines = []
    for i, line in enumerate((dest / "metrics.jsonl").read_text(encoding="utf-8").splitlines()):
        rec = json.loads(line)
        rec["t"] = t0 + 10.0 * rec.get("step", 0) + 0.001 * i
        if "samples_per_s" in rec:
            rec["samples_per_s"], rec["tokens_per_s"] = 64.0, 4096.0
        for key in ("seconds", "quality_s"):
            if key in rec:
                rec[key] = 0.5
        lines.append(json.dumps(rec, ensure_ascii=False))
    (dest / "metrics.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    status = json.loads((dest / "status.json").read_text(encoding="utf-8"))
    status.update(started_at=t0, updated_at=t0 + 10.0 * STEPS + 1, pid_started=t0,
                  samples_per_s=64.0)
    (dest / "status.json").write_text(json.dumps(status), encoding="utf-8")
    return dest
