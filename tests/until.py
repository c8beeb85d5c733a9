"""Wait in a Pilot test until a condition holds; fail with what was awaited when it never does."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


async def until(pilot: Any, cond: Callable[[], object], timeout: float = 30.0,
                what: str = "condition") -> None:
    """Let the app run (`pilot.pause`) until `cond()` is true; AssertionError after `timeout` s.

    `timeout` is generous on purpose: it only bounds a failing test, and a 2-core CI machine
    running other jobs can be many times slower than a laptop.
    """
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await pilot.pause(0.05)
