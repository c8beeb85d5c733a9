"""Checks before step 1: ids, lengths, dictionary, dataset, disk. Errors refuse the start."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.paths import Paths
from core.training.config import TrainConfig

# Fewer training pairs than this cannot make a useful model (and a scratch vocab on it is
# meaningless): an error below MIN_TRAIN, a warning below FEW_TRAIN.
MIN_TRAIN = 16
FEW_TRAIN = 1000
MIN_VALIDATION = 1


@dataclass
class Finding:
    """One preflight result; level is "error" (refuse to start) or "warning" (shown)."""

    level: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


class PreflightFailed(RuntimeError):
    """Raised by `require_ok` with every error listed in the message."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        errors = [f.message for f in findings if f.level == "error"]
        super().__init__("preflight refused to start: " + "; ".join(errors))


def require_ok(findings: list[Finding]) -> list[Finding]:
    if any(f.level == "error" for f in findings):
        raise PreflightFailed(findings)
    return findings


def check_dataset(paths: Paths, cfg: TrainConfig) -> tuple[list[Finding], dict[str, Any] | None]:
    """Dataset exists, has train + validation, and enough pairs."""
    from core.data.store import read_meta

    out: list[Finding] = []
    folder = paths.dataset(cfg.dataset)
    try:
        meta = read_meta(paths, cfg.dataset)
    except Exception as exc:  # DatasetNotFound and friends carry a clear message
        out.append(Finding("error", f"dataset {cfg.dataset!r}: {exc}"))
        return out, None
    counts = meta.get("counts") or {}
    if not (folder / "dataset_dict.json").exists():
        out.append(Finding("error", f"dataset {cfg.dataset!r} at {folder} has no dataset_dict.json (not built)"))
    train = int(counts.get("train") or 0)
    val = int(counts.get("validation") or 0)
    if "train" not in counts or train == 0:
        out.append(Finding("error", f"dataset {cfg.dataset!r} has no train split"))
    elif train < MIN_TRAIN:
        out.append(Finding("error", f"dataset {cfg.dataset!r} has only {train} training pairs (need ≥ {MIN_TRAIN})"))
    elif train < FEW_TRAIN:
        out.append(Finding("warning", f"dataset {cfg.dataset!r} has only {train} training pairs: expect a weak model"))
    if val < MIN_VALIDATION:
        out.append(Finding("error", f"dataset {cfg.dataset!r} has no validation split (needed for eval loss and probes)"))
    return out, meta


def check_lengths(cfg: TrainConfig, max_positions: int) -> list[Finding]:
    out = []
    for name, value in (("max_source_len", cfg.max_source_len), ("max_target_len", cfg.max_target_len)):
        if value > max_positions:
            out.append(Finding(
                "error",
                f"{name}={value} exceeds the model's max_position_embeddings={max_positions}",
            ))
    if cfg.max_target_len < 4:
        out.append(Finding("error", f"max_target_len={cfg.max_target_len} leaves no room for a title"))
    return out


def check_ids(model_config: Any, tokenizer: Any) -> list[Finding]:
    """Token ids of a model config against the tokenizer (before weights are loaded)."""
    out = []
    for tok_name in ("pad", "cls", "sep", "unk"):
        if getattr(tokenizer, f"{tok_name}_token_id", None) is None:
            out.append(Finding("error", f"tokenizer has no [{tok_name.upper()}] token"))
    vocab = len(tokenizer)
    size = getattr(model_config, "vocab_size", None)
    if size is not None and size < vocab:
        out.append(Finding("error", f"model vocab_size={size} < tokenizer's {vocab} ids: wrong tokenizer for this model"))
    elif size is not None and size > vocab + 512:
        out.append(Finding("warning", f"model vocab_size={size} is much larger than the tokenizer's {vocab}"))
    pad_model = getattr(model_config, "pad_token_id", None)
    if pad_model is not None and tokenizer.pad_token_id is not None and pad_model != tokenizer.pad_token_id:
        out.append(Finding("warning", f"model pad_token_id={pad_model} differs from the tokenizer's "
                                      f"{tokenizer.pad_token_id}; the tokenizer's is used"))
    return out


