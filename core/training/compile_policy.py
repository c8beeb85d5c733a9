"""torch.compile for the training step: which wrapper a mode gets, what counts as a compile
failure, and what the loop records when the first step has compiled or failed to."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from core.training.config import TrainConfig
from core.training.faults import COMPILE_BACKEND_ENV

if TYPE_CHECKING:
    from core.training.loop import Loop


def compile_model(model: Any, mode: str, cfg: TrainConfig) -> Any:
    """`model` wrapped by torch.compile for `mode` (on|static|dynamic); `off` returns it as is."""
    if mode == "off":
        return model
    import torch

    backend: Any = os.environ.get(COMPILE_BACKEND_ENV) or "inductor"
    if backend == "fail":
        backend = _failing_backend
    if mode == "dynamic":
        return torch.compile(model, dynamic=True, backend=backend)
    if mode == "static":
        import torch._dynamo

        # One graph per (source bucket, target bucket); make room for all of them.
        buckets = (cfg.max_source_len // cfg.pad_multiple_source + 1) * (
            cfg.max_target_len // cfg.pad_multiple_target + 1)
        torch._dynamo.config.cache_size_limit = max(64, buckets + 8)
        if hasattr(torch._dynamo.config, "accumulated_cache_size_limit"):
            torch._dynamo.config.accumulated_cache_size_limit = max(256, buckets * 4)
        return torch.compile(model, dynamic=False, backend=backend)
    # "on": the training step marks the length dimension of each batch dynamic
    # (mark_lengths_dynamic), so the first trace already has symbolic lengths and every bucket
    # reuses it; the batch stays a constant, which keeps the kernels' batch-size guards simple.
    return torch.compile(model, backend=backend)


def _failing_backend(gm: Any, example_inputs: Any) -> Any:
    raise RuntimeError(f"compile failure injected by {COMPILE_BACKEND_ENV}=fail")


def mark_lengths_dynamic(batch: dict[str, Any]) -> None:
    """Tell dynamo that dimension 1 (sequence length) of the model inputs varies."""
    import torch._dynamo

    for key in ("input_ids", "attention_mask", "decoder_input_ids"):
        torch._dynamo.maybe_mark_dynamic(batch[key], 1)


def compile_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean torch.compile could not build or run a graph (not a model bug)."""
    import torch._dynamo.exc

    types: list[type[BaseException]] = [torch._dynamo.exc.TorchDynamoException]
    try:
        from torch._inductor.exc import CppCompileError

        types.append(CppCompileError)
    except ImportError:  # older torch: the dynamo base class covers what it raises
        pass
    return tuple(types)


def failure_reason(exc: BaseException, mode: str) -> str:
    """The one-line warning for a compile failure (at most 500 characters)."""
    # BackendCompilerFailed's own text is a header; the cause is the wrapped exception.
    cause = getattr(exc, "inner_exception", None) or exc
    lines = [ln for ln in str(cause).strip().splitlines() if ln.strip()]
    return (f"torch.compile ({mode}) failed, training goes on eagerly: "
            f"{type(cause).__name__}: {lines[0] if lines else ''}")[:500]


def fall_back_to_eager(loop: Loop, exc: BaseException) -> None:
    """Drop the compiled model for the eager one; the step is then replayed from scratch."""
    reason = failure_reason(exc, loop.compile_mode)
    print(f"warning: {reason}", flush=True)
    loop._event("compile_failed", reason=reason, mode=loop.compile_mode)
    loop.model = loop.ddp_model
    loop.compile_mode = "off"
    loop.compile_t0 = None
    # Half-accumulated gradients of the failed attempt must not count twice.
    loop.optimizer.zero_grad(set_to_none=True)
    loop._status(write=True, compiled=False, compile="off")


def record_compile_time(loop: Loop) -> None:
    """Record what the first (compiling) step cost, once the GPU has really finished it."""
    if loop.device.type == "cuda":
        loop.torch.cuda.synchronize(loop.device)
    seconds = time.time() - (loop.compile_t0 or time.time())
    loop.compile_t0 = None
    loop._event("compiled", mode=loop.compile_mode, seconds=round(seconds, 1))
