"""Exponential backoff with full jitter, and which failures deserve another attempt."""

from __future__ import annotations

import email.utils
import random
import time


def backoff_delay(
    attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait before retry number `attempt` (1-based): uniform in [base/2, min(cap, base·2^(a-1))].

    The half-base floor keeps retries from hammering the server when jitter draws near zero.
    """
    rng = rng or random
    ceiling = min(cap_s, base_s * (2 ** (attempt - 1)))
    floor = min(ceiling, base_s / 2)
    return rng.uniform(floor, ceiling)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def is_retryable_status(status: int) -> bool:
    """5xx and 429 are the server's trouble or its request to slow down; other 4xx are ours."""
    return status == 429 or 500 <= status <= 599
