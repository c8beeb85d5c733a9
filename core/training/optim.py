"""Optimizer, learning-rate schedule and precision choice for the training loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.training.config import TrainConfig


def resolve_precision(cfg: TrainConfig, device: Any) -> str:
    """fp32 off the GPU; on it the configured precision, `auto` meaning bf16 where supported."""
    import torch

    if device.type != "cuda":
        return "fp32"
    if cfg.precision != "auto":
        return cfg.precision
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def lr_lambda_factory(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """The LambdaLR factor: linear warm-up, then linear decay to 0 at `total_steps`."""

    def f(step: int) -> float:
        # Same shape as HF's linear schedule (0 at step 0) so loss curves compare step for step.
        if step < warmup_steps:
            return step / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return f


def make_optimizer(model: Any, cfg: TrainConfig, device: Any) -> Any:
    """AdamW without weight decay on biases and LayerNorms (fused kernels on a GPU)."""
    import torch

    decay, no_decay = [], []
    seen: set[int] = set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (no_decay if p.ndim < 2 or "LayerNorm" in name or name.endswith(".bias") else decay).append(p)
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    fused = device.type == "cuda"
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8, fused=fused)
