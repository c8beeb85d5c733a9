"""What the job hands the training loop, and the two ways a loop segment ends early."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.training.batching import PairData
from core.training.checkpoint import TrainerState
from core.training.config import TrainConfig
from core.training.dist import Dist


class StopTraining(Exception):
    """Ends the loop with a final state; `state` is a RunState value, `code` the exit code."""

    def __init__(self, state: str, reason: str, code: int) -> None:
        super().__init__(reason)
        self.state = state
        self.reason = reason
        self.code = code


class OomRelaunch(Exception):
    """Raised after an OOM when auto_oom asks for a relaunch with a smaller micro-batch."""

    def __init__(self, batch_size: int, grad_accum: int, reason: str) -> None:
        super().__init__(reason)
        self.batch_size = batch_size
        self.grad_accum = grad_accum


@dataclass
class LoopContext:
    """Everything the loop needs, built by the job."""

    run_dir: Path
    cfg: TrainConfig
    model: Any
    tokenizer: Any
    train: PairData
    val: PairData
    probe_rows: list[dict[str, Any]]
    device: Any
    dist: Dist
    batch_size: int
    grad_accum: int
    plan_batch: int
    status: Any = None  # StatusWriter on rank 0
    metrics: Any = None  # MetricsWriter on rank 0
    resume_state: TrainerState | None = None
    resume_folder: Path | None = None
    segment: int = 0
    quality: Any = None  # QualityMonitor on rank 0 when --quality-samples > 0
    stop_flag: dict[str, Any] = field(default_factory=lambda: {"stop": False, "signal": None})
