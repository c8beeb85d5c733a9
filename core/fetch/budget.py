"""The daily request/transfer budget, shared by every harvest under one datasets folder."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import time
from dataclasses import dataclass
from pathlib import Path

from core.durable import atomic_write_json
from core.fetch.config import JST


class BudgetExceeded(Exception):
    """The next request would pass the daily limit; the harvest stops and can resume later."""


def jst_day(now: float | None = None) -> str:
    """The API's calendar day (Japan time), which is when a daily limit plausibly resets."""
    moment = dt.datetime.fromtimestamp(time.time() if now is None else now, JST)
    return moment.date().isoformat()


@dataclass
class DailyBudget:
    """Counts requests and bytes per JST day in a JSON file, so restarts and parallel fetches add up.

    path: the counter file (`<datasets_dir>/.fetch/budget.json`).
    max_requests: requests allowed per day.
    max_bytes: bytes received allowed per day.
    """

    path: Path
    max_requests: int
    max_bytes: int

    def _read(self, day: str) -> dict[str, int]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return {"requests": 0, "bytes": 0}
        if not isinstance(data, dict) or data.get("day") != day:
            return {"requests": 0, "bytes": 0}
        return {"requests": int(data.get("requests", 0)), "bytes": int(data.get("bytes", 0))}

    def used(self, now: float | None = None) -> dict[str, int]:
        """Today's counters."""
        return self._read(jst_day(now))

    def check(self, expected_bytes: int = 0, now: float | None = None) -> None:
        """Raise BudgetExceeded when one more request (of about `expected_bytes`) would not fit."""
        used = self.used(now)
        if used["requests"] + 1 > self.max_requests:
            raise BudgetExceeded(
                f"daily request budget reached: {used['requests']:,} of "
                f"{self.max_requests:,} requests used today (JST {jst_day(now)}); the API allows "
                f"80,000 requests or 400 MB per IP per day. Rerun the same command after "
                f"midnight JST to continue, or raise --max-requests-per-day if the limit is lifted."
            )
        if used["bytes"] + expected_bytes > self.max_bytes:
            raise BudgetExceeded(
                f"daily transfer budget reached: {used['bytes'] / 2**20:,.1f} MiB of "
                f"{self.max_bytes / 2**20:,.0f} MiB received today (JST {jst_day(now)}). Rerun the "
                f"same command after midnight JST to continue, or raise --max-mb-per-day."
            )

    def add(self, requests: int, nbytes: int, now: float | None = None) -> None:
        """Count a finished (or failed) request; the file is locked so parallel fetches add up."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        day = jst_day(now)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                used = self._read(day)
                atomic_write_json(self.path, {
                    "day": day,
                    "requests": used["requests"] + requests,
                    "bytes": used["bytes"] + nbytes,
                })
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