def check_disk(run_root: Path, n_params: int, save_total_limit: int) -> list[Finding]:
    """Room for the checkpoints retention will keep (params × (4 weights + 8 AdamW) bytes)."""
    from core.training.checkpoint import checkpoint_bytes, free_bytes

    one = checkpoint_bytes(n_params)
    keep = max(1, save_total_limit) + 1  # + the best one
    try:
        free = free_bytes(run_root)
    except OSError:
        free = shutil.disk_usage(run_root.parent).free
    gib = 1 << 30
    if free < one * 1.1:
        return [Finding("error", f"only {free / gib:.2f} GiB free in {run_root}; one checkpoint needs ≈ {one / gib:.2f} GiB")]
    if free < one * (keep + 1):
        return [Finding("warning", f"{free / gib:.2f} GiB free in {run_root}; keeping {keep} checkpoints needs ≈ {one * keep / gib:.2f} GiB")]
    return []


def check_device(cfg: TrainConfig) -> list[Finding]:
    """--device cuda needs a visible CUDA GPU here (the job would only fail after detaching)."""
    if cfg.device != "cuda":
        return []
    import torch

    if torch.cuda.is_available():
        return []
    build = f"torch {torch.__version__}" + ("" if torch.version.cuda else ", a CPU-only build")
    return [Finding("error", f"--device cuda but no CUDA GPU is visible ({build}); "
                             "use --device auto or --device cpu")]


def estimate_params(hidden: int, layers: int, intermediate: int, vocab: int, positions: int) -> int:
    """BERT2BERT parameter count from its shape (for the disk forecast before any weights exist)."""
    emb = (vocab + positions + 2) * hidden + 2 * hidden
    layer = 4 * hidden * hidden + 2 * hidden * intermediate + 9 * hidden + intermediate
    cross = 4 * hidden * hidden + 6 * hidden
    head = hidden * hidden + 3 * hidden + vocab
    return 2 * emb + layers * (2 * layer + cross) + head


def run_preflight(paths: Paths, cfg: TrainConfig, tokenizer: Any | None = None,
                  tokenizer_warnings: list[str] | None = None) -> list[Finding]:
    """All checks for `cfg`. Pass the loaded tokenizer when there is one (a scratch run whose
    vocabulary is not trained yet passes None: id checks then wait for the job)."""
    from core.model import SCRATCH_PRESETS, ModelError, pretrained_config

    findings: list[Finding] = []
    try:
        cfg.validate()
    except ValueError as exc:
        return [Finding("error", str(exc))]
    ds_findings, meta = check_dataset(paths, cfg)
    findings += ds_findings
    for w in tokenizer_warnings or []:
        findings.append(Finding("warning", f"tokenizer: {w}"))
    if cfg.scratch is not None:
        p = SCRATCH_PRESETS[cfg.scratch]
        vocab = len(tokenizer) if tokenizer is not None else (cfg.vocab_size or p.vocab_size)
        findings += check_lengths(cfg, p.max_positions)
        n_params = estimate_params(p.hidden, p.layers, p.intermediate, vocab, p.max_positions)
        if tokenizer is not None:
            findings += check_ids(type("C", (), {"vocab_size": None, "pad_token_id": None})(), tokenizer)
    else:
        try:
            mc = pretrained_config(cfg.model or "")
        except ModelError as exc:
            return findings + [Finding("error", str(exc))]
        findings += check_lengths(cfg, int(getattr(mc, "max_position_embeddings", 512)))
        if tokenizer is not None:
            findings += check_ids(mc, tokenizer)
        n_params = estimate_params(mc.hidden_size, mc.num_hidden_layers, mc.intermediate_size,
                                   mc.vocab_size, mc.max_position_embeddings)
    findings += check_disk(paths.checkpoints_dir, n_params, cfg.save_total_limit)
    findings += check_device(cfg)
    if cfg.gpus > 1 and cfg.device != "cpu":
        import torch

        have = torch.cuda.device_count()
        if have < cfg.gpus:
            findings.append(Finding("error", f"--gpus {cfg.gpus} but {have} CUDA GPU(s) are visible "
                                             "(use --device cpu for CPU processes)"))
    if cfg.distributed and cfg.auto_oom:
        findings.append(Finding("warning", "--auto-oom is not supported with several processes; "
                                           "an OOM stops the run and `resume --batch-size` continues it"))
    return findings
