"""Plain-text progress for a harvest: one line, redrawn with \\r on a TTY, periodic otherwise."""

from __future__ import annotations

import time
from typing import TextIO

from core.fetch.client import AttemptLog
from core.fetch.harvester import RUNNING, Progress
from core.timefmt import format_duration


def format_progress(p: Progress) -> str:
    """`name  1,234/100,000 (1.2%)  req 40 (0.98/s)  12.3 rec/s  4.1 MiB  ETA 2h15m`."""
    pct = 100.0 * p.records / p.target if p.target else 100.0
    parts = [
        f"{p.name}  {p.records:,}/{p.target:,} ({pct:.1f}%)",
        f"req {p.requests:,} ({p.request_rate:.2f}/s)",
        f"{p.rate:.1f} rec/s",
        f"{p.bytes / 2**20:.1f} MiB",
        f"ETA {format_duration(p.eta_s, 'compact')}" if p.status == RUNNING else p.status,
    ]
    if p.retries:
        parts.append(f"{p.retries} retries")
    return "  ".join(parts)


class ProgressPrinter:
    """Writes progress to `stream`: redraws one line on a TTY, else a line every `interval_s`."""

    def __init__(self, stream: TextIO, tty: bool, interval_s: float = 10.0) -> None:
        self.stream = stream
        self.tty = tty
        self.interval_s = interval_s
        self._last = 0.0
        self._width = 0

    def __call__(self, p: Progress) -> None:
        line = format_progress(p)
        final = p.status != RUNNING
        if self.tty:
            pad = " " * max(0, self._width - len(line))
            self.stream.write("\r" + line + pad + ("\n" if final else ""))
            self._width = 0 if final else len(line)
        elif final or time.monotonic() - self._last >= self.interval_s:
            self.stream.write(line + "\n")
            self._last = time.monotonic()
        self.stream.flush()

    def retry(self, attempt: AttemptLog) -> None:
        prefix = "\n" if self.tty and self._width else ""
        self._width = 0
        self.stream.write(f"{prefix}retry in {attempt.wait_s:.1f} s: {attempt.cause}\n")
        self.stream.flush()
