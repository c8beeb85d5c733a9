"""The step meter: one log window's loss, grad norm, throughput and NaN count, read with one sync."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Window:
    """What one log window measured (host numbers, ready for a metrics line)."""

    now: float
    loss: float
    grad_norm: float
    consecutive_bad: int
    samples_per_s: float
    tokens_per_s: float
    eta_s: float | None


class StepMeter:
    """Sums the optimizer steps of a log window on the device, so steps never wait on the host.

    `nonfinite` counts NaN/inf steps since the last save (the save refusal reads and resets it);
    the window sums reset at each `read`. The steps-per-second rate behind the ETA is measured
    from the end of the first step of the segment, which pays compilation and warm-up.
    """

    def __init__(self, device: Any, step: int, world: int) -> None:
        import torch

        self.torch = torch
        zero = torch.zeros((), device=device)
        self.loss_sum = zero.clone()
        self.consecutive_bad = zero.clone()
        self.nonfinite = zero.clone()
        self.last_norm = zero.clone()
        self.world = world
        self.steps = self.samples = self.tokens = 0
        self.window_t = time.time()
        self.rate_t0: float | None = None
        self.rate_step0 = step

    @property
    def started(self) -> bool:
        """Whether the segment's first step has been counted (the rate clock runs)."""
        return self.rate_t0 is not None

    def add(self, step: int, loss: Any, norm: Any, samples: int, tokens: int) -> None:
        """Count optimizer step `step` with its mean loss and grad norm (device tensors)."""
        torch = self.torch
        bad = ~torch.isfinite(loss)
        self.consecutive_bad = torch.where(bad, self.consecutive_bad + 1, torch.zeros_like(self.consecutive_bad))
        self.nonfinite += bad | ~torch.isfinite(norm)
        self.loss_sum += loss
        self.last_norm = norm.detach().float()
        self.steps += 1
        # Every rank sees the same batch shapes: this rank's counts times the world are the job's.
        self.samples += samples * self.world
        self.tokens += tokens * self.world
        if self.rate_t0 is None:
            self.rate_t0, self.rate_step0 = time.time(), step

    def read(self, step: int, total_steps: int) -> Window:
        """The window's figures; starts the next window."""
        vals = self.torch.stack([self.loss_sum / self.steps, self.last_norm, self.consecutive_bad]).tolist()
        # Read the clock after .tolist(): that sync waits for the window's GPU work.
        now = time.time()
        dt = max(1e-9, now - self.window_t)
        rate_t0 = self.rate_t0 if self.rate_t0 is not None else now
        rate = (step - self.rate_step0) / (now - rate_t0) if now > rate_t0 and step > self.rate_step0 else None
        window = Window(now=now, loss=vals[0], grad_norm=vals[1], consecutive_bad=int(vals[2]),
                        samples_per_s=self.samples / dt, tokens_per_s=self.tokens / dt,
                        eta_s=(total_steps - step) / rate if rate else None)
        self.loss_sum.zero_()
        self.steps = self.samples = self.tokens = 0
        self.window_t = now
        return window

    def restart_clock(self) -> None:
        """Throughput windows count training time only: evals and saves restart the clock."""
        self.window_t = time.time()


def peak_memory(device: Any) -> str:
    """The process's peak memory, for an out-of-memory report: the GPU's, or the host's RSS."""
    import torch

    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**30
        total = torch.cuda.get_device_properties(device).total_memory / 2**30
        return f"peak {peak:.2f} GiB of {total:.2f} GiB"
    import resource

    return f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB"
