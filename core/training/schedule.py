"""How many optimizer steps a segment takes, and which micro-batches each rank trains on."""

from __future__ import annotations

import math

import numpy as np

from core.training.batching import epoch_batches, split_batches
from core.training.config import TrainConfig
from core.training.context import StopTraining
from core.training.dist import Dist


def steps_per_epoch(n_pairs: int, plan_batch: int, split: int, grad_accum: int, world: int) -> int:
    """Whole optimizer steps in one epoch; refuses (exit code 2) a split smaller than one step."""
    n = ((n_pairs // plan_batch) * split) // (grad_accum * world)
    if n < 1:
        raise StopTraining("failed", (
            f"the training split ({n_pairs} pairs) is smaller than one optimizer step "
            f"({plan_batch} × {grad_accum // max(1, split) or 1} × {world} pairs): "
            "lower --batch-size/--grad-accum"), 2)
    return n


def total_steps(cfg: TrainConfig, per_epoch: int) -> int:
    """`max_steps` when set, else enough steps for `epochs` (a fraction rounds up)."""
    if cfg.max_steps:
        return int(cfg.max_steps)
    return max(1, math.ceil(cfg.epochs * per_epoch))


def rank_batches(cfg: TrainConfig, src_lengths: np.ndarray, tgt_lengths: np.ndarray, plan_batch: int,
                 split: int, grad_accum: int, dist: Dist, per_epoch: int, epoch: int,
                 first_step: int) -> list[np.ndarray]:
    """This rank's micro-batches (row indices) from step `first_step` of `epoch` to its end.

    The epoch's order is a pure function of the seed and epoch, so a resume recomputes it and
    skips the steps its checkpoint already trained on.
    """
    by_target = cfg.bucket_by == "source_target"
    plan = epoch_batches(src_lengths, plan_batch, cfg.seed, epoch, cfg.bucket_chunk,
                         target_lengths=tgt_lengths if by_target else None,
                         bucket_width=cfg.pad_multiple_source)
    micro = split_batches(plan, split)
    per_step = grad_accum * dist.world
    mine: list[np.ndarray] = []
    for s in range(first_step, per_epoch):
        group = micro[s * per_step:(s + 1) * per_step]
        mine.extend(group[dist.rank::dist.world])
    return mine
