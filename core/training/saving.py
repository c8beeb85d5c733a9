"""Saving at a save step: refuse a non-finite model, forecast the disk, write the checkpoint."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from core.training.checkpoint import apply_retention, checkpoint_name, record_best, save_checkpoint
from core.training.context import StopTraining
from core.training.save_guards import disk_verdict, nonfinite_counts, nonfinite_reason

if TYPE_CHECKING:
    from core.training.loop import Loop


def save(loop: Loop, reason: str) -> None:
    """Checkpoint at the current step (rank 0 writes; all ranks wait for it)."""
    from core.model import count_parameters

    loop.phase = "save"
    refuse_nonfinite_save(loop)
    ok = True
    if loop.ctx.dist.main:
        ok = disk_allows_save(loop, count_parameters(loop.raw_model))
        if ok:
            write_checkpoint(loop, reason)
    loop.ctx.dist.barrier()
    if ok:
        loop.last_saved_step = loop.state.step
    loop.phase = "train"


def write_checkpoint(loop: Loop, reason: str) -> None:
    """Write checkpoint-<step>, apply the retention limit and record both."""
    st, run_dir = loop.state, loop.ctx.run_dir
    loop._status(write=True, phase="saving")
    name = checkpoint_name(st.step)
    # Only a save at the step just evaluated can be the best one.
    if loop.eval_step == st.step:
        record_best(st, name, loop.cfg.best_by)
    t0 = time.time()
    save_checkpoint(run_dir, st.step, loop.raw_model, loop.ctx.tokenizer, loop.optimizer, loop.scheduler, st)
    removed = apply_retention(run_dir, loop.cfg.save_total_limit, st.best_checkpoint)
    loop._event("saved", checkpoint=name, reason=reason, seconds=round(time.time() - t0, 2), removed=removed)
    loop._status(write=True, last_complete_checkpoint=name, best_eval_loss=st.best_eval_loss,
                 best_checkpoint=st.best_checkpoint, best_chrf=st.best_chrf, phase="train")


def disk_allows_save(loop: Loop, n_params: int) -> bool:
    """False when the next save would not fit (the save is then refused)."""
    v = disk_verdict(loop.ctx.run_dir, n_params, loop.state.step)
    if v is None:
        return True
    if v.refused:
        loop._event("save_refused", reason=v.message, free_bytes=v.free, need_bytes=v.need)
        print(f"warning: {v.message}; previous checkpoints are untouched", flush=True)
    elif loop.disk_warned:
        return True  # the low-disk warning is said once a segment
    else:
        loop.disk_warned = True
        loop._event("disk_low", reason=v.message, free_bytes=v.free, need_bytes=v.need)
        print(f"warning: {v.message}", flush=True)
    loop._status(write=True, disk_warning=v.message)
    return not v.refused


def refuse_nonfinite_save(loop: Loop) -> None:
    """Stop the run instead of saving a model that is not finite.

    Log steps look at the loss, but saves come on their own interval and on SIGTERM at any
    step: a NaN between two log steps would otherwise be saved, and rotation would then
    delete a good checkpoint for it. One host sync per save: the count of non-finite
    steps since the last save (kept on the device by the loop) and the parameters' norm.
    """
    nonfinite = loop.meter.nonfinite
    # With a GradScaler a non-finite step is skipped, not applied: the weights decide.
    steps = nonfinite if loop.scaler is None else loop.torch.zeros_like(nonfinite)
    bad_steps, bad_weights = nonfinite_counts(loop.raw_model, steps, loop.ctx.dist.world)
    nonfinite.zero_()
    if not bad_steps and not bad_weights:
        return
    status = loop.ctx.status
    kept = status.status.last_complete_checkpoint if status else None
    reason = nonfinite_reason(loop.state.step, bad_steps, bad_weights, loop.last_saved_step, kept)
    loop._event("nan", reason=reason, phase="save")
    loop._status(step=loop.state.step, epoch=loop._epoch_float())
    raise StopTraining("failed", reason, 3)
