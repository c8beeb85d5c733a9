"""Fault injection for tests, read from the environment once per job (never set in normal use).

    NAROU_TUI_FAULT_OOM="STEP:MAXBATCH" raises a CUDA OOM at optimizer step ≥ STEP while the
        micro-batch is larger than MAXBATCH (so the auto-OOM relaunch with half gets through).
    NAROU_TUI_FAULT_NAN_AT_STEP=N makes every loss from optimizer step N on NaN.
    NAROU_TUI_FAULT_STEP_SLEEP=S sleeps S seconds after each optimizer step (slow runs to kill).
    NAROU_TUI_COMPILE_BACKEND=NAME gives torch.compile another backend: `aot_eager` traces and
        differentiates without generating kernels (fast CPU tests), `fail` is a backend that
        raises (the compile_failed fallback; see core/training/compile_policy.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OOM_ENV = "NAROU_TUI_FAULT_OOM"
COMPILE_BACKEND_ENV = "NAROU_TUI_COMPILE_BACKEND"
NAN_ENV = "NAROU_TUI_FAULT_NAN_AT_STEP"
STEP_SLEEP_ENV = "NAROU_TUI_FAULT_STEP_SLEEP"


@dataclass(frozen=True)
class Faults:
    """The faults this job was asked to inject; every hook is a no-op when its variable is unset.

    oom: (first optimizer step, largest micro-batch that survives), or None.
    nan_from: first optimizer step whose loss is NaN (0: never).
    step_sleep: seconds slept after each optimizer step.
    """

    oom: tuple[int, int] | None = None
    nan_from: int = 0
    step_sleep: float = 0.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Faults:
        return cls(oom=_parse_oom(env.get(OOM_ENV)), nan_from=int(env.get(NAN_ENV, "0") or 0),
                   step_sleep=float(env.get(STEP_SLEEP_ENV, "0") or 0))

    def raise_oom(self, next_step: int, batch_size: int) -> None:
        """Raise the simulated CUDA OOM when step `next_step` runs a micro-batch too large."""
        if self.oom is None:
            return
        at, max_batch = self.oom
        if next_step >= at and batch_size > max_batch:
            import torch

            raise torch.cuda.OutOfMemoryError(f"simulated CUDA out of memory (fault injection {OOM_ENV})")

    def poison(self, loss: Any, next_step: int) -> Any:
        """`loss` made NaN from the configured step on (the NaN refusal paths see a real NaN)."""
        if self.nan_from and next_step >= self.nan_from:
            return loss * float("nan")
        return loss

    def pause(self) -> None:
        """Slow the run down after an optimizer step, so a test can kill it mid-run."""
        if self.step_sleep:
            time.sleep(self.step_sleep)


def _parse_oom(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    at, _, maxb = value.partition(":")
    return int(at), int(maxb or 0)
