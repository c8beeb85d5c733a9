"""The one duration formatter: its three styles, their boundaries and their missing text."""

from __future__ import annotations

import math

import pytest

from core.timefmt import format_duration


@pytest.mark.parametrize(("seconds", "clock", "compact", "hours"), [
    (None, "—", "?", "—"),
    (math.nan, "—", "?", "—"),
    (math.inf, "—", "?", "—"),
    (0, "00:00:00", "0s", "0 s"),
    (42.4, "00:00:42", "42s", "42 s"),
    (59.6, "00:01:00", "1m00s", "60 s"),
    (60, "00:01:00", "1m00s", "1.0 min"),
    (184, "00:03:04", "3m04s", "3.1 min"),
    (3599.6, "01:00:00", "1h00m", "60.0 min"),
    (3725, "01:02:05", "1h02m", "1.03 h"),
    (86400 + 3 * 3600 + 4 * 60 + 5, "1d 03:04:05", "27h04m", "27.07 h"),
])
def test_each_style_at_its_boundaries(seconds: float | None, clock: str, compact: str, hours: str) -> None:
    assert format_duration(seconds) == clock
    assert format_duration(seconds, "compact") == compact
    assert format_duration(seconds, "hours") == hours


def test_a_negative_duration_is_unknown_on_a_clock() -> None:
    # An ETA past its end reads as unknown, not as a time counting down below zero.
    assert format_duration(-1) == "—"
