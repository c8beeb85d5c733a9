"""NVML stand-ins for pane tests (the real sampler needs a driver), and the quick-poll set-up."""

from __future__ import annotations

import pytest

from core.telemetry.nvml import GpuSample
from tui.app import NarouApp

FIXED_T0 = 1_750_000_000.0


class FixedGpu:
    """One fixed GPU reading, as NVML on an H100 would give it."""

    available = True
    reason = ""

    def sample(self) -> list[GpuSample]:
        return [GpuSample(FIXED_T0, 0, "NVIDIA H100 80GB HBM3", 87.0, 61000.0, 81559.0,
                          63.0, 512.0)]


class NoGpu:
    """A machine without NVML: one sample says so and the sampler stops."""

    available = False
    reason = "no NVIDIA GPU telemetry (NVML Shared Library Not Found)"

    def sample(self) -> list[GpuSample]:
        return []


def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Poll the watched run every 0.1 s, on a machine without a GPU."""
    monkeypatch.setattr(NarouApp, "RUN_POLL_S", 0.1)
    monkeypatch.setattr(NarouApp, "gpu_sampler_factory", NoGpu)
