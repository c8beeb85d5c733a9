"""GpuPanel: live NVML readings from the app's sampler, or a clear "no GPU telemetry" state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import Static

from tui.messages.train import GpuSampled
from tui.redraw import show_text


def _bar(frac: float, width: int = 12) -> str:
    frac = min(1.0, max(0.0, frac))
    n = int(round(frac * width))
    return "█" * n + "░" * (width - n)


class GpuPanel(Static):
    """One block per GPU: utilisation, VRAM used/total, temperature, power."""

    DEFAULT_CSS = "GpuPanel { height: auto; padding: 0 1; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("GPU: waiting for the first sample…", **kwargs)
        self.unavailable: str | None = None

    def show_sampled(self, sampled: GpuSampled) -> None:
        """One round of the app's sampler: its readings, or why there are none."""
        if not sampled.available:
            self.show_unavailable(sampled.reason or "unknown reason")
        else:
            self.show_samples(sampled.samples)

    def show_unavailable(self, reason: str) -> None:
        self.unavailable = reason
        # NvmlSampler's reasons already read "no NVIDIA GPU …"; others get the prefix.
        head, detail = (reason, "") if reason.lower().startswith("no ") else \
            ("no GPU telemetry", f" ({reason})")
        t = Text(head, style="bold yellow")
        t.append(detail, style="dim")
        show_text(self, t)

    def show_samples(self, samples: Sequence[Any]) -> None:
        self.unavailable = None
        if not samples:
            show_text(self, Text("GPU: no samples", style="dim"))
            return
        t = Text(no_wrap=True, overflow="ellipsis")
        for i, s in enumerate(samples):
            if i:
                t.append("\n")
            t.append(f"GPU{s.index} {s.name}\n", style="bold")
            if s.util is not None:
                t.append(f"util {_bar(s.util / 100)} {s.util:3.0f}%\n")
            if s.mem_used_mib is not None and s.mem_total_mib:
                t.append(f"vram {_bar(s.mem_used_mib / s.mem_total_mib)} "
                         f"{s.mem_used_mib / 1024:.1f}/{s.mem_total_mib / 1024:.1f} GiB\n")
            temp = f"{s.temp_c:.0f}°C" if s.temp_c is not None else "—"
            power = f"{s.power_w:.0f} W" if s.power_w is not None else "—"
            t.append(f"temp {temp}  power {power}")
        show_text(self, t)
