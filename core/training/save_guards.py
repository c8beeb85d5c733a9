"""Checks made before each save: will it fit on disk, and is the model still finite."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.training.checkpoint import checkpoint_name, forecast_bytes, free_bytes

GIB = 1 << 30


@dataclass(frozen=True)
class DiskVerdict:
    """A save that will not fit (`refused`) or that leaves little room."""

    refused: bool
    message: str
    free: int
    need: int


def disk_verdict(run_dir: Path, n_params: int, step: int) -> DiskVerdict | None:
    """What to say before saving checkpoint `step`, or None when the disk has room to spare."""
    need = forecast_bytes(run_dir, n_params)
    free = free_bytes(run_dir)
    # A 20% margin: the forecast is the last checkpoint's size and the next may be a bit larger.
    if free < need * 1.2:
        return DiskVerdict(True, f"not enough disk for checkpoint-{step}: {free / GIB:.2f} GiB free, "
                           f"needs ≈ {need / GIB:.2f} GiB", free, need)
    if free < need * 4:
        return DiskVerdict(False, f"disk almost full: {free / GIB:.2f} GiB free, each checkpoint ≈ "
                           f"{need / GIB:.2f} GiB", free, need)
    return None


def nonfinite_counts(model: Any, bad_steps: Any, world: int) -> tuple[int, int]:
    """(non-finite steps since the last save, 1 if the weights hold NaN/inf) over every rank.

    One host sync per save: `bad_steps` is the loop's device-side count, and the parameters'
    total norm is non-finite exactly when one of them is.
    """
    import torch

    params = [p.detach() for p in model.parameters()]
    weights = torch.nn.utils.get_total_norm(params, error_if_nonfinite=False)
    flags = torch.stack([bad_steps.float(), (~torch.isfinite(weights)).float()])
    if world > 1:
        torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
    steps, weights_bad = (int(v) for v in flags.tolist())
    return steps, weights_bad


def nonfinite_reason(step: int, bad_steps: int, bad_weights: int, last_saved_step: int,
                     kept: str | None) -> str:
    """Why checkpoint `step` is not saved; `kept` names the last good checkpoint, if any."""
    what = []
    if bad_steps:
        since = f"the save at step {last_saved_step}" if last_saved_step >= 0 else "the start"
        what.append(f"the loss or gradient norm was NaN/inf on {bad_steps} step(s) since {since}")
    if bad_weights:
        what.append("the weights hold NaN/inf")
    return (f"not saving {checkpoint_name(step)}: {' and '.join(what)}; "
            f"{kept or 'no checkpoint'} is the last good one and was kept; lower --lr or check the data")
