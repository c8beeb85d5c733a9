"""Where to run generation: a GPU only when it has room to spare, otherwise the CPU, said why."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

# CUDA context + allocator slack that appear on top of the weights as soon as we touch a GPU.
CONTEXT_MIB = 600.0
# Kept free for whoever else is on the GPU: a training run's memory rises and falls between
# steps, and what NVML shows as "free" now may be its next peak.
SAFETY_MIB = 2048.0
# Weights, plus KV cache and beam activations; generous because a wrong guess costs someone's
# training run.
WEIGHTS_FACTOR = 3.0


@dataclass(frozen=True)
class DeviceChoice:
    """The device to load on and the sentence the UI shows about it."""

    device: str
    reason: str

    @property
    def is_gpu(self) -> bool:
        return self.device.startswith("cuda")


def _nvml_free() -> list[tuple[int, float, int]] | None:
    """[(index, free MiB, other compute processes)] from NVML, without creating a CUDA context."""
    from core.telemetry.nvml import NvmlSampler

    sampler = NvmlSampler()
    if not sampler.available:
        return None
    out = []
    for s in sampler.sample():
        if s.mem_total_mib is None or s.mem_used_mib is None:
            continue
        out.append((s.index, s.mem_total_mib - s.mem_used_mib, len(s.processes)))
    return out


def _torch_free() -> list[tuple[int, float, int]]:
    import torch

    out = []
    for i in range(torch.cuda.device_count()):
        free, _total = torch.cuda.mem_get_info(i)
        out.append((i, free / 2**20, 0))
    return out


def needed_mib(weights_bytes: int) -> float:
    """Memory a generation model needs on a GPU, including our own context and a safety margin."""
    return weights_bytes / 2**20 * WEIGHTS_FACTOR + CONTEXT_MIB + SAFETY_MIB


def choose_device(
    weights_bytes: int,
    prefer: str = "auto",
    free_probe: Callable[[], list[tuple[int, float, int]] | None] | None = None,
) -> DeviceChoice:
    """GPU with the most free memory if it holds `needed_mib(weights_bytes)`, else the CPU.

    prefer: "auto" (decide), "cpu" (never touch a GPU), or "cuda"/"cuda:N" (still refused
    when it has no room, so a user's request cannot OOM a training run either).
    free_probe: returns [(index, free MiB, other processes)]; defaults to NVML, then torch.
    """
    if prefer == "cpu":
        return DeviceChoice("cpu", "CPU (asked for)")
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # a broken CUDA install must not stop CPU generation
        has_cuda = False
    if free_probe is None and not has_cuda:
        return DeviceChoice("cpu", "CPU (no CUDA GPU)")
    if free_probe is None:
        # NVML indices match CUDA's only without CUDA_VISIBLE_DEVICES remapping.
        remapped = bool(os.environ.get("CUDA_VISIBLE_DEVICES"))
        probe: Callable[[], list[tuple[int, float, int]] | None] = (
            _torch_free if remapped else (lambda: _nvml_free() or _torch_free())
        )
    else:
        probe = free_probe
    readings = probe() or []
    if prefer.startswith("cuda:"):
        wanted = int(prefer.split(":", 1)[1])
        readings = [r for r in readings if r[0] == wanted]
    if not readings:
        return DeviceChoice("cpu", "CPU (no GPU memory reading)")
    need = needed_mib(weights_bytes)
    index, free, others = max(readings, key=lambda r: r[1])
    if free < need:
        busy = f", {others} other process(es) on it" if others else ""
        return DeviceChoice(
            "cpu",
            f"CPU: GPU {index} has {free:,.0f} MiB free{busy}, needs {need:,.0f} MiB "
            "(kept free so a training run there cannot run out of memory)",
        )
    return DeviceChoice(f"cuda:{index}", f"GPU {index} ({free:,.0f} MiB free, needs {need:,.0f})")
