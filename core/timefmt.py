"""Durations as text: the one formatter, with a style per place a duration is shown."""

from __future__ import annotations

import math
from typing import Literal

DurationStyle = Literal["clock", "compact", "hours"]
MISSING = "—"
# The "hours" style: (seconds per unit, format), largest first; seconds below a minute stay seconds.
HOURS_UNITS: tuple[tuple[int, str], ...] = ((3600, "{:.2f} h"), (60, "{:.1f} min"), (1, "{:.0f} s"))


def format_duration(seconds: float | None, style: DurationStyle = "clock") -> str:
    """`seconds` as text in one of three styles (the missing text differs on purpose):

    clock    '2d 03:04:05' or '03:04:05', '—' when unknown: ETAs and elapsed times, read to
             the second and lined up in columns;
    compact  '2h15m', '3m04s' or '42s', '?' when unknown: a fetch's one-line progress;
    hours    '1.25 h', '12.5 min' or '42 s', '—' when unknown: training time compared between
             runs, not read to the second.
    """
    if seconds is None or not math.isfinite(seconds) or (style == "clock" and seconds < 0):
        return "?" if style == "compact" else MISSING
    if style == "hours":
        size, text = next(u for u in HOURS_UNITS if seconds >= u[0] or u[0] == 1)
        return text.format(seconds / size)
    s = int(round(seconds))
    if style == "compact":
        if s < 60:
            return f"{s}s"
        # '2h15m' or '3m04s': the larger unit, then the next one down to two digits.
        size, big, small = (3600, "h", "m") if s >= 3600 else (60, "m", "s")
        return f"{s // size}{big}{s % size // (size // 60):02d}{small}"
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{d}d {h:02d}:{m:02d}:{s:02d}" if d else f"{h:02d}:{m:02d}:{s:02d}"
