"""The train line of each log window, and the NaN/inf patience that ends a diverged run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.training.context import StopTraining

if TYPE_CHECKING:
    from core.training.loop import Loop


def log_window(loop: Loop) -> None:
    """Write the window's metrics line and status; stop a run whose loss stays NaN/inf."""
    torch, dev, st = loop.torch, loop.device, loop.state
    w = loop.meter.read(st.step, loop.total_steps)
    st.samples_per_s = w.samples_per_s
    rec = {
        "t": round(w.now, 3), "step": st.step, "epoch": round(loop._epoch_float(), 4),
        "loss": w.loss, "lr": loop.scheduler.get_last_lr()[0], "grad_norm": w.grad_norm,
        "samples_per_s": round(w.samples_per_s, 2),
        "tokens_per_s": round(w.tokens_per_s, 1),
        "mem_alloc": torch.cuda.memory_allocated(dev) if dev.type == "cuda" else None,
        "mem_reserved": torch.cuda.memory_reserved(dev) if dev.type == "cuda" else None,
    }
    if loop.ctx.metrics is not None:
        loop.ctx.metrics.write(rec)
    loop._status(step=st.step, epoch=loop._epoch_float(), eta_s=w.eta_s, samples_per_s=rec["samples_per_s"])
    bad = w.consecutive_bad
    # One NaN step can be a fluke the scaler or clipping absorbs; `nan_patience` in a row is not.
    if bad >= loop.cfg.nan_patience:
        loop._event("nan", reason=f"loss is NaN/inf for {bad} steps", phase="train")
        raise StopTraining("failed", (
            f"loss became NaN/inf and stayed so for {bad} optimizer steps "
            f"(patience {loop.cfg.nan_patience}) at step {st.step}; lower --lr or check the data"), 3)
