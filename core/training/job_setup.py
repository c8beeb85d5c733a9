"""The job's steps before the first optimizer step: tokenizer, preflight, resume point, data,
batch split and model, each named for what it gives the loop."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.paths import Paths
from core.runs.schema import TOKENIZER_DIR, RunState
from core.training.batching import PairData
from core.training.checkpoint import TrainerState
from core.training.config import TrainConfig, pick_batch_split
from core.training.context import StopTraining
from core.training.dist import Dist, device_mem_gib

Log = Callable[[str], None]


def prepare_process(cfg: TrainConfig, dist: Dist) -> Any:
    """Threads, quiet progress bars, core's log records, the process group; the device."""
    import torch
    from transformers.utils import logging as hf_logging

    from core.training.dist import init_process_group, pick_device
    from core.training.job_log import core_logs_to_stdout

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    hf_logging.disable_progress_bar()  # per-save shard bars would flood train.log
    core_logs_to_stdout(dist)
    init_process_group(cfg, dist)
    return pick_device(cfg, dist)


def load_job_tokenizer(run_dir: Path, cfg: TrainConfig, paths: Paths, dist: Dist,
                       log: Log) -> tuple[Any, Path, dict[str, Any]]:
    """(tokenizer, its folder, info) — a scratch run trains its WordPiece vocab once, in the run dir."""
    from core.model import SCRATCH_PRESETS
    from core.tokenization.loader import load_tokenizer

    spec: str | None = cfg.tokenizer or cfg.model
    if spec is None:
        folder = run_dir / TOKENIZER_DIR
        if dist.main and not (folder / "vocab.txt").exists():
            from core.tokenization.vocab_cache import copy_vocab, scratch_vocab

            vocab = cfg.vocab_size or SCRATCH_PRESETS[cfg.scratch or "tiny"].vocab_size
            log(f"WordPiece vocabulary of ≤ {vocab} pieces from the train split of {cfg.dataset!r}")
            cached, reused = scratch_vocab(paths, cfg.dataset, vocab)
            log(f"{'reusing' if reused else 'trained'} {cached}")
            copy_vocab(cached, folder)
        dist.barrier()  # the other ranks load the vocabulary rank 0 has just written
        spec = str(folder)
    loaded = load_tokenizer(spec)
    return loaded.tokenizer, Path(loaded.info.path), loaded.info.to_dict()


def check_preflight(paths: Paths, cfg: TrainConfig, tokenizer: Any, warnings: Any, metrics: Any,
                    log: Log) -> None:
    """Log every preflight finding, record its warnings, refuse the run on an error (exit 2)."""
    from core.training.preflight import require_ok, run_preflight

    findings = run_preflight(paths, cfg, tokenizer, warnings)
    for f in findings:
        log(f"preflight {f}")
        if metrics is not None and f.level == "warning":
            metrics.event(0, "warning", reason=f.message)
    try:
        require_ok(findings)
    except Exception as exc:
        raise StopTraining(RunState.FAILED.value, str(exc), 2) from exc


def resume_point(run_dir: Path, metrics: Any, log: Log) -> tuple[Path | None, TrainerState | None]:
    """The newest checkpoint with its COMPLETE marker and its trainer state; incomplete ones skipped."""
    from core.training.checkpoint import newest_complete, read_trainer_state

    folder, skipped = newest_complete(run_dir)
    for s in skipped:
        log(f"skipping incomplete checkpoint {s.name} (no COMPLETE marker)")
        if metrics is not None:
            metrics.event(0, "skipped_incomplete", checkpoint=s.name)
    return folder, read_trainer_state(folder) if folder is not None else None


def tokenized_pairs(paths: Paths, cfg: TrainConfig, tok_dir: Path, dist: Dist) -> tuple[PairData, PairData]:
    """(train, validation) token columns; rank 0 tokenizes first and the others read its cache."""
    from core.tokenization import tokenize_dataset

    def tokenized() -> Any:
        return tokenize_dataset(paths, cfg.dataset, tok_dir, cfg.max_source_len, cfg.max_target_len,
                                num_proc=cfg.workers or None)

    if dist.main:
        dd = tokenized()
    dist.barrier()
    if not dist.main:
        dd = tokenized()
    return PairData.from_dataset(dd["train"]), PairData.from_dataset(dd["validation"])


def probe_rows(paths: Paths, name: str, n: int) -> list[dict[str, Any]]:
    """The fixed probe set: the first `n` validation rows (ncode and reference title)."""
    from core.data.store import load_tables

    table = load_tables(paths, name).get("validation")
    if table is None:
        return []
    n = min(n, table.num_rows)
    cols = set(table.column_names)
    ncodes = table.column("ncode").to_pylist()[:n] if "ncode" in cols else [""] * n
    titles = table.column("title").to_pylist()[:n] if "title" in cols else [""] * n
    return [{"row": i, "story_id": ncodes[i] or f"validation:{i}", "ncode": ncodes[i] or "",
             "reference": titles[i] or ""} for i in range(n)]


def batch_split(cfg: TrainConfig, resume_state: TrainerState | None, batch_size: int | None,
                grad_accum: int | None, device: Any, dist: Dist) -> tuple[int, int, int]:
    """(micro-batch, accumulation, plan batch): explicit > saved in the checkpoint > picked from memory."""
    if resume_state is not None:
        bs = batch_size or resume_state.batch_size
        ga = grad_accum or (resume_state.grad_accum * resume_state.batch_size // bs)
        plan = resume_state.plan_batch or resume_state.batch_size
    else:
        auto_bs, auto_ga = pick_batch_split(device_mem_gib(device), cfg.scratch, dist.world)
        bs = batch_size or cfg.batch_size or auto_bs
        if grad_accum or cfg.grad_accum:
            ga = grad_accum or cfg.grad_accum or 1
        else:
            ga = max(1, (auto_bs * auto_ga) // bs) if not cfg.batch_size else max(1, 64 // (bs * dist.world))
        plan = bs
    if plan % bs:
        raise StopTraining(RunState.FAILED.value,
                           f"--batch-size {bs} must divide the run's batch size {plan} (data order is cut with it)", 2)
    return bs, ga, plan


def job_model(cfg: TrainConfig, tokenizer: Any, resume_folder: Path | None) -> Any:
    """The model to train, after seeding every generator: the checkpoint's, or a new one."""
    import random

    import numpy as np
    import torch

    from core.model import build_model, configure_ids, model_from_checkpoint

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if resume_folder is not None:
        model = model_from_checkpoint(resume_folder)
        configure_ids(model, tokenizer, cfg.max_target_len)
        return model
    return build_model(tokenizer, pretrained=cfg.model, scratch=cfg.scratch,
                       tie_encoder_decoder=cfg.tie_encoder_decoder, max_title_tokens=cfg.max_target_len)
