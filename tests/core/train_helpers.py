"""Shared setup for the training tests: the sample dataset and a WordPiece vocab, built once."""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from core.paths import REPO_ROOT, Paths
from core.training.config import TrainConfig
from tests.generation_tiny import fixed_vocab

SAMPLE_JSONL = REPO_ROOT / "datasets" / "sample" / "sample.jsonl"
_BUILT: dict[str, Path] = {}


def shared_root() -> Path:
    """A per-session folder with datasets/sample (imported + tokenizer cache) and tok/."""
    if "root" in _BUILT:
        return _BUILT["root"]
    from core.data.importer import ImportOptions, import_dataset
    from core.data.store import load_dataset_dict

    root = Path(tempfile.mkdtemp(prefix="narou-train-tests-"))
    atexit.register(shutil.rmtree, root, True)
    p = Paths(root / "datasets", root / "checkpoints", root / "config")
    p.datasets_dir.mkdir(parents=True)
    import_dataset(SAMPLE_JSONL, "sample", p, ImportOptions())
    train = load_dataset_dict(p, "sample")["train"]
    texts = [t for row in train for t in (row["story"], row["title"])]
    # Deterministic, so a training test behaves the same on every machine (the trainer's
    # vocabulary is not).
    fixed_vocab(texts, 2000, root / "tok")
    _BUILT["root"] = root
    return root


def make_paths(tmp_path: Path) -> Paths:
    """Shared datasets, private checkpoints/config for one test."""
    root = shared_root()
    p = Paths(root / "datasets", tmp_path / "checkpoints", tmp_path / "config")
    p.checkpoints_dir.mkdir(parents=True, exist_ok=True)
    p.config_dir.mkdir(parents=True, exist_ok=True)
    return p


def tokenizer_dir() -> Path:
    return shared_root() / "tok"


def tiny_config(**kw: Any) -> TrainConfig:
    """A tiny scratch run on the sample that takes seconds on one CPU thread."""
    base: dict[str, Any] = dict(
        dataset="sample", scratch="tiny", tokenizer=str(tokenizer_dir()), epochs=2,
        batch_size=8, grad_accum=2, lr=2e-3, max_source_len=256, max_target_len=32,
        eval_steps=5, save_steps=5, log_steps=1, threads=1, probe_size=3, eval_samples=0,
        quality_samples=4,  # title quality on, at a few seconds' cost per run
    )
    base.update(kw)
    return TrainConfig(**base)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    out = []
    for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def wait_for(pred: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def job_env(**extra: str) -> dict[str, str]:
    """Environment for detached jobs in tests (one thread each: the machine is shared)."""
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.update(extra)
    return env


def set_env(monkeypatch: Any, **values: str) -> None:
    for k, v in job_env(**values).items():
        monkeypatch.setenv(k, v)
